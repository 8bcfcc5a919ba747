"""The live window: a Vispy canvas on the GUI thread, driven by ``app.Timer``.

Each tick reads the newest FeatureFrame from the engine's mailbox (a copy, never blocking the
analysis thread), steps the :class:`~sonolux.visual.host.VisualHost` on that frame's audio clock
and asks for a redraw; ``on_draw`` only draws. Keys:

=========================  =============================================
Right / Space, Left        next / previous preset (crossfaded)
1 … 9                      preset by position (as listed by ``--list-presets``)
F or F11                   fullscreen on / off
H                          HUD on / off
B                          blackout on / off
Escape                     leave fullscreen, else quit; Q quits
=========================  =============================================
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger("sonolux.visual")


class VisualWindow:
    """A window showing ``host``'s output for frames read from ``mailbox``."""

    def __init__(self, host, mailbox, *, size=(1280, 720), fullscreen: bool = False,
                 screen: int | None = None, vsync: bool = True, title: str = "sonolux",
                 on_tick=None, interval="auto"):
        from vispy import app

        self.host = host
        self.mailbox = mailbox
        self.frame = mailbox.layout.new_frame()
        self.have_frame = False
        self.on_tick = on_tick
        self.screen = screen
        fs = (screen if screen is not None else True) if fullscreen else False
        kw = dict(title=title, size=size, keys=None, show=True)
        if fs is not False:
            kw["fullscreen"] = fs
        if vsync:
            kw["vsync"] = True
        try:
            self.canvas = app.Canvas(**kw)
        except RuntimeError as e:  # a backend without vsync / fullscreen control (e.g. OSMesa)
            if "not supported" not in str(e):
                raise
            log.warning("window: %s; continuing without", e)
            kw.pop("vsync", None)
            kw.pop("fullscreen", None)
            self.canvas = app.Canvas(**kw)
        self.canvas.events.draw.connect(self.on_draw)
        self.canvas.events.resize.connect(self.on_resize)
        self.canvas.events.key_press.connect(self.on_key)
        self.canvas.events.close.connect(self.on_close)
        self.canvas.set_current()
        host.resize(self.canvas.physical_size)
        host.gl_init()
        self.interval = 1 / 60 if interval == "auto" else float(interval)
        self._last_tick = None
        self.closed = False
        self.timer = app.Timer(interval, connect=self.on_timer, start=True)

    # ---- events ---------------------------------------------------------------------------
    def on_timer(self, event):
        now = time.perf_counter()
        if self._last_tick is not None and now - self._last_tick > 1.5 * self.interval:
            self.host.late_frames += 1
        self._last_tick = now
        if self.mailbox.read_latest(self.frame):
            self.have_frame = True
        self.host.step(self.frame if self.have_frame else None)
        self.canvas.update()
        if self.on_tick is not None and not self.on_tick():
            self.quit()

    def on_draw(self, event):
        from vispy import gloo

        if self.closed:
            return
        gloo.set_viewport(0, 0, *self.canvas.physical_size)
        self.host.draw()

    def on_resize(self, event):
        if self.closed:
            return
        self.host.resize(self.canvas.physical_size)

    def on_key(self, event):
        key = event.key.name if event.key is not None else ""
        host = self.host
        if key in ("Right", "Space"):
            host.next_preset(1)
        elif key == "Left":
            host.next_preset(-1)
        elif key in "123456789" and len(key) == 1:
            names = [n for n in host.registry.names() if n not in host.disabled]
            i = int(key) - 1
            if i < len(names):
                host.request_preset(names[i])
        elif key in ("F", "F11"):
            self.canvas.fullscreen = not self.canvas.fullscreen
        elif key == "H":
            host.toggle_hud()
        elif key == "B":
            host.set_blackout(not host._blackout_on)
        elif key == "Escape":
            if self.canvas.fullscreen:
                self.canvas.fullscreen = False
            else:
                self.quit()
        elif key == "Q":
            self.quit()

    def on_close(self, event):
        self.closed = True
        self.timer.stop()

    def quit(self):
        from vispy import app

        self.timer.stop()
        self.closed = True
        try:
            self.canvas.close()
        finally:
            app.quit()
