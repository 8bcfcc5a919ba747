#!/usr/bin/env bash
# The GPU figures (issue 16), on a machine with an NVIDIA GPU and its EGL driver:
#
#     OUT=benchmarks/results/gpu bash scripts/gpu_check.sh
#
# 1. gpu.txt / providers.txt: the GPU, the onnxruntime providers that exist, and the provider
#    each model's session actually runs on with --device cuda (the engine refuses to fall back
#    to the CPU silently there: a CUDA provider that cannot start is an error).
# 2. inference_gpu.json: benchmarks/inference.py --device auto (the GPU) — per-window latency of all
#    encoders on the GPU (p50 / p99 / max) next to the CPU on 1 thread and on all threads, in
#    the same run, and the live path's hop / audio→OSC ratio with and without the models.
# 3. render_egl_1920x1080.json: benchmarks/render.py --gl egl --size 1920x1080 — every
#    preset's frames per second on the GPU's EGL (draw only, and with the read-back the
#    `render` command does for each video frame).
# 4. cuda_options.json: the emotion call per mark under cuDNN / CUDA-provider options and a
#    fixed input shape, with onnxruntime's profile of the defaults (why CUDA was slower than the
#    CPU in the first run: the input length alternating 31 / 32 new frames re-ran cuDNN's
#    algorithm search every call; the streaming model now keeps a session per length).
# 5. imagery_speed.json: python -m export.imagery_speed — the imagery generator (batch 1
#    latency, batch 64 images/s) and the music encoder per window, on CUDA next to the CPU.
#
# Needs sonolux's runtime dependencies (onnxruntime-gpu built for CUDA 13, with its CUDA
# libraries on the loader's path). PYTHON picks the interpreter (default python3); FRAMES the
# timed frames per preset (default 120). Exit status 1 if any step failed; every step runs.
# The committed run (benchmarks/results/gpu/) was on a lent NVIDIA H200 without a package
# registry: onnxruntime-gpu 1.31.1 and the runtime dependencies carried as cp312 wheels, the
# CUDA 13 / cuDNN libraries of that machine's PyTorch (site-packages/nvidia/*/lib) on
# LD_LIBRARY_PATH, libglvnd's libEGL/libGL unpacked from Debian packages and
# __EGL_VENDOR_LIBRARY_FILENAMES naming NVIDIA's EGL vendor file.
set -uo pipefail
OUT=${OUT:-benchmarks/results/gpu}
PY=${PYTHON:-python3}
FRAMES=${FRAMES:-120}
mkdir -p "$OUT"
status=0

echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" || status=1

echo "== onnxruntime providers"
"$PY" - <<'PYEOF' 2>&1 | tee "$OUT/providers.txt" || status=1
import onnxruntime as ort
from sonolux.inference.runtime import InferenceConfig, load_models
print("onnxruntime", ort.__version__, "available:", ort.get_available_providers())
models, warnings = load_models(InferenceConfig(device="cuda"))
for w in warnings:
    print("warning:", w)
for task, model in models.items():
    print(f"{task}: {model.provider}")
PYEOF

echo "== per-window latency (benchmarks/inference.py --device auto: the GPU)"
"$PY" benchmarks/inference.py --device auto --seconds 60 --rounds 6 --windows 300 \
    --out "$OUT/inference_gpu.json" > "$OUT/inference.log" 2>&1 || status=1
tail -n 5 "$OUT/inference.log"

echo "== render, EGL 1920x1080 (benchmarks/render.py)"
"$PY" benchmarks/render.py --gl egl --size 1920x1080 --frames "$FRAMES" \
    --out "$OUT/render_egl_1920x1080.json" 2>&1 | tee "$OUT/render.log" || status=1

echo "== the emotion model under CUDA provider options (benchmarks/cuda_options.py)"
"$PY" benchmarks/cuda_options.py --profile --out "$OUT/cuda_options.json" > "$OUT/cuda_options.log" 2>&1 || status=1
tail -n 14 "$OUT/cuda_options.log"

echo "== the imagery models (python -m export.imagery_speed)"
"$PY" -m export.imagery_speed --out "$OUT/imagery_speed.json" > "$OUT/imagery_speed.log" 2>&1 || status=1
tail -n 40 "$OUT/imagery_speed.log"

exit $status
