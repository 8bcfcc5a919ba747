"""The emotion model's input level normaliser (sonolux.inference.level): the mixer's gain is
removed exactly, it is causal, silence neither moves it nor is moved by it, a stream cut into
any chunks gives the whole clip's answer, and a model contract that asks for it is checked
at load. No data or model files needed."""
from __future__ import annotations

import numpy as np
import pytest

from sonolux.errors import ModelError
from sonolux.inference.level import RunningLevel, input_normalisation, normalise_levels

SETTINGS = {"tau_s": 3.0, "reference_db": -2.32, "gate_db": -80.0}


def _music_like_mel(frames=900, seed=0):
    """dB log-mel with a loud and a quiet passage and a digital-silence lead-in."""
    rng = np.random.default_rng(seed)
    mel = rng.normal(-20, 8, (frames, 96))
    mel[400:600] -= 15  # a quiet passage
    mel[:50] = -100.0   # silence before the music (the engine's log floor)
    return mel.astype(np.float32)


def _levels(mel, **settings):
    """The running level after every frame, fed one frame at a time (None before any)."""
    level, out = RunningLevel(**settings), []
    for i in range(len(mel)):
        level.process(mel[i:i + 1].copy())
        out.append(level.level_db)
    return out


@pytest.mark.parametrize("tau", [3.0, 10.0])
@pytest.mark.parametrize("gain", [-12.0, -6.0, 6.0])
def test_a_constant_input_gain_is_removed(tau, gain):
    mel = _music_like_mel()
    gained = np.where(mel <= -100, -100, mel + gain).astype(np.float32)  # the log-mel of the audio × g
    a = normalise_levels(mel, **{**SETTINGS, "tau_s": tau})
    b = normalise_levels(gained, **{**SETTINGS, "tau_s": tau})
    assert np.abs(a[50:] - b[50:]).max() < 1e-3
    assert np.abs(a[50:] - mel[50:]).max() > 1  # it did shift the music


def test_the_silence_before_the_first_sound_is_left_as_it_is():
    mel = _music_like_mel()
    out = normalise_levels(mel, **SETTINGS)
    assert np.array_equal(out[:50], mel[:50])
    assert _levels(mel, **SETTINGS)[49] is None and _levels(mel, **SETTINGS)[50] is not None


def test_it_is_causal_future_frames_do_not_change_past_outputs():
    mel = _music_like_mel()
    changed = mel.copy()
    changed[700:] += 20
    assert np.array_equal(normalise_levels(mel, **SETTINGS)[:700], normalise_levels(changed, **SETTINGS)[:700])
    assert not np.array_equal(normalise_levels(mel, **SETTINGS)[700:], normalise_levels(changed, **SETTINGS)[700:])


def test_it_follows_a_change_of_level_with_its_time_constant():
    lv = np.array(_levels(_music_like_mel(), **SETTINGS)[50:], dtype=float)
    lv30 = np.array(_levels(_music_like_mel(), **{**SETTINGS, "tau_s": 30.0})[50:], dtype=float)
    # a mean of power: the 3.2 s quiet passage (15 dB down) pulls a 3 s estimate ~5 dB down,
    # a 30 s one (nearly the mean of all heard so far) less than half of that
    drop3, drop30 = lv[349] - lv[549], lv30[349] - lv30[549]
    assert 3 < drop3 < 15 and 0 < drop30 < drop3 / 2


def test_silence_below_the_gate_does_not_pull_the_level_down_and_is_not_shifted():
    mel = np.full((600, 96), -25.0, np.float32)
    mel[200:400] = -100.0  # a pause between songs
    lv = _levels(mel, **SETTINGS)
    assert np.allclose(lv, -25.0, atol=1e-4)
    out = normalise_levels(mel, **SETTINGS)
    assert np.allclose(out[:200], -2.32, atol=1e-4) and np.allclose(out[400:], -2.32, atol=1e-4)
    # the pause is shifted like the music around it: the gap keeps its depth (quiet stays quiet)
    assert np.allclose(out[200:400], -100.0 + (-2.32 + 25.0), atol=1e-3)


def test_tau_zero_normalises_each_frame_to_the_reference():
    mel = _music_like_mel()
    out = normalise_levels(mel, **{**SETTINGS, "tau_s": 0.0})
    power = np.mean(10.0 ** (out[50:].astype(np.float64) / 10), axis=1)
    assert np.allclose(10 * np.log10(power), -2.32, atol=1e-3)


def test_a_stream_cut_into_any_chunks_equals_the_whole_clip(rng):
    mel = _music_like_mel(1500)
    whole = normalise_levels(mel, **SETTINGS)
    for trial in range(3):
        level, out, i = RunningLevel(**SETTINGS), mel.copy(), 0
        sizes = [0, 1, 64, 65, 1, 0] + list(rng.integers(0, 300, 20))
        for n in sizes:
            level.process(out[i:i + n])
            i += n
        level.process(out[i:])
        assert np.array_equal(out, whole), f"trial {trial}"


def test_a_wrong_buffer_is_a_clear_error():
    with pytest.raises(ValueError, match="float32"):
        RunningLevel(**SETTINGS).process(np.zeros((4, 96)))
    with pytest.raises(ValueError, match="tau_s"):
        RunningLevel(**{**SETTINGS, "tau_s": -1.0})


def test_the_contract_entry_makes_a_fresh_normaliser_per_stream():
    entry = {"kind": "running_level", **SETTINGS}
    a = input_normalisation({"input_normalisation": entry}, "m.onnx")
    b = a.fresh()
    a.process(_music_like_mel())
    assert a.level_db is not None and b.level_db is None and b.tau_s == 3.0
    assert input_normalisation({}, "m.onnx") is None  # v2.1 and older: the raw log-mel


@pytest.mark.parametrize("entry, words", [
    ("ema3", "input_normalisation='ema3' must be a table"),
    ({**SETTINGS}, "input_normalisation.kind=None is not one of running_level"),
    ({"kind": "peak", **SETTINGS}, "input_normalisation.kind='peak'"),
    ({"kind": "running_level", "reference_db": -2.0, "gate_db": -80.0}, "input_normalisation.tau_s=None"),
    ({"kind": "running_level", **SETTINGS, "tau_s": 0}, "input_normalisation.tau_s=0.0 must be > 0"),
    ({"kind": "running_level", **SETTINGS, "tau_s": -3.0}, "tau_s=-3.0 must be > 0"),
    ({"kind": "running_level", **SETTINGS, "reference_db": "loud"}, "input_normalisation.reference_db='loud'"),
    ({"kind": "running_level", **SETTINGS, "gate_db": float("nan")}, "input_normalisation.gate_db=nan"),
    ({"kind": "running_level", **SETTINGS, "gate_db": True}, "input_normalisation.gate_db=True"),
    ({"kind": "running_level", **SETTINGS, "gate_db": -100}, "gate_db=-100.0 must be above the log-mel floor"),
])
def test_a_bad_contract_entry_is_a_model_error_naming_file_key_and_value(entry, words):
    with pytest.raises(ModelError) as e:
        input_normalisation({"input_normalisation": entry}, "/show/emotion.onnx")
    assert str(e.value).startswith("/show/emotion.onnx: ")
    assert words in str(e.value)


def test_a_window_model_that_asks_for_it_is_refused_at_load(tmp_path):
    import json

    import onnx

    from sonolux.inference.models import load_model
    from tiny_models import emotion_model

    path = tmp_path / "emotion.onnx"
    emotion_model(path)
    proto = onnx.load(str(path))
    for e in proto.metadata_props:
        if e.key == "sonolux_contract":
            e.value = json.dumps({**json.loads(e.value), "input_normalisation": {"kind": "running_level", **SETTINGS}})
    onnx.save(proto, str(path))
    with pytest.raises(ModelError, match="only supported for a streaming emotion model") as e:
        load_model(path, device="cpu")
    assert str(path) in str(e.value)
