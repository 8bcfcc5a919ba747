"""Onset benchmark on FluidSynth renders of POP909 MIDI (the same fixed subset as beats.py).

    python benchmarks/onsets.py [--step 16] [--limit N] [--sr 48000]

Reference: note-on times of all MIDI tracks, notes starting within 30 ms of each other
merged into one onset (chords). Estimates: the engine's causal ``onset`` events (default
chain, 48 kHz, hop 256, n_fft 1024) and, in the same run, ``librosa.onset.onset_detect``
(offline, default parameters, backtrack off). Metric: mir_eval onset F-measure, 50 ms window.
Results: benchmarks/results/onsets.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _pop909 as P  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "onsets.json"
# the picker's defaults (k, delta, min gap, history) were chosen on these six songs; the
# summary is also reported without them ("held_out")
DEV_SONGS = {"001", "033", "129", "577", "625", "657"}


def scores(ref, est):
    import mir_eval

    f, p, r = mir_eval.onset.f_measure(np.asarray(ref, float), np.asarray(est, float), window=0.05)
    return {"f": float(f), "precision": float(p), "recall": float(r), "n_est": int(len(est))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, default=16)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--sr", type=int, default=48000)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    why = P.available()
    if why:
        print(f"skipped: {why}")
        return 0
    import librosa

    from sonolux.analysis import AnalysisConfig, Analyzer
    from sonolux.spec import StreamSpec

    spec = StreamSpec(sample_rate=args.sr, hop=256, n_fft=1024)
    an = Analyzer(spec, AnalysisConfig(beat=False))
    an.warm_up()
    songs = P.subset(step=args.step, limit=args.limit)
    rows = []
    timing = {"render_s": 0.0, "sonolux_s": 0.0, "librosa_s": 0.0, "audio_s": 0.0}
    t_all = time.perf_counter()
    for song in songs:
        t0 = time.perf_counter()
        y = P.render(song, args.sr)
        timing["render_s"] += time.perf_counter() - t0
        dur = len(y) / args.sr
        timing["audio_s"] += dur
        ref = P.merge_onsets(P.midi_note_onsets(P.POP909 / song / f"{song}.mid"))
        ref = ref[ref < dur - 0.1]
        an.reset()
        t0 = time.perf_counter()
        tab = an.analyze(y)
        timing["sonolux_s"] += time.perf_counter() - t0
        row = {"song": song, "n_ref": int(len(ref)), "sonolux": scores(ref, tab.event_times("onset"))}
        t0 = time.perf_counter()
        est = librosa.onset.onset_detect(y=y, sr=args.sr, units="time")
        timing["librosa_s"] += time.perf_counter() - t0
        row["librosa"] = scores(ref, est)
        rows.append(row)
        print(f"{song} n_ref={len(ref):5d}  sonolux F={row['sonolux']['f']:.3f}  "
              f"librosa F={row['librosa']['f']:.3f}", flush=True)
    timing["total_s"] = time.perf_counter() - t_all
    summary = {s: {k: float(np.mean([r[s][k] for r in rows])) for k in ("f", "precision", "recall")}
               for s in ("sonolux", "librosa")}
    ho = [r for r in rows if r["song"] not in DEV_SONGS]
    held_out = {s: {k: float(np.mean([r[s][k] for r in ho])) for k in ("f", "precision", "recall")}
                for s in ("sonolux", "librosa")} if ho else {}
    out = {"benchmark": "onsets", "dataset": "POP909 (FluidSynth TimGM6mb renders)",
           "subset": {"step": args.step, "songs": songs, "n": len(songs)},
           "reference": "MIDI note-ons, merged within 30 ms",
           "metric": "mir_eval onset F-measure, 50 ms window (mean over songs)",
           "sample_rate": args.sr, "hop": spec.hop, "n_fft": spec.n_fft,
           "summary": summary,
           "held_out": {"songs": [r["song"] for r in ho], "summary": held_out},
           "timing": {k: round(v, 1) for k, v in timing.items()}, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print("\n| system | onset F (50 ms) | precision | recall |\n|---|---|---|---|")
    for s, m in summary.items():
        print(f"| {s} | {m['f']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    if held_out:
        print(f"\nheld out ({len(ho)} songs not used to choose the defaults):")
        for s, m in held_out.items():
            print(f"| {s} | {m['f']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    print(f"\n{len(songs)} songs, {timing['audio_s'] / 60:.1f} min of audio; wall "
          f"{timing['total_s']:.0f} s (render {timing['render_s']:.0f} s, sonolux "
          f"{timing['sonolux_s']:.0f} s, librosa {timing['librosa_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
