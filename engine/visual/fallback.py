"""The built-in fallback preset: shown when the chosen preset fails (raises in init, update or
draw) so the screen never freezes (the registry lists it as ``fallback``). Deliberately trivial: a dim gradient that breathes with
the level."""
from __future__ import annotations

from .preset import Preset

FALLBACK_JSON = {
    "preset": "fallback",
    "description": "built-in: dim gradient breathing with the level (shown when a preset fails)",
    "parameters": [
        {"name": "level", "source": "level", "min": 0, "max": 1, "smooth_ms": 80},
    ],
}

_FRAG = """
uniform float u_level;
uniform float u_time;
varying vec2 v_uv;
void main() {
    float g = 0.08 + 0.5 * u_level * (1.0 - v_uv.y);
    gl_FragColor = vec4(g * 0.4, g * 0.5, g * (0.8 + 0.2 * sin(u_time)), 1.0);
}
"""


class FallbackPreset(Preset):
    def init(self):
        self.prog = self.fullscreen_program(_FRAG)

    def update(self, dt, params, frame):
        self.prog["u_level"] = params.level
        self.prog["u_time"] = self.time

    def draw(self):
        self.prog.draw("triangle_strip")

