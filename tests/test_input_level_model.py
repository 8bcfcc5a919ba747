"""The shipped emotion model (v2.2) does not hear the mixer's gain: the same music 12 dB
quieter gives the same mood through the engine's own offline analysis (``sonolux.analyze``:
the FeatureStream, the streaming model with its per-stream running level, the worker's
smoothing and hysteresis), once the running level has settled. Emotion v2.1, without the
normaliser, moves its answer with the gain (its valence/arousal and, on these renders,
quadrants: see the model card's gain figures), so this test would fail with it."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sonolux.inference.models import default_model_dir, load_model
from sonolux.inference.runtime import InferenceConfig

from render_fixtures import render_mood_pair

SHIPPED = default_model_dir() / "emotion.onnx"
SETTLED_S = 6.0  # the 4 s window full of music and the 3 s running level settled


@pytest.fixture(scope="module")
def model():
    if not SHIPPED.is_file():
        pytest.skip("no shipped emotion model")
    m = load_model(SHIPPED, device="cpu")
    if "input_normalisation" not in m.contract:
        pytest.skip(f"{SHIPPED} is older than emotion v2.2 (no input_normalisation)")
    return m


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    return render_mood_pair(tmp_path_factory.mktemp("mood"))


def _timeline(model, y, sr):
    from sonolux.offline import analyze

    doc = analyze(y, sr, models={"emotion": model}, inference=InferenceConfig(device="cpu"))
    return [e for e in doc["timeline"] if e["t"] >= SETTLED_S]


@pytest.mark.parametrize("piece", [0, 1], ids=["happy", "sad"])
def test_the_mood_is_the_same_at_minus_12_db_and_0_db(model, renders, piece):
    y, sr = sf.read(renders[piece], dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    at_0, at_12 = _timeline(model, y, sr), _timeline(model, y * 10 ** (-12 / 20), sr)
    assert len(at_0) >= 20 and [e["t"] for e in at_0] == [e["t"] for e in at_12]
    same = np.mean([a["quadrant"] == b["quadrant"] for a, b in zip(at_0, at_12)])
    assert same == 1.0, f"{same:.0%} of the settled windows keep their quadrant"
    va = np.array([[a["valence"] - b["valence"], a["arousal"] - b["arousal"]] for a, b in zip(at_0, at_12)])
    assert np.abs(va).max() < 0.05
