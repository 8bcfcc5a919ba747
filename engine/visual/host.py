"""The visual host: runs presets on the GUI thread, maps frames to parameters, crossfades,
blacks out, shows the HUD, hot-reloads, and replaces a failing preset with the fallback.

It is the same object in a window (:mod:`sonolux.visual.window`) and offscreen
(:mod:`sonolux.visual.offscreen`, ``sonolux render``): the caller makes a GL context current,
calls :meth:`VisualHost.gl_init` once, then per displayed frame :meth:`step` (with the
FeatureFrame being shown and its audio-clock time) and :meth:`draw`.

Thread safety: :meth:`request_preset`, :meth:`set_blackout` and :meth:`set_hud` may be called
from any thread (OSC server, CLI, keyboard); they only store a value, and the GUI thread applies
it in its next :meth:`step`. Nothing here ever touches the audio or analysis threads.
"""
from __future__ import annotations

import itertools
import logging
import time
import traceback
from dataclasses import dataclass

from .params import ParamMapper
from .preset import BLIT_VERT, QUAD

log = logging.getLogger("sonolux.visual")

_COMPOSITE_FRAG = """
uniform sampler2D u_a;
uniform sampler2D u_b;
uniform float u_mix;   // 0: all a (the incoming preset), 1: all b (the outgoing one)
uniform float u_gain;  // 1 - blackout
varying vec2 v_uv;
void main() {
    vec3 c = mix(texture2D(u_a, v_uv).rgb, texture2D(u_b, v_uv).rgb, u_mix);
    gl_FragColor = vec4(c * u_gain, 1.0);
}
"""


def _flush() -> None:
    """Execute the queued GLIR commands now (vispy defers GL calls until a flush)."""
    from vispy.gloo import get_current_canvas

    c = get_current_canvas()
    if c is not None:
        c.context.flush_commands()


@dataclass
class _Slot:
    name: str
    preset: object
    mapper: ParamMapper
    fbo: object
    tex: object
    t_prev: float | None = None


class VisualHost:
    """Presets, their parameter maps and the show controls, for one GL context."""

    RELOAD_EVERY_S = 0.5
    BLACKOUT_FADE_S = 0.15

    def __init__(self, registry, size=(1280, 720), *, preset: str | None = None, playlist=None,
                 crossfade_s: float = 1.5, hud: bool = False, hot_reload: bool = True):
        from .playlist import PlaylistFollower

        self.registry = registry
        self.size = (int(size[0]), int(size[1]))
        self.playlist = playlist
        self.follower = PlaylistFollower(playlist) if playlist is not None else None
        self.crossfade_s = float(playlist.crossfade_s if playlist is not None else crossfade_s)
        self.hot_reload = hot_reload
        names = registry.names()
        self.initial = preset or (playlist.start if playlist is not None and playlist.start else None) \
            or (names[0] if names else "fallback")
        registry.get(self.initial)  # unknown name: a clear ConfigError now, not later
        self.active: _Slot | None = None
        self.fading: _Slot | None = None
        self.fade_start = 0.0
        self.fade_len = 0.0
        self.disabled: dict[str, str] = {}  # preset name -> error that disabled it
        self._intended: str | None = None  # the preset asked for last (even if it failed)
        self.errors = 0
        self.frames = 0
        self.late_frames = 0  # set by the window: timer ticks that came too late
        self.dropped_blocks = 0  # set by the caller (engine stats) for the HUD
        self.t = 0.0
        self.frame = None
        self._req_name: str | None = None
        self._req_counter = itertools.count(1)  # next() is atomic under the GIL
        self._req_seq = 0
        self._req_done = 0
        self._blackout_on = False
        self.blackout = 0.0
        self._hud_on = bool(hud)
        self.hud = None
        self._last_reload = time.perf_counter()
        self._gl = False
        self._fbo_pool: list = []

    # ---- thread-safe controls ---------------------------------------------------------------
    def request_preset(self, name: str) -> None:
        """Ask for preset ``name`` (crossfaded in); applied by the GUI thread on its next step."""
        self._req_name = str(name)
        self._req_seq = next(self._req_counter)

    def set_blackout(self, on: bool) -> None:
        """Fade the output to black (True) or back (False)."""
        self._blackout_on = bool(on)

    def set_hud(self, on: bool) -> None:
        self._hud_on = bool(on)

    def toggle_hud(self) -> None:
        self._hud_on = not self._hud_on

    @property
    def current(self) -> str | None:
        return self.active.name if self.active else None

    # ---- GL side -----------------------------------------------------------------------------
    def gl_init(self) -> None:
        """Create the host's GL objects and the first preset (a GL context must be current)."""
        from vispy import gloo

        self._composite = gloo.Program(BLIT_VERT, _COMPOSITE_FRAG)
        self._composite["a_pos"] = gloo.VertexBuffer(QUAD)
        self._gl = True
        self._switch(self.initial, fade=0.0)

    def _new_fbo(self):
        from vispy import gloo

        w, h = self.size
        tex = gloo.Texture2D(shape=(h, w, 4), interpolation="linear")
        return gloo.FrameBuffer(tex, gloo.RenderBuffer((h, w))), tex

    def _take_fbo(self):
        return self._fbo_pool.pop() if self._fbo_pool else self._new_fbo()

    def _release(self, slot: _Slot | None) -> None:
        if slot is None:
            return
        try:
            slot.preset.teardown()
        except Exception:  # noqa: BLE001 - a preset's teardown must not stop the show
            log.exception("preset %s: teardown failed", slot.name)
        if slot.fbo is not None and slot.tex.shape[:2] == (self.size[1], self.size[0]):
            self._fbo_pool.append((slot.fbo, slot.tex))

    def _make_slot(self, name: str) -> _Slot:
        entry = self.registry.get(name)
        fbo, tex = self._take_fbo()
        try:
            preset = self.registry.preset_class(entry)(entry.config, self.size)
            preset.time = self.t
            _flush()
            with fbo:
                preset.init()
                _flush()
        except BaseException:
            self._fbo_pool.append((fbo, tex))
            raise
        return _Slot(name, preset, ParamMapper(entry.config), fbo, tex)

    def _fail(self, name: str, stage: str, err: BaseException) -> None:
        self.errors += 1
        msg = f"{type(err).__name__}: {err}"
        if name != "fallback":
            self.disabled[name] = msg
        log.error("preset %s raised in %s and is disabled (%s)\n%s", name, stage, msg,
                  "".join(traceback.format_exception(type(err), err, err.__traceback__)[-6:]))

    def _fallback_slot(self) -> _Slot | None:
        if "fallback" in self.disabled:
            return None
        try:
            return self._make_slot("fallback")
        except Exception as e:  # noqa: BLE001
            self._fail("fallback", "init", e)
            self.disabled["fallback"] = str(e)
            return None

    def _switch(self, name: str, fade: float | None = None) -> bool:
        """Make ``name`` the active preset, crossfading from the current one."""
        if name in self.disabled:
            log.warning("preset %s is disabled (%s); not switching", name, self.disabled[name])
            return False
        if name != "fallback":
            self._intended = name
        if self.active is not None and self.active.name == name:
            return True
        try:
            slot = self._make_slot(name)
        except Exception as e:  # noqa: BLE001
            self._fail(name, "init", e)
            if self.active is not None:
                return False
            slot = self._fallback_slot()
            if slot is None:
                return False
        fade = self.crossfade_s if fade is None else fade
        self._release(self.fading)
        self.fading = None
        if self.active is not None and fade > 0:
            self.fading, self.fade_start, self.fade_len = self.active, self.t, fade
        else:
            self._release(self.active)
        self.active = slot
        log.info("preset: %s", slot.name)
        return True

    def _replace_failed(self, slot: _Slot) -> None:
        if slot is self.fading:
            self._release(self.fading)
            self.fading = None
            return
        self._release(self.active)
        self.active = None
        if slot.name != "fallback":
            self.active = self._fallback_slot()

    def resize(self, size) -> None:
        size = (int(size[0]), int(size[1]))
        if size == self.size or size[0] < 1 or size[1] < 1:
            return
        self.size = size
        self._fbo_pool = []
        for slot in (self.active, self.fading):
            if slot is not None:
                slot.fbo, slot.tex = self._new_fbo()
                try:
                    slot.preset.resize(*size)
                except Exception as e:  # noqa: BLE001
                    self._fail(slot.name, "resize", e)
        if self.hud is not None:
            self.hud.resize(size)

    # ---- per frame ---------------------------------------------------------------------------
    def step(self, frame, t: float | None = None) -> None:
        """Advance to the FeatureFrame being shown; ``t`` is its audio-clock time (default
        ``frame.t``). GUI thread only."""
        if not self._gl:
            raise RuntimeError("VisualHost.gl_init() must run first (with a current GL context)")
        if t is None:
            t = frame.t if frame is not None else self.t
        dt = min(max(t - self.t, 0.0), 1.0)
        self.t = t
        self.frame = frame
        self.frames += 1
        # controls
        if self._req_seq != self._req_done:
            self._req_done = self._req_seq
            name = self._req_name
            if name is not None:
                try:
                    self.registry.get(name)
                    self._switch(name)
                except Exception as e:  # noqa: BLE001 - a bad request is logged, never fatal
                    log.error("preset request %r: %s", name, e)
        if self.hot_reload:
            now = time.perf_counter()
            if now - self._last_reload >= self.RELOAD_EVERY_S:
                self._last_reload = now
                self._reload()
        if self.follower is not None:
            name = self.follower.update(frame, t)
            if name and name != self.current and name not in self.disabled:
                self._switch(name)
        target = 1.0 if self._blackout_on else 0.0  # a linear fade of BLACKOUT_FADE_S (audio time)
        stepk = dt / self.BLACKOUT_FADE_S if self.BLACKOUT_FADE_S > 0 else 1.0
        if self.frames == 1:
            stepk = 1.0
        self.blackout = min(max(self.blackout + (stepk if target > self.blackout else -stepk), 0.0), 1.0) \
            if self.blackout != target else target
        if self.fading is not None and t - self.fade_start >= self.fade_len:
            self._release(self.fading)
            self.fading = None
        for slot in (self.active, self.fading):
            if slot is None:
                continue
            try:
                params = slot.mapper.update(frame, t)
                sdt = 0.0 if slot.t_prev is None else min(max(t - slot.t_prev, 0.0), 1.0)
                slot.t_prev = t
                slot.preset.time = t
                slot.preset.update(sdt, params, frame)
            except Exception as e:  # noqa: BLE001
                self._fail(slot.name, "update", e)
                self._replace_failed(slot)
                if slot is not self.fading and self.active is not None:
                    self._update_fallback(frame, t)

    def _update_fallback(self, frame, t):
        slot = self.active
        try:
            slot.preset.time = t
            slot.t_prev = t
            slot.preset.update(0.0, slot.mapper.update(frame, t), frame)
        except Exception as e:  # noqa: BLE001
            self._fail(slot.name, "update", e)
            self._release(slot)
            self.active = None

    def _reload(self) -> None:
        try:
            changed = self.registry.changed()
        except Exception:  # noqa: BLE001
            log.exception("preset hot reload")
            return
        for name in changed:
            self.disabled.pop(name, None)
            showing = self.active is not None and self.active.name == name
            # the preset the show wants, replaced by the fallback after an error: a fixed
            # file brings it back
            wanted = name == self._intended and (self.active is None or self.active.name == "fallback")
            if showing or wanted:
                log.info("preset %s changed on disk: reloading", name)
                old = self.active
                self.active = None
                self._release(old)
                try:
                    self.active = self._make_slot(name)
                except Exception as e:  # noqa: BLE001
                    self._fail(name, "init", e)
                    self.active = self._fallback_slot()

    def _draw_slot(self, slot: _Slot, into_fbo: bool) -> bool:
        from vispy import gloo

        def run():
            gloo.set_viewport(0, 0, *self.size)
            gloo.set_state(blend=False, depth_test=False, cull_face=False)
            gloo.clear(color=(0, 0, 0, 1))
            _flush()  # the host's own commands, so a preset's bad command cannot take them down
            slot.preset.draw()
            _flush()  # GL runs deferred (GLIR): shader errors surface here, inside the try

        try:
            if into_fbo:
                with slot.fbo:
                    run()
            else:
                run()
            return True
        except Exception as e:  # noqa: BLE001
            self._fail(slot.name, "draw", e)
            return False

    def draw(self) -> None:
        """Draw the current output into the bound framebuffer (window or offscreen target)."""
        from vispy import gloo

        for _ in range(2):  # a preset failing in draw is replaced and the frame drawn again
            ok = True
            direct = self.fading is None and self.blackout < 1e-3
            if direct and self.active is not None:
                if not self._draw_slot(self.active, into_fbo=False):
                    failed = self.active
                    self._replace_failed(failed)
                    if self.active is not None:
                        self._update_fallback(self.frame, self.t)
                    ok = False
            elif not direct:
                for slot in (self.active, self.fading):
                    if slot is not None and not self._draw_slot(slot, into_fbo=True):
                        self._replace_failed(slot)
                        if slot is not self.fading and self.active is not None:
                            self._update_fallback(self.frame, self.t)
                        ok = False
                        break
                if ok:
                    gloo.set_viewport(0, 0, *self.size)
                    gloo.set_state(blend=False, depth_test=False)
                    gloo.clear(color=(0, 0, 0, 1))
                    a = self.active or self.fading
                    if a is not None:
                        b = self.fading or a
                        mix = 0.0
                        if self.fading is not None and self.active is not None:
                            mix = 1.0 - min(max((self.t - self.fade_start) / max(self.fade_len, 1e-6), 0.0), 1.0)
                        self._composite["u_a"] = a.tex
                        self._composite["u_b"] = b.tex
                        self._composite["u_mix"] = mix
                        self._composite["u_gain"] = 1.0 - self.blackout
                        self._composite.draw("triangle_strip")
            else:
                gloo.set_viewport(0, 0, *self.size)
                gloo.clear(color=(0, 0, 0, 1))
            if ok:
                break
        if self._hud_on:
            try:
                if self.hud is None:
                    from .hud import Hud

                    self.hud = Hud(self.size)
                self.hud.update(self.t, self.frame, {
                    "preset": self.current or "-", "t": self.t, "dropped": self.dropped_blocks,
                    "late": self.late_frames, "errors": self.errors})
                self.hud.draw()
            except Exception:  # noqa: BLE001 - the HUD is optional
                log.exception("HUD failed; hiding it")
                self._hud_on = False

    def next_preset(self, step: int = 1) -> None:
        """Switch to the next (or previous) enabled preset in discovery order."""
        names = [n for n in self.registry.names() if n not in self.disabled]
        if not names:
            return
        i = names.index(self.current) if self.current in names else -1
        self.request_preset(names[(i + step) % len(names)])
