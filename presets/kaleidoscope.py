"""Beat-locked kaleidoscope: a mirrored N-fold pattern whose zoom and brightness pulse on every
beat (beat phase 0 = the beat), turning at a speed tied to the tempo; the fold count follows
arousal (changing at most every few seconds, on whole numbers)."""
from __future__ import annotations

import math

from sonolux.visual.preset import GLSL_HSV, Preset

FRAG = GLSL_HSV + """
uniform float u_segments;
uniform float u_rot;
uniform float u_pulse;
uniform float u_hue;
uniform float u_detail;
uniform float u_phase;
varying vec2 v_pos;
const float PI = 3.14159265;
void main() {
    float r = length(v_pos);
    float a = atan(v_pos.y, v_pos.x) + u_rot;
    float seg = 2.0 * PI / u_segments;
    a = mod(a, seg);
    a = abs(a - 0.5 * seg);                       // mirror inside each segment
    vec2 p = vec2(cos(a), sin(a)) * r * (1.0 - 0.25 * u_pulse);
    p = p * u_detail + vec2(u_phase, 0.3 * u_phase);
    float v = sin(p.x * 3.0 + sin(p.y * 2.0 + u_phase)) * cos(p.y * 3.5 - u_phase * 0.7);
    v += 0.5 * sin(length(p - vec2(1.0)) * 6.0 - u_phase * 2.0);
    float edge = smoothstep(0.2, 0.0, abs(v)) ;
    float hue = u_hue + 0.15 * v + 0.1 * r;
    float val = 0.15 + 0.65 * (0.5 + 0.5 * v) + 0.6 * edge * (0.4 + u_pulse);
    val *= smoothstep(1.35, 0.2, r) * (0.75 + 0.5 * u_pulse);
    gl_FragColor = vec4(hsv2rgb(vec3(hue, 0.85 - 0.4 * edge, clamp(val, 0.0, 1.0))), 1.0);
}
"""


class Kaleidoscope(Preset):
    def init(self):
        self.prog = self.fullscreen_program(FRAG)
        self.rot = 0.0
        self.phase = 0.0

    def update(self, dt, params, frame):
        # one quarter turn of the pattern per 16 beats at the detected tempo
        beats_per_s = params.bpm / 60.0
        self.rot = (self.rot + dt * beats_per_s * (math.pi / 2) / 16 * params.spin) % (2 * math.pi)
        self.phase += dt * params.flow
        # the symmetry pulse: 1 on the beat, decaying over the beat
        pulse = math.exp(-params.beat_phase * params.pulse_decay) * params.pulse_amount
        self.set_uniforms(self.prog, u_segments=params.segments, u_rot=self.rot, u_pulse=pulse,
                          u_hue=params.hue, u_detail=params.detail, u_phase=self.phase)

    def draw(self):
        self.prog.draw("triangle_strip")
