"""Headless rendering: an invisible canvas (OSMesa or EGL) with a framebuffer to read back."""
from __future__ import annotations

import numpy as np

from .gl import use_offscreen


class OffscreenTarget:
    """A GL context and an RGBA framebuffer of ``size`` (width, height).

    ``render(host)`` draws the host's output and returns it as (height, width, 3) uint8,
    top row first."""

    def __init__(self, size=(1280, 720), gl: str = "auto"):
        self.backend = use_offscreen(gl)
        from vispy import app, gloo

        w, h = int(size[0]), int(size[1])
        self.size = (w, h)
        self.canvas = app.Canvas(size=(w, h), show=False, title="sonolux offscreen")
        self.canvas.set_current()
        self.tex = gloo.Texture2D(shape=(h, w, 4))
        self.fbo = gloo.FrameBuffer(self.tex, gloo.RenderBuffer((h, w)))

    def make_current(self):
        self.canvas.set_current()

    def render(self, host) -> np.ndarray:
        self.canvas.set_current()
        with self.fbo:
            host.draw()
            img = self.fbo.read(mode="color", alpha=False)
        return img

    def renderer_info(self) -> str:
        from vispy.gloo import gl

        self.canvas.set_current()
        try:
            return f"{gl.glGetParameter(gl.GL_RENDERER)} / {gl.glGetParameter(gl.GL_VERSION)}"
        except Exception:  # noqa: BLE001
            return self.backend

    def close(self):
        try:
            self.canvas.close()
        except Exception:  # noqa: BLE001
            pass
