"""The music encoder's input level (``sonolux.imagery.level``): the mixer's gain must not change
which picture the imagery presets choose. A constructed song at 0 dB and at −12 / +6 dB: the
normalised windows, the live query, the offline timeline and the matcher's choice are the same
at both gains, live equals offline, and without the normalisation they would not be."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sonolux import modelinput as mi
from sonolux.imagery.context import ImageryContext, music_timeline
from sonolux.imagery.level import FLOOR_DB, GATE_DB, REFERENCE_DB, normalise_window, window_shift
from sonolux.imagery.models import load_music_model, model_path

from test_imagery import make_folder

ROOT = Path(__file__).resolve().parents[1]
GAINS = (-12.0, 6.0)


def song(seconds: float = 7.936) -> np.ndarray:
    """A 16 kHz test song: chords over noise, an amplitude envelope, clicks on the beat; the
    first second quiet (a window with quiet and loud frames); 7.936 s = 496 frames, a whole
    number of the 0.5 s timeline strides (31 frames)."""
    rng = np.random.default_rng(3)
    t = np.arange(int(mi.SR * seconds)) / mi.SR
    x = sum(0.08 * np.sin(2 * np.pi * f * t) for f in (196.0, 247.0, 294.0, 392.0, 1175.0))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t)) + 0.02 * rng.standard_normal(t.size)
    x = x + (np.mod(t, 0.5) < 0.01) * 0.3 * rng.standard_normal(t.size)
    x[t < 1.0] *= 0.05
    return x.astype(np.float32)


def gained(y: np.ndarray, gain_db: float) -> np.ndarray:
    return (y * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def last_window(y: np.ndarray) -> dict:
    """The newest emotion window of ``y`` offline: clip features + ``window_at`` (copies)."""
    f = mi.clip_features(y)
    sil = mi.silence_features()
    n, w = len(f["mel"]), mi.FEATURE_CONTRACT["emotion_frames"]
    return {k: mi.window_at(f[k], n, w, sil[k])[None].astype(np.float32) for k in ("mel", "wavelet")}


def stream(y: np.ndarray, block: int = 441) -> mi.FeatureStream:
    fs = mi.FeatureStream()
    for i in range(0, len(y), block):
        fs.push(y[i:i + block])
    return fs


def music_model():
    p = model_path("music_embedding")
    if not p.is_file():
        pytest.fail(f"{p} is missing: train it with `python -m export.train_imagery`")
    return load_music_model(p)


def test_the_settings_are_the_emotion_models():
    """The reference level and gate are the emotion contract's (emotion v2.2), kept as
    constants so the imagery presets work without the emotion model: they must not drift."""
    entry = json.loads((ROOT / "models_onnx" / "emotion.json").read_text())["input_normalisation"]
    assert (REFERENCE_DB, GATE_DB) == (entry["reference_db"], entry["gate_db"])
    assert FLOOR_DB >= GATE_DB


@pytest.mark.parametrize("gain", GAINS)
def test_the_normalised_window_is_the_same_at_any_gain(gain):
    a, b = last_window(song()), last_window(gained(song(), gain))
    assert np.abs(b["mel"] - a["mel"]).max() > abs(gain) - 0.5  # the raw window moves with the gain
    for w in (a, b):
        normalise_window(w["mel"], w["wavelet"])
    np.testing.assert_allclose(b["mel"], a["mel"], atol=2e-3)
    np.testing.assert_allclose(b["wavelet"], a["wavelet"], atol=2e-3)
    assert a["mel"].min() >= FLOOR_DB and a["wavelet"].min() >= FLOOR_DB


def test_the_shift_leaves_silence_alone_and_brings_the_window_to_the_reference():
    w = last_window(np.concatenate([np.zeros(mi.SR * 2, np.float32), song(2.0)]))
    shift = window_shift(w["mel"])[0]
    level = 10 * np.log10(np.mean(10 ** (w["mel"][0].astype(np.float64) / 10), axis=1))
    on = level > GATE_DB
    assert on.any() and not on.all()  # digital silence, then the song
    assert np.all(shift[~on] == 0)
    gated = 10 * np.log10(np.mean(10 ** (level[on] / 10)))
    np.testing.assert_allclose(shift[on], REFERENCE_DB - gated, atol=1e-4)
    with pytest.raises(ValueError, match="same frames"):
        normalise_window(w["mel"], w["wavelet"][:, :10])


def test_live_query_equals_offline_timeline_and_neither_moves_with_the_gain():
    m = music_model()
    live, offline = {}, {}
    for g in (0.0, *GAINS):
        y = gained(song(), g)
        ctx = ImageryContext(feature_source=stream(y), music_model=m)
        live[g] = ctx.music_query()
        tl = music_timeline(y, mi.SR, m)
        assert tl.t[-1] == pytest.approx(len(y) / mi.SR)  # the live stream's newest window
        offline[g] = (tl.embedding[-1], tl.probs[-1])
        np.testing.assert_allclose(live[g][0], offline[g][0], atol=1e-5)
        np.testing.assert_allclose(live[g][1], offline[g][1], atol=1e-5)
    raw = {g: m.run(last_window(gained(song(), g)))["embedding"][0] for g in (0.0, *GAINS)}
    for g in GAINS:
        np.testing.assert_allclose(live[g][0], live[0.0][0], atol=1e-4)
        np.testing.assert_allclose(live[g][1], live[0.0][1], atol=1e-4)
        # without the normalisation the embedding moves far more than that
        assert np.linalg.norm(raw[g] - raw[0.0]) > 0.05


def test_the_matcher_chooses_the_same_image_at_two_gains(tmp_path):
    """A bank whose pictures lie close around the music in the joint space (a dense gallery:
    where a small move of the query changes the choice): the matcher's choice at −12 dB is
    the one at 0 dB, while the raw windows' embeddings would choose differently."""
    from sonolux.imagery.index import build_index
    from sonolux.imagery.matcher import ImageMatcher

    m = music_model()
    index, _ = build_index(make_folder(tmp_path / "bank", n_random=24), progress=False)
    centre = ImageryContext(feature_source=stream(song()), music_model=m).music_query()[0]
    emb = centre + 0.08 * np.random.default_rng(0).standard_normal((len(index), centre.size))
    index.embedding = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    raw = [int(index.scores(m.run(last_window(gained(song(), g)))["embedding"][0]).argmax()) for g in (0.0, -12.0)]
    assert raw[0] != raw[1]  # the gallery is dense enough for the gain to matter
    chosen = {}
    for g in (0.0, -12.0):
        ctx = ImageryContext(feature_source=stream(gained(song(), g)), music_model=m)
        matcher = ImageMatcher(index, ctx, k=3)
        scores, mode = matcher.scores(None)
        assert mode == "embedding"
        chosen[g] = (index.rank(k=3, scores=scores).tolist(), matcher.step().index)
    assert chosen[-12.0] == chosen[0.0]
    assert chosen[0.0][1] == chosen[0.0][0][0]
