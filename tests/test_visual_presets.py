"""Presets rendered for real, headless (OSMesa; EGL where SONOLUX_GL=egl): every preset, loud vs
silence, the emotion field's hue per quadrant, failing presets replaced by the fallback,
crossfades, thread-safe preset requests, blackout, HUD, hot reload, playlist switching."""
from __future__ import annotations

import colorsys
import json
import logging
import threading

import numpy as np
import pytest

from sonolux.visual.registry import PresetRegistry
from sonolux.visual.testing import SyntheticFrames

from conftest import needs_gl

W, H = 192, 108
FPS = 60.0

pytestmark = needs_gl


@pytest.fixture(scope="module")
def target():
    from sonolux.visual.offscreen import OffscreenTarget

    t = OffscreenTarget((W, H))
    yield t
    t.close()


@pytest.fixture(scope="module")
def registry():
    return PresetRegistry()


def make_host(target, registry, name, **kw):
    from sonolux.visual.host import VisualHost

    target.make_current()
    host = VisualHost(registry, (W, H), preset=name, hot_reload=kw.pop("hot_reload", False), **kw)
    host.gl_init()
    return host


def play(target, host, seconds, *, syn=None, t0=0.0, every=1, **frame_kw):
    """Step the host through ``seconds`` of synthetic frames at 60 fps; returns the last image
    (rendering every ``every``-th frame)."""
    syn = syn or SyntheticFrames()
    img = None
    n = int(round(seconds * FPS))
    for k in range(n):
        t = t0 + k / FPS
        host.step(syn.frame(t, **frame_kw), t)
        if k % every == 0 or k == n - 1:
            img = target.render(host)
    return img


SHIPPED = ["spectrum_bars", "spectrum_ring", "scope_tunnel", "particles", "emotion_field",
           "kaleidoscope", "latent_shader", "fallback"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_preset_renders_120_frames(target, registry, name):
    host = make_host(target, registry, name)
    syn = SyntheticFrames()
    imgs = []
    for k in range(120):
        t = k / FPS
        host.step(syn.frame(t, loudness=0.5 + 0.5 * np.sin(t * 3) ** 2), t)
        imgs.append(target.render(host))
    assert host.errors == 0 and host.disabled == {}, host.disabled
    assert host.current == name
    assert imgs[-1].shape == (H, W, 3) and imgs[-1].dtype == np.uint8
    assert imgs[-1].std() > 1.0, "a blank image"
    # it animates: the last frames are not all identical
    assert max(np.abs(imgs[-1].astype(int) - imgs[i].astype(int)).mean() for i in (60, 90, 110)) > 0.2


@pytest.mark.parametrize("name", SHIPPED[:-1])
def test_loud_input_looks_different_from_silence(target, registry, name):
    quiet = play(target, make_host(target, registry, name), 1.0, loudness=0.0, every=30)
    loud = play(target, make_host(target, registry, name), 1.0, loudness=1.0, every=30)
    diff = np.abs(loud.astype(float) - quiet.astype(float)).mean()
    assert diff > 3.0, f"{name}: loud vs silence differ by only {diff:.2f}/255"


def mean_hue(img) -> float:
    rgb = img.reshape(-1, 3).astype(float) / 255
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb[:: 7]])
    w = hsv[:, 1] * hsv[:, 2]
    ang = 2 * np.pi * hsv[:, 0]
    return (np.arctan2((w * np.sin(ang)).sum(), (w * np.cos(ang)).sum()) / (2 * np.pi)) % 1.0


def test_emotion_field_hue_follows_the_quadrant(target, registry):
    imgs = {}
    for q in (1, 3):
        imgs[q] = play(target, make_host(target, registry, "emotion_field"), 5.0, quadrant=q, every=100)
    h1, h3 = mean_hue(imgs[1]), mean_hue(imgs[3])
    d = min(abs(h1 - h3), 1 - abs(h1 - h3))
    assert d > 0.2, f"Q1 hue {h1:.2f} vs Q3 hue {h3:.2f}"
    assert h1 < 0.17 or h1 > 0.95, f"Q1 (happy) should be warm, hue {h1:.2f}"
    assert 0.45 < h3 < 0.72, f"Q3 (sad) should be cool, hue {h3:.2f}"


BROKEN = {
    "raise_in_update": ("    def update(self, dt, params, frame):\n"
                        "        if self.time > 0.2:\n"
                        "            raise RuntimeError('boom in update')\n"),
    "raise_in_init": "    def init(self):\n        raise ValueError('boom in init')\n",
    "bad_shader": ("    def init(self):\n"
                   "        self.prog = self.fullscreen_program('void main() { gl_FragColor = vec4(nope); }')\n"
                   "    def draw(self):\n        self.prog.draw('triangle_strip')\n"),
}


@pytest.fixture
def broken_dir(tmp_path):
    for name, body in BROKEN.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"preset": name, "parameters": []}))
        (tmp_path / f"{name}.py").write_text("from sonolux.visual.preset import Preset\n\n"
                                             f"class Broken(Preset):\n{body}")
    return tmp_path


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_raising_preset_is_replaced_and_rendering_goes_on(target, broken_dir, name, caplog):
    reg = PresetRegistry([broken_dir])
    host = make_host(target, reg, name)
    with caplog.at_level(logging.ERROR, logger="sonolux.visual"):
        img = play(target, host, 1.0, every=10)
    assert name in host.disabled and host.errors >= 1
    assert host.current == "fallback"
    assert any(name in r.getMessage() and "disabled" in r.getMessage() for r in caplog.records)
    assert img.mean() > 5, "the fallback is not being drawn"
    # and the host keeps rendering: more frames, no more errors, requests still work
    errors = host.errors
    play(target, host, 0.5, t0=1.0, every=10)
    assert host.errors == errors
    host.request_preset("spectrum_bars")
    play(target, host, 2.0, t0=1.5, every=30)
    assert host.current == "spectrum_bars" and host.fading is None
    host.request_preset(name)  # a disabled preset is not re-enabled by a request
    play(target, host, 0.1, t0=3.5)
    assert host.current == "spectrum_bars"


def test_request_preset_from_another_thread_crossfades(target, registry):
    host = make_host(target, registry, "spectrum_bars", crossfade_s=0.5)
    syn = SyntheticFrames()
    play(target, host, 0.2, syn=syn, every=12)
    th = threading.Thread(target=host.request_preset, args=("kaleidoscope",))
    th.start()
    th.join()
    assert host.current == "spectrum_bars"  # applied by the GUI thread's next step only
    host.step(syn.frame(0.2), 0.2)
    assert host.current == "kaleidoscope" and host.fading is not None
    mid = play(target, host, 0.25, syn=syn, t0=0.2 + 1 / FPS, every=100)
    assert host.fading is not None
    end = play(target, host, 0.5, syn=syn, t0=0.5, every=100)
    assert host.fading is None
    only_k = play(target, make_host(target, registry, "kaleidoscope"), 1.0, every=100)
    assert np.abs(mid.astype(int) - end.astype(int)).mean() > 1.0
    assert end.shape == only_k.shape
    host.request_preset("no_such_preset")  # logged, ignored
    play(target, host, 0.1, syn=syn, t0=1.0)
    assert host.current == "kaleidoscope"


def test_blackout_fades_to_black_and_back(target, registry):
    host = make_host(target, registry, "emotion_field")
    syn = SyntheticFrames()
    assert play(target, host, 0.2, syn=syn).mean() > 20
    host.set_blackout(True)
    assert play(target, host, 0.5, syn=syn, t0=0.2).max() == 0
    host.set_blackout(False)
    assert play(target, host, 0.5, syn=syn, t0=0.7).mean() > 20


def test_hud_is_drawn_on_top(target, registry):
    from sonolux.visual.host import VisualHost

    target.make_current()
    host = VisualHost(registry, (W * 2, H * 2), preset="particles", hot_reload=False)
    big = __import__("sonolux.visual.offscreen", fromlist=["OffscreenTarget"]).OffscreenTarget((W * 2, H * 2))
    host.gl_init()
    syn = SyntheticFrames()
    for k in range(10):
        host.step(syn.frame(k / FPS, loudness=0.0), k / FPS)
    plain = big.render(host)
    host.set_hud(True)
    host.step(syn.frame(10 / FPS, loudness=0.0), 10 / FPS)
    hud = big.render(host)
    assert np.abs(hud.astype(int) - plain.astype(int))[: H // 2, : W].mean() > 5  # text, top left
    assert host.errors == 0


def test_hot_reload_of_the_active_preset(target, tmp_path):
    import os
    import shutil

    from sonolux.visual.registry import default_presets_dir

    src = default_presets_dir()
    for f in ("emotion_field.json", "emotion_field.py"):
        shutil.copy(src / f, tmp_path / f)
    reg = PresetRegistry([tmp_path])
    host = make_host(target, reg, "emotion_field", hot_reload=True)
    host.RELOAD_EVERY_S = 0.0
    before = play(target, host, 0.3, loudness=0.0)
    doc = json.loads((tmp_path / "emotion_field.json").read_text())
    for p in doc["parameters"]:
        if p["name"] == "brightness":
            p["min"], p["default"] = 0.0, 0.0
            p["max"] = 0.05
    jp = tmp_path / "emotion_field.json"
    jp.write_text(json.dumps(doc))
    os.utime(jp, ns=(1, 10**18))
    after = play(target, host, 0.3, t0=0.3, loudness=0.0)
    assert host.current == "emotion_field" and host.errors == 0
    assert after.mean() < 0.5 * before.mean()
    # a broken edit: logged and counted, the fallback shows, rendering goes on
    good = (tmp_path / "emotion_field.py").read_text()
    (tmp_path / "emotion_field.py").write_text("this is not python")
    os.utime(tmp_path / "emotion_field.py", ns=(1, 2 * 10**18))
    play(target, host, 0.3, t0=0.6, loudness=0.0)
    assert host.current == "fallback" and host.errors == 1
    assert play(target, host, 0.1, t0=0.9).shape == (H, W, 3)
    # fixing the file brings the preset back
    (tmp_path / "emotion_field.py").write_text(good)
    os.utime(tmp_path / "emotion_field.py", ns=(1, 3 * 10**18))
    play(target, host, 0.1, t0=1.0, loudness=0.0)
    assert host.current == "emotion_field" and host.errors == 1


def test_playlist_switches_presets_when_the_mood_changes(target, registry):
    from sonolux.visual.playlist import parse_playlist

    pl = parse_playlist({"trigger": "quadrant", "min_hold_s": 1.0, "crossfade_s": 0.5,
                         "quadrants": {"Q1": ["kaleidoscope"], "Q3": ["emotion_field"]},
                         "start": "spectrum_bars"}, known=set(registry.entries))
    host = make_host(target, registry, None, playlist=pl)
    assert host.current == "spectrum_bars"
    syn = SyntheticFrames()
    play(target, host, 1.5, syn=syn, quadrant=1, every=30)
    assert host.current == "kaleidoscope"
    play(target, host, 0.8, syn=syn, t0=1.5, quadrant=3, every=30)
    assert host.current == "kaleidoscope"  # not yet: the new mood must hold for 1 s
    play(target, host, 0.5, syn=syn, t0=2.3, quadrant=3, every=30)
    assert host.current == "emotion_field"


def test_set_uniforms_keeps_the_aspect_in_step_with_a_resize():
    from types import SimpleNamespace

    from sonolux.visual.preset import Preset

    preset = Preset(SimpleNamespace(options={}, name="glow"), size=(1280, 720))
    program = {}
    preset.set_uniforms(program, u_level=0.25)
    assert program == {"u_aspect": pytest.approx(1280 / 720), "u_level": 0.25}
    preset.resize(1080, 1080)
    preset.set_uniforms(program)
    assert program["u_aspect"] == 1.0 and program["u_level"] == 0.25
