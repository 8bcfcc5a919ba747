"""The pieces of the pseudo-label / teacher experiment (export/emotion_pseudo.py) that decide
what its numbers mean: extra audio is cut like the 4Q clips, each window's teacher targets are
the teachers' predictions for the same stretch of the piece, soft targets are weighted rows,
and the head's sample weights act like repeated rows. No data or weights needed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")


def test_excerpts_are_30_s_cuts_with_a_window_each():
    from export.emotion_pseudo import EXCERPT, excerpts
    from export.musicnn_embed import span

    mel = np.arange(2 * EXCERPT + span(250) + 5, dtype=np.float32)[:, None] * np.ones((1, 96), np.float32)
    short = np.zeros((span(250) - 1, 96), np.float32)
    clips, cut = excerpts({"a": {"mel": mel}, "b": {"mel": short}}, "wesnoth")
    assert [c["song"] for c in clips] == ["wesnoth:a:0", "wesnoth:a:1", "wesnoth:a:2"]
    assert cut["wesnoth:a:1"]["mel"][0, 0] == EXCERPT and len(cut["wesnoth:a:2"]["mel"]) == span(250) + 5
    assert all(c["fold"] == -1 for c in clips)  # never in a fold
    clips, _ = excerpts({"a": {"mel": mel}}, "pop909", max_per_piece=2)
    assert len(clips) == 2


def test_teacher_targets_follow_the_window_in_piece_time():
    from export.emotion_pseudo import EXCERPT, HOP, POOL, SR, teacher_targets
    from export.musicnn_embed import span

    labels = ["acousticness", "danceability", "energy", "instrumentalness", "liveness", "speechiness", "valence"]
    tg = np.repeat(np.arange(40, dtype=np.float32)[:, None], 50, 1)  # patch i -> value i
    vw = np.zeros((30, 7), np.float32)
    vw[:, 6] = np.arange(30) / 100  # valence of window j = j / 100
    vw[:, 2] = 2.0  # energy clipped to 1
    teach = {"vibenet_labels": np.array(labels), "p__musicnn_taggram": tg, "p__vibenet_windows": vw}
    # the first window of excerpt 1 of piece p ends span frames after the excerpt start (30 s)
    end = np.array([span(POOL), span(POOL)])
    t = teacher_targets(teach, np.array(["wesnoth:p:1", "wesnoth:other:0"]), end)
    a, b = 30.0, 30.0 + span(POOL) * HOP / SR  # 30 .. 36.3 s: patches 10, 11, 12
    assert np.allclose(t["tags"][0], np.mean([10, 11, 12]))
    assert np.isclose(t["ve"][0, 0], round(((a + b) / 2 - 5) / 5) / 100) and t["ve"][0, 1] == 1.0
    assert np.isnan(t["tags"][1]).all() and np.isnan(t["ve"][1]).all()  # no teacher for that piece
    assert EXCERPT == 1875


def test_soft_targets_are_rows_weighted_by_the_teacher():
    from export.emotion_pseudo import soft_rows

    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 0.5, 0.5]])
    Xs, ys, ws = soft_rows(X, p, 0.3)
    assert Xs.shape == (8, 2) and np.array_equal(Xs[4], X[1])
    assert list(ys) == [0, 1, 2, 3] * 2
    assert np.allclose(ws, 0.3 * p.ravel()) and np.isclose(ws.sum(), 0.6)


def test_head_sample_weights_act_like_repeated_rows():
    from export.train_emotion_musicnn import Head

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    y = rng.integers(0, 4, 80)
    plain, ones = Head(0.1).fit(X, y), Head(0.1).fit(X, y, np.ones(80))
    assert np.allclose(plain.proba(X), ones.proba(X), atol=1e-6)  # no weights: the shipped head
    w = np.ones(80)
    w[:10] = 2.0
    weighted = Head(0.1).fit(X, y, w)
    repeated = Head(0.1).fit(np.concatenate([X, X[:10]]), np.concatenate([y, y[:10]]))
    assert np.allclose(weighted.mean, repeated.mean) and np.allclose(weighted.std, repeated.std)
    assert np.allclose(weighted.proba(X), repeated.proba(X), atol=1e-4)


def test_balanced_weights_give_each_quadrant_a_quarter():
    from export.emotion_pseudo import balance

    y = np.array([0, 0, 0, 1, 2, 3, 3])
    w = np.array([0.3, 0.3, 0.3, 0.3, 0.1, 0.2, 0.2])
    b = balance(y, w)
    assert np.isclose(b.sum(), w.sum())
    assert np.allclose(np.bincount(y, weights=b), w.sum() / 4)
