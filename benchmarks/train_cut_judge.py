"""Train the region stage's learned cut judge on the development folds and write the judge file.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/train_cut_judge.py --song-disjoint --pop909-dev 12 \
        [--data ../shared/data] [--cache /work/cache/regions] [--out engine/profiles/cut_judge.json]

(the shipped judge's command; about 25 min with an empty cache, 10 min warm — plus, the first
time, two join nets of ~30 min each: ``--join-nets``).

The judge's ``join_net_peak`` feature (the join net's highest output near a candidate) must not
come from a net that heard the song: a net is far surer on the songs it was trained on (on
synthetic joins F 0.92 on its own fold's songs, 0.79 on the other's), and trees trained on such
outputs would trust the shipped net too much on new music. So each cross-fit half reads a net
trained by ``train_join_net.py --folds F`` on the OTHER dev fold's clips alone (``--join-nets``,
default ``CACHE/join_nets/fold{0,1}.json``, trained when missing); the shipped net (both folds)
is what the engine reads. Screened before it shipped (2026-12-05, ``/work/notes`` plan19, dev
only): the song-disjoint cross-fitted F of the trees with the feature against without, in the
same recipe — 0.742 → 0.781 (radius 0.5 s; 1.5 s gave 0.760, both 0.779).

The recipe is ``fusion_screen.py``'s (read its module doc), on the development data at once:
the dev medleys of ``--seeds`` (default 7–18: 288 random medleys of the dev clips, folds 0–1,
hard joins as 5 ms micro-crossfades, ``_regionsdata.SPLICE_MS``;
the first judges saw seeds 7 and 8 only, those of 2026-12-04 seeds 7–12; seeds 19 and 20 stay
out, to measure on) and every
dev clip (folds 0–1).
Candidates are the fusion's decided peaks at a low threshold; the 15 features of
:mod:`sonolux.features.cutjudge`; scikit-learn's ``HistGradientBoostingClassifier`` (depth 3,
150 trees, rate 0.05, balanced classes) trained on teacher-forced candidates plus one DAgger
round. The low threshold (of 0.3 / 0.5 / 0.7) and the probability threshold (grid 0.05–0.95)
maximise the dev medleys' boundary F with at most 0.15 false cuts / min in the dev clips (and,
with ``--pop909-dev``, in the dev POP909 songs: the limit holds for each kind of whole recording),
``--choose cross`` (default) on held-out development data: each half (the medleys of every
other seed + clip fold 0, the rest + clip fold 1; seeds 7 / 8 for two seeds) scored by trees
trained on the other half, the two
halves' tallies pooled (``--song-disjoint``: the seeds' medleys alternate between fold 0's and
fold 1's clips, so the halves share no song; without it both halves' medleys draw on all the dev
clips and the choice is made on songs the trees were trained on — its cross-fitted F was 0.751
where the reporting folds gave 0.698, the song-disjoint one 0.724); the shipped trees are then trained on all of it at the chosen low
threshold. ``--choose train`` picks both on the trees' own training candidates (the first
judge's rule: the trees are overconfident there, so its threshold 0.55 kept too few cuts —
held-out dev F peaked at 0.25–0.3 in ``fusion_screen.json``). Nothing of the reporting folds
(2–4) is read. The tags' centre (the dev clips' mean tag vector) goes into the file too.

The trees are written as flat arrays (the judge file's contract: ``sonolux/features/cutjudge.py``);
the run checks that the engine's evaluator gives scikit-learn's probabilities on every
training candidate, and records the dev scores of the chosen point (``dev_scores``: these
are training-set numbers, optimistic; the held-out estimate is ``fusion_screen.json``'s
two-fold figure, and the reporting figure is ``segmentation.py``'s judge variant).
The emotion model behind the mood and tag cues was trained on all 4Q clips (optimistic).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread  # noqa: E402

single_thread(("OMP_NUM_THREADS",))

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import fusion_screen as F  # noqa: E402
import segmentation as S  # noqa: E402
import tag_screen as T  # noqa: E402

from sonolux.features.cutjudge import FEATURES, FORMAT, FORMAT_VERSION, check_judge  # noqa: E402

SEEDS = tuple(range(7, 19))  # the development medleys trained on (--seeds; 19 and 20 are kept out:
# region_misses.py / region_false_cuts.py --seeds 19,20 measure on them; the judges before 2026-12-04's
# evening trained on 7-12 and were measured on 13-14)
OUT = Path(__file__).resolve().parents[1] / "engine" / "profiles" / "cut_judge.json"


def export_trees(model) -> dict:
    """A fitted binary HistGradientBoostingClassifier (the judge) or HistGradientBoostingRegressor
    (the placer) as a tree file's flat arrays (``sonolux/features/trees.py``)."""
    if model.n_trees_per_iteration_ != 1:
        raise SystemExit("a binary classifier or a regressor is needed (one tree per iteration)")
    trees, big = [], float(np.finfo(np.float64).max)
    for (pred,) in model._predictors:
        nodes = pred.nodes
        if np.any(nodes["is_categorical"]):
            raise SystemExit("categorical splits are not part of the tree files' contract")
        trees.append({"feature": nodes["feature_idx"].astype(int).tolist(),
                      # a split of NaN against all numbers has threshold inf: the largest float
                      # compares the same with every finite x and keeps the file plain JSON
                      "threshold": [float(x) for x in np.clip(nodes["num_threshold"], -big, big)],
                      "left": nodes["left"].astype(int).tolist(), "right": nodes["right"].astype(int).tolist(),
                      "value": [float(x) for x in nodes["value"]], "leaf": nodes["is_leaf"].astype(int).tolist(),
                      "missing_left": nodes["missing_go_to_left"].astype(int).tolist()})
    return {"baseline": float(np.ravel(model._baseline_prediction)[0]), "learning_rate": float(model.learning_rate),
            "trees": trees}


def write_checked(doc: dict, trees, X: np.ndarray, theirs: np.ndarray, out, t0: float, what: str) -> None:
    """Write a tree file (``doc``, compact JSON) to ``out`` once the engine's evaluator (``trees.raw``)
    gives scikit-learn's ``theirs`` on every row of ``X``; the gap and the wall time since ``t0``
    go into ``doc["trained_on"]``. Exits without writing when they differ."""
    gap = float(np.abs(np.array([trees.raw(x) for x in X]) - theirs).max(initial=0.0))
    if not gap <= 1e-9:
        sys.exit(f"the engine's evaluator differs from scikit-learn by {gap:g}: no {what} written")
    doc["trained_on"]["evaluator_max_abs_diff"] = gap
    doc["trained_on"]["wall_s"] = round(time.perf_counter() - t0, 1)
    Path(out).write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")


def cross_fitted(judge, columns, halves, log) -> dict:
    """The low and probability thresholds chosen on held-out development data: trees trained
    on one half (the medleys of every other seed + clip fold 0, or the rest + fold 1; with
    ``--song-disjoint`` those seeds' medleys are of fold 0's or fold 1's clips alone, so the
    halves share no song) score the other half at every (low, p); the pooled tallies of both halves pick the point
    with the best F within the clips' false-cut limit. Trees judged on their own training
    candidates are overconfident, so a threshold chosen there keeps too few cuts."""
    pooled = {}
    for a, b in ((0, 1), (1, 0)):
        (tr_m, tr_c), (te_m, te_c) = halves[a], halves[b]
        for low in F.LOW_THRESHOLDS:
            fit = F.train_and_choose(judge, "gbt", columns, tr_m, tr_c, low, log)
            prob = fit["_prob"]
            for p in F.PROB_GRID:
                t = F.tally(judge, te_m, te_c, lambda r: judge.run(r, low, lambda x: prob(x) >= p))
                acc = pooled.setdefault((low, float(p)), [0, 0, 0, 0, 0.0, {}])
                acc[0] += t["found"]
                acc[1] += t["cuts"]
                acc[2] += t["joins"]
                acc[3] += t["clip_cuts"]
                acc[4] += t["clip_minutes"]
                for kind, v in t["false_cuts_by_kind"].items():
                    F.add_song_cuts(acc[5], kind, v["cuts"], v["minutes"])
    rows = []
    for (low, p), (tp, pred, true, clip_cuts, minutes, songs) in sorted(pooled.items()):
        prec, rec = tp / pred if pred else 0.0, tp / true if true else 0.0
        rows.append({"low": low, "p": p, "precision": round(prec, 3), "recall": round(rec, 3),
                     "f": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0, "found": tp, "joins": true,
                     "clip_false_cuts_per_min": round(clip_cuts / minutes, 3) if minutes else None,
                     **F.song_false_cuts(songs)})
    ok = [r for r in rows if r["clip_false_cuts_per_min"] is not None
          and r["worst_false_cuts_per_min"] <= S.DEV_FALSE_CUTS_MAX]
    if not ok:
        sys.exit("no cross-fitted point keeps the dev clips' false cuts within the limit: no judge written")
    best = max(ok, key=lambda r: (r["f"], r["precision"], -r["p"]))
    log(f"cross-fitted best {best}")
    return {**best, "grid": rows}


def fold_join_nets(where, data, cache) -> tuple[dict, dict]:
    """({fold: JoinNet}, {fold: {"sha1", "heard"}}) of the nets trained on one dev fold's clips
    each (``where``/fold0.json, fold1.json; None: ``cache``/join_nets), trained now by
    ``train_join_net.py`` when missing; "heard" names what the net learnt from."""
    import hashlib
    import json

    from sonolux.features.joinnet import load_join_net

    where = Path(where) if where else Path(cache) / "join_nets"
    nets, files = {}, {}
    for f in (0, 1):
        path = where / f"fold{f}.json"
        if not path.exists():
            import train_join_net

            D.log(f"training the join net of dev fold {f} alone -> {path} (~30 min)")
            where.mkdir(parents=True, exist_ok=True)
            train_join_net.main(["--data", str(data), "--cache", str(cache), "--folds", str(f),
                                 "--out", str(path)])
        nets[f] = load_join_net(path)
        songs = json.loads(path.read_text()).get("training", {}).get("songs", [])
        files[f] = {"sha1": hashlib.sha1(path.read_bytes()).hexdigest(),
                    "heard": f"dev fold {f}'s clips" + (f" and {len(songs)} other songs" if songs else "")}
    return nets, files


class DevData(NamedTuple):
    """The judge's development recordings (:func:`development_data`)."""
    medleys: list  # fusion_screen.Recording, every seed's
    clips: list  # recordings played alone: the dev 4Q clips, then any dev POP909 songs
    judge: "F.Judge"
    halves: list  # the cross-fit's two halves, each (medleys, recordings played alone); no song in both
    # when song_disjoint
    centre: dict  # the dev clips' mean tag vector per representation (the judge file's tag_centre)


def development_data(bench: D.Bench, dev_medleys: int, seeds, *, song_disjoint: bool = False,
                     pop909_dev: int = 0, cache: str | None = None, join_nets: dict | None = None) -> DevData:
    """Load (analysing what the cache lacks) the judge's development data: ``dev_medleys``
    medleys per seed (``song_disjoint``: seed i's of dev fold i % 2's clips only, else of both
    folds'), the 240 dev clips and ``pop909_dev`` whole POP909 songs from
    ``_regionsdata.POP909_DEV_START``; every recording with the dev clips' tag centre. Halves:
    every other seed's medleys with one fold's clips and every other POP909 song.
    ``join_nets`` ({fold: JoinNet}, needs ``song_disjoint``): each half's recordings get the
    join net of the OTHER fold's clips, so the judge's ``join_net_peak`` never comes from a net
    that heard the song (default: the shipped net, trained on both folds — in-sample). Used by
    this script and by ``region_false_cuts.py`` (which rebuilds the shipped judge's recipe from
    its file's ``trained_on``)."""
    data, spec, config, audio, _, an, tags, _ = bench
    if join_nets is not None and not song_disjoint:
        raise SystemExit("join nets per half need --song-disjoint (else every half holds both folds' songs)")

    def load(recs, what, half=None):
        net = join_nets[1 - half] if join_nets is not None else None
        return F.recordings(recs, what, an, audio, tags, spec, net)

    medleys, keys = [], (set(), set())
    for seed, half, folds, recs in D.seed_medleys(data, audio, seeds, dev_medleys, song_disjoint):
        got = load(recs, f"dev medleys {seed} (fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))})", half)
        keys[half].update(r.rec.key for r in got)
        medleys += got
    clips = [r for f in (0, 1) for r in load(D.single_clips(data, audio, (f,)), f"dev clips (fold {f})", f)]
    cap0 = clips[0].cap
    judge = F.Judge(config, cap0)
    block_hops = int(round(cap0["block_s"] / spec.hop_seconds))
    centre = {r: np.concatenate([T.representation(x.marks, r) for x in clips]).mean(0) for r in T.REPRS}
    if pop909_dev > 0:
        songs = D.pop909_songs(data, Path(cache), pop909_dev, start=D.POP909_DEV_START)
        if not songs:
            sys.exit("--pop909-dev: POP909 cannot be rendered on this machine (the line above says why)")
        for i, song in enumerate(songs):
            song.meta["folds"] = [i % 2]  # the cross-fit's halves
        for f in (0, 1):
            clips += load(songs[f::2], f"dev POP909 songs (half {f})", f)
    for r in medleys + clips:
        r.with_centre(centre, cap0["block_s"], block_hops)
    halves = [([r for r in medleys if r.rec.key in keys[f]], [r for r in clips if r.rec.meta["folds"] == [f]])
              for f in (0, 1)]
    return DevData(medleys, clips, judge, halves, centre)


def main(argv=None):
    ap = D.screen_parser(__doc__, seeds=",".join(map(str, SEEDS)),
                         seeds_help="the development medleys' seeds (folds 0-1, --dev-medleys each; default "
                                    "%(default)s); the cross-fit's halves: every other seed with one fold of the dev clips")
    ap.add_argument("--out", default=str(OUT), help=f"the judge file (default {OUT})")
    ap.add_argument("--choose", choices=("cross", "train"), default="cross",
                    help="how the low and probability thresholds are chosen: cross — on each half of the "
                         "development data with trees trained on the other half (default); train — on the "
                         "trees' own training candidates (the first shipped judge's rule)")
    ap.add_argument("--song-disjoint", action="store_true",
                    help="each seed's medleys from one dev fold's clips (seeds in order: fold 0, 1, 0, …), so "
                         "the cross-fit's halves share no song: the thresholds are chosen on songs the trees "
                         "never saw, as the reporting folds are (default: medleys of both folds' clips)")
    ap.add_argument("--pop909-dev", type=int, default=0, metavar="N",
                    help="also N whole POP909 songs rendered by FluidSynth (ids 009, 025, …: none of the "
                         "reporting or beat benchmark songs), played alone like the dev clips: their in-song "
                         "candidates train the trees and the false-cut limit holds for them on their own "
                         "(the cross-fit's halves take every other song; default 0)")
    ap.add_argument("--join-nets", default=None, metavar="DIR",
                    help="the join nets of each dev fold's clips alone (fold0.json, fold1.json; trained by "
                         "train_join_net.py --folds F when missing, ~30 min each, torch from the export extra): "
                         "each cross-fit half reads the net that never heard its songs (needs --song-disjoint; "
                         "default CACHE/join_nets; 'shipped' reads the shipped net everywhere, in-sample on the "
                         "dev songs)")
    ap.add_argument("--gbt", default=None, metavar="DEPTH,TREES,RATE",
                    help="the trees' size (default %s)" % ",".join(map(str, F.GBT.values())))
    args = ap.parse_args(argv)
    if args.gbt:
        try:
            depth, trees, rate = args.gbt.split(",")
            F.GBT.update(max_depth=int(depth), max_iter=int(trees), learning_rate=float(rate))
        except ValueError:
            ap.error(f"--gbt {args.gbt!r}: give DEPTH,TREES,RATE, e.g. 3,150,0.05")
    bench = D.setup(args)
    data, spec, config, audio, models, an, tags, t0 = bench
    version = str(models["emotion"].contract.get("version"))
    seeds = args.seeds
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        ap.error(f"--seeds {','.join(map(str, seeds))}: give at least two different seeds")
    if args.join_nets != "shipped" and not args.song_disjoint:
        ap.error("the per-fold join nets need --song-disjoint (or give --join-nets shipped)")
    nets, net_files = (None, None) if args.join_nets == "shipped" else fold_join_nets(args.join_nets, args.data, args.cache)
    medleys, clips, judge, halves, centre = development_data(bench, args.dev_medleys, seeds, song_disjoint=args.song_disjoint,
                                                     pop909_dev=args.pop909_dev, cache=args.cache,
                                                     join_nets=nets)
    log = D.log

    columns = list(range(len(FEATURES)))
    cross = None
    if args.choose == "cross":
        cross = cross_fitted(judge, columns, halves, log)
        lows = (cross["low"],)
    else:
        lows = F.LOW_THRESHOLDS
    fits = [F.train_and_choose(judge, "gbt", columns, medleys, clips, low, log) for low in lows]
    fits = [x for x in fits if x["train_best"] is not None]
    if not fits:
        sys.exit("no point keeps the dev clips' false cuts within the limit: no judge written")
    chosen = max(fits, key=lambda x: (x["train_best"]["f"], x["train_best"]["precision"]))
    model = chosen["_model"]
    p_final = cross["p"] if cross is not None else chosen["train_best"]["p"]
    defaults = F.tally(judge, medleys, clips, judge.defaults)
    defaults.pop("_found")
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "features": list(FEATURES),
           "emotion_model_version": version, "low_threshold": chosen["low"],
           "probability_threshold": p_final, **export_trees(model),
           "tag_centre": {"raw": [float(x) for x in centre["raw"]], "logit": [float(x) for x in centre["logit"]]},
           "trained_on": {"medleys": {"seeds": seeds, "folds": [0, 1], "each_seed": args.dev_medleys,
                                      "song_disjoint_halves": args.song_disjoint,
                                      "hard_join_splice_ms": D.SPLICE_MS},
                          "clips": {"folds": [0, 1], "count": sum(r.rec.kind == "clip" for r in clips)},
                          "pop909_songs": [r.rec.meta["song"] for r in clips if r.rec.kind == "pop909"],
                          "candidates": chosen["training_candidates"], "teacher": chosen["teacher_candidates"],
                          "gbt": F.GBT, "command": f"python benchmarks/train_cut_judge.py --choose {args.choose} --seeds {','.join(map(str, seeds))}"
                                     + (" --song-disjoint" if args.song_disjoint else "")
                                     + (f" --pop909-dev {args.pop909_dev}" if args.pop909_dev else "")
                                     + (f" --gbt {args.gbt}" if args.gbt else "")
                                     + (f" --join-nets {args.join_nets}" if args.join_nets else ""),
                          "join_nets": ({f"fold{f}": {**file, "read_by": f"the half of fold {1 - f}'s songs"}
                                         for f, file in net_files.items()} if nets else "the shipped net (in-sample)"),
                          "date": machine()["date"]},
           "choice": {"rule": args.choose, "cross_fitted": cross,
                      "training_set_best": chosen["train_best"]},
           "dev_scores": {"judge_training_set": chosen["train_best"], "fixed_fusion": defaults,
                          "note": "training-set numbers are optimistic; cross_fitted: each half of the "
                                  "development data scored by trees trained on the other half; "
                                  "reporting: segmentation.json"},
           "caveat": "the emotion model behind the mood and tag cues was trained on all 4Q clips (optimistic)"}
    # the engine's evaluator must give scikit-learn's probabilities
    judged = check_judge(json.loads(json.dumps(doc)), args.out, version)
    data_x = []
    for r in medleys[:8] + clips[:40]:
        judge.run(r, chosen["low"], None, data_x)
    X = np.array([x for x, _ in data_x])
    ours = np.array([judged.probability(x) for x in X])
    theirs = model.predict_proba(X)[:, 1]
    gap = float(np.abs(ours - theirs).max(initial=0.0))
    if gap > 1e-9:
        sys.exit(f"the engine's evaluator differs from scikit-learn by {gap:g}: no judge written")
    doc["trained_on"]["evaluator_max_abs_diff"] = gap
    doc["trained_on"]["wall_s"] = round(time.perf_counter() - t0, 1)
    Path(args.out).write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
    log(f"wrote {args.out}: low {chosen['low']} p {p_final}; on its training candidates {chosen['train_best']} "
        f"(fixed fusion dev {defaults})")


if __name__ == "__main__":
    main()
