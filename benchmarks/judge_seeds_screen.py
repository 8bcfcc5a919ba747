"""Does the learned cut judge generalise better with more training medleys? Development folds only.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/judge_seeds_screen.py \
        [--data ../shared/data] [--cache /work/cache/regions] [--train-seeds 7,8,9,10,11,12] \
        [--test-seeds 13,14] [--gbt 3,150,0.05 --gbt 2,150,0.05 ...] [--out ...]

The judge of ``train_cut_judge.py`` sees ~150 positive joins (the dev medleys of seeds 7 and
8); its cross-fitted dev gain shrank on the reporting folds. This screen trains the same
recipe (``fusion_screen.train_and_choose``: teacher forcing, one DAgger round, balanced
boosted trees) on the dev medleys of the first two training seeds, and on all of them, and
scores both on dev medleys of seeds never trained on (``--test-seeds``: random medleys of
the same 240 dev clips, folds 0–1, so a song can recur — the same caveat as the cross-fit)
and on dev clips of the other fold: two folds (train on clip fold 0, test on fold 1, and the
other way round), tallies pooled. For every low threshold and tree size, the held-out
boundary P / R / F and the dev clips' false cuts / min at every probability threshold (the
whole curve: nothing here is chosen on the test medleys), and the point the training data
itself would choose. Nothing of the reporting folds (2–4) is read.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread, write_result  # noqa: E402

single_thread(("OMP_NUM_THREADS",))

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import fusion_screen as F  # noqa: E402
import segmentation as S  # noqa: E402
import tag_screen as T  # noqa: E402

from sonolux.features.cutjudge import FEATURES  # noqa: E402


def seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def pooled_row(tallies) -> dict:
    tp = sum(t["found"] for t in tallies)
    pred = sum(t["cuts"] for t in tallies)
    true = sum(t["joins"] for t in tallies)
    cc = sum(t["clip_cuts"] for t in tallies)
    mins = sum(t["clip_minutes"] for t in tallies)
    p, r = (tp / pred if pred else 0.0), (tp / true if true else 0.0)
    return {"precision": round(p, 3), "recall": round(r, 3), "f": round(2 * p * r / (p + r), 3) if p + r else 0.0,
            "found": tp, "joins": true, "cuts": pred, "clip_false_cuts_per_min": round(cc / mins, 3) if mins else None}


def main(argv=None):
    ap = D.screen_parser(__doc__, "judge_seeds_screen")
    ap.add_argument("--train-seeds", default="7,8,9,10,11,12")
    ap.add_argument("--small-seeds", type=int, default=2, help="the small training set: the first N training seeds (0: none, only the full set)")
    ap.add_argument("--test-seeds", default="13,14")
    ap.add_argument("--gbt", action="append", default=None, metavar="DEPTH,TREES,RATE",
                    help="tree sizes (repeatable; default the shipped 3,150,0.05)")
    ap.add_argument("--lows", default=",".join(map(str, F.LOW_THRESHOLDS)))
    args = ap.parse_args(argv)
    train_seeds, test_seeds = seeds(args.train_seeds), seeds(args.test_seeds)
    if set(train_seeds) & set(test_seeds):
        ap.error("a test seed is also a training seed")
    sizes = []
    for g in args.gbt or ["%d,%d,%g" % tuple(F.GBT.values())]:
        d, n, r = g.split(",")
        sizes.append({"max_depth": int(d), "max_iter": int(n), "learning_rate": float(r)})
    lows = [float(x) for x in args.lows.split(",")]
    data, spec, config, audio, models, an, tags, t0 = D.setup(args)

    def load(recs, what):
        return F.recordings(recs, what, an, audio, tags, spec)

    med = {s: load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=s), f"dev medleys {s}")
           for s in train_seeds + test_seeds}
    clips = load(D.single_clips(data, audio, (0, 1)), "dev clips")
    clip_folds = {f: [r for r in clips if r.rec.meta["folds"] == [f]] for f in (0, 1)}
    cap0 = clips[0].cap
    judge = F.Judge(config, cap0)
    block_hops = int(round(cap0["block_s"] / spec.hop_seconds))

    log = D.log

    sets = {"small": train_seeds[:args.small_seeds], "large": train_seeds}
    if args.small_seeds <= 0 or args.small_seeds >= len(train_seeds):
        sets.pop("small")  # only the full training set
    test_m = [r for s in test_seeds for r in med[s]]
    acc = {}  # (set, size, low) -> {p: [tallies]}, and the training-chosen point's tallies
    defaults = []
    for train_fold, test_fold in ((0, 1), (1, 0)):
        tr_c, te_c = clip_folds[train_fold], clip_folds[test_fold]
        centre = {r: np.concatenate([T.representation(x.marks, r) for x in tr_c]).mean(0) for r in T.REPRS}
        for r in [x for v in med.values() for x in v] + clips:
            r.with_centre(centre, cap0["block_s"], block_hops)
        d = F.tally(judge, test_m, te_c, judge.defaults)
        d.pop("_found")
        defaults.append(d)
        for name, ss in sets.items():
            tr_m = [r for s in ss for r in med[s]]
            for size in sizes:
                F.GBT.update(size)
                for low in lows:
                    fit = F.train_and_choose(judge, "gbt", list(range(len(FEATURES))), tr_m, tr_c, low, log)
                    prob = fit["_prob"]
                    key = (name, "%d,%d,%g" % (size["max_depth"], size["max_iter"], size["learning_rate"]), low)
                    slot = acc.setdefault(key, {"curve": {}, "train_chosen": [], "train_p": [],
                                                "positives": [], "candidates": []})
                    slot["positives"].append(fit["teacher_candidates"]["positives"])
                    slot["candidates"].append(fit["training_candidates"])
                    for p in F.PROB_GRID:
                        t = F.tally(judge, test_m, te_c, lambda r: judge.run(r, low, lambda x: prob(x) >= p))
                        t.pop("_found")
                        slot["curve"].setdefault(float(p), []).append(t)
                    if fit["train_best"] is not None:
                        slot["train_p"].append(fit["train_best"]["p"])
                        slot["train_chosen"].append(slot["curve"][float(fit["train_best"]["p"])][-1])
                    log(f"fold {train_fold}: {key} done ({time.perf_counter() - t0:.0f} s)")
    rows = []
    for (name, size, low), slot in acc.items():
        curve = [{"p": p, **pooled_row(ts)} for p, ts in sorted(slot["curve"].items()) if len(ts) == 2]
        ok = [c for c in curve if c["clip_false_cuts_per_min"] <= S.DEV_FALSE_CUTS_MAX]
        rows.append({"training": name, "seeds": sets[name], "gbt": size, "low": low,
                     "teacher_positives_per_fold": slot["positives"], "training_candidates_per_fold": slot["candidates"],
                     "held_out_best_within_limit": max(ok, key=lambda c: (c["f"], c["precision"])) if ok else None,
                     "held_out_at_p_0.5": next((c for c in curve if abs(c["p"] - 0.5) < 1e-9), None),
                     "training_chosen_p": slot["train_p"],
                     "held_out_at_training_chosen_p": pooled_row(slot["train_chosen"]) if len(slot["train_chosen"]) == 2 else None,
                     "curve": curve})
        log(f"{name} {size} low {low}: best {rows[-1]['held_out_best_within_limit']} "
            f"p0.5 {rows[-1]['held_out_at_p_0.5']} train-chosen {rows[-1]['held_out_at_training_chosen_p']}")
    result = {"benchmark": "judge_seeds_screen", "machine": machine(), "train_seeds": train_seeds,
              "small_seeds": sets.get("small"), "test_seeds": test_seeds, "medleys_each_seed": args.dev_medleys,
              "dev_false_cuts_max": S.DEV_FALSE_CUTS_MAX, "fixed_fusion_held_out": pooled_row(defaults),
              "rows": rows, "wall_s": round(time.perf_counter() - t0, 1)}
    print(f"wrote {write_result('judge_seeds_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
