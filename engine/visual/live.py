"""Glue for ``sonolux run`` / ``sonolux demo``: the visual window next to the live engine,
or (``demo`` without a display) a short rendered demo clip.

The engine's threads (source, analysis, OSC) run as before; the window lives on the main
thread, reads frames from the mailbox and never blocks them. ``sonolux.visual_host`` is set to
the :class:`~sonolux.visual.host.VisualHost`, whose ``request_preset(name)`` and
``set_blackout(on)`` are safe to call from any thread (the OSC control server uses them).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .gl import has_display

log = logging.getLogger("sonolux.visual")

DEMO_CLIP = "sonolux-demo.mp4"
DEMO_SEQUENCE = ("spectrum_bars", "kaleidoscope", "particles", "scope_tunnel", "emotion_field",
                 "spectrum_ring", "latent_shader")


def add_visual_options(p: argparse.ArgumentParser) -> None:
    """Options of the visual window, shared by ``run`` and ``demo``."""
    g = p.add_argument_group("visuals")
    g.add_argument("--no-window", action="store_true",
                   help="do not open the visual window (it opens by default when a display is present)")
    g.add_argument("--preset", default=None, metavar="NAME",
                   help="preset to start with (default: the playlist's start, else the first found)")
    g.add_argument("--presets", action="append", default=None, metavar="DIR",
                   help="also load presets (NAME.json + NAME.py) from this folder; repeatable")
    g.add_argument("--playlist", default=None, metavar="FILE|off",
                   help="mood playlist JSON (default: presets/playlist.json); 'off' disables "
                        "automatic switching")
    g.add_argument("--fullscreen", action="store_true", help="start fullscreen (F toggles)")
    g.add_argument("--screen", type=int, default=None, metavar="N", help="monitor for fullscreen (0, 1, ...)")
    g.add_argument("--no-vsync", action="store_true", help="do not sync to the display refresh")
    g.add_argument("--hud", action="store_true", help="show the HUD (levels, BPM, quadrant, drops; H toggles)")


def window_wanted(args) -> bool:
    """A window is shown unless ``--no-window``, when a display is present and Vispy has a
    windowing backend (Qt, GLFW, SDL2, ...); without one it says so and runs windowless."""
    if getattr(args, "no_window", False) or not has_display():
        return False
    from .gl import GLUnavailable, use_window

    try:
        use_window()
    except GLUnavailable as e:
        print(f"sonolux: warning: {e}; running without the visual window", file=sys.stderr)
        return False
    return True


def load_playlist_arg(value, registry):
    from .playlist import load_playlist
    from .registry import default_presets_dir

    if value in ("off", "none"):
        return None
    path = Path(value) if value else default_presets_dir() / "playlist.json"
    if value is None and not path.exists():
        return None
    return load_playlist(path, known=set(registry.entries))


def run_with_window(engine, args, *, duration=None, quiet=False) -> int:
    """Start ``engine``, show the window until it is closed, the source ends or ``duration``
    seconds of audio have played; prints the status line like the windowless run."""
    from vispy import app

    from ..status import StatusLine
    from .gl import use_window
    from .host import VisualHost
    from .registry import PresetRegistry
    from .window import VisualWindow

    use_window()
    registry = PresetRegistry(args.presets or ())
    playlist = load_playlist_arg(args.playlist, registry)
    host = VisualHost(registry, (1280, 720), preset=args.preset, playlist=playlist, hud=args.hud)
    engine.visual_host = host
    engine.preset_handler = host.request_preset  # OSC /sonolux/preset (any thread)
    engine.blackout_handler = host.set_blackout  # OSC /sonolux/blackout
    status = StatusLine()
    tty = sys.stderr.isatty()
    interval = 0.25 if tty else 1.0
    frame = engine.mailbox.layout.new_frame()
    state = {"last": 0.0, "error": None}

    def tick() -> bool:
        try:
            engine.check()
        except Exception as e:  # noqa: BLE001 - re-raised after the window closed
            state["error"] = e
            return False
        now = time.perf_counter()
        if now - state["last"] >= interval:
            s = engine.stats()
            host.dropped_blocks = s.dropped_blocks
            if not quiet and engine.mailbox.read_latest(frame):
                line = status.format(frame, s) + f" | {host.current}"
                print(("\r" + line + "\x1b[K") if tty else line, end="" if tty else "\n",
                      file=sys.stderr, flush=True)
            state["last"] = now
        if duration and host.t >= duration:  # the audio clock of the frame on screen
            return False
        return not engine.finished

    engine.start()
    try:
        win = VisualWindow(host, engine.mailbox, fullscreen=args.fullscreen, screen=args.screen,
                           vsync=not args.no_vsync, on_tick=tick)
        if not quiet:
            print(f"sonolux: window open, preset {host.current} (←/→ presets, F fullscreen, "
                  "H HUD, B blackout, Esc quit)", file=sys.stderr)
        app.run()
        del win
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
        if not quiet and tty:
            print(file=sys.stderr)
    if state["error"] is not None:
        raise state["error"]
    engine.check()
    if not quiet:
        from ..status import run_summary

        print(run_summary(engine.stats(), f", preset errors {host.errors}"), file=sys.stderr)
    return 0


def render_demo_clip(path=DEMO_CLIP, *, seconds: float = 10.0, size=(640, 360), fps: float = 30.0,
                     presets_dirs=(), preset: str | None = None, quiet: bool = False):
    """Render the built-in demo track's first ``seconds`` through the presets (a new one every
    2 s, crossfaded; or only ``preset``) into ``path``. Returns the RenderResult."""
    import tempfile

    import soundfile as sf

    from ..sources.synth import demo_track
    from ..spec import StreamSpec
    from .registry import PresetRegistry
    from .render import render_file

    spec = StreamSpec()
    signal = demo_track(spec.sample_rate)[: int(seconds * spec.sample_rate)]
    registry = PresetRegistry(presets_dirs)
    if preset:
        registry.get(preset)
        schedule = []
    else:
        names = [n for n in DEMO_SEQUENCE if n in registry.entries] or registry.names()
        step = seconds / max(len(names), 1)
        schedule = [(i * step, n) for i, n in enumerate(names)]
        preset = names[0] if names else "fallback"
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "demo.wav"
        sf.write(str(wav), signal, spec.sample_rate, subtype="PCM_16")
        return render_file(wav, path, preset=preset, size=size, fps=fps, presets_dirs=presets_dirs,
                           spec=spec, progress=not quiet and sys.stderr.isatty(), schedule=schedule,
                           crossfade_s=0.6)


def demo_without_display(args) -> None:
    """``sonolux demo`` on a machine without a display: render a short clip and say where."""
    from ..errors import SonoluxError

    if getattr(args, "no_window", False):
        return
    path = Path.cwd() / DEMO_CLIP
    quiet = getattr(args, "quiet", False)
    if not quiet:
        print(f"sonolux demo: no display, rendering a short visual demo clip to {path} ...",
              file=sys.stderr, flush=True)
    try:
        res = render_demo_clip(path, presets_dirs=args.presets or (), preset=args.preset, quiet=quiet)
    except SonoluxError as e:
        print(f"sonolux demo: no demo clip ({e})", file=sys.stderr)
        return
    except Exception as e:  # noqa: BLE001 - the OSC demo must still run
        log.exception("demo clip")
        print(f"sonolux demo: no demo clip ({type(e).__name__}: {e})", file=sys.stderr)
        return
    if not quiet:
        print(f"sonolux demo: wrote {res.path} ({res.frames} frames, {res.video_duration or res.audio_duration:.1f} s, "
              f"{res.size[0]}x{res.size[1]}); now the live OSC demo", file=sys.stderr)
