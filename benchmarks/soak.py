"""Soak test: the whole engine for a long run, as at a gig.

    python benchmarks/soak.py [--minutes 30] [--preset emotion_field] [--size 640x360] [--fps 30]
                              [--input FILE] [--models DIR]

A file (default: the built-in demo track) looped and paced in real time at 48 kHz with
128-sample blocks (hop 256) through the live path, with every installed model, OSC to a
loopback receiver, and a preset rendered headless (OSMesa / EGL) on the main thread with
pixel read-back, as a window would. Reports dropped blocks (target 0), late hops, skipped
audio, hop time p50 / p99 / max over the run, inference windows and skips, rendered frames,
and resident memory growth after warm-up (target < 5 MB), and Python's collector pauses after
warm-up per generation (count, max, p99, how many over 5 ms: :class:`CollectorPauses`).
"""
from __future__ import annotations

import argparse
import gc
import json
import socket
import sys
import threading
import time

import numpy as np

from _common import machine, summary_ms, write_result

from sonolux import Engine, StreamSpec
from sonolux.inference.runtime import InferenceConfig, load_models
from sonolux.outputs.osc import build_targets
from sonolux.sources import ArraySource, demo_track, load_audio


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CollectorPauses:
    """Each run of Python's cyclic collector (``gc.callbacks``): when, which generation, how
    long. A collection holds the GIL, so no Python thread runs meanwhile — the analysis thread
    and the audio callback's Python part included — and a full (generation 2) collection of a
    large heap takes tens of ms; the soak shows whether and when a show meets one."""

    def __init__(self):
        self.rows = []  # (s since the engine started, generation, ms)
        self.t0 = self._began = None

    def __call__(self, phase, info):
        now = time.perf_counter()
        if phase == "start":
            self._began = now
        elif self._began is not None and self.t0 is not None:
            self.rows.append((now - self.t0, info["generation"], (now - self._began) * 1e3))

    def summary(self, warmup_s: float) -> dict:
        """Per generation, after the warm-up: count, max and p99 ms, how many took over 5 ms
        (a few hops); and the collections during the warm-up (start-up's objects)."""
        out = {"during_warmup": sum(1 for t, _, _ in self.rows if t < warmup_s)}
        for g in (0, 1, 2):
            ms = np.array([m for t, gen, m in self.rows if t >= warmup_s and gen == g])
            out[f"gen{g}"] = ({"n": int(ms.size), "max_ms": round(float(ms.max()), 2),
                               "p99_ms": round(float(np.percentile(ms, 99)), 2), "over_5_ms": int((ms > 5).sum())}
                              if ms.size else {"n": 0})
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup-s", type=float, default=60.0, help="memory baseline after this long")
    ap.add_argument("--preset", default="emotion_field")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--gl", default="auto")
    ap.add_argument("--input", default=None, help="audio file to loop (default: the demo track)")
    ap.add_argument("--models", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    spec = StreamSpec(sample_rate=48000, block_size=128, hop=256, n_fft=1024)
    signal = load_audio(args.input, spec.sample_rate) if args.input else demo_track(spec.sample_rate)
    models, warnings = load_models(InferenceConfig(model_dir=args.models))
    for w in warnings:
        print("warning:", w, file=sys.stderr)

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    done = threading.Event()

    def drain():
        while not done.is_set():
            try:
                rx.recv(65536)
            except (socket.timeout, OSError):
                pass

    threading.Thread(target=drain, daemon=True).start()
    engine = Engine(spec, ArraySource(signal, spec.sample_rate, spec.block_size, realtime=True, loop=True),
                    models=models, osc_targets=build_targets([f"127.0.0.1:{rx.getsockname()[1]}"]))
    n_hops = int(args.minutes * 60 * spec.frame_rate * 1.05) + 1000
    hop_ms = np.full(n_hops, np.nan, dtype=np.float32)  # preallocated and touched: no growth
    count = [0]
    inner = engine.worker.step

    def timed_step():
        t0 = time.perf_counter()
        ok = inner()
        if ok and count[0] < n_hops:
            hop_ms[count[0]] = (time.perf_counter() - t0) * 1e3
            count[0] += 1
        return ok

    engine.worker.step = timed_step

    from sonolux.visual.host import VisualHost
    from sonolux.visual.offscreen import OffscreenTarget
    from sonolux.visual.registry import PresetRegistry
    from sonolux.visual.render import parse_size

    target = OffscreenTarget(parse_size(args.size), args.gl)
    host = VisualHost(PresetRegistry(), target.size, preset=args.preset, hot_reload=False)
    target.make_current()
    host.gl_init()
    engine.preset_handler = host.request_preset
    frame = engine.mailbox.layout.new_frame()
    render_ms = []
    late_renders = 0
    period = 1.0 / args.fps
    duration = args.minutes * 60
    print(f"soak: {args.minutes:g} min, models {sorted(models) or 'none'}, preset {args.preset} "
          f"{target.size[0]}x{target.size[1]} @ {args.fps:g} fps on {target.backend}", file=sys.stderr)
    baseline = None
    pauses = CollectorPauses()
    gc.callbacks.append(pauses)
    engine.start()
    t0 = pauses.t0 = time.perf_counter()
    next_t = t0
    last_report = t0
    try:
        while (now := time.perf_counter()) - t0 < duration:
            if now < next_t:
                time.sleep(min(next_t - now, 0.005))
                continue
            if now - next_t > period:
                late_renders += 1
            next_t += period
            if next_t < now - 1.0:
                next_t = now  # do not try to catch up a long stall
            if engine.mailbox.read_latest(frame):
                r0 = time.perf_counter()
                host.step(frame, frame.t)
                target.render(host)
                if len(render_ms) < 200_000:
                    render_ms.append((time.perf_counter() - r0) * 1e3)
            engine.check()
            if baseline is None and now - t0 >= args.warmup_s:
                baseline = rss_mb()
            if now - last_report >= 60:
                last_report = now
                s = engine.stats()
                print(f"  {int((now - t0) // 60)} min: dropped {s.dropped_blocks}, late hops {s.late_hops}, "
                      f"rss {rss_mb():.1f} MB", file=sys.stderr)
    finally:
        engine.stop()
        done.set()
        gc.callbacks.remove(pauses)
    end_rss = rss_mb()
    s = engine.stats()
    h = hop_ms[:count[0]].astype(np.float64) / 1e3
    result = {
        "benchmark": "soak", "machine": machine(), "minutes": args.minutes,
        "spec": {"sample_rate": spec.sample_rate, "block_size": spec.block_size, "hop": spec.hop},
        "models": sorted(models), "preset": args.preset, "size": list(target.size), "render_fps_target": args.fps,
        "gl": target.backend,
        "dropped_blocks": s.dropped_blocks, "late_hops": s.late_hops, "skipped_samples": s.skipped_samples,
        "filled_hops": s.filled_hops, "hops": s.hops,
        "hop": summary_ms(h),
        "inference_windows": s.inference_windows, "inference_skipped": s.inference_skipped,
        "osc_messages": s.osc_messages, "osc_errors": s.osc_errors,
        "render": summary_ms(np.array(render_ms) / 1e3), "rendered_frames": host.frames,
        "late_render_ticks": late_renders, "preset_errors": host.errors,
        "collector_pauses": pauses.summary(args.warmup_s),
        "rss_mb": {"after_warmup": round(baseline or float("nan"), 1), "end": round(end_rss, 1),
                   "growth": round(end_rss - baseline, 2) if baseline else None},
    }
    path = write_result("soak", result, args.out)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
