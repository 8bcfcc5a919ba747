"""Catalogue analysis throughput: `sonolux batch` on an embedded Ray with 1 and 2 workers
against a plain sequential loop of the analysis in one process, same tracks, same run; and
the driver's memory over a long batch.

    python benchmarks/batch.py [--tracks 16] [--seconds 10] [--memory-tracks 500]

* Tracks: ``--tracks`` generated songs of ``--seconds`` each (the demo groove at different
  tempi, so every file is different), 22.05 kHz WAV, analysed with the models.
* Sequential: one process loads the models once and calls the analysis (the function behind
  ``sonolux analyze``) on each track in turn; wall time includes the model loading.
* Batch: ``sonolux batch DIR --out … --workers K`` as a subprocess (its own session);
  wall time includes Ray's start-up and shut-down. "steady" is the rate between the first and
  the last row written (start-up excluded), from the rows' ``analyzed_at``.
* CPU utilisation: CPU seconds of the measured processes (all processes of the batch's
  session, sampled from /proc every 0.25 s) / (wall seconds × cores).
* Memory: a batch of ``--memory-tracks`` one-second tracks with 2 workers; the driver's
  resident memory (VmRSS) sampled every 0.25 s, reported after the first part is written, at
  the end and at most.

Results: benchmarks/results/batch.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "batch.json"
SR = 22050
CORES = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")


def make_tracks(folder: Path, n: int, seconds: float) -> list[Path]:
    import soundfile as sf

    from sonolux.sources.synth import demo_track

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        bpm = 84 + (i * 7) % 90
        y = demo_track(SR, bars=max(1, round(seconds * bpm / 240)), bpm=bpm, seed=i)
        p = folder / f"track_{i:04d}_{bpm}bpm.wav"
        sf.write(p, y, SR)
        paths.append(p)
    return paths


def sequential(paths) -> dict:
    from sonolux.offline import analyze_file
    from sonolux.inference.runtime import InferenceConfig, load_models

    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    cfg = InferenceConfig()
    models, _ = load_models(cfg)
    for p in paths:
        analyze_file(p, models=models, inference=cfg)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"tracks": len(paths), "wall_s": round(wall, 2), "tracks_per_min": round(len(paths) / wall * 60, 1),
            "cpu_s": round(cpu, 2), "cpu_utilisation": round(cpu / (wall * CORES), 3)}


def _session_cpu(sid: int, seen: dict) -> None:
    """Latest utime+stime (s) of every process of the session, by pid (kept after it exits).
    Ray gives each worker a process group of its own, inside the driver's session."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        f = text[text.rindex(")") + 2:].split()
        if int(f[3]) == sid:
            seen[int(entry)] = (int(f[11]) + int(f[12])) / TICK


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_batch(folder: Path, out: Path, workers: int, extra=()) -> dict:
    """One `sonolux batch` subprocess, sampled: wall, CPU of its session, driver RSS."""
    cmd = [sys.executable, "-m", "sonolux", "batch", str(folder), "--out", str(out),
           "--workers", str(workers), "-q", *extra]
    seen: dict = {}
    rss = []  # (t, MB, parts written)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        _session_cpu(proc.pid, seen)
        mb = _rss_mb(proc.pid)
        if mb is not None:
            rss.append((time.perf_counter() - t0, mb, len(list((out / "tracks").glob("part-*.parquet")))))
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"batch failed ({proc.returncode}): {err}")
    import pyarrow.parquet as pq

    rows = [r for p in sorted((out / "tracks").glob("part-*.parquet"))
            for r in pq.read_table(p, columns=["status", "analyzed_at", "node_id"]).to_pylist()]
    times = sorted(r["analyzed_at"] for r in rows)
    steady = (len(times) - 1) / (times[-1] - times[0]).total_seconds() * 60 if len(times) > 2 else None
    cpu = sum(seen.values())
    return {"workers": workers, "tracks": len(rows), "ok": sum(r["status"] == "ok" for r in rows),
            "wall_s": round(wall, 2), "tracks_per_min": round(len(rows) / wall * 60, 1),
            "steady_tracks_per_min": round(steady, 1) if steady else None,
            "cpu_s": round(cpu, 2), "cpu_utilisation": round(cpu / (wall * CORES), 3), "rss": rss,
            "summary": err.strip().splitlines()[-1] if err.strip() else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--memory-tracks", type=int, default=500)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="slxbench", dir="/tmp"))
    os.environ.setdefault("RAY_TMPDIR", str(tmp / "ray"))
    (tmp / "ray").mkdir()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        paths = make_tracks(tmp / "music", args.tracks, args.seconds)
        audio_s = sum(__import__("soundfile").info(str(p)).duration for p in paths)
        result = {"machine": {"cores": CORES, "platform": platform.platform(),
                              "load_average_start": os.getloadavg()},
                  "tracks": args.tracks, "audio_s": round(audio_s, 1)}
        print(f"{args.tracks} tracks, {audio_s:.0f} s of audio; load average {os.getloadavg()[0]:.1f}")
        result["sequential"] = sequential(paths)
        print(f"sequential loop : {result['sequential']}")
        for k in (1, 2):
            r = run_batch(tmp / "music", tmp / f"out{k}", k)
            r.pop("rss")
            result[f"batch_{k}_workers"] = r
            print(f"batch, {k} worker(s): {r}")
        if args.memory_tracks:
            one = make_tracks(tmp / "one", 1, 1.0)[0]
            mem_dir = tmp / "many"
            mem_dir.mkdir()
            for i in range(args.memory_tracks):
                shutil.copy(one, mem_dir / f"t{i:05d}.wav")
            r = run_batch(mem_dir, tmp / "outmem", 2)
            rss = r.pop("rss")
            after_first = next((mb for _, mb, parts in rss if parts >= 1), None)
            r["driver_rss_mb"] = {"after_first_part": round(after_first, 1) if after_first else None,
                                  "end": round(rss[-1][1], 1), "max": round(max(mb for _, mb, _ in rss), 1),
                                  "samples": [(round(t, 1), round(mb, 1), p) for t, mb, p in rss[::8]]}
            result["memory"] = r
            print(f"memory, {args.memory_tracks} tracks, 2 workers: driver RSS {r['driver_rss_mb']['after_first_part']}"
                  f" MB after the first part, {r['driver_rss_mb']['end']} MB at the end, max "
                  f"{r['driver_rss_mb']['max']} MB; {r['tracks_per_min']} tracks/min")
        result["machine"]["load_average_end"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written {args.out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
