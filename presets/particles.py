"""The seed's particle system: bursts emitted on onsets (more on kicks), a steady trickle with
the level; velocity randomness from arousal; colour randomness and base hue that may change
only at the rate their JSON allows (e.g. the hue at most once every 10 s). Simulated on the
audio clock in NumPy (a fixed pool, no allocation per frame), drawn as additive soft points."""
from __future__ import annotations

import numpy as np

from sonolux.visual.preset import GLSL_HSV, Preset

VERT = GLSL_HSV + """
attribute vec2 a_pos;
attribute float a_life;
attribute float a_hue;
attribute float a_size;
uniform float u_aspect;
uniform float u_scale;
uniform float u_sat;
varying vec4 v_color;
void main() {
    gl_Position = vec4(a_pos.x / u_aspect, a_pos.y, 0.0, 1.0);
    float alive = step(0.0, a_life);
    gl_PointSize = alive * max(2.0, a_size * u_scale * (0.4 + 0.6 * clamp(a_life, 0.0, 1.0)));
    v_color = vec4(hsv2rgb(vec3(a_hue, u_sat, 1.0)), alive * clamp(a_life * 1.5, 0.0, 1.0));
}
"""
FRAG = """
varying vec4 v_color;
void main() {
    vec2 d = gl_PointCoord - vec2(0.5);
    float a = smoothstep(0.5, 0.0, length(d));
    gl_FragColor = vec4(v_color.rgb * a * v_color.a, 1.0);
}
"""


class Particles(Preset):
    def init(self):
        from vispy import gloo

        n = int(self.options.get("max_particles", 6000))
        self.n = n
        self.rng = np.random.default_rng(int(self.options.get("seed", 1)))
        self.data = np.zeros(n, dtype=[("a_pos", np.float32, 2), ("a_life", np.float32),
                                       ("a_hue", np.float32), ("a_size", np.float32)])
        self.data["a_life"] = -1.0
        self.vel = np.zeros((n, 2), np.float32)
        self.decay = np.ones(n, np.float32)
        self.next = 0
        self.trickle = 0.0
        self.buf = gloo.VertexBuffer(self.data)
        self.prog = gloo.Program(VERT, FRAG)
        self.prog.bind(self.buf)

    def emit(self, count, speed, vel_random, hue, hue_random, size):
        count = int(min(count, self.n))
        if count <= 0:
            return
        idx = (self.next + np.arange(count)) % self.n
        self.next = int((self.next + count) % self.n)
        rng = self.rng
        ang = rng.uniform(0, 2 * np.pi, count)
        sp = speed * (1.0 + vel_random * rng.standard_normal(count))
        d = self.data
        d["a_pos"][idx] = rng.normal(0.0, 0.03, (count, 2))
        self.vel[idx, 0] = np.cos(ang) * sp
        self.vel[idx, 1] = np.sin(ang) * sp + 0.15 * speed
        d["a_life"][idx] = 1.0
        self.decay[idx] = rng.uniform(0.5, 1.0, count)
        d["a_hue"][idx] = (hue + hue_random * rng.uniform(-0.5, 0.5, count)) % 1.0
        d["a_size"][idx] = size * rng.uniform(0.5, 1.5, count)

    def update(self, dt, params, frame):
        # bursts on onsets (the counters' new events since the last update) and a trickle
        burst = params.burst + params.kick_burst
        self.trickle += dt * params.trickle
        steady = int(self.trickle)
        self.trickle -= steady
        if burst >= 1:
            self.emit(burst, params.speed * 1.4, params.vel_random, params.hue, params.color_random, params.size)
        if steady:
            self.emit(steady, params.speed * 0.5, params.vel_random, params.hue, params.color_random,
                      params.size * 0.7)
        d = self.data
        alive = d["a_life"] >= 0
        if dt > 0 and alive.any():
            drag = np.float32(np.exp(-dt * params.drag))
            self.vel *= drag
            self.vel[:, 1] -= np.float32(params.gravity * dt)
            d["a_pos"] += self.vel * np.float32(dt)
            d["a_life"] -= np.float32(dt / params.lifetime) * self.decay
            d["a_life"][~alive] = -1.0
        self.buf.set_data(d)
        self.set_uniforms(self.prog, u_scale=self.size[1] / 720.0, u_sat=params.saturation)

    def draw(self):
        from vispy import gloo

        gloo.set_state(blend=True, blend_func=("one", "one"), depth_test=False)
        self.prog.draw("points")
        gloo.set_state(blend=False)
