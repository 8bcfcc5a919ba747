"""Latent-driven shader: ten latent codes (the inference model's bottleneck, ~−1..1) each steer
one aspect of a domain-warped pattern, so similar-sounding passages look alike and a change of
material changes the look. Level and onsets keep it alive between predictions."""
from __future__ import annotations

from sonolux.visual.preset import GLSL_HSV, Preset

FRAG = GLSL_HSV + """
uniform float u_l[10];
uniform float u_phase;
uniform float u_level;
uniform float u_flash;
varying vec2 v_pos;
mat2 rot(float a) { float c = cos(a), s = sin(a); return mat2(c, -s, s, c); }
void main() {
    // l0 zoom, l1 warp, l2 rotation, l3 hue, l4 hue spread, l5 twist,
    // l6 frequency, l7 ripple, l8 contrast, l9 flow direction
    vec2 p = v_pos * (1.2 + 0.6 * u_l[0]);
    float r = length(p);
    p = rot(u_l[2] * 1.5 + u_l[5] * r * 2.0) * p;
    float f = 2.5 + 1.5 * u_l[6];
    vec2 w = p;
    for (int i = 0; i < 3; i++) {
        w += (0.35 + 0.3 * u_l[1]) * vec2(sin(w.y * f + u_phase), cos(w.x * f - u_phase * (1.0 + 0.5 * u_l[9])));
    }
    float v = 0.5 + 0.5 * sin(w.x * 1.7 + w.y * 1.3 + u_l[7] * 4.0 * r);
    v = pow(v, 1.0 + 1.5 * (0.5 + 0.5 * u_l[8]));
    float hue = 0.5 + 0.5 * u_l[3] + (0.1 + 0.15 * (u_l[4] + 1.0)) * v;
    float val = (0.2 + 0.8 * v) * (0.45 + 0.55 * u_level) + 0.25 * u_flash * (1.0 - r * 0.5);
    gl_FragColor = vec4(hsv2rgb(vec3(hue, 0.75, clamp(val, 0.0, 1.0))), 1.0);
}
"""


class LatentShader(Preset):
    def init(self):
        self.prog = self.fullscreen_program(FRAG)
        self.phase = 0.0

    def update(self, dt, params, frame):
        self.phase += dt * params.speed
        latent = {f"u_l[{i}]": params[f"l{i}"] for i in range(10)}
        self.set_uniforms(self.prog, u_phase=self.phase, u_level=params.level, u_flash=params.flash, **latent)

    def draw(self):
        # smooth gradients: drawn at a fraction of the output resolution and stretched
        self.draw_scaled(lambda: self.prog.draw("triangle_strip"), float(self.options.get("render_scale", 0.5)))
