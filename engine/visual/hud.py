"""The optional heads-up display: level / band meters, BPM, quadrant, preset, dropped frames.

Text is drawn with a built-in 3×5 pixel font into a small texture (no font library needed);
the texture is re-uploaded a few times a second at most, the meters every frame.
"""
from __future__ import annotations

import numpy as np

# The 3x5 pixel font as a sheet: a line naming up to 16 characters (each followed by three
# spaces), then their five rows: 3 pixels per glyph ('#' on, '.' off), one column between.
_FONT_SHEET = """
0   1   2   3   4   5   6   7   8   9   A   B   C   D   E   F
###..#..###.###.#.#.###.###.###.###.###..#..##...##.##..###.###
#.#.##....#...#.#.#.#...#.....#.#.#.#.#.#.#.#.#.#...#.#.#...#..
#.#..#..###..##.###.###.###..#..###.###.###.##..#...#.#.##..##.
#.#..#..#.....#...#...#.#.#..#..#.#...#.#.#.#.#.#...#.#.#...#..
###.###.###.###...#.###.###..#..###.###.#.#.##...##.##..###.#..

G   H   I   J   K   L   M   N   O   P   Q   R   S   T   U   V
.##.#.#.###...#.#.#.#...#.#.##...#..##...#..##...##.###.#.#.#.#
#...#.#..#....#.#.#.#...###.#.#.#.#.#.#.#.#.#.#.#....#..#.#.#.#
#.#.###..#....#.##..#...###.#.#.#.#.##..#.#.##...#...#..#.#.#.#
#.#.#.#..#..#.#.#.#.#...#.#.#.#.#.#.#...##..#.#...#..#..#.#.#.#
.##.#.#.###..#..#.#.###.#.#.#.#..#..#....##.#.#.##...#..###..#.

W   X   Y   Z       .   :   -   +   _   /   %   |   =   (   )
#.#.#.#.#.#.###...........................#.#.#..#.......#...#.
#.#.#.#.#.#...#..........#.......#........#...#..#..###.#.....#
###..#...#...#..............###.###......#...#...#......#.....#
###.#.#..#..#............#.......#......#...#....#..###.#.....#
#.#.#.#..#..###......#..............###.#...#.#..#.......#...#.

?
###
..#
.##
...
.#.
"""


def _glyphs() -> dict:
    out = {}
    lines = _FONT_SHEET.strip("\n").split("\n")
    for i in range(0, len(lines), 7):
        names, rows = lines[i], lines[i + 1:i + 6]
        for k, ch in enumerate(names[::4]):
            bits = [row[k * 4:k * 4 + 3] for row in rows]
            out[ch] = np.array([[c == "#" for c in b] for b in bits], dtype=np.uint8)
    return out


GLYPHS = _glyphs()


def text_bitmap(lines: list[str], scale: int = 2) -> np.ndarray:
    """RGBA uint8 image of ``lines`` in the 3×5 font (white on transparent black)."""
    cols = max((len(l) for l in lines), default=1)
    h, w = len(lines) * 6 + 1, cols * 4 + 1
    img = np.zeros((h, w), dtype=np.uint8)
    for r, line in enumerate(lines):
        for c, ch in enumerate(line.upper()):
            g = GLYPHS.get(ch, GLYPHS["?"])
            img[1 + r * 6:1 + r * 6 + 5, 1 + c * 4:1 + c * 4 + 3] = g
    img = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
    rgba = np.zeros(img.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = 255 * img[..., None]
    rgba[..., 3] = np.where(img > 0, 255, 140)
    return rgba


# one program source for the text (textured) and the meters (flat colour): u_textured picks
_VERT = """
attribute vec2 a_pos;
attribute vec2 a_uv;
attribute vec4 a_color;
varying vec2 v_uv;
varying vec4 v_color;
void main() { v_uv = a_uv; v_color = a_color; gl_Position = vec4(a_pos, 0.0, 1.0); }
"""
_FRAG = """
uniform sampler2D u_tex;
uniform float u_textured;
varying vec2 v_uv;
varying vec4 v_color;
void main() { gl_FragColor = mix(v_color, texture2D(u_tex, v_uv) * v_color, u_textured); }
"""
_VERTEX = [("a_pos", np.float32, 2), ("a_uv", np.float32, 2), ("a_color", np.float32, 4)]
_N_BARS = 4  # level, bass, mid, high


class Hud:
    """Draws the HUD into the current framebuffer (GUI thread only)."""

    TEXT_EVERY_S = 0.25

    def __init__(self, size):
        from vispy import gloo

        self.size = size
        self.tex = gloo.Texture2D(np.zeros((8, 8, 4), np.uint8), interpolation="nearest")
        self.text_data = np.zeros(4, dtype=_VERTEX)
        self.text_data["a_color"] = 1.0
        self.text_buf = gloo.VertexBuffer(self.text_data)
        self.text_prog = self._program(self.text_buf, textured=True)
        self.bar_data = np.zeros(_N_BARS * 6, dtype=_VERTEX)
        self.bar_buf = gloo.VertexBuffer(self.bar_data)
        self.bar_prog = self._program(self.bar_buf, textured=False)
        self._last_text_t = -1e9
        self._text_shape = (8, 8)
        self._text = None

    def _program(self, buf, *, textured: bool):
        from vispy import gloo

        prog = gloo.Program(_VERT, _FRAG)
        prog.bind(buf)
        prog["u_tex"] = self.tex
        prog["u_textured"] = 1.0 if textured else 0.0
        return prog

    def resize(self, size):
        self.size = size
        self._last_text_t = -1e9

    def update(self, now: float, frame, info: dict) -> None:
        w, h = self.size
        g = (lambda n, d=0.0: float(frame[n]) if frame is not None and n in frame else d)
        vals = [g("level"), g("band_bass"), g("band_mid"), g("band_high")]
        cols = [(1, 1, 1, 0.85), (1, 0.35, 0.3, 0.85), (0.4, 1, 0.4, 0.85), (0.4, 0.6, 1, 0.85)]
        bw, gap, bh = 10 / w * 2, 4 / w * 2, 80 / h * 2
        x0, y0 = -1 + 12 / w * 2, -1 + 12 / h * 2
        for i, (v, c) in enumerate(zip(vals, cols)):
            x = x0 + i * (bw + gap)
            top = y0 + bh * max(0.0, min(1.0, v))
            quad = [(x, y0), (x + bw, y0), (x, top), (x, top), (x + bw, y0), (x + bw, top)]
            self.bar_data["a_pos"][i * 6:(i + 1) * 6] = quad
            self.bar_data["a_color"][i * 6:(i + 1) * 6] = c
        self.bar_buf.set_data(self.bar_data)
        if now - self._last_text_t < self.TEXT_EVERY_S and self._last_text_t <= now:
            return
        self._last_text_t = now
        q = g("quadrant")
        lines = [
            f"{info.get('preset', '?')}",
            f"BPM {g('bpm'):5.1f}  Q{int(q) if q >= 1 else '-'}  V {g('valence'):+.2f} A {g('arousal'):+.2f}",
            f"LVL {g('level_db', -120):6.1f} DB  T {info.get('t', 0.0):7.2f}",
            f"DROP {info.get('dropped', 0)}  LATE {info.get('late', 0)}  ERR {info.get('errors', 0)}",
        ]
        if lines == self._text:
            return
        self._text = lines
        scale = max(1, min(4, h // 240))
        img = text_bitmap(lines, scale)
        self.tex.set_data(img)
        th, tw = img.shape[:2]
        x1, y1 = -1 + 12 / w * 2, 1 - 12 / h * 2
        x2, y2 = x1 + tw / w * 2, y1 - th / h * 2
        self.text_data["a_pos"] = [(x1, y2), (x2, y2), (x1, y1), (x2, y1)]
        self.text_data["a_uv"] = [(0, 1), (1, 1), (0, 0), (1, 0)]
        self.text_buf.set_data(self.text_data)

    def draw(self) -> None:
        from vispy import gloo

        gloo.set_state(blend=True, blend_func=("src_alpha", "one_minus_src_alpha"), depth_test=False)
        self.bar_prog.draw("triangles")
        if self._text is not None:
            self.text_prog.draw("triangle_strip")
        gloo.set_state(blend=False)
