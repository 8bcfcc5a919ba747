"""``export.imagery_speed``: the imagery models' speed, runnable alone on a GPU machine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imagery_speed_runs_alone_on_the_shipped_models(tmp_path):
    """``python -m export.imagery_speed`` (the GPU script's step 5) needs only numpy,
    onnxruntime and sonolux: it measures the shipped generator and music encoder on the CPU
    and reports CUDA as measured or, here without a GPU, says where the GPU figures come from."""
    out = tmp_path / "speed.json"
    r = subprocess.run([sys.executable, "-m", "export.imagery_speed", "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)  # a hang guard, not a speed limit
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "onnxruntime_src" not in r.stderr  # no provider noise
    m = json.loads(out.read_text())
    gen = m["generator"]
    for target in ("cpu_1thread", "cpu_2threads"):
        assert gen[target]["provider"] == "CPUExecutionProvider"
        assert 0 < gen[target]["batch1_ms_p50"] <= gen[target]["batch1_ms_p99"]
        assert gen[target]["batch64_images_per_s"] > 0
    assert isinstance(gen["cuda"], dict) or "gpu_check.sh step 5" in gen["cuda"]
    assert m["music_encoder"]["cpu_1thread"]["ms_p50"] > 0
    assert set(m["music_encoder"]) == ({"cpu_1thread", "cuda"} if isinstance(gen["cuda"], dict) else {"cpu_1thread"})
