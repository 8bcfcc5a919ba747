"""The pieces of the mood-word experiment (export/emotion_words.py) that decide what its
numbers mean: the words are parsed like the dataset writes them, a clip's soft target never
holds its own label twice (leave-one-clip-out word distributions from the training clips),
one-hot soft targets are the shipped head, the sample weights keep the regularisation's
strength, and the shared dev / 5-fold comparisons score the reference against itself as 0.
No data needed, except the last test (skips without the shared data and the embeddings)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA  # $SONOLUX_DATA or ../shared/data

pytest.importorskip("sklearn")


def test_clip_words_are_lower_case_sets():
    from export.emotion_words import clip_words

    w = clip_words([{"song": "a", "moods": "Negative; Nervous; Jittery; nervous"}, {"song": "b", "moods": " Calm ;"}])
    assert w == {"a": ["jittery", "negative", "nervous"], "b": ["calm"]}


def test_soft_targets_leave_the_clip_out_and_ignore_rare_words():
    from export import emotion_words as E

    # "sad" in 4 clips: 3 of Q3 (index 2), 1 of Q4; "x" only in clip s0
    words = {"s0": ["sad", "x"], "s1": ["sad"], "s2": ["sad"], "s3": ["sad"]}
    q = {"s0": 2, "s1": 2, "s2": 2, "s3": 3}
    t = E.soft_targets(words, q, list(words), lam=0.5)
    # s0: the other 3 clips with "sad" are Q3, Q3, Q4 -> (0+1, 0+1, 2+1, 1+1) / (3 + 4)
    other = np.array([1, 1, 3, 2]) / 7
    assert E.MIN_WORD_CLIPS <= 3 and E.ALPHA == 1.0
    assert np.allclose(t["s0"], 0.5 * np.eye(4)[2] + 0.5 * other)  # "x" has no other clip: ignored
    assert np.allclose(t["s3"], 0.5 * np.eye(4)[3] + 0.5 * np.array([1, 1, 4, 1]) / 7)
    assert all(np.isclose(v.sum(), 1) for v in t.values())
    assert np.allclose(E.soft_targets(words, q, list(words), lam=0.0)["s3"], np.eye(4)[3])
    # a clip whose words are all rare keeps its one-hot label
    assert np.allclose(E.soft_targets({"a": ["y"]}, {"a": 1}, ["a"], lam=0.5)["a"], np.eye(4)[1])


def test_word_counts_and_matrix():
    from export.emotion_words import word_counts, word_matrix

    words = {"a": ["calm", "sad"], "b": ["calm"]}
    c = word_counts(words, {"a": 2, "b": 3}, ["a", "b"])
    assert np.array_equal(c["calm"], [0, 0, 1, 1]) and np.array_equal(c["sad"], [0, 0, 1, 0])
    assert np.array_equal(word_matrix(words, ["b", "a"], ["sad", "calm", "other"]), [[0, 1, 0], [1, 1, 0]])


def test_one_hot_soft_targets_and_constant_weights_are_the_shipped_head():
    from export.emotion_words import fit_targets
    from export.train_emotion_musicnn import Head

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 4, 60)
    plain = Head(0.1).fit(X, y).proba(X)
    assert np.allclose(fit_targets(X, y, 0.1, soft=np.eye(4)[y]).proba(X), plain, atol=1e-4)
    # weights rescaled to mean 1: a constant weight changes nothing (the penalty keeps its strength)
    assert np.allclose(fit_targets(X, y, 0.1, weight=np.full(60, 0.3)).proba(X), plain, atol=1e-4)
    soft = fit_targets(X, y, 0.1, soft=np.full((60, 4), 0.25)).proba(X)  # uniform targets: ~uniform output
    assert np.allclose(soft, 0.25, atol=0.02)


def test_low_rank_aux_head_outputs_probabilities_and_learns():
    pytest.importorskip("torch")
    from export.emotion_words import LowRankAux

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    y = np.where(X[:, 0] > 0, np.where(X[:, 1] > 0, 0, 1), np.where(X[:, 1] > 0, 3, 2))
    W = (X[:, 2:4] > 0).astype(float)
    for mu in (0.0, 1.0):
        p = LowRankAux(4, mu, l2=1e-3).fit(X, y, W).proba(X)
        assert p.shape == (200, 4) and np.allclose(p.sum(1), 1)
        assert np.mean(p.argmax(1) == y) > 0.9


def _toy_emb(rng):
    song = np.repeat([f"s{i}" for i in range(50)], 3)
    q = np.repeat(np.arange(50) % 4, 3)
    fold = np.repeat(np.arange(50) % 5, 3)
    X = rng.normal(size=(150, 5)) + np.eye(4, 5)[q] * 2
    return {"penultimate": X, "song": song, "q": q, "fold": fold, "end": np.tile([10, 20, 30], 50)}


def test_shared_comparisons_score_the_reference_against_itself_as_zero():
    from export.emotion_pseudo import compare_dev, compare_five_fold
    from export.train_emotion_musicnn import Head

    emb = _toy_emb(np.random.default_rng(0))
    m = lambda train: np.isin(emb["fold"], list(train))
    fit = lambda f, train, X: Head(0.1).fit(emb["penultimate"][m(train)], emb["q"][m(train)]).proba(X)
    noisy = emb["penultimate"] + np.random.default_rng(1).normal(size=emb["penultimate"].shape) * 3
    fit_noisy = lambda f, train, X: Head(0.1).fit(noisy[m(train)], emb["q"][m(train)]).proba(X)
    rep = compare_dev(emb, {"base": (fit, None), "noisy": (fit_noisy, noisy)}, "base")
    assert rep["candidates"]["base"]["vs_shipped"]["diff"] == 0 and rep["best"] == "noisy"
    assert set(rep["candidates"]["base"]["per_fold"]) == {0, 1, 2}
    ff = compare_five_fold(emb, [{"fold": int(f)} for f in np.arange(50) % 5],
                           {"shipped": ("base", fit, None), "candidate": ("base", fit, None)})
    assert ff["paired_bootstrap_all_5"]["diff"] == 0 and ff["paired_bootstrap_untouched_3_4"]["diff"] == 0
    assert set(ff["candidate"]["per_fold"]) == set(range(5))
    assert np.isclose(ff["candidate"]["gap_dev_minus_untouched"],
                      ff["candidate"]["dev_0_2"] - ff["candidate"]["untouched_3_4"])


def test_shipped_setting_reproduces_the_cards_dev_figure():
    from export import data as D
    from export import emotion_words as E
    from export.emotion_pseudo import score
    from export.train_emotion_musicnn import DEV_FOLDS

    try:
        clips, emb, words, pquad = E.setup(D.data_root(DATA))
    except (D.DataMissing, FileNotFoundError) as e:
        pytest.skip(f"needs the shared data and the v2.2 embeddings (python -m export.musicnn_embed): {e}")
    fit, X = E.candidates(emb, clips, words, pquad)[f"base C={E.SHIPPED_C}"]
    r = score(emb, fit, DEV_FOLDS, lambda f: [g for g in DEV_FOLDS if g != f], X)
    assert round(r["clip_macro_f1"], 3) == 0.734  # models_onnx/README.md, "Tried: more training signal"
    assert len(r["y"]) == 360


def test_self_training_teacher_labels_the_extra_excerpts_and_skips_without_them(monkeypatch):
    from export import data as D
    from export import emotion_words as E
    from export.emotion_head_levers import context_features

    rng = np.random.default_rng(0)
    emb = _toy_emb(rng)
    n = E.TEACHER[0]
    inputs = {"": emb["penultimate"], f"ctx{n} ": context_features(emb, n)[:, :5]}
    extra = {"song": np.repeat(["wesnoth:p:0", "wesnoth:p:1"], 4), "end": np.tile([1, 2, 3, 4], 2),
             "penultimate": rng.normal(size=(8, 5)) + np.eye(4, 5)[[0] * 4 + [2] * 4] * 2}
    monkeypatch.setattr(E, "load_extra", lambda corpora: {"wesnoth": extra})
    cands = E.self_training(emb, inputs)
    assert len(cands) == 2 * 2 * len(E.SELF_WEIGHTS)
    fit, X = cands[f"self ctx{n} teacher -> window soft w={E.SELF_WEIGHTS[0]}"]
    assert X is inputs[""]
    p = fit(0, [1, 2], X[emb["fold"] == 0])
    assert p.shape == ((emb["fold"] == 0).sum(), 4) and np.allclose(p.sum(1), 1)
    shares = E.teacher_shares(emb)["wesnoth"]
    assert shares["excerpts"] == 2 and np.isclose(sum(shares["quadrant_share"]), 1)

    def missing(corpora):
        raise D.DataMissing("no extra embeddings")
    monkeypatch.setattr(E, "load_extra", missing)
    assert E.self_training(emb, inputs) == {} and E.teacher_shares(emb) == {}
