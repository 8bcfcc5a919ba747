"""Train the region stage's learned place choice on development medleys and write its file (issue 17).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/train_place_choice.py --fold-nets CACHE/join_nets \
        [--data ../shared/data] [--cache /work/cache/regions] [--seeds 7,...,28] [--held-out 33,...,44] \
        [--out engine/profiles/place_choice.json]

(the shipped file's command: about 12 min on a 2-core machine with the frame cache warm — the file's
``trained_on.wall_s``; the fold nets are
``train_join_net.py --folds 0`` and ``--folds 1``, as ``train_cut_judge.py --join-nets`` trains them).

Why: the live stage calls each decided cut's join hard (keep the sharpest step) or gradual (the
ramp's middle, the placer, the join net) by a hand rule that named the kind right for about three
dev cuts in four; a wrong call is a cut 0.5–1.5 s off — the largest error left before the choice
(``region_misses.py --fold-nets`` on seeds 13–20: 44 of 96 misses, most of the false cuts). For 95–99 % of those cuts
one of the candidate times the stage computes (:data:`sonolux.features.placechoice.CANDIDATES`)
lies within 0.5 s of the join. Screened before it shipped (``/work/notes`` plan23, rules written
before each look): a learned hard/gradual verdict alone gained on dev seeds 13–20 and not on
21–28; this choice among candidates gained on 7–12, 13–20 and 21–28, then on the fresh seeds
33–44 (the ``held_out`` figures below).

Recipe: every dev medley of ``--seeds`` (``--dev-medleys`` each; seed i of the list of dev fold
i % 2's clips, hard joins 5 ms micro-crossfades) runs through the live region stage with its
defaults, the shipped judge and the join net of ``--fold-nets`` that never heard its songs (the
shipped net heard every dev clip; trees trained on its outputs there would trust it too much on
new music). At each cut, the stage's own :meth:`RegionStage.place_candidates` gives every
candidate's time and features (what the trees read live); the cut is published where the hand
rule puts it (as the stage did before the choice; the candidates do not depend on where earlier
cuts went). A cut whose cue time lies within ``NEAR_S`` of a join gives one training row per
candidate, labelled by whether the candidate lies within 0.5 s of that join. scikit-learn's
``HistGradientBoostingClassifier`` (depth 2, 100 trees, rate 0.05: of depth 2 / 3 × 100 / 200
trees, the simplest within noise on the dev seeds' cross-fit) learns it; live, the cut goes to
the candidate it scores highest.

Reported in the file: ``cross_fitted`` — each dev fold's medleys placed by trees trained on the
other fold's (no shared song) — against the hand rule, boundary P / R / F within ±0.5 s per kind
of join; ``held_out`` — ``--held-out`` seeds (default 33–44: never used by any trainer), placed the
same way by the cross-fitted trees (song-disjoint) and by the shipped ones (trained on every
``--seeds`` row; the songs are dev songs they heard in other medleys). The reporting folds (2–4)
are not read. The run checks the engine's evaluator gives scikit-learn's scores on every
training row before it writes the file.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread  # noqa: E402

single_thread(("OMP_NUM_THREADS",))

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402
from train_cut_judge import export_trees, write_checked  # noqa: E402
from train_cut_placer import recorded  # noqa: E402

from sonolux.analysis import AnalysisConfig  # noqa: E402
from sonolux.features.placechoice import CANDIDATES, FEATURES, FORMAT, FORMAT_VERSION, check_place_choice  # noqa: E402
from sonolux.features.regions import RegionStage  # noqa: E402

SEEDS = tuple(range(7, 29))
HELD_OUT = tuple(range(33, 45))  # 29-32: the placer trained on those medleys
NEAR_S = 1.5  # a cut whose cue time lies this close to a join is that join's
GBT = {"max_depth": 2, "max_iter": 100, "learning_rate": 0.05}
HARD_PATH, GRADUAL_PATH = CANDIDATES.index("hard_path"), CANDIDATES.index("gradual_path")
OUT = Path(__file__).resolve().parents[1] / "engine" / "profiles" / "place_choice.json"


class HandRule:
    """A stand-in choice for :class:`RecordingStage`: no file is read (what is being trained must
    not depend on the one shipped)."""


class RecordingStage(RegionStage):
    """The live stage recording each cut's candidates — (cue t, times, feature rows) — and
    publishing it where the hand rule puts it."""

    def prepare(self, spec, layout, facts):
        super().prepare(spec, layout, facts)
        if not self.choosing:
            raise SystemExit(f"the place choice is not on: {self.placer_note}")

    def choose_place(self, t: float, t_step: float, rule_placed: float) -> float:
        self.place_candidates(t, t_step, rule_placed)
        if t > 0:
            self.log.append((t, self.choice_times.copy(), self.choice_rows.copy()))
        return float(self.choice_times[GRADUAL_PATH if rule_placed != t_step else HARD_PATH])


def candidates(fr: D.Frames, spec, config: AnalysisConfig, tags) -> list:
    """The recorded cuts of one recording's cached frames through the live stage (the judge on)."""
    return recorded(RecordingStage, fr, spec, config, tags, place_choice=HandRule())


def medleys_of(bench: D.Bench, seeds, each: int, nets: str, what: str) -> list[dict]:
    """Each medley of ``seeds`` (seed i of the list: dev fold i % 2) with its recorded cuts."""
    data, spec, _, audio, models, an, tags, _ = bench
    version = str(models["emotion"].contract.get("version"))
    out = []
    for seed, fold, _, recs in D.seed_medleys(data, audio, seeds, each):
        config = AnalysisConfig(region_join_net_file=D.net_not_heard(nets, fold))
        for rec, fr in D.analysed(recs, an, audio, f"{what} {seed} (fold {fold})"):
            cuts = candidates(fr, spec, config, S.MarkSource(tags.of(rec), spec.hop_seconds, version))
            out.append({"seed": seed, "fold": fold, "bounds": list(rec.bounds), "cuts": cuts,
                        "kind": "crossfade" if any(rec.meta["crossfade_s"]) else "hard"})
    return out


def rows_of(medleys) -> tuple[np.ndarray, np.ndarray]:
    """One row per candidate with a time of every cut within NEAR_S of a join; label: within the tolerance."""
    X, y = [], []
    for m in medleys:
        bounds = np.array(m["bounds"])
        for t, times, rows in m["cuts"]:
            j = int(np.argmin(np.abs(bounds - t)))
            if abs(bounds[j] - t) > NEAR_S:
                continue
            for k in np.flatnonzero(np.isfinite(times)):
                X.append(rows[k])
                y.append(abs(times[k] - bounds[j]) <= S.TOLERANCE_S)
    return np.array(X), np.array(y)


def fit(medleys):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = rows_of(medleys)
    return HistGradientBoostingClassifier(**GBT, random_state=0).fit(X, y)


def chosen(model, times, rows) -> float:
    """Where the trees put a cut: the candidate (with a time) of the highest score."""
    ok = np.flatnonzero(np.isfinite(times))
    return float(times[ok[int(np.argmax(model.decision_function(rows[ok])))]])


def hand_rule(m, times, rows) -> float:
    """Where the stage put the cut before the choice (the last feature is the hand rule's verdict)."""
    return float(times[GRADUAL_PATH if rows[0, -1] else HARD_PATH])


def scores(medleys, place) -> dict:
    """Boundary P / R / F within the tolerance over ``medleys`` with each cut where
    ``place(medley, times, rows)`` puts it, per kind of join."""
    tally = {k: [0, 0, 0] for k in ("all", "hard", "crossfade")}
    for m in medleys:
        cuts = [place(m, times, rows) for _, times, rows in m["cuts"]]
        found = len(S.match(cuts, m["bounds"]))
        for k in ("all", m["kind"]):
            tally[k] = [tally[k][0] + found, tally[k][1] + len(cuts), tally[k][2] + len(m["bounds"])]
    out = {}
    for k, (found, cuts, joins) in tally.items():
        p, r = found / max(cuts, 1), found / max(joins, 1)
        out[k] = {"precision": round(p, 4), "recall": round(r, 4), "f": round(2 * p * r / max(p + r, 1e-12), 4),
                  "found": found, "cuts": cuts, "joins": joins}
    return out


def cross_fitted(train, test) -> dict:
    """``test`` placed by trees trained on the ``train`` medleys of the other dev fold, against the hand rule."""
    models = {f: fit([m for m in train if m["fold"] != f]) for f in (0, 1)}
    return {"hand_rule": scores(test, hand_rule),
            "choice": scores(test, lambda m, times, rows: chosen(models[m["fold"]], times, rows))}


def main(argv=None):
    ap = D.screen_parser(__doc__, seeds=",".join(map(str, SEEDS)),
                         seeds_help="the development medleys' seeds to train on (seed i: dev fold i %% 2's clips; "
                                    "default %(default)s)")
    ap.add_argument("--held-out", type=D.seed_list, default=",".join(map(str, HELD_OUT)),
                    help="dev medley seeds measured on, never trained on (default %(default)s; '' for none)")
    ap.add_argument("--fold-nets", required=True, metavar="DIR",
                    help="the join nets of each dev fold alone (DIR/fold0.json, fold1.json: train_join_net.py --folds F)")
    ap.add_argument("--out", default=str(OUT), help=f"the place-choice file (default {OUT})")
    args = ap.parse_args(argv)
    seeds = args.seeds
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or set(seeds) & set(args.held_out):
        ap.error(f"--seeds {','.join(map(str, seeds))}: give at least two different seeds, none of --held-out")
    if not D.holds_fold_nets(args.fold_nets):
        ap.error(f"--fold-nets {args.fold_nets}: no fold0.json and fold1.json there (train_join_net.py --folds F)")
    bench = D.setup(args)
    train = medleys_of(bench, seeds, args.dev_medleys, args.fold_nets, "dev medleys")
    X, y = rows_of(train)
    if len(y) < 100:
        sys.exit(f"only {len(y)} candidate rows near a join: too few to train on; no file written")
    cross = cross_fitted(train, train)
    model = fit(train)
    held = None
    if args.held_out:
        test = medleys_of(bench, args.held_out, args.dev_medleys, args.fold_nets, "held-out medleys")
        held = {"seeds": args.held_out, **cross_fitted(train, test),
                "shipped_trees": scores(test, lambda m, times, rows: chosen(model, times, rows))}
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "candidates": list(CANDIDATES),
           "features": list(FEATURES), **export_trees(model),
           "trained_on": {"medleys": {"seeds": seeds, "folds": [0, 1], "each_seed": args.dev_medleys,
                                      "song_disjoint_halves": True, "hard_join_splice_ms": D.SPLICE_MS},
                          "rows": int(len(y)), "near_s": NEAR_S, "gbt": GBT,
                          "command": f"python benchmarks/train_place_choice.py --fold-nets DIR "
                                     f"--seeds {','.join(map(str, seeds))}",
                          "date": machine()["date"]},
           "cross_fitted": cross, "held_out": held,
           "note": "boundary P / R / F within ±0.5 s with each cut where the hand rule or the trees put it; "
                   "cross_fitted: each dev fold's medleys placed by trees trained on the other fold's"}
    choice = check_place_choice(json.loads(json.dumps(doc)), args.out)
    write_checked(doc, choice.trees, X, model.decision_function(X), args.out, bench.t0, "place-choice file")
    D.log(json.dumps({"cross_fitted": cross, "held_out": held}, indent=1))
    D.log(f"wrote {args.out}: {len(y)} rows, {len(doc['trees'])} trees")


if __name__ == "__main__":
    main()
