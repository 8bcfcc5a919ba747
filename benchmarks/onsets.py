"""Onset benchmark on FluidSynth renders of POP909 MIDI (the same fixed subset as beats.py).

    python benchmarks/onsets.py [--step 16] [--limit N] [--sr 48000]

Reference: note-on times of all MIDI tracks, notes starting within 30 ms of each other
merged into one onset (chords). Estimates: the engine's causal ``onset`` events (default
chain, 48 kHz, hop 256, n_fft 1024) and, in the same run, ``librosa.onset.onset_detect``
(offline, default parameters, backtrack off). Metric: mir_eval onset F-measure, 50 ms window.
Results: benchmarks/results/onsets.json.
"""
from __future__ import annotations

import sys
import time

from _common import single_thread, write_result

single_thread()  # before numpy: these benchmarks time one core
import numpy as np  # noqa: E402

import _pop909 as P  # noqa: E402

# the picker's defaults (k, delta, min gap, history) were chosen on these six songs; the
# summary is also reported without them ("held_out")
DEV_SONGS = {"001", "033", "129", "577", "625", "657"}


def scores(ref, est):
    import mir_eval

    f, p, r = mir_eval.onset.f_measure(np.asarray(ref, float), np.asarray(est, float), window=0.05)
    return {"f": float(f), "precision": float(p), "recall": float(r), "n_est": int(len(est))}


def main(argv=None):
    ap = P.song_args(__doc__, "onsets")
    args = ap.parse_args(argv)
    if P.unavailable():
        return 0
    import librosa

    from sonolux.analysis import AnalysisConfig, Analyzer
    from sonolux.spec import StreamSpec

    spec = StreamSpec(sample_rate=args.sr, hop=256, n_fft=1024)
    an = Analyzer(spec, AnalysisConfig(beat=False))
    an.warm_up()
    songs = P.subset(step=args.step, limit=args.limit)
    rows = []
    timing = P.new_timing()
    for song, y, dur in P.renders(songs, args.sr, timing):
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
    write_result("onsets", out, args.out, indent=1)
    print("\n| system | onset F (50 ms) | precision | recall |\n|---|---|---|---|")
    for s, m in summary.items():
        print(f"| {s} | {m['f']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    if held_out:
        print(f"\nheld out ({len(ho)} songs not used to choose the defaults):")
        for s, m in held_out.items():
            print(f"| {s} | {m['f']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    print(P.wall_line(len(songs), timing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
