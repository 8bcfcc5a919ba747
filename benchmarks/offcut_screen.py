"""Diagnose and screen the cuts placed 0.5–1.5 s off a join, development medleys only (issue 17).

    nice -n 10 python benchmarks/offcut_screen.py [--data ../shared/data] [--cache /work/cache/regions] \
        [--seeds 7,8,9,10,11,12,13,14] [--out benchmarks/results/offcut_screen.json]

Runs the live stage with its defaults (judge on) over dev medleys (folds 0–1, ``--seeds``) and
records at every decided cut what ``RegionStage.place_fade`` sees (``fade_screen.capture``:
the cue's cut ``t``, the refined sharpest step ``t_step``, the ring of log-mel hops heard
before the decision — every variant is causal). For each cut within 1.5 s of a join it reports
where the cue peak, the refined step and the placement lie against the truth, the hard/gradual
ratio, the sharpest step within ±1.5 s of the truth, and how far the ring reaches past ``t``;
then places each cut again with variants of a wider step search (the largest step within R s
of ``t`` replaces ``t_step`` when it is at least k times the step near the peak; the hard test
and ramp fit then run as live).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import fade_screen as F  # noqa: E402
import segmentation as S  # noqa: E402



def steps(c, w):
    """(times, sizes) of the RMS log-mel step (mean of w hops after − before) at every hop."""
    mel, ts = c["mel"], c["ts"]
    cs = np.vstack([np.zeros(mel.shape[1]), np.cumsum(mel, 0)])
    j = np.arange(w, len(ts) - w + 1)
    d = ((cs[j + w] - cs[j]) - (cs[j] - cs[j - w])) / w
    return ts[j], np.sqrt((d ** 2).mean(1))


def largest(st, centre, radius):
    t, s = st
    m = np.abs(t - centre) <= radius
    if not m.any():
        return None, 0.0
    k = np.flatnonzero(m)[np.argmax(s[m])]
    return float(t[k]), float(s[k])


def nearest(c):
    b = np.array(c["bounds"])
    return float(b[np.argmin(abs(b - c["t"]))]) if len(b) else None


def main(argv=None):
    args = D.screen_parser(__doc__, "offcut_screen", seeds="7,8,9,10,11,12,13,14").parse_args(argv)
    t0 = time.perf_counter()
    spec, config, cases, pl = F.capture_defaults(args)
    w = max(1, int(round(config.region_step_window_s * spec.frame_rate)))
    near, diag = [], []
    for c in cases:
        b = nearest(c)
        if b is None or abs(b - c["t"]) > S.LOOSE_S:
            continue
        c["truth"], c["kind"] = b, ("crossfade" if any(c["xf"]) else "hard")
        c["_st"] = steps(c, w)
        c["_local"] = largest(c["_st"], c["t"], config.region_refine_s)
        c["_ratio"] = pl.ratio(c)
        near.append(c)
        if abs(c["placed"] - b) > S.TOLERANCE_S:
            tt, ts_ = largest(c["_st"], b, 0.15)
            diag.append({"seed": c["seed"], "kind": c["kind"], "truth": round(b, 3),
                         "cue_t_err": round(c["t"] - b, 3), "t_step_err": round(c["t_step"] - b, 3),
                         "placed_err": round(c["placed"] - b, 3),
                         "placed_by": "t_step (hard test)" if c["placed"] == c["t_step"] else "ramp fit",
                         "hard_ratio": round(c["_ratio"], 3),
                         "step_near_peak_db": round(c["_local"][1], 2),
                         "step_at_truth_db": round(ts_, 2), "step_at_truth_t_err": round(tt - b, 3) if tt else None,
                         "largest_step_1.5s_err": round(largest(c["_st"], c["t"], 1.5)[0] - b, 3),
                         "ring_end_after_t_s": round(float(c["ts"][-1] - c["t"]), 3)})

    def wide(R, k, refit=True, h=None):
        def fn(c):
            if h is not None:  # a lower hard-test ratio on the live step
                if c["placed"] != c["t_step"] and c["_ratio"] >= h:
                    base = c["t_step"]
                else:
                    base = c["placed"]
            else:
                base = c["placed"]
            tw, sw = largest(c["_st"], c["t"], R)
            if tw is None or sw < k * c["_local"][1] or abs(tw - c["t_step"]) < 1e-9:
                return base
            if not refit:
                return tw
            c2 = dict(c, t_step=tw)
            if h is not None and pl.ratio(c2) >= h:
                return tw
            return pl.place(c2)
        return fn

    def wide_centre(R, k):
        def fn(c):  # also re-centre the two songs' windows on the wider step
            tw, sw = largest(c["_st"], c["t"], R)
            if tw is None or sw < k * c["_local"][1] or abs(tw - c["t_step"]) < 1e-9:
                return c["placed"]
            c2 = dict(c, t=tw, t_step=tw)
            return pl.place(c2)
        return fn

    variants = {"live": lambda c: c["placed"], "t_step": lambda c: c["t_step"], "cue t": lambda c: c["t"]}
    for h in (0.6, 0.7, 0.75, 0.8, 0.9):
        variants[f"hard ratio {h}"] = wide(0.0, 1e9, h=h)
        for R, k in ((1.0, 3.0), (1.5, 2.0), (1.5, 2.5), (1.5, 3.0)):
            variants[f"wide r{R} k{k} hard ratio {h}"] = wide(R, k, h=h)
    for R in (0.3, 0.5, 0.75, 1.0, 1.25, 1.5):
        for k in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
            variants[f"wide r{R} k{k}"] = wide(R, k)
            variants[f"wide r{R} k{k} recentred"] = wide_centre(R, k)
    result = {"benchmark": "offcut_screen", "machine": machine(), "seeds": args.seeds,
              "medleys_each_seed": args.dev_medleys, "cuts_recorded": len(cases),
              "cuts_near_a_join": len(near), "placed_off": diag, "variants": {}, "by_seed": {}}
    for name, fn in variants.items():
        result["variants"][name] = F.score(near, fn)
    best = {}
    for s in args.seeds:
        sub = [c for c in near if c["seed"] == s]
        best[str(s)] = {name: F.score(sub, fn) for name, fn in variants.items()}
    result["by_seed"] = best
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('offcut_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
