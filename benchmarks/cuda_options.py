"""Why was the streaming emotion model slow on CUDA? Time it under onnxruntime's CUDA provider
options (issue 16). Answer on an H200 (benchmarks/results/gpu/cuda_options.json): the input
length alternating between two shapes — onnxruntime's CUDA convolutions keep the cuDNN
algorithm of the last shape only — 42.9 / 94.7 ms per call, 1.4 / 1.9 ms with one shape; the
engine now keeps a session per length on a GPU (``StreamingModel.shape_sessions``).

    python benchmarks/cuda_options.py [--marks 200] [--out benchmarks/results/gpu/cuda_options.json]

``scripts/gpu_check.sh`` measured the emotion call per 0.5 s mark at 78.6 / 150 ms (p50 / p99)
on an NVIDIA H200 with the CUDA provider's defaults, against 5.2 / 8.5 ms on one CPU thread
of the same machine. Each call feeds ~31 new frames (two input shapes, 158 / 159 frames of
``mel``, alternating); the graph is eight convolutions (7×38, 7×67, 128×1, 64×1, 32×1 and
three 7-wide 1-D), max/mean pools and three small dense layers. Suspects, each a setting
timed here call for call on the same marks: cuDNN's exhaustive algorithm search
(``cudnn_conv_algo_search``), the maximal conv workspace it asks for
(``cudnn_conv_use_max_workspace``), padding 1-D convolutions to 2-D
(``cudnn_conv1d_pad_to_nc1d``), and the input shape changing every call (``--fixed-shape``
feeds the 159-frame shape every time by repeating the oldest context frame: the outputs then
differ, so only the time counts). With ``--profile`` onnxruntime's own per-node profile of
the default settings is written next to the JSON. Without a GPU it times the CPU only and
says so.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, summary_ms  # noqa: E402

from sonolux.inference.models import default_model_dir, load_model  # noqa: E402
from sonolux.modelinput import SR, FeatureStream  # noqa: E402
from sonolux.sources.synth import demo_track  # noqa: E402

SETTINGS = {
    "cuda defaults": {},
    "heuristic search": {"cudnn_conv_algo_search": "HEURISTIC"},
    "default algorithm": {"cudnn_conv_algo_search": "DEFAULT"},
    "no max workspace": {"cudnn_conv_use_max_workspace": "0"},
    "heuristic, no max workspace": {"cudnn_conv_algo_search": "HEURISTIC", "cudnn_conv_use_max_workspace": "0"},
    "1-D convs padded as NC1D": {"cudnn_conv1d_pad_to_nc1d": "1"},
}


def session(path: Path, provider: str, options: dict, profile_prefix: str | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    providers = [(provider, options), "CPUExecutionProvider"] if provider != "CPUExecutionProvider" \
        else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


def time_marks(model, sess, marks: int, fixed_shape: bool) -> dict:
    """Per-mark ``infer`` of the streaming model with its session swapped for ``sess``."""
    model.session = sess
    stream = FeatureStream(model.history_frames)
    audio = demo_track(SR, bars=32).astype(np.float32)
    step, warm = SR // 2, 10
    times = []
    run = sess.run
    if fixed_shape:
        def run(names, feed):  # the longer of the two shapes every call
            mel = feed["mel"]
            if mel.shape[1] == 158:
                feed = {**feed, "mel": np.concatenate([mel[:, :1], mel], axis=1)}
            return sess.run(names, feed)
        model.session = type("S", (), {"run": staticmethod(run), "get_outputs": sess.get_outputs,
                                        "get_providers": sess.get_providers})()
    for i in range(marks + warm):
        stream.push(audio[(i * step) % (len(audio) - step):][:step])
        t0 = time.perf_counter()
        model.infer(stream)
        if i >= warm:
            times.append(time.perf_counter() - t0)
    return {"provider": sess.get_providers()[0], **summary_ms(times)}


def main(argv=None) -> int:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help="model folder (default: the shipped models)")
    ap.add_argument("--marks", type=int, default=200, help="timed marks per setting (default 200)")
    ap.add_argument("--profile", action="store_true", help="also write onnxruntime's profile of the defaults")
    ap.add_argument("--out", default="benchmarks/results/gpu/cuda_options.json")
    args = ap.parse_args(argv)
    path = Path(args.models or default_model_dir()) / "emotion.onnx"
    model = load_model(path, device="cpu")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "cuda_options", "machine": machine(), "model": str(path),
              "onnxruntime": ort.__version__, "available": ort.get_available_providers(), "settings": {}}
    result["settings"]["cpu, 1 thread"] = time_marks(model, session(path, "CPUExecutionProvider", {}), args.marks, False)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        result["note"] = "no CUDA provider in this onnxruntime: CPU only"
    else:
        for name, options in SETTINGS.items():
            if "note" in result:
                break
            for fixed in (False, True):
                label = name + (", fixed shape" if fixed else "")
                prefix = str(out.with_suffix("")) + "_profile" if args.profile and not options and not fixed else None
                try:
                    sess = session(path, "CUDAExecutionProvider", options, prefix)
                    if sess.get_providers()[0] != "CUDAExecutionProvider":
                        result["note"] = "the CUDA provider is listed but did not start (no GPU / libraries): CPU only"
                        break
                    result["settings"][label] = {"options": options, **time_marks(model, sess, args.marks, fixed)}
                    if prefix:
                        result["settings"][label]["profile"] = sess.end_profiling()
                except Exception as e:  # an option this build does not know: say so, go on
                    result["settings"][label] = {"options": options, "error": str(e).splitlines()[0][:200]}
                print(label, result["settings"][label].get("p50_ms"), result["settings"][label].get("p99_ms"),
                      file=sys.stderr)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["settings"], indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
