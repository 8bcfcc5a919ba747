"""Spectrum bars (or a ring): the mel bands as mirrored bars, hue from the mood, a flash on
the kick. ``options.layout`` is ``"bars"`` or ``"ring"`` (spectrum_ring.json uses this module)."""
from __future__ import annotations

import numpy as np

from sonolux.visual.preset import GLSL_HSV, Preset

FRAG = GLSL_HSV + """
uniform sampler2D u_bars;
uniform float u_n;
uniform float u_gain;
uniform float u_hue;
uniform float u_spread;
uniform float u_pulse;
uniform float u_ring;
uniform float u_spin;
varying vec2 v_uv;
varying vec2 v_pos;
const float PI = 3.14159265;
float bar(float i) { return texture2D(u_bars, vec2((i + 0.5) / u_n, 0.5)).r; }
void main() {
    float i, fx, y, h;
    if (u_ring < 0.5) {
        i = floor(v_uv.x * u_n);
        fx = fract(v_uv.x * u_n);
        h = 0.03 + 0.95 * u_gain * bar(i);
        y = abs(v_uv.y - 0.5) * 2.0;
    } else {
        float a = atan(v_pos.y, v_pos.x) / (2.0 * PI) + 0.5 + u_spin;
        a = abs(fract(a) * 2.0 - 1.0);  // mirror: low bands at the top and bottom seam
        i = floor(a * u_n);
        fx = fract(a * u_n);
        h = 0.02 + 0.7 * u_gain * bar(i);
        float r0 = 0.28 + 0.06 * u_pulse;
        y = (length(v_pos) - r0) / 0.6;
        if (y < 0.0) { y = 1e3; }
    }
    float inside = step(y, h) * step(0.14, fx) * step(fx, 0.86);
    vec3 col = hsv2rgb(vec3(u_hue + u_spread * i / u_n, 0.75, 1.0));
    vec3 c = inside * col * (0.45 + 0.55 * y / max(h, 1e-3));
    float cap = exp(-abs(y - h) * 60.0) * step(0.14, fx) * step(fx, 0.86);
    c += cap * mix(col, vec3(1.0), 0.6);
    c += vec3(0.015, 0.015, 0.04) + 0.18 * u_pulse * col * (1.0 - min(y, 1.0));
    gl_FragColor = vec4(c, 1.0);
}
"""


class SpectrumBars(Preset):
    def init(self):
        from vispy import gloo

        self.n = int(self.config.param("bars").size)
        self.prog = self.fullscreen_program(FRAG)
        self.tex = gloo.Texture2D(np.zeros((1, self.n, 1), np.float32), format="luminance",
                                  internalformat="r32f", interpolation="nearest")
        self.prog["u_bars"] = self.tex
        self.prog["u_n"] = float(self.n)
        self.prog["u_ring"] = 1.0 if self.options.get("layout") == "ring" else 0.0
        self.spin = 0.0
        self._buf = np.zeros((1, self.n, 1), np.float32)

    def update(self, dt, params, frame):
        self._buf[0, :, 0] = params.bars
        self.tex.set_data(self._buf)
        self.spin = (self.spin + dt * params.spin) % 1.0
        self.set_uniforms(self.prog, u_gain=params.gain, u_hue=params.hue, u_spread=params.spread,
                          u_pulse=params.pulse, u_spin=self.spin)

    def draw(self):
        self.prog.draw("triangle_strip")
