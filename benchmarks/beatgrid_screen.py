"""Screen judge features that tell "another song" from "another section of the same song"
(tempo and beat-grid continuity), development folds only (issue 17).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/beatgrid_screen.py [--data ../shared/data] \
        [--cache /work/cache/regions] [--out benchmarks/results/beatgrid_screen.json]

``region_false_cuts.py`` classifies the false cuts; this screen asks whether the judge gains
from four more numbers per candidate, all causal at the moment the fusion decides it (the
decision comes ``region_future_s`` + ``region_hold_s`` after the peak, so the 6 s after the
cut are heard: no added delay), read from the beat tracker's frame columns:

* ``bpm_ratio``: the median ``bpm`` over 6 s after the cut (from 0.5 s) against the 6 s before
  (to 0.5 s), folded to the nearest octave (1: the same tempo);
* ``grid_after``: the beat grid of the 6 s before the cut (the tracker's median beat period
  and its last beat) carried across it: the onset strength at the carried grid's beats over
  the 6 s after against its mean there (1: no alignment — a new song's own grid);
* ``grid_ratio``: ``grid_after`` over the same measure of the past's grid inside the past
  (how much of the song's own beat salience survives the cut);
* ``bpm_confidence_after``: the tracker's mean confidence over the 6 s after.

Protocol (``train_cut_judge.py``'s, at the shipped low threshold 0.7): the 14 features alone
and the 14 + 4, each (a) cross-fitted on the judge's training seeds 7–12 (each half of
seeds + clip fold scored by trees trained on the other half; pooled; the best F with at most
0.15 false cuts / min in the held-out clips) and (b) trained on all of seeds 7–12 and the dev
clips and scored on the held-out seeds 13–14 at (a)'s probability threshold. Block
resolution, no placement (the judge's decision, as ``fusion_screen.py``). Nothing of the
reporting folds (2–4) is read.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread, write_result  # noqa: E402

single_thread(("OMP_NUM_THREADS",))

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import fusion_screen as F  # noqa: E402
import region_false_cuts as R  # noqa: E402
import segmentation as S  # noqa: E402
import tag_screen as T  # noqa: E402
import train_cut_judge as TJ  # noqa: E402

from sonolux.features.cutjudge import FEATURES  # noqa: E402

NEW = ("bpm_ratio", "grid_after", "grid_ratio", "bpm_confidence_after")
LOW = 0.7
SPAN_S, GAP_S = 6.0, 0.5


def beat_features(cols, hop_s: float, c: float) -> list[float]:
    n = len(cols["bpm"])
    a0, a1 = max(0, int(round((c - GAP_S - SPAN_S) / hop_s))), max(0, int(round((c - GAP_S) / hop_s)))
    b0, b1 = min(n, int(round((c + GAP_S) / hop_s))), min(n, int(round((c + GAP_S + SPAN_S) / hop_s)))
    if a1 - a0 < 8 or b1 - b0 < 8:
        return [math.nan] * 4
    ba, bb = float(np.median(cols["bpm"][a0:a1])), float(np.median(cols["bpm"][b0:b1]))
    ratio = math.nan
    if ba > 0 and bb > 0:
        lr = math.log2(bb / ba)
        ratio = 2.0 ** abs(lr - round(lr))
    beats = cols["beats"]
    after = R.grid_alignment(cols["onset_strength"], beats, hop_s, c - GAP_S, c + GAP_S, c + GAP_S + SPAN_S)
    before = R.grid_alignment(cols["onset_strength"], beats, hop_s, c - GAP_S - SPAN_S / 2,
                              c - GAP_S - SPAN_S / 2, c - GAP_S)
    gr = after / before if after == after and before == before and before > 0 else math.nan
    return [ratio, after, gr, float(np.mean(cols["bpm_confidence"][b0:b1]))]


class BeatJudge(F.Judge):
    """The 14 features and the 4 of the module doc (NaN where no grid: the trees route it)."""

    def features(self, r, cut, k, seen, start_block, start_t, peak):
        x = super().features(r, cut, k, seen, start_block, start_t, peak)
        return np.concatenate([x, beat_features(r.cols, r.hop_s, cut)])


def load(recs, what, an, audio, tags, spec):
    out = []
    for rec, fr in D.analysed(recs, an, audio, what):
        r = F.Recording(rec, S.capture_cues(fr, spec), tags.of(rec), fr.mel, spec.hop_seconds)
        r.cols = {n: fr.column(n).astype(np.float64) for n in ("bpm", "bpm_confidence", "onset_strength")}
        r.cols["beats"] = np.flatnonzero(fr.column("beat") > 0) * spec.hop_seconds
        out.append(r)
    return out


def main(argv=None):
    ap = D.screen_parser(__doc__, "beatgrid_screen")
    args = ap.parse_args(argv)
    data, spec, config, audio, _, an, tags, t0 = D.setup(args)

    log = D.log

    train, held = [], []
    for i, seed in enumerate(TJ.SEEDS):
        got = load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=seed), f"dev medleys {seed}",
                   an, audio, tags, spec)
        TJ.SEED_KEYS[i % 2].update(r.rec.key for r in got)
        train += got
    for seed in (13, 14):
        held += load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=seed), f"dev medleys {seed}",
                     an, audio, tags, spec)
    clips = load(D.single_clips(data, audio, (0, 1)), "dev clips", an, audio, tags, spec)
    cap0 = clips[0].cap
    block_hops = int(round(cap0["block_s"] / spec.hop_seconds))
    centre = {r: np.concatenate([T.representation(x.marks, r) for x in clips]).mean(0) for r in T.REPRS}
    for r in train + held + clips:
        r.with_centre(centre, cap0["block_s"], block_hops)
    F.LOW_THRESHOLDS = (LOW,)
    judge = BeatJudge(config, cap0)
    result = {"benchmark": "beatgrid_screen", "machine": machine(), "low": LOW, "new_features": list(NEW),
              "train_seeds": list(TJ.SEEDS), "held_out_seeds": [13, 14], "variants": {}}
    n = len(FEATURES)
    for name, columns in (("14 features (shipped)", list(range(n))), ("14 + beat grid", list(range(n + len(NEW))))):
        cross = TJ.cross_fitted(judge, columns, train, clips, log)
        grid = cross.pop("grid")
        fit = F.train_and_choose(judge, "gbt", columns, train, clips, LOW, log)
        prob, p = fit["_prob"], cross["p"]
        t = F.tally(judge, held, [], lambda r: judge.run(r, LOW, lambda x: prob(x) >= p))
        t.pop("_found")
        for k in ("clip_false_cuts_per_min", "clip_cuts", "clip_minutes"):
            t.pop(k)
        imp = None
        model = fit.get("_model")
        if model is not None:  # how often the trees split on each feature
            counts = np.zeros(len(columns), int)
            for (pred,) in model._predictors:
                nodes = pred.nodes
                for f, leaf in zip(nodes["feature_idx"], nodes["is_leaf"]):
                    if not leaf:
                        counts[f] += 1
            names = list(FEATURES) + list(NEW)
            imp = {names[c]: int(counts[i]) for i, c in enumerate(columns)}
        result["variants"][name] = {"cross_fitted_7_12": cross, "held_out_13_14": t, "split_counts": imp,
                                    "cross_grid": [g for g in grid if abs(g["p"] - p) < 0.11]}
        log(f"{name}: cross {cross} held-out {t}")
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('beatgrid_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
