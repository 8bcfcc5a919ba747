"""The imagery training pipeline end to end in --smoke mode: image set, music windows, the
joint embedding (shipped model + the λ sweep on fold 0), the conditional generator, ONNX
export with parity, and the evaluation (Recall@K table, consistency matrix, speed)."""
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


def _run(*args, timeout=900):  # a hang guard, not a speed limit (speed: benchmarks/)
    return subprocess.run([sys.executable, "-m", *args, "--data", str(DATA), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_imagery_smoke_pipeline():
    if not (DATA / "emotion4q" / "clips.csv").is_file():
        pytest.skip(f"shared data not found at {DATA} (set SONOLUX_DATA)")
    pytest.importorskip("torch", reason="the export extra (torch==2.13.0) is not installed")
    from export.imagery_data import source_files

    if len([s for s in source_files() if not s["path"].startswith("skimage:")]) < 10:
        pytest.skip("no offline images: apt-get install gnome-backgrounds mate-backgrounds "
                    "plasma-workspace-wallpapers desktop-base")
    for step in (("export.train_imagery", "--cv"), ("export.train_generator",), ("export.evaluate_imagery",)):
        res = _run(*step)
        assert res.returncode == 0, (step, res.stderr[-3000:])
    models = SMOKE / "models_onnx"
    for f in ("music_embed.onnx", "image_embed.onnx", "generator.onnx"):
        assert (models / f).is_file() and (models / f).stat().st_size < 5 * 1024 * 1024
    m = json.loads((models / "imagery_metrics.json").read_text())
    ret = m["retrieval"]["mean"]
    for key in ("0", "0.2", "0.4", "0.8", "colour_baseline", "chance"):
        assert set(ret[key]) >= {"R@1", "R@5", "R@10"}
        assert 0 <= ret[key]["R@1"] <= ret[key]["R@5"] <= ret[key]["R@10"] <= 1
    cons = m["consistency"]["vm_rule"]
    assert len(cons) == 4 and all(abs(sum(r) - 100) < 0.5 or sum(r) == 0 for r in cons)
    assert m["speed"]["cpu_1thread"]["batch1_images_per_s"] > 0  # measured (its figure is the card's)
    contract = json.loads((models / "generator.json").read_text())
    assert contract["task"] == "generator" and contract["image_size"] == 64 and len(contract["cond_anchors"]) == 4
