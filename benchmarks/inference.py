"""Inference benchmark: the encoders' cost per window, and proof that they stay out of the
way of the live path.

    python benchmarks/inference.py [--models DIR] [--seconds 60] [--rounds 6] [--windows 300]
                                   [--device auto] [--compare-emotion OLD.onnx]

1. Per-window latency (the worker's whole step at one 0.5 s mark: the new audio's model
   features, then emotion — a streaming model computes the new frames only — tags, latent),
   p50 / p99 / max, with onnxruntime on 1 thread and on all threads; on a GPU machine also
   with the provider actually used (printed).
2. The same real-time run (demo track, hop 256 @ 48 kHz) without and with the models, in
   one process, in alternating rounds (A B, B A, …) pooled per side: analysis-hop p99 and
   audio → OSC latency p99 of the level and onset messages (``audio_to_osc``; every address,
   mood and tags included, in ``audio_to_osc_all_addresses``), and the ratio with / without
   (target: ≤ 1.10).
3. With ``--compare-emotion OLD.onnx``: the shipped emotion model against another emotion
   model file, call for call in one process (marks alternate which goes first), so a loaded
   machine weighs on both alike: ``model.infer`` per 0.5 s mark (the level normaliser, the
   graph on the new frames, the state), p50 / p99 / max.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from _common import machine, summary_ms, write_result
from latency import demo_signal, measure_live

from sonolux import StreamSpec
from sonolux.inference.models import default_model_dir
from sonolux.inference.runtime import InferenceConfig, load_models, make_inference
from sonolux.analysis import Analyzer


WARMUP_WINDOWS = 5  # untimed first steps: a GPU provider's first calls pick kernels and copy weights


def window_latency(models: dict, signal: np.ndarray, spec: StreamSpec, n: int) -> dict:
    """Time ``n`` worker steps (features of the new audio + all models) on real windows, after
    ``WARMUP_WINDOWS`` untimed ones."""
    stage, worker = make_inference(models, InferenceConfig(every_s=0.5))
    analyzer = Analyzer(spec, inference_stage=stage)
    frame = analyzer.layout.new_frame()
    hop = spec.hop
    times, per_model = [], {t: [] for t in models}
    originals = {t: m.run for t, m in models.items()}

    def timed(task):
        def run(inputs):
            t0 = time.perf_counter()
            out = originals[task](inputs)
            per_model[task].append(time.perf_counter() - t0)
            return out
        return run

    for t, m in models.items():
        m.run = timed(t)
    try:
        i, steps = 0, 0
        total = len(signal) // hop
        while len(times) < n:
            analyzer.process_hop(signal[(i % total) * hop:((i % total) + 1) * hop], frame)
            i += 1
            if stage.mark_seq > worker.last_mark:
                if steps == WARMUP_WINDOWS:
                    for v in per_model.values():
                        v.clear()
                t0 = time.perf_counter()
                worker.poll()
                steps += 1
                if steps > WARMUP_WINDOWS:
                    times.append(time.perf_counter() - t0)
    finally:
        for t, m in models.items():
            m.run = originals[t]
    return {"window": summary_ms(times), **{f"model_{t}": summary_ms(v) for t, v in per_model.items()}}


def emotion_ab(files: dict, marks: int) -> dict:
    """Per-mark ``infer`` time of each emotion model file (name → path), interleaved."""
    from sonolux.inference.models import load_model
    from sonolux.modelinput import SR, FeatureStream
    from sonolux.sources.synth import demo_track

    models = {n: load_model(p, device="cpu", threads=1) for n, p in files.items()}
    streams = {n: FeatureStream(m.history_frames) for n, m in models.items()}
    audio = demo_track(SR, bars=32).astype(np.float32)
    step, warm = SR // 2, 10
    times = {n: [] for n in models}
    for i in range(marks + warm):
        block = audio[(i * step) % (len(audio) - step):][:step]
        for n in (list(models) if i % 2 else list(models)[::-1]):
            streams[n].push(block)
            t0 = time.perf_counter()
            models[n].infer(streams[n])
            if i >= warm:
                times[n].append(time.perf_counter() - t0)
    return {n: {"file": str(files[n]), "version": models[n].contract.get("version"), **summary_ms(t)}
            for n, t in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help="model folder (default models_onnx/)")
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="real-time audio per side (with / without models), split into rounds")
    ap.add_argument("--rounds", type=int, default=6, help="alternating A/B rounds (default 6)")
    ap.add_argument("--windows", type=int, default=300, help="windows timed per thread setting")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare-emotion", default=None, metavar="OLD.onnx",
                    help="also time the shipped emotion model against this one, interleaved (part 3)")
    args = ap.parse_args(argv)
    spec = StreamSpec()
    signal = demo_signal(spec, args.seconds)
    model_dir = args.models or default_model_dir()
    result = {"benchmark": "inference", "machine": machine(), "models": str(model_dir), "windows": {},
              "load_average_before": list(os.getloadavg())}

    all_threads = os.cpu_count() or 1
    for label, threads, device in (("cpu_1_thread", 1, "cpu"), (f"cpu_{all_threads}_threads", all_threads, "cpu")):
        models, _ = load_models(InferenceConfig(model_dir=model_dir, device=device, threads=threads))
        if not models:
            sys.exit(f"no models in {model_dir}")
        print(f"timing {args.windows} windows, {label} …", file=sys.stderr)
        result["windows"][label] = window_latency(models, signal, spec, args.windows)
        result["windows"][label]["provider"] = {t: m.provider for t, m in models.items()}
    if args.device != "cpu":
        models, _ = load_models(InferenceConfig(model_dir=model_dir, device=args.device))
        used = {t: m.provider for t, m in models.items()}
        if any(p != "CPUExecutionProvider" for p in used.values()):
            print(f"timing {args.windows} windows on {used} …", file=sys.stderr)
            result["windows"]["gpu"] = window_latency(models, signal, spec, args.windows)
            result["windows"]["gpu"]["provider"] = used
        else:
            result["windows"]["gpu"] = {"skipped": "no GPU provider could start here", "provider": used}

    # A/B in alternating rounds (A B, B A, A B, …) so drift in the machine's load and the
    # order of the runs weigh on both sides alike; the rounds' times are pooled per side
    pooled = {label: {"hop": [], "osc": [], "osc_all": [], "stats": []}
              for label in ("no_models", "with_models")}
    models = load_models(InferenceConfig(model_dir=model_dir, device="cpu"))[0]
    round_s = args.seconds / args.rounds
    round_n = int(round_s * spec.sample_rate)
    per_round = []
    for r in range(args.rounds):  # round r plays the r-th part of the track, on both sides
        order = ("no_models", "with_models") if r % 2 == 0 else ("with_models", "no_models")
        for label in order:
            print(f"real-time round {r + 1}/{args.rounds}, {round_s:g} s, {label} …", file=sys.stderr)
            run = measure_live(spec, signal[r * round_n:(r + 1) * round_n],
                               models=models if label == "with_models" else None)
            pooled[label]["hop"] += run["hop_times"]
            pooled[label]["osc"] += run["live_latencies"]
            pooled[label]["osc_all"] += run["latencies"]
            pooled[label]["stats"].append(run["stats"])
            per_round.append({"round": r + 1, "side": label,
                              "hop_p99_ms": summary_ms(run["hop_times"])["p99_ms"],
                              "audio_to_osc_p99_ms": summary_ms(run["live_latencies"])["p99_ms"]})
    runs = {}
    for label, p in pooled.items():
        st = p["stats"]
        runs[label] = {"hop": summary_ms(p["hop"]), "audio_to_osc": summary_ms(p["osc"]),
                       "audio_to_osc_all_addresses": summary_ms(p["osc_all"]),
                       "dropped_blocks": sum(s.dropped_blocks for s in st),
                       "skipped_samples": sum(s.skipped_samples for s in st),
                       "inference_windows": sum(s.inference_windows for s in st),
                       "inference_skipped": sum(s.inference_skipped for s in st)}
    result["live"] = runs
    result["live_rounds"] = per_round  # the spread between rounds: how much noise to expect
    a, b = runs["no_models"], runs["with_models"]
    result["ratio_with_over_without"] = {
        "hop_p99": round(b["hop"]["p99_ms"] / a["hop"]["p99_ms"], 3),
        "audio_to_osc_p99": round(b["audio_to_osc"]["p99_ms"] / a["audio_to_osc"]["p99_ms"], 3),
        "audio_to_osc_all_addresses_p99": round(b["audio_to_osc_all_addresses"]["p99_ms"]
                                                / a["audio_to_osc_all_addresses"]["p99_ms"], 3),
    }
    if args.compare_emotion:
        print(f"emotion models call for call, {args.windows} marks …", file=sys.stderr)
        result["emotion_ab"] = emotion_ab({"shipped": Path(model_dir) / "emotion.onnx",
                                           "compared": Path(args.compare_emotion)}, args.windows)
    result["load_average_after"] = list(os.getloadavg())
    path = write_result("inference", result, args.out)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
