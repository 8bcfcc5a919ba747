"""The pieces of the issue #16 emotion experiments (export/emotion_augment.py,
export/emotion_head_levers.py) that decide what the measured numbers mean: the audio
transforms keep the clip a clip, the context pooling is a running mean/std over a clip's own
windows, and the embedding correction fits what it is shown and stays at zero under a strong
pull. No data or weights needed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("librosa")
pytest.importorskip("sklearn")


def _tone(seconds=3.0, f=440.0):
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("name", ["pitch-1", "pitch+1", "tempo0.92", "tempo1.08", "tilt_noise"])
def test_transforms_are_deterministic_and_change_the_audio_gently(name):
    from export.emotion_augment import transform

    y = _tone()
    a, b = transform(y, name, seed=7), transform(y, name, seed=7)
    assert np.array_equal(a, b)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    expected = {"tempo0.92": len(y) / 0.92, "tempo1.08": len(y) / 1.08}.get(name, len(y))
    assert abs(len(a) - expected) < 0.01 * len(y)
    level = 20 * np.log10(np.sqrt(np.mean(a ** 2)) / np.sqrt(np.mean(y ** 2)))
    assert abs(level) < 4.5  # ±3 dB gain, ±1.5 dB tilt at most on top
    assert not np.allclose(a[:len(y)], y[:len(a)], atol=1e-3)


def test_identity_and_gain_without_the_random_gain_are_exact():
    from export.emotion_augment import transform

    y = _tone()
    assert np.array_equal(transform(y, "identity", seed=3, gain=False), y)
    assert np.allclose(transform(y, "gain-6", seed=3, gain=False), y * 10 ** (-6 / 20), atol=1e-7)


def test_pitch_shift_moves_the_spectral_peak_by_a_semitone():
    from export.emotion_augment import transform

    y = _tone(f=440.0)
    spec = np.abs(np.fft.rfft(transform(y, "pitch+1", seed=0)))
    peak = np.argmax(spec) * 16000 / len(y)
    assert abs(peak - 440.0 * 2 ** (1 / 12)) < 3.0


def test_unknown_transform_is_named():
    from export.emotion_augment import transform

    with pytest.raises(ValueError, match="unknown transform 'reverse'"):
        transform(_tone(), "reverse", seed=0)


def test_context_features_are_a_running_mean_and_std_within_each_clip():
    from export.emotion_head_levers import context_features

    rng = np.random.default_rng(0)
    pen = rng.standard_normal((7, 200)).astype(np.float32)
    emb = {"penultimate": pen, "song": np.array(["b", "a", "a", "b", "a", "b", "a"]),
           "end": np.array([300, 556, 300, 428, 428, 556, 684])}
    one = context_features(emb, 1)
    assert np.allclose(one[:, :200], pen) and np.allclose(one[:, 200:], 0)
    three = context_features(emb, 3)
    a_order = [2, 4, 1, 6]  # clip "a" by end frame
    assert np.allclose(three[6, :200], pen[[4, 1, 6]].mean(0))
    assert np.allclose(three[6, 200:], pen[[4, 1, 6]].std(0))
    assert np.allclose(three[a_order[1], :200], pen[[2, 4]].mean(0))  # fewer at the clip's start
    assert np.allclose(three[3, :200], pen[[0, 3]].mean(0))           # never mixes clips


def test_embedding_correction_learns_the_corrections_and_vanishes_under_a_strong_pull():
    from export.emotion_head_levers import _softmax, fit_embedding_correction

    rng = np.random.default_rng(1)
    z = rng.standard_normal((40, 5))
    logits = np.tile([2.0, 0.0, 0.0, 0.0], (40, 1))  # the model says Q1
    y = np.full(40, 3)                                # the operator says Q4
    W, b = fit_embedding_correction(logits, z, y, l2=0.1)
    assert (_softmax(logits + z @ W.T + b).argmax(1) == 3).all()
    W, b = fit_embedding_correction(logits, z, y, l2=1e6)
    assert np.abs(W).max() < 1e-3 and np.abs(b).max() < 1e-3


def test_head_column_weights_are_a_lighter_penalty_on_those_columns():
    from sklearn.linear_model import LogisticRegression

    from export.train_emotion_musicnn import Head

    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 6)) * [1, 2, 3, 1, 1, 5] + 1.0
    y = (X[:, 0] + 0.3 * X[:, 5] + 0.5 * rng.standard_normal(200) > 1).astype(int) + 2 * (X[:, 1] > 1)
    plain, ones = Head(0.01).fit(X, y), Head(0.01, np.ones(6)).fit(X, y)
    assert np.allclose(plain.proba(X), ones.proba(X))
    w = np.array([1, 1, 1, 1, 1, 3.0])
    weighted = Head(0.01, w).fit(X, y)
    Z = (X - X.mean(0)) / (X.std(0) + 1e-6) * w  # what the weights mean: scaled standardised columns
    ref = LogisticRegression(C=0.01, max_iter=1000).fit(Z, y)
    assert np.allclose(weighted.proba(X), ref.predict_proba(Z), atol=1e-4)
    assert not np.allclose(weighted.proba(X), plain.proba(X), atol=1e-3)


def test_key_profiles_tell_a_major_chord_from_a_minor_one():
    from export.emotion_descriptors import key_correlations

    c_major, a_minor = np.zeros(12), np.zeros(12)
    c_major[[0, 4, 7]] = 1.0  # C E G
    a_minor[[9, 0, 4]] = 1.0  # A C E
    major, minor = key_correlations(c_major)
    assert major > minor
    major, minor = key_correlations(a_minor)
    assert minor > major
    assert key_correlations(np.ones(12)) == (0.0, 0.0)  # no pitch content: no key


def test_descriptors_of_a_tone_are_named_finite_and_tonal():
    from export.emotion_descriptors import GROUPS, describe

    d = describe(_tone(seconds=6.0, f=261.63))  # middle C
    assert sorted(d) == sorted(n for g in GROUPS.values() for n in g)
    assert all(np.isfinite(v) for v in d.values())
    assert d["clarity"] > 0.3 and d["low_energy"] < 0.5  # one pitch class; a steady level


def test_clip_heads_score_the_dev_folds_in_the_shipped_heads_order():
    from export.emotion_clip_heads import dev_clip_run

    rng = np.random.default_rng(3)
    n = 120
    q = np.tile(np.arange(4), n // 4)
    fold = np.repeat(np.arange(5), n // 5)
    song = np.array([f"s{i:03d}" for i in rng.permutation(n)])
    X = np.eye(4)[q] * 3 + rng.standard_normal((n, 4))  # separable: the head gets them right
    r = dev_clip_run(X, q, fold, song, C=1.0)
    assert set(r["per_fold"]) == {0, 1, 2} and r["dev_clip_macro_f1"] > 0.9
    dev = np.flatnonzero(fold < 3)
    expected = np.concatenate([q[i][np.argsort(song[i])] for i in (dev[fold[dev] == f] for f in range(3))])
    assert np.array_equal(r["y"], expected)
