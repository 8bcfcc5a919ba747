"""The shipped models in models_onnx/: contract, size, dynamic batch, output ranges.

Needs only onnxruntime + onnx (no torch, no data): what the engine will rely on at load time.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sonolux import modelinput as mi

MODELS = Path(__file__).resolve().parents[1] / "models_onnx"
NAMES = ("emotion", "tagger", "latent")


def _session(name):
    ort = pytest.importorskip("onnxruntime")
    path = MODELS / f"{name}.onnx"
    if not path.is_file():
        pytest.skip(f"{path} not shipped yet")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _contract(name):
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(MODELS / f"{name}.onnx"))
    meta = {e.key: e.value for e in proto.metadata_props}
    return proto, meta, json.loads(meta["sonolux_contract"])


def _inputs(name, batch, rng):
    c = mi.FEATURE_CONTRACT
    if name == "emotion" and "stream" in _contract("emotion")[2]:  # the streaming model (v2.1)
        lay = _contract("emotion")[2]["stream"]
        return {"mel": rng.normal(-20, 16, (batch, lay["mel_context"] + 31, 96)).astype(np.float32),
                "front_past": rng.normal(0, 1, (batch, lay["front_dim"], lay["front_context"])).astype(np.float32),
                "features_past": rng.normal(0, 1, (batch, lay["feature_dim"], lay["pool"])).astype(np.float32)}
    if name == "emotion":
        return {"mel": rng.normal(-20, 16, (batch, c["emotion_frames"], 96)).astype(np.float32),
                "wavelet": rng.normal(-17, 12, (batch, c["emotion_frames"], 6)).astype(np.float32)}
    if name == "tagger":
        return {"mel": rng.normal(-20, 16, (batch, c["tagger_frames"], 96)).astype(np.float32),
                "wave": rng.normal(0, 0.1, (batch, c["tagger_samples"])).astype(np.float32)}
    return {"mel": rng.normal(-20, 16, (batch, c["latent_frames"], 96)).astype(np.float32)}


@pytest.mark.parametrize("name", NAMES)
def test_contract_and_size(name):
    _session(name)
    proto, meta, contract = _contract(name)
    assert (MODELS / f"{name}.onnx").stat().st_size <= 5 * 1024 * 1024
    assert proto.opset_import[0].version >= 17
    assert contract["features"] == json.loads(json.dumps(mi.FEATURE_CONTRACT))
    assert int(meta["sample_rate"]) == 16000 and int(meta["hop"]) == 256 and int(meta["n_mels"]) == 96
    sidecar = json.loads((MODELS / f"{name}.json").read_text())
    assert sidecar == contract
    for key in ("version", "labels", "training_data", "inputs", "outputs", "metrics"):
        assert key in contract, key
    assert (MODELS / "README.md").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_dynamic_batch_and_ranges(name, rng):
    sess = _session(name)
    one = _inputs(name, 1, rng)
    three = {k: np.concatenate([v, v, v]) for k, v in one.items()}
    out1 = sess.run(None, one)
    out3 = sess.run(None, three)
    for a, b in zip(out1, out3):
        assert b.shape[0] == 3
        np.testing.assert_allclose(b[2], a[0], atol=1e-5 * max(1.0, float(np.abs(a).max())))
    if name == "emotion":
        names = [o.name for o in sess.get_outputs()]
        va, probs = out1[names.index("va")], out1[names.index("quadrant_probs")]  # (+ tags, state)
        assert va.shape == (1, 2) and np.all(np.abs(va) <= 1)
        assert probs.shape == (1, 4) and abs(probs.sum() - 1) < 1e-5
    if name == "tagger":
        assert out1[0].shape == (1, 50) and np.all((out1[0] >= 0) & (out1[0] <= 1))
    if name == "latent":
        code, controls = out1
        assert code.shape == (1, 10) and np.all((controls >= 0) & (controls <= 1))


def test_tag_labels_are_the_mtat_order():
    _session("tagger")
    _, meta, contract = _contract("tagger")
    labels = contract["labels"]
    assert len(labels) == 50 and labels[:3] == ["guitar", "classical", "slow"]
    assert labels[-1] == "choral" and meta["labels"].split(",") == labels
