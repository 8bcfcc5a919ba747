"""Preset parameter maps without GL: validation messages, step, fps, smoothing, absent fields,
counters, the shipped presets and playlist, discovery (dirs and entry points)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sonolux.errors import ConfigError
from sonolux.frame import FrameLayout
from sonolux.visual.params import ParamMapper, load_config, validate_config
from sonolux.visual.playlist import PlaylistFollower, load_playlist, parse_playlist
from sonolux.visual.registry import PresetRegistry, default_presets_dir
from sonolux.visual.testing import SyntheticFrames, full_layout

ROOT = Path(__file__).resolve().parents[1]


def cfg(*params, name="t"):
    return validate_config({"preset": name, "parameters": list(params)}, "mem.json")


def layout_with(*scalars):
    lay = FrameLayout()
    for s in scalars:
        lay.add_scalar(s)
    return lay


def test_step_quantises_every_value(rng):
    m = ParamMapper(cfg({"name": "x", "source": "level", "min": -1, "max": 3, "step": 0.25}))
    lay = layout_with("level")
    f = lay.new_frame()
    seen = set()
    for i, v in enumerate(rng.uniform(-0.5, 1.5, 500)):
        f.t = i / 60
        f.values[0] = v
        x = m.update(f).x
        k = (x + 1) / 0.25
        assert abs(k - round(k)) < 1e-9 and -1 <= x <= 3
        seen.add(round(x, 6))
    assert len(seen) >= 10  # it moves, on the grid


def test_step_grid_stays_on_grid_when_max_is_not_a_multiple(rng):
    m = ParamMapper(cfg({"name": "x", "source": "level", "min": 0, "max": 1, "step": 0.3}))
    f = layout_with("level").new_frame()
    seen = set()
    for i, v in enumerate(rng.uniform(-1, 2, 300)):
        f.t, f.values[0] = i / 60, v
        seen.add(round(m.update(f).x, 9))
    assert seen == {0.0, 0.3, 0.6, 0.9}


def test_step_on_vector_parameters():
    lay = full_layout()
    f = lay.new_frame()
    f.vectors["mel_db"][:] = np.linspace(-70, 10, 64)
    m = ParamMapper(cfg({"name": "bars", "source": "mel_db", "size": 16, "min": 0, "max": 1, "step": 0.1}))
    bars = m.update(f).bars
    assert bars.shape == (16,)
    assert np.allclose(bars * 10, np.round(bars * 10), atol=1e-5)
    assert np.all(np.diff(bars) >= 0) and bars[0] < 0.1 and bars[-1] > 0.9


@pytest.mark.parametrize("fps", [0.1, 2.0, 24.0])
def test_fps_limits_the_update_rate_on_the_audio_clock(fps):
    m = ParamMapper(cfg({"name": "hue", "source": "valence", "min": 0, "max": 1, "step": 0.001, "fps": fps}))
    lay = layout_with("valence")
    f = lay.new_frame()
    changes = []
    prev = None
    rate, dur = 60.0, 35.0
    for i in range(int(dur * rate)):
        t = i / rate
        f.t = t
        f.values[0] = math.sin(2 * math.pi * 0.37 * t)  # always moving
        v = m.update(f).hue
        if prev is not None and v != prev:
            changes.append(t)
        prev = v
    assert changes, "the value never changed"
    gaps = np.diff(changes)
    assert np.all(gaps >= 1.0 / fps - 1e-6), f"changed {1 / gaps.min():.2f}×/s, limit {fps}"
    assert len(changes) <= dur * fps + 1
    # and it does use its budget: not stuck
    assert len(changes) >= 0.5 * min(dur * fps, dur * rate) - 1


def test_absent_field_uses_the_default_not_an_error():
    m = ParamMapper(cfg({"name": "warm", "source": "valence", "min": 0, "max": 1, "default": 0.3},
                        {"name": "lat", "source": "latent[4]", "min": -1, "max": 1, "default": 0.5},
                        {"name": "bars", "source": "mel_db", "size": 8, "min": 0, "max": 1, "default": 0.2}))
    f = layout_with("level").new_frame()
    p = m.update(f)
    assert p.warm == 0.3 and p.lat == 0.5 and np.allclose(p.bars, 0.2)
    assert m.update(None).warm == 0.3


def test_counters_map_new_events_and_skipped_frames_lose_none():
    m = ParamMapper(cfg({"name": "burst", "source": "onset_count", "in": [0, 4], "min": 0, "max": 4, "step": 1}))
    f = layout_with("onset_count").new_frame()
    out = []
    for t, count in [(0.0, 10), (0.1, 10), (0.2, 13), (0.3, 13), (0.4, 14)]:
        f.t, f.values[0] = t, count
        out.append(m.update(f).burst)
    assert out == [0, 0, 3, 0, 1]


def test_smoothing_runs_on_audio_time_not_update_rate():
    def response(rate):
        m = ParamMapper(cfg({"name": "x", "source": "level", "min": 0, "max": 1, "smooth_ms": 100}))
        f = layout_with("level").new_frame()
        f.values[0] = 0.0
        m.update(f, 0.0)
        f.values[0] = 1.0
        v = 0.0
        for i in range(1, int(0.1 * rate) + 1):
            v = m.update(f, i / rate).x
        return v

    assert response(30) == pytest.approx(1 - math.exp(-1), abs=0.01)
    assert response(240) == pytest.approx(1 - math.exp(-1), abs=0.01)


def test_curve_and_inverted_input_range():
    m = ParamMapper(cfg({"name": "hue", "source": "valence", "in": [1, -1], "min": 0, "max": 0.6},
                        {"name": "sq", "source": "level", "min": 0, "max": 1, "curve": "square"}))
    f = layout_with("valence", "level").new_frame()
    f.values[:] = [1.0, 0.5]
    p = m.update(f)
    assert p.hue == pytest.approx(0.0) and p.sq == pytest.approx(0.25)
    f.values[:] = [-1.0, 0.5]
    assert m.update(f, 1.0).hue == pytest.approx(0.6)


BAD = [
    ('{"preset": "x", "parameters": [ {"name": "a", "min": 0, "max": 1}, ]}', "invalid JSON at line 1"),
    ({"preset": "x", "parameters": [{"name": "gain", "source": "level", "min": 0, "max": "big"}]},
     "parameters[0] (gain).max: 'big' must be a number"),
    ({"preset": "x", "parameters": [{"name": "gain", "source": "levle", "min": 0, "max": 1}]},
     "parameters[0] (gain).source: 'levle' is not a FeatureFrame field (did you mean 'level'"),
    ({"preset": "x", "parameters": [{"name": "gain", "min": 0, "max": 1, "smoothing": 3}]},
     "parameters[0] (gain).smoothing: unknown key"),
    ({"preset": "x", "parameters": [{"name": "gain", "min": 0, "max": 1, "step": 2}]},
     "parameters[0] (gain).step: 2 is larger than max - min"),
    ({"preset": "x", "parameters": [{"name": "gain", "min": 0, "max": 1, "fps": 0}]},
     "parameters[0] (gain).fps: 0 must be > 0"),
    ({"preset": "x", "parameters": [{"name": "gain", "min": 2, "max": 1}]},
     "parameters[0] (gain).max: 1 must be greater than min=2"),
    ({"preset": "x", "parameters": [{"name": "t", "source": "tags.banjo", "min": 0, "max": 1}]},
     "parameters[0] (t).source: 'tags.banjo': unknown tag 'banjo'"),
    ({"preset": "x", "parameters": [{"name": "a", "min": 0, "max": 1}, {"name": "a", "min": 0, "max": 1}]},
     "parameters[1].name: 'a' is defined twice"),
    ({"preset": "Bad Name", "parameters": []}, "preset: 'Bad Name' must be a snake_case preset name"),
    ({"preset": "x", "parameters": [{"name": "c", "min": 0, "max": 1, "curve": "wobbly"}]},
     "parameters[0] (c).curve: 'wobbly' must be one of"),
]


@pytest.mark.parametrize("doc,message", BAD)
def test_malformed_json_names_file_key_and_value(tmp_path, doc, message):
    p = tmp_path / "broken_preset.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    msg = str(ei.value)
    assert msg.startswith(f"{p}: "), msg
    assert message in msg, msg


def test_shipped_presets_validate_and_are_discovered():
    reg = PresetRegistry()
    assert not reg.errors, reg.errors
    names = reg.names()
    for n in ("spectrum_bars", "spectrum_ring", "scope_tunnel", "particles", "emotion_field",
              "kaleidoscope", "latent_shader"):
        assert n in names
    for jp in default_presets_dir().glob("*.json"):
        if jp.name != "playlist.json":
            assert load_config(jp).params
    pl = load_playlist(default_presets_dir() / "playlist.json", known=set(reg.entries))
    assert set(pl.quadrants) == {"Q1", "Q2", "Q3", "Q4"}


def test_latent_preset_maps_all_ten_codes():
    c = load_config(default_presets_dir() / "latent_shader.json")
    srcs = {p.source for p in c.params}
    assert {f"latent[{i}]" for i in range(10)} <= srcs


def _write_preset(d: Path, name: str, body: str = "", params=None):
    (d / f"{name}.json").write_text(json.dumps({"preset": name, "parameters": params or [
        {"name": "level", "source": "level", "min": 0, "max": 1}]}))
    (d / f"{name}.py").write_text(
        "from sonolux.visual.preset import Preset\n\n"
        f"class P(Preset):\n{body or '    pass'}\n")


def test_presets_dir_adds_and_overrides(tmp_path):
    _write_preset(tmp_path, "my_extra")
    _write_preset(tmp_path, "spectrum_bars")  # overrides the shipped one
    reg = PresetRegistry([tmp_path])
    assert "my_extra" in reg.names()
    assert reg.get("spectrum_bars").json_path == tmp_path / "spectrum_bars.json"
    with pytest.raises(ConfigError, match="no preset named 'nope'"):
        reg.get("nope")


def test_bad_preset_in_folder_is_reported_not_fatal(tmp_path):
    (tmp_path / "broken.json").write_text('{"preset": "broken", "parameters": [{"name": "x"}]}')
    (tmp_path / "broken.py").write_text("")
    reg = PresetRegistry([tmp_path])
    assert "broken" not in reg.names() and "spectrum_bars" in reg.names()
    assert any("broken.json: parameters[0] (x).min: missing" in e for e in reg.errors.values())


def test_entry_point_presets_are_discovered(tmp_path, monkeypatch):
    import importlib.metadata as md
    import sys

    pkg = tmp_path / "thirdparty_viz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    _write_preset(pkg, "glow", body="    def init(self):\n        self.ok = True\n")
    (pkg / "glow.py").rename(pkg / "glow_mod.py")
    (pkg / "glow.json").rename(pkg / "glow_mod.json")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = md.EntryPoint(name="glow", value="thirdparty_viz.glow_mod:P", group="sonolux.presets")
    real = md.entry_points
    monkeypatch.setattr(md, "entry_points",
                        lambda **kw: [ep] if kw.get("group") == "sonolux.presets" else real(**kw))
    reg = PresetRegistry()
    assert "glow" in reg.names(), reg.errors
    assert reg.preset_class(reg.get("glow")).__module__ == "thirdparty_viz.glow_mod"
    sys.modules.pop("thirdparty_viz.glow_mod", None)


def test_hot_reload_picks_up_json_changes_and_keeps_old_on_error(tmp_path):
    import os

    _write_preset(tmp_path, "live_one")
    reg = PresetRegistry([tmp_path], default_dir=False, entry_points=False)
    jp = tmp_path / "live_one.json"
    jp.write_text(json.dumps({"preset": "live_one", "parameters": [
        {"name": "level", "source": "level", "min": 0, "max": 2}]}))
    os.utime(jp, ns=(1, 10**18))
    assert reg.changed() == ["live_one"]
    assert reg.get("live_one").config.param("level").max == 2
    jp.write_text('{"preset": "live_one", "parameters": [{"name": "level", "min": 0}]}')
    os.utime(jp, ns=(1, 2 * 10**18))
    assert reg.changed() == []
    assert reg.get("live_one").config.param("level").max == 2
    assert "live_one.json: parameters[0] (level).max: missing" in " ".join(reg.errors.values())


def test_new_preset_files_are_picked_up_while_running(tmp_path):
    reg = PresetRegistry([tmp_path], default_dir=False, entry_points=False)
    assert reg.changed() == []
    _write_preset(tmp_path, "fresh")
    assert reg.changed() == ["fresh"] and "fresh" in reg.names()
    assert reg.changed() == []


def test_playlist_switches_on_quadrant_after_hold_and_on_region_change():
    pl = parse_playlist({"trigger": "quadrant", "min_hold_s": 2.0,
                         "quadrants": {"Q1": ["a", "b"], "Q3": ["c"]}})
    fol = PlaylistFollower(pl)
    syn = SyntheticFrames()
    got = []
    for i in range(int(12 * 20)):
        t = i / 20
        q = 1 if t < 4 or t >= 8 else 3
        name = fol.update(syn.frame(t, quadrant=q), t)
        if name:
            got.append((round(t, 2), name))
    assert got == [(2.0, "a"), (6.0, "c"), (10.0, "b")]

    fol = PlaylistFollower(parse_playlist({"trigger": "region", "regions": {"low": ["sad"], "cheerful": ["up"]}}))
    syn = SyntheticFrames()
    names = [fol.update(syn.frame(t, quadrant=1 if t < 1 else 3), t) for t in np.arange(0, 2, 0.05)]
    assert [n for n in names if n] == ["sad"]


def test_playlist_quadrant_waits_for_a_confident_model():
    """Below ``min_confidence`` a frame's quadrant does not count and restarts the hold: the
    first seconds of a stream (window not full) and unsure music do not switch the visuals."""
    pl = parse_playlist({"trigger": "quadrant", "min_hold_s": 2.0, "min_confidence": 0.5,
                         "quadrants": {"Q1": ["a"], "Q3": ["c"]}})
    assert pl.min_confidence == 0.5 and parse_playlist({}).min_confidence == 0.4
    fol = PlaylistFollower(pl)
    syn = SyntheticFrames()
    got = []
    for i in range(int(12 * 20)):
        t = i / 20
        f = syn.frame(t, quadrant=1 if t < 6 else 3)
        # unsure for the first 3 s, and for 1 s in the middle of the Q3 part
        conf = 0.3 if t < 3 or 8 <= t < 9 else 0.7
        f.values[f.layout.scalars["emotion_confidence"]] = conf
        name = fol.update(f, t)
        if name:
            got.append((round(t, 2), name))
    # Q1 switches 2 s after the model is sure (t = 3 + 2); Q3 from t = 6 would switch at 8,
    # but the unsure second restarts its hold: 9 + 2
    assert got == [(5.0, "a"), (11.0, "c")]
    with pytest.raises(ConfigError, match=r"min_confidence: 1.5 must be within 0..1"):
        parse_playlist({"min_confidence": 1.5})


def test_playlist_errors_name_file_and_key(tmp_path):
    p = tmp_path / "pl.json"
    p.write_text(json.dumps({"quadrants": {"Q5": ["a"]}}))
    with pytest.raises(ConfigError, match=r"pl.json: quadrants.Q5: unknown mood"):
        load_playlist(p)
    p.write_text(json.dumps({"quadrants": {"Q1": ["nope"]}}))
    with pytest.raises(ConfigError, match=r"quadrants.Q1: 'nope' is not a known preset"):
        load_playlist(p, known={"a"})


def test_playlist_argument_default_off_and_file(tmp_path):
    from sonolux.visual.live import load_playlist_arg

    reg = PresetRegistry()
    shipped = load_playlist_arg("default", reg)  # what a show file's playlist = "default" means
    assert shipped is not None and load_playlist_arg(None, reg) is not None
    assert load_playlist_arg("off", reg) is None
    with pytest.raises(ConfigError, match="missing.json"):
        load_playlist_arg(str(tmp_path / "missing.json"), reg)
