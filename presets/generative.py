"""Generative: images generated from the music by the conditional DCGAN (``generator.onnx``,
64×64), conditioned on the music embedding (or on the quadrant / valence-arousal when the
music encoder is absent), walking its latent space on the beat; the shader upscales the
64×64 frame smoothly (4-tap soft bilinear + unsharp), mirrors it optionally, and adds beat
zoom, kick flash, arousal saturation, grain and vignette.

Live, the generator runs on a worker thread and the GUI thread uploads the newest frame; in
``sonolux render`` it runs in lockstep with the audio clock (deterministic).
"""
from __future__ import annotations

import logging

import numpy as np

from sonolux.visual.preset import Preset

log = logging.getLogger("sonolux.imagery")

FRAG = """
uniform sampler2D u_img;
uniform float u_texel;
uniform float u_zoom;
uniform float u_flash;
uniform float u_sat;
uniform float u_sharpen;
uniform float u_mirror;
uniform float u_grain;
uniform float u_time;
uniform float u_vignette;
uniform float u_ok;
uniform float u_aspect;
varying vec2 v_uv;
varying vec2 v_pos;
vec3 soft(vec2 p) {
    float d = 0.5 * u_texel;
    return 0.25 * (texture2D(u_img, p + vec2(d, d)).rgb + texture2D(u_img, p + vec2(-d, d)).rgb
                 + texture2D(u_img, p + vec2(d, -d)).rgb + texture2D(u_img, p + vec2(-d, -d)).rgb);
}
float hash(vec2 p) { vec3 p3 = fract(vec3(p.xyx) * 0.1031); p3 += dot(p3, p3.yzx + 33.33);
                     return fract((p3.x + p3.y) * p3.z); }
void main() {
    vec2 p = v_pos / u_zoom;                       // aspect-correct, centred
    if (u_mirror < 0.5) p /= max(u_aspect, 1.0 / u_aspect);  // cover: the square fills the frame
    p = 0.5 + 0.5 * p;
    if (u_mirror > 0.5) p = 1.0 - abs(1.0 - 2.0 * fract(0.5 * p)) ;
    p = clamp(p, 0.0, 1.0);
    p.y = 1.0 - p.y;
    vec3 c = soft(p);
    vec3 sharp = texture2D(u_img, p).rgb;
    c = c + u_sharpen * (sharp - c);
    float l = dot(c, vec3(0.299, 0.587, 0.114));
    c = mix(vec3(l), c, u_sat) + u_flash;
    c += u_grain * (hash(gl_FragCoord.xy + fract(u_time * 7.0) * 100.0) - 0.5);
    vec2 d = v_uv - 0.5;
    c *= 1.0 - u_vignette * dot(d, d) * 2.0;
    if (u_ok < 0.5) c = vec3(0.2 + 0.1 * sin(u_time), 0.1, 0.25) * (1.0 - dot(d, d));
    gl_FragColor = vec4(clamp(c, 0.0, 1.0), 1.0);
}
"""


class Generative(Preset):
    def init(self):
        from vispy import gloo

        from sonolux.imagery import context
        from sonolux.imagery.generator import GeneratorDriver

        self.ctx = context.current()
        self.driver = None
        try:
            self.driver = GeneratorDriver(self.ctx.model_dir if self.ctx else None,
                                          seed=int(self.options.get("seed", 11)))
        except Exception as e:  # noqa: BLE001 - no model: a placeholder, said once
            log.warning("generative: no generator model (%s); showing a placeholder", e)
        n = self.driver.size if self.driver else 64
        self.tex = gloo.Texture2D(np.zeros((n, n, 3), np.uint8), interpolation="linear",
                                  wrapping="mirrored_repeat")
        self.prog = self.fullscreen_program(FRAG)
        self.prog["u_img"] = self.tex
        self.prog["u_texel"] = 1.0 / n
        self.offline = bool(self.ctx is not None and self.ctx.offline)
        self.live = self.driver is not None and not self.offline
        if self.live:
            self.driver.start(float(self.options.get("gen_fps", 60)))
        self.cond = None
        self.shown_seq = -1
        self.next_gen_t = -1e9
        self.gen_fps = float(self.options.get("gen_fps", 60))
        self.embed_t = -1e9
        self.embedding = None

    def _condition(self, frame, params, t):
        d = self.driver
        emb = None
        if self.ctx is not None and self.ctx.music_model is not None:
            if self.ctx.timeline is not None:
                emb = self.ctx.music_query(t)[0]
            elif self.ctx.feature_source is not None and t - self.embed_t >= 0.5:
                self.embed_t = t
                try:  # live: ~1 ms every 0.5 s of audio
                    self.embedding = self.ctx.music_query()[0]
                except Exception:  # noqa: BLE001
                    self.embedding = None
                emb = self.embedding
            else:
                emb = self.embedding
        probs = None
        if emb is None and frame is not None and frame.get("prediction_age", -1.0) >= 0 and "q1" in frame:
            probs = [frame.get(f"q{i}") for i in range(1, 5)]
        target = d.condition(emb, probs, params.valence, params.arousal)
        if self.cond is None:
            self.cond = target
        else:  # ~2 s smoothing on the audio clock
            a = 1.0 - np.exp(-self.dt / float(self.options.get("cond_smooth_s", 2.0)))
            self.cond = self.cond + a * (target - self.cond)
        return self.cond / (np.linalg.norm(self.cond) + 1e-9)

    def update(self, dt, params, frame):
        t = self.time
        self.dt = dt
        p = self.prog
        d = self.driver
        if d is not None:
            d.key_phase += dt * max(params.bpm, 30.0) / 60.0 / float(self.options.get("beats_per_key", 4))
            cond = self._condition(frame, params, t)
            z = d.z_at(d.key_phase, params.kick)
            if self.live:
                d.request(z, cond)
                if d.image is not None and d.image_seq != self.shown_seq:
                    self.shown_seq = d.image_seq
                    self.tex.set_data(d.image)
            elif t >= self.next_gen_t:  # offline: in lockstep with the audio clock
                self.next_gen_t = t + 1.0 / self.gen_fps - 1e-9
                self.tex.set_data(d.run(z, cond))
        opt = self.options
        self.set_uniforms(p, u_ok=1.0 if d is not None else 0.0,
                          u_zoom=float(opt.get("zoom", 1.0)) * (1.0 + params.pulse), u_flash=params.flash,
                          u_sat=params.saturation, u_sharpen=float(opt.get("sharpen", 0.6)),
                          u_mirror=1.0 if opt.get("mirror", False) else 0.0, u_grain=float(opt.get("grain", 0.03)),
                          u_vignette=params.vignette, u_time=t)

    def draw(self):
        self.prog.draw("triangle_strip")

    def teardown(self):
        if self.driver is not None:
            self.driver.stop()
