"""``export.emotion_words``: the mood-word soft labels use the training clips only."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the export extra (torch==2.13.0) is not installed")
from export.emotion_words import word_targets  # noqa: E402

WORDS = {"a": ["happy", "bright"], "b": ["happy", "tense"], "c": ["tense"], "held_out": ["sad", "happy"]}
QUADRANT = {"a": 0, "b": 1, "c": 1, "held_out": 2}


def test_lambda_zero_is_the_one_hot_label():
    t = word_targets(WORDS, QUADRANT, ["a", "b", "c"], 0.0)
    for s in ("a", "b", "c"):
        assert np.array_equal(t[s], np.eye(4)[QUADRANT[s]])


def test_word_distributions_come_from_the_training_clips_only():
    t = word_targets(WORDS, QUADRANT, ["a", "b", "c"], 1.0)
    assert "held_out" not in t  # no target for a clip outside the training folds
    # "happy": a (Q1) and b (Q2) -> [.5, .5, 0, 0]; "bright": a -> Q1; "tense": b, c -> Q2.
    # The held-out clip's Q3 label never enters a word's distribution.
    assert np.allclose(t["a"], [0.75, 0.25, 0, 0])
    assert np.allclose(t["b"], [0.25, 0.75, 0, 0])
    assert np.allclose(t["c"], [0, 1, 0, 0])
    for v in t.values():
        assert v.sum() == pytest.approx(1.0) and v[2] == 0.0


def test_soft_target_mixes_label_and_words():
    t = word_targets(WORDS, QUADRANT, ["a", "b", "c"], 0.4)
    assert np.allclose(t["a"], 0.6 * np.eye(4)[0] + 0.4 * np.array([0.75, 0.25, 0, 0]))
