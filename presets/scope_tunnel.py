"""Waveform tunnel: every ``1/ring_rate`` s of audio a new ring is born at the mouth of the
tunnel, shaped like an oscilloscope trace of that moment's spectrum (a sum of harmonics whose
amplitudes are the mel band groups); older rings recede into the distance, so the tunnel's
walls are the recent history of the music. Beat phase breathes the mouth; hue from valence."""
from __future__ import annotations

import numpy as np

from sonolux.visual.preset import Preset

VERT = """
attribute vec2 a_pos;
attribute vec4 a_color;
uniform float u_aspect;
varying vec4 v_color;
void main() { v_color = a_color; gl_Position = vec4(a_pos.x / u_aspect, a_pos.y, 0.0, 1.0); }
"""
FRAG = """
varying vec4 v_color;
void main() { gl_FragColor = v_color; }
"""


def _hsv(h, s, v):
    h = np.asarray(h) % 1.0
    p = np.abs((h[..., None] + np.array([0.0, 2 / 3, 1 / 3])) % 1.0 * 6.0 - 3.0)
    return v[..., None] * (1.0 + np.asarray(s)[..., None] * (np.clip(p - 1.0, 0.0, 1.0) - 1.0))


class ScopeTunnel(Preset):
    def init(self):
        from vispy import gloo

        self.rings = int(self.options.get("rings", 48))
        self.points = int(self.options.get("points", 160))
        self.harmonics = int(self.config.param("shape").size)
        R, P = self.rings, self.points
        self.theta = np.linspace(0, 2 * np.pi, P + 1, dtype=np.float64)  # closed loop
        k = np.arange(1, self.harmonics + 1)
        self.basis = np.cos(np.outer(k * 2, self.theta[None, :].ravel()).reshape(self.harmonics, -1))
        self.hist_shape = np.zeros((R, P + 1))
        self.hist_amp = np.zeros(R)
        self.hist_hue = np.zeros(R)
        self.age = np.arange(R, dtype=np.float64) * 1.0  # in ring periods; 0 = newest
        self.clock = 0.0
        self.spin = 0.0
        n = R * (P + 1) * 2
        self.data = np.zeros(n, dtype=[("a_pos", np.float32, 2), ("a_color", np.float32, 4)])
        idx = []
        for r in range(R):
            base = r * (P + 1) * 2
            for j in range(P):
                a, b = base + 2 * j, base + 2 * j + 2
                idx += [a, a + 1, b, b, a + 1, b + 1]
        self.index = gloo.IndexBuffer(np.array(idx, dtype=np.uint32))
        self.buf = gloo.VertexBuffer(self.data)
        self.prog = gloo.Program(VERT, FRAG)
        self.prog.bind(self.buf)

    def update(self, dt, params, frame):
        R = self.rings
        period = 1.0 / params.ring_rate
        self.clock += dt
        self.spin += dt * params.spin
        phases = params.shape  # harmonic amplitudes 0..1
        shape_now = (phases[:, None] * self.basis).sum(axis=0) / max(self.harmonics ** 0.5, 1.0)
        while self.clock >= period:  # births on the audio clock
            self.clock -= period
            self.hist_shape = np.roll(self.hist_shape, 1, axis=0)
            self.hist_amp = np.roll(self.hist_amp, 1)
            self.hist_hue = np.roll(self.hist_hue, 1)
        # the newest ring follows the music live until the next one is born
        self.hist_shape[0] = shape_now
        self.hist_amp[0] = params.amplitude
        self.hist_hue[0] = params.hue
        frac = self.clock / period
        z = (np.arange(R) + frac) * 0.35 + 0.6  # depth of each ring
        breathe = 1.0 + 0.12 * np.exp(-params.beat_phase * 6.0) * params.breath
        radius = (1.0 / z) * breathe
        wob = 1.0 + self.hist_amp[:, None] * self.hist_shape
        th = self.theta[None, :] + self.spin + 0.08 * np.arange(R)[:, None]
        rr = radius[:, None] * wob
        width = (0.012 + 0.02 * self.hist_amp)[:, None] / z[:, None]
        fade = np.clip(1.0 - (np.arange(R) + frac) / R, 0.0, 1.0) ** 1.5
        col = _hsv(self.hist_hue + 0.004 * np.arange(R), np.full(R, 0.7), fade * params.glow)
        P1 = self.points + 1
        pos = self.data["a_pos"].reshape(R, P1, 2, 2)
        c, s = np.cos(th), np.sin(th)
        pos[:, :, 0, 0] = (rr - width) * c
        pos[:, :, 0, 1] = (rr - width) * s
        pos[:, :, 1, 0] = (rr + width) * c
        pos[:, :, 1, 1] = (rr + width) * s
        colors = self.data["a_color"].reshape(R, P1, 2, 4)
        colors[..., :3] = col[:, None, None, :]
        colors[..., 3] = 1.0
        self.buf.set_data(self.data)
        self.set_uniforms(self.prog)

    def draw(self):
        from vispy import gloo

        gloo.set_state(blend=True, blend_func=("one", "one"), depth_test=False)
        self.prog.draw("triangles", self.index)
        gloo.set_state(blend=False)
