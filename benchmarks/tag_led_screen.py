"""Can the tag cue cut the joins the timbre does not see, with a placement of its own? (issue 17)

    nice -n 10 python benchmarks/tag_led_screen.py [--data ../shared/data] [--cache /work/cache/regions]

``tag_screen.py`` found that a cue on the emotion model's 50 tags separates most joins the
fused cues miss, but cannot place a cut (it is a plateau one prediction window wide), so as
a bonus to the timbre cues it gains little. This screen gives it a placement of its own and
lets it cut alone: after the default cuts of a recording (``segmentation.fuse``), every
excursion of the tag cue above ``offset`` (a percentile of its highest value inside each
development clip) whose peak lies at least ``region_min_s`` from every cut is a tag-led cut,
moved to the hop within ``radius`` s of the peak where the mean log-mel spectrum steps most
(0.25 s before vs. after, RMS dB: the live stage's ``refine`` over a wider radius). The past
of the tag cue restarts at every cut. Approximation: the default cuts are not restarted by
the tag-led ones (a live fusion would be). Development folds only: the benchmark's 24
development medleys (seed 7), 24 others (seed 8) and the 240 development clips (false cuts).

Committed run: ``benchmarks/results/tag_led_screen.json``.
"""
from __future__ import annotations

import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402
import tag_screen as T  # noqa: E402
from _common import machine, write_result  # noqa: E402


CUES = (("logit", "gauss", 10.0, 4.0), ("logit", "cos", 6.0, 3.0), ("raw", "cos", 6.0, 2.0))
OFFSET_Q = (98, 99, 100)
RADIUS_S = (1.0, 2.0)
STEP_S = 0.25


def step_series(mel: np.ndarray, hop_s: float) -> np.ndarray:
    """Per hop h: RMS dB difference of the mean log-mel over the ``STEP_S`` after h and before."""
    w = max(1, int(round(STEP_S / hop_s)))
    cs = np.vstack([np.zeros(mel.shape[1]), np.cumsum(mel.astype(np.float64), 0)])
    out = np.zeros(mel.shape[0])
    h = np.arange(w, mel.shape[0] - w + 1)
    after = (cs[h + w] - cs[h]) / w
    before = (cs[h] - cs[h - w]) / w
    out[h] = np.sqrt(((after - before) ** 2).mean(1))
    return out


def led_cuts(cap, tc, steps, hop_s, v, offset, radius_s, *, base, past, n_min, min_region_s):
    """The default cuts plus the tag-led ones (see the module doc), sorted."""
    cuts = sorted(S.fuse(cap, **base))
    block_s = cap["block_s"]
    n = len(cap["rows"])
    start, peak, peak_v, led = 0, None, -math.inf, []

    def close(peak):
        t = peak * block_s
        if all(abs(t - c) >= min_region_s for c in cuts + led):
            lo, hi = int((t - radius_s) / hop_s), int((t + radius_s) / hop_s) + 1
            lo, hi = max(lo, 0), min(hi, steps.shape[0])
            led.append((lo + int(np.argmax(steps[lo:hi]))) * hop_s if hi > lo else t)
            return True
        return False

    for first in range(n):
        last = max([c for c in cuts + led if c <= first * block_s], default=0.0)
        start = int(round(last / block_s))
        before = min(first - start, past)
        x = tc.value(v[0], v[1], first, before, v[2], v[3]) if before >= n_min else math.nan
        if x == x and x > offset:
            if peak is None or x > peak_v:
                peak, peak_v = first, x
        elif peak is not None:
            close(peak)
            peak, peak_v = None, -math.inf
    if peak is not None:
        close(peak)
    return sorted(cuts + led)


def main(argv=None):
    ap = D.screen_parser(__doc__, "tag_led_screen")
    args = ap.parse_args(argv)
    data, spec, config, audio, models, an, tags, t0 = D.setup(args)
    hop_s = spec.hop_seconds

    def load(recs, what):
        return [(rec, S.capture_cues(fr, spec), tags.of(rec), step_series(fr.mel, hop_s))
                for rec, fr in D.analysed(recs, an, audio, what)]

    sets = {seed: load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=seed), f"dev medleys {seed}")
            for seed in (7, 8)}
    clips = load(D.single_clips(data, audio, (0, 1)), "dev clips")
    centre = {r: np.concatenate([T.representation(m, r) for _, _, m, _ in clips]).mean(0) for r in T.REPRS}
    block_s = clips[0][1]["block_s"]
    block_hops = int(round(block_s / hop_s))

    def with_cue(items):
        return [(rec, cap, T.TagCue(m, len(cap["rows"]), block_s, hop_s, block_hops, centre), st)
                for rec, cap, m, st in items]

    sets = {k: with_cue(v) for k, v in sets.items()}
    clips = with_cue(clips)
    minutes = [len(cap["rows"]) * block_s / 60 for _, cap, _, _ in clips]
    base = {"w_novelty": config.region_weights[0], "w_mood": config.region_weights[2],
            "threshold": config.region_threshold, "contrast_min_past_s": config.region_contrast_min_past_s,
            "min_region_s": config.region_min_s}
    past = clips[0][1]["contrast"].past_blocks
    n_min = max(2, int(round(config.region_contrast_min_past_s / block_s)))
    opts = {"base": base, "past": past, "n_min": n_min, "min_region_s": config.region_min_s}

    def score(v, offset, radius):
        out = {}
        for seed, items in sets.items():
            tal = S.Tally()
            for rec, cap, tc, st in items:
                cuts = (led_cuts(cap, tc, st, hop_s, v, offset, radius, **opts) if v is not None
                        else sorted(S.fuse(cap, **base)))
                tal.add_cuts(cuts, rec.bounds, rec.spans[-1][1] / 60)
            p, r, f = tal.prf()
            out[f"seed {seed}"] = {"precision": round(p, 3), "recall": round(r, 3), "f": round(f, 3)}
        clip = S.Tally()
        for m, (_, cap, tc, st) in zip(minutes, clips):
            cuts = led_cuts(cap, tc, st, hop_s, v, offset, radius, **opts) if v is not None else S.fuse(cap, **base)
            clip.add_cuts(cuts, [], m)
        out["clip_false_cuts_per_min"] = round(clip.pred / clip.minutes, 3)
        return out

    result = {"benchmark": "tag_led_screen", "machine": machine(), "step_s": STEP_S,
              "development": {"folds": [0, 1], "medley_seeds": [7, 8], "medleys_each": args.dev_medleys,
                              "clips": len(clips), "clip_minutes": round(sum(minutes), 1)},
              "defaults": score(None, 0.0, 0.0), "points": []}
    print("defaults:", result["defaults"], file=sys.stderr)
    for v in CUES:
        clip_max = []
        for _, cap, tc, _ in clips:
            n = len(cap["rows"])
            vals = [tc.value(v[0], v[1], f, min(f, past), v[2], v[3]) for f in range(n_min, n)]
            vals = [x for x in vals if x == x]
            clip_max.append(max(vals) if vals else math.nan)
        for q, radius in itertools.product(OFFSET_Q, RADIUS_S):
            offset = float(np.nanpercentile(clip_max, q))
            row = {"cue": T.vname(v), "extra_delay_s": max(0.0, v[2] - config.region_future_s),
                   "offset_clip_max_percentile": q, "offset": round(offset, 5), "radius_s": radius,
                   **score(v, offset, radius)}
            result["points"].append(row)
            print(row, file=sys.stderr)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('tag_led_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
