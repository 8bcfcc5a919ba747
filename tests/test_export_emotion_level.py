"""The pieces of the level-invariance and ensembling experiments (export/emotion_level.py,
export/emotion_ensemble.py) that decide what their numbers mean: the level experiment runs
the engine's normaliser (its properties: tests/test_input_level.py) and takes its gain lists
as typed; the ensemble averages the members' clip probabilities of the same clips. No data or
weights needed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")


def test_the_experiment_uses_the_engine_normaliser():
    """One implementation: the level experiment runs sonolux's normaliser (tests/test_input_level.py)."""
    from export.emotion_level import normalise
    from sonolux.inference.level import normalise_levels

    rng = np.random.default_rng(0)
    mel = rng.normal(-20, 8, (300, 96)).astype(np.float32)
    mel[:20] = -100.0
    for tau in (0.0, 3.0):
        assert np.array_equal(normalise(mel, tau, -2.0),
                              normalise_levels(mel, tau_s=tau, reference_db=-2.0, gate_db=-80.0))
    assert normalise(mel, None, -2.0) is mel


def test_a_gain_list_starting_with_a_minus_parses_in_the_natural_form():
    from export.emotion_level import attach_negative_lists

    assert attach_negative_lists(["embed", "--variant", "ema3", "--gains", "-12,-6,6"]) == \
        ["embed", "--variant", "ema3", "--gains=-12,-6,6"]
    assert attach_negative_lists(["dev", "--gains", "0,-12"]) == ["dev", "--gains", "0,-12"]


def test_ensemble_averages_the_members_clip_probabilities():
    from export.emotion_ensemble import combine

    songs, q = np.array(["a", "b"]), np.array([0, 2])
    p1 = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4]])
    p2 = np.array([[0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.6, 0.2]])
    out = combine([{3: (songs, q, p1)}, {3: (songs, q, p2)}])
    assert np.allclose(out[3][2], (p1 + p2) / 2) and np.array_equal(out[3][1], q)
    with pytest.raises(AssertionError):
        combine([{3: (songs, q, p1)}, {3: (songs[::-1], q, p2)}])
