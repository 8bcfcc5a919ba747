"""The musicnn port (export/musicnn_torch.py) and the shipped musicnn-based emotion model.

The port is checked against TensorFlow's own outputs: the teachers' MTT_musicnn taggrams
(``shared/data/teachers``, computed with the musicnn package on TF 2) on the engine's log-mel
of the same clips. Skips without torch, the converted weights (``export/musicnn_tf.py
weights``, git-ignored) or the shared data. TensorFlow itself is never imported here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import DATA  # $SONOLUX_DATA or ../shared/data

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "export" / "work" / "musicnn"
SHIPPED = ROOT / "models_onnx" / "emotion.onnx"


@pytest.mark.skipif(not (WEIGHTS / "MTT_musicnn.npz").is_file(),
                    reason="musicnn weights not converted (run export/musicnn_tf.py weights)")
@pytest.mark.skipif(not (DATA / "teachers" / "emotion4q_dev.npz").is_file(), reason="shared data absent")
def test_port_reproduces_the_tensorflow_taggrams():
    torch = pytest.importorskip("torch")
    from export import data as D
    from export.musicnn_torch import Musicnn
    from sonolux import modelinput as mi

    clips = D.load_clips(DATA)[::150]
    teach = D.load_teachers(DATA)
    net = Musicnn.from_npz(WEIGHTS / "MTT_musicnn.npz")
    for c in clips:
        mel = mi.clip_features(D.load_audio(c["audio"]))["mel"]
        want = teach[f"{c['song']}__musicnn_taggram"]  # 3 s patches, 187 frames each
        n = min(len(want), len(mel) // 187)
        x = torch.from_numpy(np.stack([mel[187 * i:187 * (i + 1)] for i in range(n)]))
        with torch.no_grad():
            got = net(x)["taggram"].numpy()
        assert np.abs(got - want[:n]).max() < 1e-3, c["song"]


def _contract(path):
    import json

    import onnx

    meta = {e.key: e.value for e in onnx.load(str(path), load_external_data=False).metadata_props}
    return json.loads(meta["sonolux_contract"])


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped emotion model")
def test_shipped_emotion_model_is_consistent_small_and_documented():
    pytest.importorskip("onnxruntime")
    from sonolux.inference.models import load_model
    from sonolux.modelinput import FeatureStream

    contract = _contract(SHIPPED)
    if "stream" not in contract:
        pytest.skip("models_onnx/emotion.onnx is not the streaming musicnn model")
    assert SHIPPED.stat().st_size <= 5 * 1024 * 1024
    assert contract["labels"] == ["Q1", "Q2", "Q3", "Q4"]
    assert contract["window_frames"] == contract["stream"]["pool"] + 145  # pooled + trunk context
    assert "metrics" in contract and 0 < contract["metrics"]["clip_macro_f1_5fold"] <= 1
    model = load_model(SHIPPED, device="cpu")
    stream = FeatureStream(model.history_frames)
    rng = np.random.default_rng(0)
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float32)
    for _ in range(3):
        stream.push((0.1 * rng.standard_normal(16000)).astype(np.float32))
        out = model.infer(stream)
        probs, tags = out["quadrant_probs"], out["tags"]
        assert np.allclose(probs.sum(1), 1, atol=1e-5)
        assert tags.shape == (1, 50) and np.all((tags >= 0) & (tags <= 1)) and len(contract["tag_labels"]) == 50
        np.testing.assert_allclose(out["va"], probs @ signs, atol=1e-5)  # V/A derived from the quadrant


@pytest.mark.skipif(not (WEIGHTS / "MSD_musicnn.npz").is_file(),
                    reason="musicnn weights not converted (run export/musicnn_tf.py weights)")
def test_the_valid_trunk_equals_the_padded_network_away_from_the_edges():
    torch = pytest.importorskip("torch")
    from export.musicnn_torch import LOOKBEHIND, Musicnn

    net = Musicnn.from_npz(WEIGHTS / "MSD_musicnn.npz")
    x = torch.randn(1, 400, 96) * 0.5 + 1
    with torch.no_grad():
        padded = net.features(x)
        valid = net.mid_valid(net.front_valid(x))
    assert valid.shape == (1, 753, 400 - 145)
    torch.testing.assert_close(valid, padded[:, :, LOOKBEHIND:LOOKBEHIND + valid.shape[2]], atol=2e-4, rtol=1e-4)
