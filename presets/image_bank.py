"""Image bank: shows the image of a folder that best matches the music right now (or one of
the top K, to avoid repetition), crossfades on region changes and beat phrases, and pulses
with the beat (zoom, flash, RGB split), Ken Burns drift, arousal-driven saturation.

The folder comes from ``--images DIR`` (``sonolux.imagery.context``). Live, the ranking runs on
a worker thread (``sonolux.imagery.matcher.ImageMatcher``) that prepares the next image; this
preset only uploads the prepared pixels. In ``sonolux render`` the images follow the music
video's cut list (``sonolux.imagery.periods``): period p is shown from its start time on,
frame-exact. Without an image folder it shows a placeholder gradient and says so once.
"""
from __future__ import annotations

import logging

import numpy as np

from sonolux.visual.preset import GLSL_HSV, Preset

log = logging.getLogger("sonolux.imagery")

FRAG = GLSL_HSV + """
uniform sampler2D u_a;      // incoming image
uniform sampler2D u_b;      // outgoing image
uniform vec2 u_fit_a;       // cover fit: uv scale of each image
uniform vec2 u_fit_b;
uniform float u_mix;        // 0: all b, 1: all a
uniform float u_zoom;
uniform vec2 u_drift;
uniform float u_flash;
uniform float u_sat;
uniform float u_split;
uniform float u_vignette;
uniform float u_placeholder;
uniform float u_hue;
uniform float u_time;
varying vec2 v_uv;

vec3 tap(sampler2D t, vec2 fit, vec2 uv, float dx) {
    vec2 p = (uv - 0.5) * fit / u_zoom + 0.5 + u_drift;
    p.x += dx;
    p.y = 1.0 - p.y;  // row 0 of the texture is the top of the image
    return texture2D(t, clamp(p, 0.0, 1.0)).rgb;
}
vec3 img(sampler2D t, vec2 fit, vec2 uv) {
    vec3 c = tap(t, fit, uv, 0.0);
    if (u_split > 0.0005) {
        c.r = tap(t, fit, uv, u_split).r;
        c.b = tap(t, fit, uv, -u_split).b;
    }
    return c;
}
void main() {
    vec3 c = mix(img(u_b, u_fit_b, v_uv), img(u_a, u_fit_a, v_uv), u_mix);
    if (u_placeholder > 0.5) {
        float g = 0.5 + 0.5 * sin(6.2831 * (v_uv.x + v_uv.y * 0.5) + u_time * 0.5);
        c = hsv2rgb(vec3(u_hue + 0.1 * g, 0.5, 0.25 + 0.3 * g));
    }
    float l = dot(c, vec3(0.299, 0.587, 0.114));
    c = mix(vec3(l), c, u_sat);
    c += u_flash;
    vec2 d = v_uv - 0.5;
    c *= 1.0 - u_vignette * dot(d, d) * 2.0;
    gl_FragColor = vec4(clamp(c, 0.0, 1.0), 1.0);
}
"""


def _fit(img_aspect: float, out_aspect: float) -> tuple[float, float]:
    """uv scale that covers the output with the image (no bars, centre crop)."""
    if img_aspect > out_aspect:
        return (out_aspect / img_aspect, 1.0)
    return (1.0, img_aspect / out_aspect)


class ImageBank(Preset):
    def init(self):
        from vispy import gloo

        from sonolux.imagery import context

        self.ctx = context.current()
        self.tex_size = int(self.options.get("texture_size", 1024))
        blank = np.zeros((self.tex_size, self.tex_size, 3), np.uint8)
        self.tex = [gloo.Texture2D(blank, interpolation="linear", wrapping="clamp_to_edge"),
                    gloo.Texture2D(blank.copy(), interpolation="linear", wrapping="clamp_to_edge")]
        self.aspect_of = [16 / 9, 16 / 9]
        self.front = 0  # texture holding the current image
        self.prog = self.fullscreen_program(FRAG)
        self.current = -1  # index shown
        self.period = -1
        self.fade_start = -1e9
        self.fade_len = float(self.options.get("crossfade_s", 0.6))
        self.last_switch = -1e9
        self.beats_since = 0
        self.drift_phase = 0.0
        self.matcher = None
        self.has_images = bool(self.ctx is not None and self.ctx.index is not None and len(self.ctx.index))
        if not self.has_images:
            log.warning("image_bank: no image folder (use --images DIR); showing a placeholder")
        elif self.ctx.periods is None:  # live: rank off the GUI thread
            from sonolux.imagery.matcher import ImageMatcher

            self.matcher = ImageMatcher(self.ctx.index, self.ctx, k=int(self.options.get("top_k", self.ctx.k)),
                                        max_side=self.tex_size).start()
        self._bind()

    def _bind(self):
        p = self.prog
        p["u_a"] = self.tex[self.front]
        p["u_b"] = self.tex[1 - self.front]
        p["u_fit_a"] = _fit(self.aspect_of[self.front], self.aspect)
        p["u_fit_b"] = _fit(self.aspect_of[1 - self.front], self.aspect)

    def _show(self, rgb: np.ndarray, t: float, fade: float):
        """Upload ``rgb`` into the back texture and crossfade to it from ``t``."""
        from sonolux.imagery.colour import resize

        h, w = rgb.shape[:2]
        back = 1 - self.front
        self.tex[back].set_data(resize(rgb, self.tex_size) if (h, w) != (self.tex_size,) * 2 else rgb)
        self.aspect_of[back] = w / max(h, 1)
        self.front = back
        self.fade_start, self.fade_len = t, max(fade, 1e-3)
        self._bind()

    def _offline(self, t: float):
        from sonolux.imagery.colour import ImageReadError, load_rgb
        from sonolux.imagery.periods import period_at

        periods = self.ctx.periods
        i = period_at(periods, t)
        if i == self.period:
            return
        self.period = i
        per = periods[i]
        try:
            rgb = load_rgb(self.ctx.index.abspath(per.image), max_side=self.tex_size)
        except ImageReadError as e:
            log.warning("image_bank: %s", e)
            return
        fade = min(float(self.options.get("crossfade_s", 0.6)), 0.5 * per.duration) if i > 0 else 0.0
        self._show(rgb, per.start, fade)  # the fade starts exactly at the period's start
        self.current = per.image

    def _live(self, t: float, frame, params):
        from sonolux.imagery.matcher import snapshot

        m = self.matcher
        m.update(snapshot(frame, t))
        region = getattr(params, "region_changes", 0.0) > 0
        beats = int(getattr(params, "beats", 0.0))
        self.beats_since += beats
        hold = t - self.last_switch
        due = (region and hold >= float(self.options.get("min_hold_s", 2.0))) or \
            (self.beats_since >= int(self.options.get("switch_beats", 16))) or \
            (hold >= float(self.options.get("switch_s", 12.0)))
        ch = m.next
        if ch is None:
            return
        if self.current < 0 or (due and ch.index != self.current):
            self._show(ch.rgb, t, 0.0 if self.current < 0 else float(self.options.get("crossfade_s", 0.6)))
            self.current = ch.index
            self.last_switch = t
            self.beats_since = 0
            m.shown(ch.index)

    def update(self, dt, params, frame):
        t = self.time
        if self.has_images:
            if self.matcher is None:
                self._offline(t)
            else:
                self._live(t, frame, params)
        mix = min(max((t - self.fade_start) / self.fade_len, 0.0), 1.0)
        self.drift_phase += dt * params.drift
        zoom_margin = 1.0 + params.ken_burns
        r = 0.5 * (1.0 - 1.0 / zoom_margin)  # how far the view may drift inside the zoom
        self.set_uniforms(self.prog, u_mix=mix, u_zoom=zoom_margin * (1.0 + params.pulse),
                          u_drift=(r * np.sin(self.drift_phase), r * np.cos(0.7 * self.drift_phase)),
                          u_flash=params.flash, u_sat=params.saturation, u_split=params.split,
                          u_vignette=params.vignette, u_hue=params.hue, u_time=t,
                          u_placeholder=0.0 if self.has_images and self.current >= 0 else 1.0)

    def draw(self):
        self.prog.draw("triangle_strip")

    def resize(self, width, height):
        super().resize(width, height)
        self._bind()

    def teardown(self):
        if self.matcher is not None:
            self.matcher.stop()
            self.matcher = None
