"""The preset interface (seed 001's shape, on Vispy gloo).

A preset is a class with

* ``init()`` — build GL programs, buffers and textures once (the GL context is current);
* ``update(dt, params, frame)`` — advance by ``dt`` seconds of *audio* time: set uniforms and
  upload sub-data only (no new GL objects, no compiling);
* ``draw()`` — issue draw calls into the framebuffer the host has bound (viewport set);
* ``resize(width, height)`` and ``teardown()`` — optional.

``params`` are the values its JSON map computed for this frame (:class:`~sonolux.visual.params.Params`);
``frame`` is the FeatureFrame being shown (read-only; fields may be absent, use ``frame.get``).
Everything a preset may need from the host is on the instance: ``self.config`` (the validated
JSON), ``self.options`` (its ``options`` object), ``self.size`` (width, height) and ``self.time``
(audio clock of the frame shown).
"""
from __future__ import annotations

import numpy as np

#: a full-screen triangle strip; ``v_uv`` is 0..1, ``v_pos`` is −1..1 with the aspect in x
FULLSCREEN_VERT = """
attribute vec2 a_pos;
uniform float u_aspect;
varying vec2 v_uv;
varying vec2 v_pos;
void main() {
    v_uv = 0.5 * (a_pos + 1.0);
    v_pos = vec2(a_pos.x * u_aspect, a_pos.y);
    gl_Position = vec4(a_pos, 0.0, 1.0);
}
"""

#: GLSL helpers presets may paste into fragment shaders
GLSL_HSV = """
vec3 hsv2rgb(vec3 c) {
    vec3 p = abs(fract(c.xxx + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0);
    return c.z * mix(vec3(1.0), clamp(p - 1.0, 0.0, 1.0), c.y);
}
"""

#: a full-screen quad with texture coordinates only (blits and the host's crossfade)
BLIT_VERT = """
attribute vec2 a_pos;
varying vec2 v_uv;
void main() { v_uv = 0.5 * (a_pos + 1.0); gl_Position = vec4(a_pos, 0.0, 1.0); }
"""
_BLIT_FRAG = """
uniform sampler2D u_tex;
varying vec2 v_uv;
void main() { gl_FragColor = vec4(texture2D(u_tex, v_uv).rgb, 1.0); }
"""

QUAD = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float32)


class Preset:
    """Base class of visual presets. Subclass it in ``presets/NAME.py`` next to ``NAME.json``."""

    #: a preset module may define several classes; the JSON's ``class`` key picks one
    abstract = True

    def __init__(self, config, size=(1280, 720)):
        self.config = config
        self.options = dict(config.options)
        self.size = (int(size[0]), int(size[1]))
        self.time = 0.0

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "abstract" not in cls.__dict__:
            cls.abstract = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def aspect(self) -> float:
        return self.size[0] / max(self.size[1], 1)

    # --- lifecycle -------------------------------------------------------------------------
    def init(self) -> None:
        """Create GL programs and buffers (once)."""

    def update(self, dt: float, params, frame) -> None:
        """Advance the animation by ``dt`` seconds of audio time; uniforms and sub-data only."""

    def draw(self) -> None:
        """Draw into the bound framebuffer (the host cleared it to black)."""

    def resize(self, width: int, height: int) -> None:
        self.size = (int(width), int(height))

    def teardown(self) -> None:
        """Release what ``init`` made (GL objects are also freed with the context)."""

    # --- helpers ---------------------------------------------------------------------------
    def draw_scaled(self, draw_fn, scale: float) -> None:
        """Run ``draw_fn()`` into an offscreen target of ``scale`` × the output size and
        stretch it over the output (bilinear). For soft, fill-rate-heavy shaders (noise fields)
        on software GL: 0.5 draws a quarter of the pixels."""
        from vispy import gloo

        w, h = max(1, int(self.size[0] * scale)), max(1, int(self.size[1] * scale))
        lo = getattr(self, "_lowres", None)
        if lo is None or lo[0] != (w, h):
            tex = gloo.Texture2D(shape=(h, w, 4), interpolation="linear", wrapping="clamp_to_edge")
            fbo = gloo.FrameBuffer(tex)
            blit = gloo.Program(BLIT_VERT, _BLIT_FRAG)
            blit["a_pos"] = gloo.VertexBuffer(QUAD)
            blit["u_tex"] = tex
            lo = self._lowres = ((w, h), fbo, blit)
        _, fbo, blit = lo
        with fbo:
            gloo.set_viewport(0, 0, w, h)
            draw_fn()
        gloo.set_viewport(0, 0, *self.size)
        blit.draw("triangle_strip")

    def set_uniforms(self, program, **values) -> None:
        """Set this frame's uniforms of ``program`` in one call, and its ``u_aspect`` to the
        output's aspect (a resize changes it between frames), e.g.
        ``self.set_uniforms(self.prog, u_phase=self.phase, u_hue=params.hue)``."""
        program["u_aspect"] = self.aspect
        for name, value in values.items():
            program[name] = value

    def fullscreen_program(self, fragment: str):
        """A gloo Program drawing ``fragment`` over the whole target (draw with
        ``program.draw("triangle_strip")``); sets ``u_aspect``."""
        from vispy import gloo

        prog = gloo.Program(FULLSCREEN_VERT, fragment)
        prog["a_pos"] = gloo.VertexBuffer(QUAD)
        prog["u_aspect"] = self.aspect
        return prog
