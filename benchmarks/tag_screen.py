"""Screen a learned-embedding cue for the region cuts on the development folds (issue 17).

    nice -n 10 python benchmarks/tag_screen.py [--data ../shared/data] [--cache /work/cache/regions]

About a third of the joins the fused cues miss are between songs whose 64-band mel spectra
look alike. The shipped emotion model's trunk (the pretrained MSD-musicnn, trained to tell
songs and genres apart) already gives 50 MagnaTagATune tags every 0.5 s mark, free at run
time — a far richer song descriptor than the 4 quadrant probabilities the mood cue uses.
This screen asks, before anything is built into the engine, whether a cue on those tags
finds the missed joins without cutting whole songs:

1. **Tags per mark, as the live engine computes them** (``_regionsdata.mark_predictions``:
   the engine's own ``InferenceStage`` marks and ``InferenceWorker`` — resampling,
   ``FeatureStream``, the streaming model, EMA smoothing — hop by hop, in step as
   ``analyze`` runs them), cached as a sidecar ``--cache``/tags beside the frame cache (the
   frame cache holds no tag vectors; ``CACHE_VERSION`` unchanged). The smoothed quadrant
   probabilities it computes are checked against the cached frames' (``fidelity`` in the JSON).
2. **Causal cues** at each 0.1 s block's boundary with the timbre contrast's windows: the
   marks of the current region up to 15 s before the boundary against the marks made between
   ``skip`` s and ``future`` s after it. A mark's prediction covers the 4 s of audio before it
   (its features need 1.17 s of later audio inside that), so a mark less than 4 s after the
   boundary mixes both songs: ``skip`` 2 s is the mood cue's rule (most of the window after),
   4 s wholly after; a ``future`` longer than the region's 6 s delays every cut by the
   difference (stated per variant as ``extra_delay_s``). Kinds: ``cos`` — cosine distance of
   the two sides' mean vectors (centred on the development clips' mean tag vector); ``gauss``
   — the contrast's two-window Gaussian test per tag (squared mean difference over the mean
   spread plus a share of the mean spread over all tags, plus a floor). Representations: the
   raw per-mark tags (``raw``), the engine's smoothed tags (``smooth``, EMA 2 s: what a frame
   carries), the raw tags' logits (``logit``).
3. **Separation**: for each development join the default cues miss (no cut within ±0.5 s),
   the cue at the join (past = the song before it, up to 15 s) against the highest value the
   cue reaches inside each whole development clip (the 90th / 95th percentile of those
   per-clip maxima), and the cue at found joins and at every in-song boundary (the
   within-song spread), so a cue that does not separate says by how much.
4. **Fusion**: the best cue by separation for each future window, and the next best,
   added to the default fusion (in the energy cue's slot), replayed block by block with the
   restart after each cut exactly as ``segmentation.fuse``, over a grid of weights, offsets
   (percentiles of the per-clip maxima) and thresholds: development boundary P / R / F and
   false cuts per minute in the development clips (admitted: ≤ 0.15 / min). Two forms:
   ``additive`` — ``w · (cue − offset)`` like the other cues; ``bonus`` — at most ``w``,
   reached ``span`` above the offset: the tag cue is a plateau a prediction window wide
   around a join (``peak_offset_s``: where its highest value within ±4 s of a join lies),
   so it cannot place a cut; as a bounded bonus it leaves the placing to the timbre cues' peak.
5. **Carry-over**: the best admitted point scored on 24 other development medleys (folds
   0–1, medley seed 8; ``--confirm-seed``).

Committed runs: ``benchmarks/results/tag_screen.json`` (the defaults), ``tag_screen_swap.json``
(``--dev-seed 8 --confirm-seed 7``: chosen on the other 24 development medleys, confirmed
on the benchmark's).
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
from _common import machine, write_result  # noqa: E402

from sonolux.features.tagcue import SPREAD_SHARE, TAG_FLOOR, tag_distance, tag_representation  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **_):
        return x

REPRS = ("raw", "smooth", "logit")
KINDS = ("cos", "gauss")
WINDOWS = ((6.0, 2.0), (6.0, 3.0), (6.0, 4.0), (8.0, 2.0), (8.0, 4.0), (10.0, 4.0))  # (future s, skip s)
FLOOR = TAG_FLOOR
SHARE = SPREAD_SHARE
QUANTILES = (50, 90, 95, 98, 99)  # of the cue's per-clip maxima


def representation(marks: dict, kind: str) -> np.ndarray:
    if kind == "smooth":
        return marks["tags"].astype(np.float64)
    return tag_representation(marks["raw_tags"], kind)  # the engine's (the cut judge reads it live)


class TagCue:
    """A recording's marks in 0.1 s blocks and the past-vs-future cues on them, for any
    boundary block and past (cumulative sums: each value costs O(tags))."""

    def __init__(self, marks: dict, n_blocks: int, block_s: float, hop_s: float, block_hops: int,
                 centre: dict):
        # the mark made after hop h is in the frame of hop h + 1 (index h): the block of that hop
        hop_index = np.rint(marks["t"] / hop_s).astype(int)
        block = hop_index // block_hops
        keep = block < n_blocks
        self.block_s = block_s
        self.count = np.zeros(n_blocks + 1)
        np.add.at(self.count, block[keep] + 1, 1.0)
        self.count = np.cumsum(self.count)
        self.sums, self.squares = {}, {}
        for r in REPRS:
            v = representation(marks, r)[keep] - centre[r]
            s1 = np.zeros((n_blocks + 1, v.shape[1]))
            s2 = np.zeros_like(s1)
            np.add.at(s1, block[keep] + 1, v)
            np.add.at(s2, block[keep] + 1, v * v)
            self.sums[r], self.squares[r] = np.cumsum(s1, 0), np.cumsum(s2, 0)
        self.n = n_blocks

    def side(self, r, a, b):
        n = self.count[b] - self.count[a]
        if n < 1:
            return None
        m = (self.sums[r][b] - self.sums[r][a]) / n
        var = np.maximum((self.squares[r][b] - self.squares[r][a]) / n - m * m, 0.0)
        return m, var

    def value(self, r: str, kind: str, first: int, before: int, future_s: float, skip_s: float) -> float:
        fut, skip = int(round(future_s / self.block_s)), int(round(skip_s / self.block_s))
        if first - before < 0 or first + fut > self.n or before < 2:
            return math.nan
        a, b = self.side(r, first - before, first), self.side(r, first + skip, first + fut)
        if a is None or b is None:
            return math.nan
        (ma, va), (mb, vb) = a, b
        return float(tag_distance(KINDS.index(kind), ma, va, mb, vb, FLOOR[r]))  # the engine's formula


def variants(reprs=REPRS, kinds=KINDS, windows=WINDOWS):
    return [(r, k, f, s) for r in reprs for k in kinds for f, s in windows]


def vname(v) -> str:
    r, k, f, s = v
    return f"{k}-{r}-future{f:g}-skip{s:g}"


def main(argv=None):
    ap = D.screen_parser(__doc__, "tag_screen")
    ap.add_argument("--fusion-variants", type=int, default=5,
                    help="how many cues the fusion grid tries: the best by separation per future window, "
                         "then the next best")
    ap.add_argument("--dev-seed", type=int, default=7,
                    help="the medleys the grid is chosen on (7: the segmentation benchmark's development medleys)")
    ap.add_argument("--confirm-seed", type=int, default=8,
                    help="score the chosen point on other development medleys (folds 0-1, this seed)")
    args = ap.parse_args(argv)
    data, spec, config, audio, models, an, tags, t0 = D.setup(args)
    fidelity = []

    def load(recs, what):
        out = []
        for rec, fr in D.analysed(recs, an, audio, what):
            marks = tags.of(rec)
            # the sidecar's smoothed probabilities against the cached frames' (same engine code)
            pid = fr.column("prediction_id")
            new = np.flatnonzero(np.diff(pid) != 0) + 1
            new = new[pid[new] > 0]
            q = np.stack([fr.column(f"q{k}") for k in range(1, 5)], 1)[new]
            n = min(len(new), len(marks["t"]))
            heard = fr.column("silence")[new[:n]] == 0  # the silence gate holds a frame's mood
            diff = np.abs(q[:n] - marks["probs"][:n]).max(1)
            fidelity.append((int(heard.sum()), int((diff[heard] > 1e-4).sum()), float(diff[heard].max(initial=0.0)),
                             int((diff[~heard] > 1e-4).sum())))
            out.append((rec, fr, S.capture_cues(fr, spec), marks))
        return out

    dev = load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=args.dev_seed), "dev medleys")
    clips = load(D.single_clips(data, audio, (0, 1)), "dev clips")
    all_clip_marks = [m for _, _, _, m in clips]
    centre = {r: np.concatenate([representation(m, r) for m in all_clip_marks]).mean(0) for r in REPRS}
    block_s = dev[0][2]["block_s"]
    block_hops = int(round(block_s / spec.hop_seconds))

    def cue_of(item):
        _, _, cap, marks = item
        return TagCue(marks, len(cap["rows"]), block_s, spec.hop_seconds, block_hops, centre)

    dev = [(*x, cue_of(x)) for x in dev]
    clips = [(*x, cue_of(x)) for x in clips]
    clip_minutes = [len(cap["rows"]) * block_s / 60 for _, _, cap, _, _ in clips]
    result = {"benchmark": "tag_screen", "machine": machine(), "floor": FLOOR, "spread_share": SHARE,
              "fidelity": {"marks_with_sound": sum(f[0] for f in fidelity),
                           "differing_by_more_than_1e-4": sum(f[1] for f in fidelity),
                           "max_abs_probs_diff": max(f[2] for f in fidelity),
                           "marks_in_silence_held_by_the_gate_differing": sum(f[3] for f in fidelity)},
              "development": {"folds": [0, 1], "medleys": len(dev), "seed": args.dev_seed, "clips": len(clips),
                              "clip_minutes": round(sum(clip_minutes), 1)},
              "region_future_s": config.region_future_s}
    base = {"w_novelty": config.region_weights[0], "w_mood": config.region_weights[2],
            "threshold": config.region_threshold, "contrast_min_past_s": config.region_contrast_min_past_s,
            "min_region_s": config.region_min_s}
    past = dev[0][2]["contrast"].past_blocks
    n_min = max(2, int(round(config.region_contrast_min_past_s / block_s)))

    # ---- separation ----------------------------------------------------------------------
    vs = variants()
    clip_max = {v: [] for v in vs}
    in_song = {v: [] for v in vs}
    for _, _, cap, _, tc in tqdm(clips, desc="in-song values", file=sys.stderr):
        n = len(cap["rows"])
        for v in vs:
            vals = [tc.value(v[0], v[1], first, min(first, past), v[2], v[3]) for first in range(n_min, n)]
            vals = [x for x in vals if x == x]
            clip_max[v].append(max(vals) if vals else math.nan)
            in_song[v].extend(vals)
    levels = {v: {q: float(np.nanpercentile(clip_max[v], q)) for q in QUANTILES} for v in vs}
    w = config.region_weights

    def score_near(cap, b):
        """The default fused score's highest value within ±0.5 s of ``b`` (uncut stream)."""
        rows = cap["rows"]
        near = np.abs(rows[:, 0] - b) <= 0.5
        parts = np.nan_to_num(np.clip(rows[near, 1:], 0, None)) * np.array([w[0], 0.0, w[2], w[3]])
        return float(parts.sum(1).max()) if near.any() else math.nan

    joins = []
    for rec, _, cap, _, tc in dev:
        found = {i for i, _ in S.match(S.fuse(cap, **base), rec.bounds)}
        for i, b in enumerate(rec.bounds):
            prev = rec.bounds[i - 1] if i else 0.0
            first = int(round(b / block_s))
            before = min(first - int(round(prev / block_s)), past)
            joins.append({"medley": rec.key, "t": round(b, 2),
                          "kind": "crossfade" if any(rec.meta["crossfade_s"]) else "hard",
                          "found": i in found, "past_s": round(before * block_s, 1),
                          "default_score_within_0.5_s": round(score_near(cap, b), 3),
                          "values": {vname(v): round(tc.value(v[0], v[1], first, before, v[2], v[3]), 5)
                                     for v in vs}})
    sep = {}
    for v in vs:
        name = vname(v)
        entry = {"extra_delay_s": max(0.0, v[2] - config.region_future_s),
                 "in_song": {"median": round(float(np.median(in_song[v])), 5),
                             "p90": round(float(np.percentile(in_song[v], 90)), 5)},
                 "clip_max_percentiles": {f"p{q}": round(x, 5) for q, x in levels[v].items()}}
        missed = [j for j in joins if not j["found"]]
        entry["missed_default_score_median"] = round(float(np.nanmedian(
            [j["default_score_within_0.5_s"] for j in missed])), 3)
        for group in ("missed", "found"):
            vals = [j["values"][name] for j in joins if j["found"] == (group == "found")]
            vals = [x for x in vals if x == x]
            entry[group] = {"joins": len(vals), "median": round(float(np.median(vals)), 5),
                            **{f"above_clip_max_p{q}": int(sum(x > lv for x in vals))
                               for q, lv in levels[v].items()}}
        sep[name] = entry
    # where the cue peaks around a join: its highest value within ±4 s (past capped as above)
    for v in vs:
        offs = []
        for rec, _, _, _, tc in dev:
            for i, b in enumerate(rec.bounds):
                prev = rec.bounds[i - 1] if i else 0.0
                first = int(round(b / block_s))
                before = min(first - int(round(prev / block_s)), past)
                prof = [tc.value(v[0], v[1], first + d, before + d, v[2], v[3]) for d in range(-40, 41)]
                if any(x == x for x in prof):
                    offs.append((int(np.nanargmax(prof)) - 40) * block_s)
        sep[vname(v)]["peak_offset_s"] = {"median": round(float(np.median(offs)), 2),
                                          "p10": round(float(np.percentile(offs, 10)), 2),
                                          "p90": round(float(np.percentile(offs, 90)), 2),
                                          "within_0.5_s": int(sum(abs(o) <= 0.5 for o in offs)), "joins": len(offs)}
    result["separation"] = sep
    result["joins"] = joins
    order = sorted(vs, key=lambda v: (sep[vname(v)]["missed"]["above_clip_max_p98"],
                                      sep[vname(v)]["missed"]["above_clip_max_p95"]), reverse=True)
    for v in order[:8]:
        e = sep[vname(v)]
        print(vname(v), "missed", e["missed"], "found", e["found"]["median"], "in-song", e["in_song"],
              file=sys.stderr)

    # ---- fusion sweep ---------------------------------------------------------------------
    # "additive": w · (cue − offset), as the other cues; "bonus": at most w, reached when the
    # cue is ``span`` above the offset — the tag cue is a plateau about one prediction window
    # wide around a join (its 4 s windows cannot place a change), so as a bounded bonus it lets
    # the timbre cues' peak place the cut and only decides whether there is one
    def point(v, medleys=dev, *, form, w_tag, offset, span=1.0, **opts):
        def extra_of(tc):
            def cue(first, before):
                x = tc.value(v[0], v[1], first, before, v[2], v[3]) - offset
                if form == "additive" or x != x:  # NaN (a window not filled yet): no cue
                    return x
                return min(1.0, x / span)
            return cue

        med, clip = S.Tally(), S.Tally()
        for rec, _, cap, _, tc in medleys:
            med.add_cuts(S.fuse(cap, w_energy=w_tag, extra=extra_of(tc) if w_tag else None, **opts),
                         rec.bounds, rec.spans[-1][1] / 60)
        for minutes, (_, _, cap, _, tc) in zip(clip_minutes, clips):
            clip.add_cuts(S.fuse(cap, w_energy=w_tag, extra=extra_of(tc) if w_tag else None, **opts), [], minutes)
        p, r, f = med.prf()
        return {"cue": vname(v), "extra_delay_s": max(0.0, v[2] - config.region_future_s), "form": form, "w_tag": w_tag, "offset": offset, "span": span, **opts,
                "precision": round(p, 3), "recall": round(r, 3), "f": round(f, 3),
                "clip_false_cuts_per_min": round(clip.pred / clip.minutes, 3)}

    rows = [point(vs[0], form="additive", w_tag=0.0, offset=0.0, **base)]
    print("without the tag cue:", rows[0], file=sys.stderr)
    grid = []
    # the best cue by separation for each future window (6 s: no extra delay), then the next best
    chosen = [next(v for v in order if v[2] == f) for f in sorted({w[0] for w in WINDOWS})]
    chosen += [v for v in order if v not in chosen][:max(0, args.fusion_variants - len(chosen))]
    for v in chosen:
        p50 = levels[v][50]
        for w_scale, off_q, thr in itertools.product((0.1, 0.25), (95,), (1.0,)):
            off = float(np.nanpercentile(clip_max[v], off_q))
            grid.append((v, dict(form="additive", w_tag=round(w_scale / p50, 4), offset=round(off, 5), threshold=thr)))
        for w, off_q, span_q, thr in itertools.product((0.2, 0.35, 0.5, 0.7, 0.9), (95, 98, 99), (0.25, 1.0),
                                                       (1.0, 1.1, 1.2)):
            off = float(np.nanpercentile(clip_max[v], off_q))
            grid.append((v, dict(form="bonus", w_tag=w, offset=round(off, 5), span=round(span_q * p50, 5),
                                 threshold=thr)))
    for v, opts in tqdm(grid, desc="fusion sweep", file=sys.stderr):
        rows.append(point(v, **{**base, **opts}))
    ok = [r for r in rows if r["clip_false_cuts_per_min"] <= S.DEV_FALSE_CUTS_MAX]
    best = max(ok, key=lambda r: (r["f"], r["precision"])) if ok else None
    per_future = {}
    for r in ok:
        key = f"future {r['cue'].split('future')[1].split('-')[0]} s"
        if r["w_tag"] and (key not in per_future or (r["f"], r["precision"]) > (per_future[key]["f"], per_future[key]["precision"])):
            per_future[key] = r
    result.update({"sweep": rows, "best_admitted": best, "best_admitted_per_future": per_future,
                   "without_tag_cue": rows[0]})
    print("best admitted:", best, file=sys.stderr)
    if args.confirm_seed is not None and best is not None and best["w_tag"]:
        other = [(*x, cue_of(x)) for x in load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1),
                                                         seed=args.confirm_seed),
                                               f"dev medleys seed {args.confirm_seed}")]
        v = next(v for v in vs if vname(v) == best["cue"])
        chosen = {k: best[k] for k in ("form", "w_tag", "offset", "span", *base)}
        result["confirm"] = {"seed": args.confirm_seed, "medleys": len(other),
                             "without_tag_cue": point(v, other, **{**base, "form": "additive", "w_tag": 0.0,
                                                                   "offset": 0.0}),
                             "chosen": point(v, other, **chosen)}
        print("confirm:", result["confirm"], file=sys.stderr)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    path = write_result("tag_screen", result, args.out)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
