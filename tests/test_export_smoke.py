"""The export pipeline end to end in --smoke mode (16 clips, one epoch): features, training of
the three encoders (CV + shipped model), ONNX export, parity, evaluation. Under 3 minutes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SONOLUX_DATA", ROOT.parent / "shared" / "data"))
SMOKE = ROOT / "export" / "work" / "smoke"

pytestmark = [pytest.mark.slow, pytest.mark.data]


def _need():
    if not (DATA / "emotion4q" / "clips.csv").is_file():
        pytest.skip(f"shared data not found at {DATA} (set SONOLUX_DATA)")
    pytest.importorskip("torch", reason="the export extra (torch==2.13.0) is not installed")
    pytest.importorskip("onnx", reason="the export extra (onnx) is not installed")


def _run(*args, timeout=900):  # a hang guard, not a speed limit (speed: benchmarks/)
    return subprocess.run([sys.executable, "-m", *args, "--data", str(DATA), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_export_smoke_pipeline():
    _need()
    res = _run("export.train_all")
    assert res.returncode == 0, res.stderr[-3000:]
    res = _run("export.evaluate")
    assert res.returncode == 0, res.stderr[-3000:]

    import onnx

    from sonolux.modelinput import FEATURE_CONTRACT
    from export.onnx_export import MAX_BYTES, PARITY_TOL, read_contract

    models = SMOKE / "models_onnx"
    for name in ("emotion", "tagger", "latent"):
        path = models / f"{name}.onnx"
        assert path.stat().st_size <= MAX_BYTES
        proto = onnx.load(str(path))
        assert proto.opset_import[0].version >= 17
        contract = read_contract(path)
        assert contract["features"] == json.loads(json.dumps(FEATURE_CONTRACT))
        assert json.loads((models / f"{name}.json").read_text())["features"] == contract["features"]
        assert "metrics" in contract
        train = json.loads((SMOKE / f"{name}_train.json").read_text())
        assert max(train["parity"].values()) <= PARITY_TOL
    metrics = json.loads((models / "metrics.json").read_text())
    assert {"emotion", "tags", "latent", "inference_cost"} <= set(metrics)
    assert 0.0 <= metrics["emotion"]["cv_full"]["clip"]["macro_f1"] <= 1.0
