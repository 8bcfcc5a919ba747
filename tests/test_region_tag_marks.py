"""The region screens' per-mark predictions (benchmarks/_regionsdata.mark_predictions) are the
live engine's: the tag screen (benchmarks/tag_screen.py) judges a cue on the emotion model's
tags as the engine would see them, so its helper must give, mark for mark, what a full
offline analysis publishes into its frames."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT
from sonolux import StreamSpec
from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.inference.runtime import InferenceConfig, load_models, make_inference

sys.path.insert(0, str(ROOT / "benchmarks"))
import _regionsdata as D  # noqa: E402


@pytest.fixture(scope="module")
def emotion():
    try:
        models, _ = load_models(InferenceConfig(device="cpu"))
    except Exception as e:  # a broken install is another test's business
        pytest.skip(f"models not loadable: {e}")
    if "emotion" not in models or not models["emotion"].tag_labels:
        pytest.skip("no shipped emotion model with tags")
    return {"emotion": models["emotion"]}


def _two_songs(sr: int, rng) -> np.ndarray:
    """6 s of a low chord with a pulse, then 6 s of bright noise bursts: the model's tags move."""
    t = np.arange(6 * sr) / sr
    a = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 138.6, 164.8)) * (0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0))
    b = rng.standard_normal(6 * sr) * (np.sin(2 * np.pi * 4 * t) > 0.3)
    return (0.2 * np.concatenate([a, b])).astype(np.float32)


def test_mark_predictions_are_what_the_analysis_publishes(emotion, rng):
    spec = StreamSpec()
    y = _two_songs(spec.sample_rate, rng)
    marks = D.mark_predictions(y, emotion, spec)
    stage, worker = make_inference(emotion, InferenceConfig())
    table = Analyzer(spec, AnalysisConfig(), inference_stage=stage).analyze(y, after_hop=worker.poll)
    pid = table.values[:, table.layout.scalars["prediction_id"]]
    new = np.flatnonzero(np.diff(pid) != 0) + 1  # the first hop holding each new prediction
    assert len(new) > 15 and len(new) == len(marks["t"])
    np.testing.assert_allclose(table.vectors["tags"][new], marks["tags"], atol=1e-6)
    probs = np.stack([table.values[new, table.layout.scalars[f"q{k}"]] for k in range(1, 5)], 1)
    heard = table.values[new, table.layout.scalars["silence"]] == 0  # the silence gate holds the mood
    assert heard.sum() > 15
    np.testing.assert_allclose(probs[heard], marks["probs"][heard], atol=1e-6)
    # a mark at hop h is published into the frame of hop h + 1 (time (h + 1) · hop)
    np.testing.assert_allclose(table.t[new] - spec.hop_seconds, marks["t"], atol=1e-9)
    assert np.abs(np.diff(marks["raw_tags"], axis=0)).max() > 1e-3  # the tags move with the music
