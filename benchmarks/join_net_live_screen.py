"""A join-net recipe judged through the live region stage, on songs its nets never heard (issue 17).

    nice -n 5 python benchmarks/join_net_live_screen.py --arm A=NETS_DIR[,JUDGE_FILE][,KEY=VALUE ...] \
        [--arm B=...] [--seeds 13,14,15,16,17,18,19,20] [--out benchmarks/results/join_net_live_screen.json]

``join_net_localisation.py`` scores a net's placement of synthetic joins alone, and the cut
judge's cross-fit (``train_cut_judge.py``) replays the fusion's cue times: neither sees a
published cut after the net has moved it. This screen does: each development medley seed's
medleys are of one dev fold's clips (seed i of the list: fold i % 2, as the judge's
``--song-disjoint`` data), and run through the live region stage exactly as
``region_misses.py`` replays it (cached frames, the per-mark raw tags replayed into the judge)
with ``region_join_net_file`` the arm's net of the OTHER fold (``NETS_DIR/fold{1-f}.json``,
``train_join_net.py --folds F``) — so both the net's placement and the judge's
``join_net_peak`` come from a net that never heard the songs — and ``region_judge_file`` the
arm's judge (default: the shipped one; a judge should be trained, by
``train_cut_judge.py --join-nets NETS_DIR``, on the features of the nets it is run with);
``KEY=VALUE`` items set ``AnalysisConfig`` values of the arm (a placement rule on or off).

Reported per arm: boundary precision / recall / F within ±0.5 s for the medleys of seeds the
shipped judge trained on (7–18) and of the other seeds (held out: 19, 20, ...) apart, per
kind of join; the joins matched within 1.5 s but not within 0.5 s (placed off; one-to-one, as
``segmentation``); the median |error| of matched cuts per kind. The judge has heard the songs
of every dev seed (other excerpts, other medleys; the medleys of 7–18 themselves), so the rows
are optimistic for every arm alike. Development folds only.

Committed run (``benchmarks/results/join_net_live_screen.json``): the shipped recipe before
2026-12-05 (1200 training steps; its fold nets and judge) against 2400 steps (the fold nets and
the judge retrained on their features), seeds 13–20 — the test written in ``/work/notes``
plan21 before its result.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import region_misses as M  # noqa: E402
import segmentation as S  # noqa: E402
from _common import machine, write_result  # noqa: E402

from sonolux.analysis import AnalysisConfig  # noqa: E402

JUDGE_SEEDS = range(7, 19)  # the shipped judge's training seeds (train_cut_judge.SEEDS)


def parse_arm(text: str) -> tuple[str, Path, str, dict]:
    """NAME=NETS_DIR[,JUDGE_FILE][,KEY=VALUE ...] → (name, nets folder, judge file or "" for the
    shipped one, AnalysisConfig values of the arm)."""
    name, _, rest = text.partition("=")
    nets, *more = rest.split(",")
    judges = [m for m in more if m and "=" not in m]
    if not name or not D.holds_fold_nets(nets) or len(judges) > 1:
        raise SystemExit(f"--arm {text}: give NAME=DIR[,JUDGE][,KEY=VALUE ...], DIR holding fold0.json and fold1.json")
    judge = judges[0] if judges else ""
    if judge and not Path(judge).is_file():
        raise SystemExit(f"--arm {text}: no judge file {judge}")
    return name, Path(nets), judge, M.parse_set([m for m in more if "=" in m])


class Score:
    """Boundary tallies and placement errors of one group of medleys, matched as ``segmentation`` does
    (greedy one-to-one within the tolerance, and again within ``segmentation.LOOSE_S``)."""

    def __init__(self):
        self.tally = {k: S.Tally() for k in ("all", "hard", "crossfade")}
        self.placed_off = {"hard": 0, "crossfade": 0}  # joins matched within LOOSE_S but not the tolerance
        self.errors = {"hard": [], "crossfade": []}  # |error| of the joins matched within the tolerance

    def add(self, rec, cuts: list) -> None:
        kind = "crossfade" if any(rec.meta["crossfade_s"]) else "hard"
        for k in ("all", kind):
            self.tally[k].add_cuts(cuts, rec.bounds, rec.spans[-1][1] / 60)
        matched = S.match(cuts, rec.bounds)
        self.placed_off[kind] += len(S.match(cuts, rec.bounds, S.LOOSE_S)) - len(matched)
        self.errors[kind] += [abs(cuts[j] - rec.bounds[i]) for i, j in matched]

    def result(self) -> dict:
        out = {}
        for k, t in self.tally.items():
            p, r, f = t.prf()
            out[k] = {"precision": round(p, 3), "recall": round(r, 3), "f": round(f, 3), "found": t.tp,
                      "joins": t.true, "cuts": t.pred}
        for k, e in self.errors.items():
            out[k]["placed_off"] = self.placed_off[k]
            out[k]["matched_median_error_ms"] = round(1000 * float(np.median(e)), 1) if e else None
        return out


def main(argv=None):
    ap = D.screen_parser(__doc__, "join_net_live_screen", seeds="13,14,15,16,17,18,19,20",
                         seeds_help="development medley seeds; seed i of the list is of dev fold i %% 2's clips "
                                    "(default %(default)s)")
    ap.add_argument("--arm", action="append", required=True, metavar="NAME=DIR[,JUDGE][,KEY=VALUE ...]",
                    help="fold nets (DIR/fold0.json, fold1.json), the judge file they run with and AnalysisConfig "
                         "values of the arm, e.g. region_fade_after_s=0.75 (repeatable)")
    args = ap.parse_args(argv)
    arms = [parse_arm(a) for a in args.arm]
    data, spec, _, audio, models, an, mark_tags, _ = D.setup(args)
    version = str(models["emotion"].contract.get("version"))
    recs = []
    for seed, fold, _, medleys in D.seed_medleys(data, audio, args.seeds, args.dev_medleys):
        recs += [(seed, fold, rec, fr) for rec, fr in D.analysed(medleys, an, audio, f"seed {seed} (fold {fold})")]
    result = {"seeds": args.seeds, "judge_seeds": f"{JUDGE_SEEDS.start}-{JUDGE_SEEDS.stop - 1}",
              "tolerance_s": S.TOLERANCE_S, "loose_s": S.LOOSE_S, "arms": {}, "machine": machine(),
              "load": [round(x, 2) for x in os.getloadavg()]}
    for name, nets, judge, settings in arms:
        groups = {"judge_trained_seeds": Score(), "held_out_seeds": Score(), "all_seeds": Score()}
        for seed, fold, rec, fr in recs:
            config = AnalysisConfig(**{**settings, "region_join_net_file": D.net_not_heard(nets, fold),
                                       "region_judge_file": judge})
            cuts, _ = M.run(fr, spec, config, S.MarkSource(mark_tags.of(rec), spec.hop_seconds, version))
            for g in ("judge_trained_seeds" if seed in JUDGE_SEEDS else "held_out_seeds", "all_seeds"):
                groups[g].add(rec, cuts)
        scores = {g: s.result() for g, s in groups.items() if s.tally["all"].true}
        result["arms"][name] = {"nets": str(nets), "judge": judge or "shipped", "settings": settings, **scores}
        D.log(f"{name}: {json.dumps({g: r['all'] for g, r in scores.items()})}")
    print(f"wrote {write_result('join_net_live_screen', result, args.out)}")


if __name__ == "__main__":
    main()
