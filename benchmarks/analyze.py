"""``sonolux analyze`` wall time and peak memory: a 30 s clip (cold and warm start) and a long
file (20 minutes by default), plus where a warm 30 s run spends its time.

    python benchmarks/analyze.py [--minutes 20] [--no-models] [--workdir DIR]

Each run is a fresh process (``sonolux analyze FILE -o OUT``); wall time is measured around
it, the child's CPU time (user + system) and peak RSS (``ru_maxrss``) come from ``os.wait4``
(CPU time is less affected than wall time when other jobs share the machine). Cold start: an empty Numba
cache folder (``NUMBA_CACHE_DIR``), so every kernel compiles; warm: the same folder again.
Python writes its bytecode caches in the children even where the caller's environment says
not to (``PYTHONDONTWRITEBYTECODE``, set on some CI machines): a user's installed sonolux has
them (pip compiles a wheel's modules at install), and without them every start compiles
sonolux's sources again (~0.07 s).
The clips are synthetic (the demo track's drum-and-synth loop at several tempi, 16-bit WAV,
48 kHz). The breakdown runs the steps of ``analyze`` one by one in a warm process. The
machine's load average is recorded before and after. Results: benchmarks/results/analyze.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import machine, write_result

SR = 48000
CLI = "from sonolux.app.cli import console_main; console_main()"


def make_clip(path: Path, seconds: float) -> Path:
    """A synthetic track of ``seconds`` (demo loops at 96..132 BPM), written piecewise."""
    import soundfile as sf

    from sonolux.sources.synth import demo_track

    n_total = int(seconds * SR)
    with sf.SoundFile(str(path), "w", SR, 1, subtype="PCM_16") as f:
        done, k = 0, 0
        while done < n_total:
            y = demo_track(SR, bars=8, bpm=96.0 + 12.0 * (k % 4), seed=k)
            y = y[:n_total - done]
            f.write(y.astype(np.float32))
            done += y.shape[0]
            k += 1
    return path


def child_env(cache: Path) -> dict:
    """The environment of a measured run: the Numba cache folder, bytecode caches allowed."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_analyze(path: Path, out: Path, cache: Path, models: bool) -> dict:
    """One ``sonolux analyze`` process: wall seconds, peak RSS (MB), exit status."""
    env = child_env(cache)
    cmd = [sys.executable, "-c", CLI, "analyze", str(path), "-o", str(out)]
    if not models:
        cmd.append("--no-models")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"analyze failed ({proc.returncode}): {err.strip()[-500:]}")
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


BREAKDOWN = r"""
import json, sys, time
t = {}
t0 = time.perf_counter()
import numpy, numba  # noqa
t["import numpy + numba"] = time.perf_counter() - t0
t0 = time.perf_counter()
from sonolux.offline import run_analysis, write_document  # noqa
from sonolux.analysis import Analyzer  # noqa
from sonolux.features import numba_typing_without_cffi
numba_typing_without_cffi()  # as the sonolux command does
t["import sonolux (analysis side)"] = time.perf_counter() - t0
t0 = time.perf_counter()
models = {}
from sonolux.app.options import offline_threads
from sonolux.inference.runtime import InferenceConfig, load_models
inference = InferenceConfig(threads=offline_threads())  # analyze's default
if sys.argv[2] == "1":
    models, _ = load_models(inference)
t["load models (onnxruntime sessions; the command overlaps this with the next step)"] = time.perf_counter() - t0
t0 = time.perf_counter()
import numpy as np
from sonolux.spec import StreamSpec
Analyzer(StreamSpec()).analyze(np.zeros(48000, np.float32))  # what a bulk run loads
t["build chain + load Numba kernels (a 1 s bulk run)"] = time.perf_counter() - t0
t0 = time.perf_counter()
doc = run_analysis(sys.argv[1], models=models, inference=inference).doc
t["analyze (read, chain, models, summary)"] = time.perf_counter() - t0
t0 = time.perf_counter()
write_document(doc, sys.argv[1] + ".json")
t["write JSON"] = time.perf_counter() - t0
print(json.dumps({k: round(v, 3) for k, v in t.items()}))
"""


def breakdown(path: Path, cache: Path, models: bool) -> dict:
    env = child_env(cache)
    out = subprocess.run([sys.executable, "-c", BREAKDOWN, str(path), "1" if models else "0"],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the long file (default 20)")
    ap.add_argument("--no-models", action="store_true", help="analyse without the ONNX models")
    ap.add_argument("--workdir", default=None, help="where the clips go (default: a temporary folder)")
    ap.add_argument("--out", default=None, help="result JSON (default benchmarks/results/analyze.json)")
    args = ap.parse_args(argv)
    models = not args.no_models
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        clip = make_clip(work / "clip30.wav", 30.0)
        long = make_clip(work / "long.wav", args.minutes * 60.0)
        cache = work / "numba-cache"
        rows = {}
        rows["30 s clip, cold start (empty Numba cache)"] = run_analyze(clip, work / "a.json", cache, models)
        rows["30 s clip, warm start"] = run_analyze(clip, work / "b.json", cache, models)
        rows[f"{args.minutes:g} min file, warm start"] = run_analyze(long, work / "c.json", cache, models)
        doc = json.loads((work / "c.json").read_text())
        steps = breakdown(clip, cache, models)
    result = {
        "benchmark": "analyze", "machine": machine(), "models": models,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "runs": rows, "warm_30s_breakdown_s": steps,
        "long_file": {"minutes": args.minutes, "beats": len(doc["beats"]),
                      "onsets": len(doc["onsets"]), "tempo": doc["tempo"]},
        "targets": {"long_peak_rss_mb": 300, "warm_30s_wall_s": 1.0},
    }
    path = write_result("analyze", result, args.out)
    print(f"load avg before {result['load_avg_before']}, after {result['load_avg_after']}")
    print("| run | wall (s) | CPU (s) | peak RSS (MB) |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} |")
    print("warm 30 s breakdown (s):", json.dumps(steps))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
