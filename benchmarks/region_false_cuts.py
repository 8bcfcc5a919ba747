"""Why the region stage cuts where there is no join: every false cut on development medleys (issue 17).

    nice -n 5 python benchmarks/region_false_cuts.py [--data ../shared/data] [--cache /work/cache/regions] \
        [--seeds 19,20] [--cross shipped] [--out benchmarks/results/region_false_cuts.json]

Development folds only (0–1); nothing of the reporting folds (2–4) is read.

**Held out, live** (``--seeds``, default 19,20: never trained on by the shipped judge; 13,14 for the
judges before 2026-12-04's evening): each
medley runs through the live region stage with the judge exactly as ``region_misses.py`` runs
it (``region_misses.run``: cached frames, the per-mark raw tags replayed), the judge's 14
features recorded at each candidate. Each published cut not matched to a join within ±0.5 s
(the benchmark's greedy one-to-one matching) is one of:

* ``placed_off``: an unmatched join within 0.5–1.5 s (the cut found the join but placed it
  off: it costs a false cut and a missed join);
* ``double``: a join within 1.5 s that another cut matched (a second cut of the same join);
* ``far_off``: a join 1.5–6 s away that no cut found (``region_min_s`` is 6 s, so not a
  second cut of a found join: the join's excursion peaked, or was decided, that far off);
* ``in_song``: no join within 1.5 s and no unfound one within 6 s — a change inside one
  excerpt (the excerpt, the time since it began / before it ends, its genres).

For every false cut and, to compare, every correct one: the judge's probability and
features, the cue values at the decided block (novelty, mood, contrast; ``fired``: the
largest weighted term of the fused score), and proxies of what changed (non-causal, both
sides of the cut, diagnosis only; ``CHANGE_S`` before / after, skipping ``GAP_S`` either
side): the level (dB), the tempo the engine's beat tracker reports (``bpm``; the ratio
after / before, folded to the nearest octave), its confidence, the onset rate, and the
beat-grid continuity — the beat grid of the ``CHANGE_S`` before the cut (the tracker's
median beat period and its last beat) carried across the cut: the onset strength's mean at
the carried grid's beats after the cut against its mean over all hops there
(``grid_after``; 1 = no alignment), and the same of the grid inside the past
(``grid_before``). ``separation_found_vs_in_song_and_far_off``: per proxy and judge feature, the
median for correct cuts / false cuts away from any join (``in_song`` and ``far_off``) and the
area under the ROC curve (1: every false cut below every correct one).

**Cross-fitted** (``--cross``, default ``shipped``: the shipped judge's training data as its
file's ``trained_on`` records it — seeds, song-disjoint halves, POP909 dev songs —; a seed
list keeps the rest of that recipe; ``--cross ''`` skips it): ``train_cut_judge.py``'s halves
(``train_cut_judge.development_data``) — trees trained on one half (``fusion_screen.train_and_choose``, the same recipe) judge the
other half's candidates at the shipped judge's low and probability thresholds, on the
captured cue series (block resolution, no placement: the judge's decision, not the live
stage's cut times). Each kept false candidate is classified the same way (``placed_off`` is
here a join 0.5–1.5 s off at block resolution) with its probability and features.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread, write_result  # noqa: E402

single_thread(("OMP_NUM_THREADS",))

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import region_misses as M  # noqa: E402
import segmentation as S  # noqa: E402

from sonolux.features.cutjudge import FEATURES, load_judge  # noqa: E402

FAR_S = 6.0  # a false cut within this of a join no cut found: that join's cue, decided far off
CHANGE_S = 6.0  # the span either side of a cut the change proxies read
GAP_S = 0.5  # ... skipping this much either side
CUE_NAMES = ("novelty", "mood", "contrast")


def auc(pos, neg) -> float | None:
    """P(a correct cut's value > a false cut's), ties half (the Mann-Whitney statistic)."""
    pos, neg = np.asarray([x for x in pos if x == x]), np.asarray([x for x in neg if x == x])
    if not len(pos) or not len(neg):
        return None
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return round(float(gt / (len(pos) * len(neg))), 3)


def grid_alignment(onset: np.ndarray, beats: np.ndarray, hop_s: float, t_grid_end: float, t0: float, t1: float):
    """The onset strength at the beats of the grid fitted to ``beats`` (beat times up to
    ``t_grid_end``: median period, the last beat as phase) carried over [t0, t1), against
    its mean over all hops there; NaN without a grid (fewer than 4 beats)."""
    b = beats[beats <= t_grid_end]
    if len(b) < 4:
        return math.nan
    period = float(np.median(np.diff(b[-12:])))
    if not 0.25 <= period <= 1.5:
        return math.nan
    h0, h1 = int(round(t0 / hop_s)), min(int(round(t1 / hop_s)), len(onset))
    if h1 - h0 < 8:
        return math.nan
    base = float(onset[h0:h1].mean())
    if base <= 0:
        return math.nan
    k0 = math.ceil((t0 - b[-1]) / period)
    at = []
    t = b[-1] + k0 * period
    while t < t1:
        h = int(round(t / hop_s))
        if h0 <= h < h1:
            at.append(float(onset[max(h0, h - 1):min(h1, h + 2)].max()))
        t += period
    return float(np.mean(at)) / base if at else math.nan


def change_proxies(fr: D.Frames, hop_s: float, t: float) -> dict:
    """What changed around ``t`` (module doc; non-causal, diagnosis only)."""
    n = fr.values.shape[0]
    col = {name: fr.column(name) for name in ("level_db", "bpm", "bpm_confidence", "onset", "onset_strength", "beat")}
    a0, a1 = max(0, int(round((t - GAP_S - CHANGE_S) / hop_s))), max(0, int(round((t - GAP_S) / hop_s)))
    b0, b1 = min(n, int(round((t + GAP_S) / hop_s))), min(n, int(round((t + GAP_S + CHANGE_S) / hop_s)))
    if a1 - a0 < 8 or b1 - b0 < 8:
        return {}

    def mean(name, lo, hi):
        return float(np.nanmean(col[name][lo:hi]))

    bpm_a, bpm_b = float(np.nanmedian(col["bpm"][a0:a1])), float(np.nanmedian(col["bpm"][b0:b1]))
    ratio = bpm_b / bpm_a if bpm_a > 0 and bpm_b > 0 else math.nan
    if ratio == ratio:
        ratio = 2.0 ** abs(math.log2(ratio) - round(math.log2(ratio)))  # folded to the nearest octave
    beats = np.flatnonzero(col["beat"] > 0) * hop_s
    sec = (a1 - a0) * hop_s
    return {"level_change_db": round(abs(mean("level_db", b0, b1) - mean("level_db", a0, a1)), 2),
            "bpm_before": round(bpm_a, 1), "bpm_after": round(bpm_b, 1),
            "bpm_ratio_folded": None if ratio != ratio else round(ratio, 3),
            "bpm_confidence_before": round(mean("bpm_confidence", a0, a1), 3),
            "bpm_confidence_after": round(mean("bpm_confidence", b0, b1), 3),
            "onset_rate_change": round(abs(float(col["onset"][b0:b1].sum()) - float(col["onset"][a0:a1].sum())) / sec, 2),
            "grid_before": M.nan_round(grid_alignment(col["onset_strength"], beats, hop_s, t - GAP_S - CHANGE_S / 2,
                                                      t - GAP_S - CHANGE_S / 2, t - GAP_S)),
            "grid_after": M.nan_round(grid_alignment(col["onset_strength"], beats, hop_s, t - GAP_S,
                                                     t + GAP_S, t + GAP_S + CHANGE_S))}


PROXIES = ("level_change_db", "bpm_ratio_folded", "bpm_confidence_after", "onset_rate_change", "grid_after")


def excerpt_of(rec, t: float) -> dict:
    for i, (s, e) in enumerate(rec.spans):
        if s <= t < e:
            c = rec.meta["_picked"][i][0]
            return {"excerpt": i, "song": c["song"], "genres": c["genres"], "since_start_s": round(t - s, 2),
                    "before_end_s": round(e - t, 2)}
    return {}


def classify(rec, cuts) -> list[tuple[int, str, float | None]]:
    """(cut index, kind, signed distance to the nearest join) for every cut: found / placed_off / double / far_off / in_song."""
    matched = {j: i for i, j in S.match(cuts, rec.bounds)}
    out = []
    for j, c in enumerate(cuts):
        d = min(rec.bounds, key=lambda b: abs(c - b)) - c if rec.bounds else None
        near = [i for i, b in enumerate(rec.bounds) if abs(c - b) <= S.LOOSE_S]
        far = [i for i, b in enumerate(rec.bounds) if abs(c - b) <= FAR_S and i not in matched.values()]
        if j in matched:
            kind = "found"
        elif any(i not in matched.values() for i in near):
            kind = "placed_off"
        elif near:
            kind = "double"
        elif far:
            kind = "far_off"
        else:
            kind = "in_song"
        out.append((j, kind, None if d is None else round(-d, 3)))
    return out


class FeatureCues(M.InstrumentedCues):
    """The instrumented live cues, recording the judge's features at each candidate too."""

    def attach_judge(self, judge, on: bool) -> None:
        if judge is not None and not hasattr(judge, "_feat_wrapped"):
            keep = judge.keep
            self.log_features = []

            def logged_keep(cut, *a):
                ok = keep(cut, *a)
                self.log_features.append((cut, judge.x.copy()))
                return ok

            judge.keep = logged_keep
            judge._feat_wrapped = True
        super().attach_judge(judge, on)


def cue_row(blocks, t: float, weights) -> dict:
    k = int(np.argmin(np.abs(blocks[:, 0] - t)))
    nov, mood, con = blocks[k, 1], blocks[k, 2], blocks[k, 3]
    terms = {"novelty": weights[0] * max(nov, 0.0) if nov == nov else 0.0,
             "mood": weights[2] * max(mood, 0.0) if mood == mood else 0.0,
             "contrast": weights[3] * max(con, 0.0) if con == con else 0.0}
    return {"novelty": M.nan_round(nov), "mood": M.nan_round(mood), "contrast": M.nan_round(con),
            "score": round(float(blocks[k, 4]), 3), "fired": max(terms, key=terms.get)}


def held_out(args, data, spec, config, audio, an, mark_tags, version, log) -> dict:
    M.InstrumentedCues = FeatureCues  # region_misses.run builds the cues by this name
    rows, tally = [], S.Tally()
    hop_s = spec.hop_seconds
    for seed in args.seeds:
        recs = D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=seed)
        for rec, fr in D.analysed(recs, an, audio, f"dev medleys {seed}"):
            tags = S.MarkSource(mark_tags.of(rec), spec.hop_seconds, version)
            cuts, cues = M.run(fr, spec, config, tags)
            tally.add_cuts(cuts, rec.bounds, rec.spans[-1][1] / 60)
            blocks = np.array(cues.log_blocks, dtype=np.float64)
            kept = [(c, p) for c, _, p, k in cues.log_candidates if k]
            feats = cues.log_features
            xfade = any(rec.meta["crossfade_s"])
            for j, kind, dist in classify(rec, cuts):
                c = cuts[j]
                # the kept candidate this cut came from (the placement moves it by up to ~1 s)
                cand = min(kept, key=lambda k: abs(k[0] - c)) if kept else None
                row = {"seed": seed, "medley": rec.key, "joins": "crossfade" if xfade else "hard", "t": round(c, 3),
                       "kind": kind, "to_nearest_join_s": dist}
                if cand is not None and abs(cand[0] - c) <= S.LOOSE_S:
                    row["cue_t"] = round(cand[0], 3)
                    row["probability"] = M.nan_round(cand[1])
                    x = min(feats, key=lambda f: abs(f[0] - cand[0]))[1]
                    row["features"] = {n: round(float(v), 3) for n, v in zip(FEATURES, x)}
                    row["cues"] = cue_row(blocks, cand[0], config.region_weights)
                row["change"] = change_proxies(fr, hop_s, c)
                if kind in ("in_song", "far_off"):
                    row.update(excerpt_of(rec, c))
                rows.append(row)
    p, r, f = tally.prf()
    false = [x for x in rows if x["kind"] != "found"]
    out = {"medleys": {"precision": round(p, 3), "recall": round(r, 3), "f": round(f, 3), "found": tally.tp,
                       "joins": tally.true, "cuts": tally.pred, "false_cuts": tally.pred - tally.tp,
                       "minutes": round(tally.minutes, 1)}}
    out["false_by_kind"] = count(false)
    out["summary"] = summarise(rows)
    out["cuts"] = rows
    log(f"held out: {out['medleys']} {out['false_by_kind']}")
    return out


def count(rows) -> dict:
    by = {}
    for x in rows:
        d = by.setdefault(x["kind"], {"all": 0, "hard": 0, "crossfade": 0})
        d["all"] += 1
        d[x["joins"]] += 1
    return by


def summarise(rows) -> dict:
    found = [x for x in rows if x["kind"] == "found"]
    ins = [x for x in rows if x["kind"] == "in_song"]
    out = {}
    for name, group in (("found", found), ("in_song", ins), ("far_off", [x for x in rows if x["kind"] == "far_off"]),
                        ("placed_off", [x for x in rows if x["kind"] == "placed_off"])):
        probs = [x["probability"] for x in group if x.get("probability") is not None]
        out[name] = {"n": len(group), "probability_median": round(float(np.median(probs)), 3) if probs else None,
                     "probability_over_0_5": sum(p >= 0.5 for p in probs),
                     "fired": {c: sum(x.get("cues", {}).get("fired") == c for x in group) for c in CUE_NAMES}}
    away = [x for x in rows if x["kind"] in ("in_song", "far_off")]

    def med(v):
        return round(float(np.median(v)), 3) if v else None

    sep = {}
    for pname in PROXIES:
        a = [x["change"].get(pname) for x in found if x["change"].get(pname) is not None]
        b = [x["change"].get(pname) for x in away if x["change"].get(pname) is not None]
        sep[pname] = {"found_median": med(a), "away_median": med(b), "auc": auc(a, b)}
    for fname in FEATURES:
        a = [x["features"][fname] for x in found if "features" in x]
        b = [x["features"][fname] for x in away if "features" in x]
        sep["feature:" + fname] = {"found_median": med(a), "away_median": med(b), "auc": auc(a, b)}
    out["separation_found_vs_in_song_and_far_off"] = sep
    return out


def cross_fitted(args, bench: D.Bench, log) -> dict:
    """The judge's training seeds, each half judged by trees of the other half (module doc)."""
    import fusion_screen as F
    import train_cut_judge as J

    shipped = load_judge()
    low, p_thr = shipped.low_threshold, shipped.probability_threshold
    recipe = shipped.doc.get("trained_on", {})
    seeds = recipe.get("medleys", {}).get("seeds", list(J.SEEDS)) if args.cross == "shipped" else args.cross
    # the join-net feature as the shipped judge was trained on it: each half's from a net of the other fold
    want = recipe.get("join_nets")
    nets = None
    if isinstance(want, dict):
        nets, files = J.fold_join_nets(None, args.data, args.cache)
        for f, file in files.items():
            sha = file["sha1"]
            if want.get(f"fold{f}", {}).get("sha1") != sha:
                sys.exit(f"{args.cache}/join_nets/fold{f}.json is not the net the shipped judge was trained with "
                         f"(sha1 {sha[:12]}…, the judge file names {want.get(f'fold{f}', {}).get('sha1', '?')[:12]}…)")
    dev = J.development_data(
        bench, args.dev_medleys, seeds, song_disjoint=bool(recipe.get("medleys", {}).get("song_disjoint_halves")),
        pop909_dev=len(recipe.get("pop909_songs", [])), cache=args.cache, join_nets=nets)
    judge, halves = dev.judge, dev.halves
    columns = list(range(len(FEATURES)))
    rows, tally, alone = [], S.Tally(), {}
    for a, b in ((0, 1), (1, 0)):
        fit = F.train_and_choose(judge, "gbt", columns, *halves[a], low, log)
        prob = fit["_prob"]
        for r in halves[b][0]:
            kept = []  # (features) of each kept candidate, in the order of the cuts

            def accept(x, kept=kept):
                ok = prob(x) >= p_thr
                if ok:
                    kept.append(x)
                return ok

            cuts = judge.run(r, low, accept)
            tally.add_cuts(cuts, r.bounds, r.minutes)
            xfade = any(r.rec.meta["crossfade_s"])
            for j, kind, dist in classify(r.rec, cuts):
                if kind == "found":
                    continue
                c = cuts[j]
                row = {"medley": r.rec.key, "joins": "crossfade" if xfade else "hard",
                       "t": round(c, 3), "kind": kind, "to_nearest_join_s": dist}
                if len(kept) == len(cuts):
                    x = kept[j]
                    row["probability"] = round(prob(x), 3)
                    row["features"] = {n: round(float(v), 3) for n, v in zip(FEATURES, x)}
                if kind in ("in_song", "far_off"):
                    row.update(excerpt_of(r.rec, c))
                rows.append(row)
        for r in halves[b][1]:
            F.add_song_cuts(alone, r.rec.kind, len(judge.run(r, low, lambda x: prob(x) >= p_thr)), r.minutes)
    pr, rc, f = tally.prf()
    clip_cuts, clip_min = sum(c for c, _ in alone.values()), sum(m for _, m in alone.values())
    out = {"seeds": seeds, "low": low, "probability_threshold": p_thr,
           "medleys": {"precision": round(pr, 3), "recall": round(rc, 3), "f": round(f, 3), "found": tally.tp,
                       "joins": tally.true, "cuts": tally.pred, "false_cuts": tally.pred - tally.tp},
           "dev_clips": {"cuts": clip_cuts, "minutes": round(clip_min, 1),
                         "false_cuts_per_min": round(clip_cuts / clip_min, 3) if clip_min else None,
                         **F.song_false_cuts(alone)},
           "recipe": {"song_disjoint_halves": bool(recipe.get("medleys", {}).get("song_disjoint_halves")),
                      "pop909_songs": recipe.get("pop909_songs", [])},
           "false_by_kind": count(rows)}
    probs = [x["probability"] for x in rows if "probability" in x]
    out["false_probability_median"] = round(float(np.median(probs)), 3) if probs else None
    out["false_probability_over_0_5"] = sum(p >= 0.5 for p in probs)
    out["false_cuts"] = rows
    log(f"cross-fitted: {out['medleys']} {out['false_by_kind']}")
    return out


def main(argv=None):
    ap = D.screen_parser(__doc__, "region_false_cuts", seeds="19,20",
                         seeds_help="held-out development medley seeds (live stage; the shipped judge trained on 7-18)")
    ap.add_argument("--cross", default="shipped", type=lambda t: t if t in ("shipped", "") else D.seed_list(t),
                    help="cross-fit the judge's training data: 'shipped' (default: the recipe its file records), "
                         "comma-separated seeds (that recipe on other seeds) or '' (skip)")
    args = ap.parse_args(argv)
    bench = D.setup(args)
    data, spec, config, audio, models, an, mark_tags, t0 = bench
    version = str(models["emotion"].contract.get("version"))
    log = D.log

    result = {"benchmark": "region_false_cuts", "machine": machine(), "folds": [0, 1],
              "tolerance_s": S.TOLERANCE_S, "loose_s": S.LOOSE_S, "change_s": CHANGE_S, "gap_s": GAP_S}
    result["held_out"] = held_out(args, data, spec, config, audio, an, mark_tags, version, log)
    if args.cross:
        result["cross_fitted"] = cross_fitted(args, bench, log)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    brief = {k: v for k, v in result["held_out"].items() if k != "cuts"}
    print(json.dumps(brief, indent=1))
    print(f"wrote {write_result('region_false_cuts', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
