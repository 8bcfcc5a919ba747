"""Speed of the imagery models under onnxruntime: the generator's batch-1 latency and batch-64
throughput, the music encoder's latency per window — on the CPU (1 and 2 threads) and, where
onnxruntime can start it, on CUDA.

    python -m export.imagery_speed [--models DIR] [--out FILE.json]

Why a module of its own: ``export.evaluate_imagery`` fills the model card's speed table from
it on the training machine (no GPU there), and a lent GPU machine runs it alone
(``scripts/gpu_check.sh`` step 5) with nothing but numpy, onnxruntime and sonolux — the rest
of ``export/`` needs PyTorch and the training data. Inputs are random (the cost of these
small dense graphs does not depend on the values); the music encoder's window is the
emotion window of the model-input contract.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sonolux import modelinput as mi
from sonolux.resources import models_dir

CPU = ("CPUExecutionProvider",)
CUDA = ("CUDAExecutionProvider", "CPUExecutionProvider")
NOT_MEASURED = ("not measured here: no GPU (CUDAExecutionProvider could not start); a GPU machine's figures: "
                "`python -m export.imagery_speed`, scripts/gpu_check.sh step 5")


def session(path, threads: int = 1, providers=CPU) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.log_severity_level = 4
    return ort.InferenceSession(str(path), o, providers=list(providers))


def latency_ms(sess, inputs: dict, n: int = 200, warmup: int = 10) -> np.ndarray:
    """Wall time of ``n`` single runs of ``sess`` on ``inputs`` (ms), after ``warmup`` runs."""
    for _ in range(warmup):
        sess.run(None, inputs)
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        sess.run(None, inputs)
        lat.append((time.perf_counter() - t0) * 1e3)
    return np.array(lat)


def targets() -> list[tuple[str, int, tuple]]:
    """(name, threads, providers) to measure: the CPU on 1 and 2 threads, CUDA if listed."""
    out = [("cpu_1thread", 1, CPU), ("cpu_2threads", 2, CPU)]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        out.append(("cuda", 1, CUDA))
    return out


def speed(gen_path, seconds: float = 2.0) -> dict:
    """The generator per target: batch-1 latency p50 / p99 and images/s at batch 1 and 64.
    A target whose session did not start on its first provider is reported as not measured."""
    out = {}
    zc = lambda n: {"z": np.random.default_rng(0).standard_normal((n, 32)).astype(np.float32),  # noqa: E731
                    "cond": np.random.default_rng(1).standard_normal((n, 32)).astype(np.float32)}
    for name, th, prov in targets():
        s = session(gen_path, th, prov)
        if s.get_providers()[0] != prov[0]:
            continue  # onnxruntime lists CUDA but could not start it (no GPU / libraries)
        lat = latency_ms(s, zc(1))
        x64 = zc(64)
        s.run(None, x64)
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < seconds:
            s.run(None, x64)
            n += 64
        thr = n / (time.perf_counter() - t0)
        out[name] = {"batch1_ms_p50": float(np.percentile(lat, 50)), "batch1_ms_p99": float(np.percentile(lat, 99)),
                     "batch1_images_per_s": float(1000 / np.percentile(lat, 50)),
                     "batch64_images_per_s": float(thr), "provider": s.get_providers()[0]}
    if "cuda" not in out:
        out["cuda"] = NOT_MEASURED
    return out


def music_latency(model_dir, providers=CPU) -> dict:
    """The music encoder's latency per window (batch 1, 1 thread) on ``providers``."""
    s = session(Path(model_dir) / "music_embed.onnx", 1, providers)
    rng = np.random.default_rng(0)
    win = mi.FEATURE_CONTRACT["emotion_frames"]
    x = {"mel": rng.normal(-40, 15, (1, win, 96)).astype(np.float32),
         "wavelet": rng.normal(-20, 10, (1, win, 6)).astype(np.float32)}
    lat = latency_ms(s, x)
    return {"ms_p50": float(np.percentile(lat, 50)), "ms_p99": float(np.percentile(lat, 99)),
            "provider": s.get_providers()[0]}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=None, help="folder of the ONNX models (default: the installed ones)")
    p.add_argument("--out", default=None, help="write the result as JSON here (default: print only)")
    a = p.parse_args(argv)
    ort.set_default_logger_severity(4)  # a CUDA provider that cannot load is reported in the JSON, not as a log
    model_dir = Path(a.models) if a.models else models_dir()
    result = {"benchmark": "imagery_speed",
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                          "onnxruntime": ort.__version__, "providers": ort.get_available_providers()},
              "models": str(model_dir), "generator": speed(model_dir / "generator.onnx"),
              "music_encoder": {"cpu_1thread": music_latency(model_dir)}}
    if isinstance(result["generator"].get("cuda"), dict):
        result["music_encoder"]["cuda"] = music_latency(model_dir, CUDA)
    text = json.dumps(result, indent=2)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
