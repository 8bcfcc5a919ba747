"""Emotion colour field: a slow flowing colour field whose hue follows valence (warm for
positive, cool for negative), saturation follows arousal, and whose motion speeds up with
arousal. The level brightens it; kicks ripple through it."""
from __future__ import annotations

from sonolux.visual.preset import GLSL_HSV, Preset

FRAG = GLSL_HSV + """
uniform float u_phase;
uniform float u_hue;
uniform float u_sat;
uniform float u_bright;
uniform float u_ripple;
uniform float u_scale;
varying vec2 v_pos;
float hash(vec2 p) {  // no sin(): cheap on software GL
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}
float noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash(i), hash(i + vec2(1, 0)), u.x), mix(hash(i + vec2(0, 1)), hash(i + vec2(1, 1)), u.x), u.y);
}
float fbm(vec2 p) { return 0.55 * noise(p) + 0.3 * noise(p * 2.03 + 7.1) + 0.15 * noise(p * 4.01 + 3.3); }
void main() {
    vec2 p = v_pos * u_scale;
    vec2 q = vec2(fbm(p + vec2(0.0, u_phase)), fbm(p + vec2(5.2, 1.3 - u_phase)));
    float f = fbm(p + 2.0 * q + vec2(u_phase * 0.5, 0.0));
    float r = length(v_pos);
    float ripple = u_ripple * 0.5 * (0.5 + 0.5 * sin(18.0 * r - u_phase * 12.0)) * exp(-r * 1.5);
    float hue = u_hue + 0.08 * (q.x - 0.5);
    float val = u_bright * (0.25 + 0.9 * f) + ripple;
    gl_FragColor = vec4(hsv2rgb(vec3(hue, u_sat * (0.7 + 0.3 * f), clamp(val, 0.0, 1.0))), 1.0);
}
"""


class EmotionField(Preset):
    def init(self):
        self.prog = self.fullscreen_program(FRAG)
        self.phase = 0.0

    def update(self, dt, params, frame):
        self.phase += dt * params.speed
        self.set_uniforms(self.prog, u_phase=self.phase, u_hue=params.hue, u_sat=params.saturation,
                          u_bright=params.brightness, u_ripple=params.ripple,
                          u_scale=float(self.options.get("scale", 1.6)))

    def draw(self):
        # a soft field: drawn at a fraction of the output resolution and stretched
        self.draw_scaled(lambda: self.prog.draw("triangle_strip"), float(self.options.get("render_scale", 0.5)))
