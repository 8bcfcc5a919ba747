"""Screen a learned decision on the region cuts' candidates, development folds only (issue 17).

    nice -n 10 python benchmarks/fusion_screen.py [--data ../shared/data] [--cache /work/cache/regions]

The fusion today is hand-weighted: contrast + novelty + 0.25 · mood above a threshold, then
hysteresis, a minimum region length and the restart after a cut. ``tag_screen.py`` found a
cue (the emotion model's 50 tags) that separates most joins the timbre misses but cannot
place a cut, and whose heavy in-song tail costs the false-cut budget as an additive bonus.
This screen asks whether a small learned judge, looking at a handful of causal numbers at
each moment where the timbre cues *could* cut, does better than the fixed sum:

1. **Candidates**: the fusion's own state machine (``segmentation.fuse``: the default
   weights, hysteresis, ``region_hold_s``, the minimum region length, the restart of the
   contrast's past after a cut) with a LOW threshold (``--low``); every peak it decides is a
   candidate, placed at the fused peak's boundary (block resolution, as the dev sweeps).
2. **Features** of a candidate, all known when the fusion decides it (6 s of audio after
   the boundary): the fused score at the peak, the contrast (and whether it could judge:
   15 s of the region before it), the novelty and the mood cue at the peak; the tag cues of
   ``tag_screen.py`` with the 6 s future (no extra delay: cosine distance of the raw tags'
   means, skip 3 s; the Gaussian test on the tag logits, skip 3 s) at the peak and their
   highest value from 2 s before the peak up to the decision; how wide the fused peak is
   (blocks within 2 s above half the peak); the region's length so far; the sharpest 0.25 s
   log-mel step within 0.15 s of the peak, the change between the sound 1.5–4.5 s either
   side, and their ratio (the live stage's hard / gradual test); the join net's highest output
   within 0.5 s of the peak among those computed by the decision (``sonolux.features.joinnet``,
   2.8 s behind the audio — the net of ``Recording``'s ``join_net``: by default the shipped one,
   trained on the development clips, so in-sample on them; ``train_cut_judge.py`` gives each
   cross-fit half a net that never heard its songs).
3. **Learned judge**: scikit-learn logistic regression on standardised features (class
   weights balanced; its fitted weights are a few numbers the engine could apply per
   block), and shallow gradient-boosted trees (depth 3, 150 trees; ``--gbt`` other sizes);
   each also without the tag features (what the tags carry). Trained on candidates of the
   training medleys and training clips, labelled by teacher forcing (a candidate within
   ±0.5 s of a join is kept — it restarts the cues — and is positive; the rest, and every
   candidate inside a single clip, are negative and dropped), plus one round of the
   judge's own candidates (DAgger: the candidates it meets when it decides itself, labelled
   the same way).
4. **Decision threshold** on the judge's probability: of a grid, the one that maximises the
   training medleys' boundary F with at most ``DEV_FALSE_CUTS_MAX`` (0.15) false cuts / min
   in the training clips, the decision rule running live (rejected candidates do not
   restart the cues; the minimum region counts from the last kept cut). The low threshold
   is chosen the same way.
5. **Held-out scores**: two folds — trained on the seed-7 development medleys (the
   segmentation benchmark's) + the fold-0 development clips, scored on the seed-8
   development medleys + the fold-1 clips; and the other way round. The defaults run over
   the same medleys and clips in the same run: boundary P / R / F, joins found, joins gained
   and lost against the defaults, false cuts per minute in the held-out clips.

Caveats: the medleys of both seeds are cut from the same 240 development clips (a song can
be in a training medley and a held-out one, or in a held-out clip); the emotion model
behind the mood and tag cues was trained on all 4Q clips. Cut times are at block resolution
(no localisation, hop refinement or ramp placement), as in the benchmark's dev sweeps.

Committed runs (``benchmarks/results/``): ``fusion_screen.json`` (the defaults) and
``fusion_screen_gbt_D_T_R.json`` (``--models gbt,gbt-no-tags --gbt D,T,R``: the trees' size).
"""
from __future__ import annotations

import functools
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread, write_result  # noqa: E402

# one OpenMP thread: scikit-learn's boosted trees, asked one candidate at a time on a shared
# machine, are ~50× slower with a thread per core (8 s a fit, 0.2 s a prediction, measured)
single_thread(("OMP_NUM_THREADS",))

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402
import tag_screen as T  # noqa: E402
from tag_led_screen import step_series  # noqa: E402

from sonolux.analysis import AnalysisConfig  # noqa: E402
# the features and their windows: the engine's (the live judge computes the same numbers)
from sonolux.features.cutjudge import (BODY_S, FEATURES, JOIN_PEAK_S, STEP_RADIUS_S, TAG_FEATURES,  # noqa: E402
                                       TAG_LOOKBACK_S)
from sonolux.features.joinnet import JoinNetFileError, JoinNetStream, load_join_net, peak_output  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **_):
        return x

TAG_CUES = (("raw", "cos", 6.0, 3.0), ("logit", "gauss", 6.0, 3.0))  # (repr, kind, future s, skip s)
JUDGES = ("lr", "lr-no-tags", "gbt", "gbt-no-tags")
LOW_THRESHOLDS = (0.3, 0.5, 0.7)
PROB_GRID = tuple(np.round(np.arange(0.05, 0.99, 0.05), 2))


class Recording:
    """One recording's captured cues, tag cue and hop-level steps: everything a candidate's
    features are computed from."""

    def __init__(self, rec, cap, marks, mel, hop_s, join_net=None):
        """``join_net``: the join net whose outputs the judge reads (default: the shipped one)."""
        self.rec, self.cap, self.marks, self.hop_s = rec, cap, marks, hop_s
        self.join_net = join_net or default_join_net()
        try:
            self.join_net.check_fits(mel.shape[1], hop_s)
        except JoinNetFileError as e:
            raise SystemExit(f"{rec.key}: {e}") from None
        self.join = JoinNetStream(self.join_net).outputs(mel)  # every output, by pooled frame
        self.bounds = list(rec.bounds) if rec.kind == "medley" else []
        self.minutes = (rec.spans[-1][1] if rec.kind == "medley" else len(cap["rows"]) * cap["block_s"]) / 60
        self.steps = step_series(mel, hop_s)
        self.mel_cum = np.vstack([np.zeros(mel.shape[1]), np.cumsum(mel.astype(np.float64), 0)])
        self.tags = None
        self.seen = {}  # a candidate's features by its state (the same candidates recur across the grid)

    def with_centre(self, centre, block_s, block_hops):
        self.tags = T.TagCue(self.marks, len(self.cap["rows"]), block_s, self.hop_s, block_hops, centre)
        self.seen = {}

    def mean_mel(self, t0, t1):
        n = self.mel_cum.shape[0] - 1
        a, b = (min(max(int(round(t / self.hop_s)), 0), n) for t in (t0, t1))
        return (self.mel_cum[b] - self.mel_cum[a]) / (b - a) if b > a else None


@functools.cache
def default_join_net():
    """The shipped join net (a ``JoinNet``), read once."""
    return load_join_net()


def recordings(recs, what: str, an, audio, tags, spec, join_net=None) -> list[Recording]:
    """Each recording analysed (the frame cache), its cues captured, its marks' tags read
    (the sidecar) and the join net's outputs computed, with a progress bar named ``what``."""
    return [Recording(rec, S.capture_cues(fr, spec), tags.of(rec), fr.mel, spec.hop_seconds, join_net)
            for rec, fr in D.analysed(recs, an, audio, what)]


class Judge:
    """Features of a candidate cut (module doc, 2) and the decision rule around them."""

    def __init__(self, config: AnalysisConfig, cap: dict):
        self.block_s, self.n_future = cap["block_s"], cap["future_blocks"]
        self.past = cap["contrast"].past_blocks
        self.n_min = max(2, int(round(config.region_contrast_min_past_s / self.block_s)))
        w = config.region_weights
        self.w = np.array([w[0], 0.0, w[2], 1.0])  # novelty, (energy off), mood, contrast
        self.base = {"w_novelty": w[0], "w_mood": w[2], "threshold": config.region_threshold,
                     "contrast_min_past_s": config.region_contrast_min_past_s, "min_region_s": config.region_min_s}

    def features(self, r: Recording, cut, k, seen, start_block, start_t, peak) -> np.ndarray:
        kp = k - int(round((r.cap["rows"][k, 0] - cut) / self.block_s))
        first = kp - self.n_future + 1

        def tag(v, f):
            before = min(f - start_block, self.past)
            return r.tags.value(v[0], v[1], f, before, v[2], v[3]) if before >= self.n_min else math.nan

        lo = max(start_block + self.n_min, first - int(round(TAG_LOOKBACK_S / self.block_s)))
        newest = k - self.n_future + 1
        tags = []
        for v in TAG_CUES:
            at = tag(v, first)
            span = [tag(v, f) for f in range(lo, newest + 1)]
            span = [x for x in span if x == x]
            tags += [at if at == at else 0.0, max(span) if span else 0.0]
        nov, _, mood, con = (0.0 if x != x else max(x, 0.0) for x in seen[kp])
        w0 = max(0, kp - int(round(TAG_LOOKBACK_S / self.block_s)))
        scores = (np.nan_to_num(np.clip(seen[w0:k + 1], 0, None)) * self.w).sum(1)
        width = float((scores >= 0.5 * peak).sum()) * self.block_s
        h = int(round(cut / r.hop_s))
        rad = int(round(STEP_RADIUS_S / r.hop_s))
        step = float(r.steps[max(0, h - rad):h + rad + 1].max(initial=0.0))
        a, b = r.mean_mel(cut - BODY_S[1], cut - BODY_S[0]), r.mean_mel(cut + BODY_S[0], cut + BODY_S[1])
        body = float(np.sqrt(((a - b) ** 2).mean())) if a is not None and b is not None else 0.0
        return np.array([peak, con, float(seen[kp, 3] == seen[kp, 3]), nov, mood, *tags, width,
                         math.log(max(cut - start_t, 0.1)), math.log(step + 0.1), math.log(body + 0.1),
                         math.log((step + 0.1) / (body + 0.1)), self.join_peak(r, cut, k)])

    def join_peak(self, r: Recording, cut: float, k: int) -> float:
        """The join net's highest output within ``JOIN_PEAK_S`` of ``cut`` among the outputs
        computed when the fusion decides in block ``k`` (its boundary + the cues' future);
        0 when none is — as the live judge."""
        net = r.join_net
        heard = r.cap["rows"][k, 0] + self.n_future * self.block_s  # the newest audio at the decision
        n_done = min(int(math.floor(heard / r.hop_s + 1e-9)) // net.pool_hops - net.delay_frames, len(r.join))
        v = peak_output(r.join, n_done, cut, JOIN_PEAK_S, net.frame_s)
        return float(v) if v == v else 0.0

    def run(self, r: Recording, low: float, accept=None, collect=None) -> list[float]:
        """The cuts of one recording: the fusion at threshold ``low`` with every decided
        peak judged by ``accept(features) -> bool`` (None: the teacher — kept iff within
        ±0.5 s of a join); ``collect`` (a list) gets (features, label) of every candidate."""
        def decide(cut, k, seen, start_block, start_t, peak):
            key = (k, cut, start_block)
            x = r.seen.get(key)
            if x is None:
                x = r.seen[key] = self.features(r, cut, k, seen, start_block, start_t, peak)
            label = any(abs(cut - b) <= S.TOLERANCE_S for b in r.bounds)
            if collect is not None:
                collect.append((x, label))
            return label if accept is None else accept(x)

        return S.fuse(r.cap, **{**self.base, "threshold": low}, decide=decide)

    def defaults(self, r: Recording) -> list[float]:
        return S.fuse(r.cap, **self.base)


def tally(judge: Judge, medleys, clips, cuts_of) -> dict:
    med, clip = S.Tally(), S.Tally()
    found = set()
    for r in medleys:
        cuts = cuts_of(r)
        med.add_cuts(cuts, r.bounds, r.minutes)
        found |= {(r.rec.key, i) for i, _ in S.match(cuts, r.bounds)}
    songs = {}  # kind of recording played alone (4Q clip, POP909 song) → [cuts, minutes]
    for r in clips:
        cuts = cuts_of(r)
        clip.add_cuts(cuts, [], r.minutes)
        add_song_cuts(songs, r.rec.kind, len(cuts), r.minutes)
    p, rc, f = med.prf()
    return {"precision": round(p, 3), "recall": round(rc, 3), "f": round(f, 3), "found": med.tp, "joins": med.true,
            "cuts": med.pred,
            "clip_false_cuts_per_min": round(clip.pred / clip.minutes, 3) if clip.minutes else None,
            "clip_cuts": clip.pred, "clip_minutes": round(clip.minutes, 1),
            **song_false_cuts(songs), "_found": found}


def add_song_cuts(songs: dict, kind: str, cuts: int, minutes: float) -> None:
    """Count ``cuts`` in ``minutes`` of a ``kind`` of recording played alone into ``songs``
    ({kind: [cuts, minutes]}, what :func:`song_false_cuts` reads)."""
    acc = songs.setdefault(kind, [0, 0.0])
    acc[0] += cuts
    acc[1] += minutes


def song_false_cuts(songs: dict) -> dict:
    """Per kind of whole recording played alone ({kind: [cuts, minutes]}): its cuts, minutes
    and false cuts per minute, and the worst kind's rate — what the dev limit holds, as the
    target holds for each kind (without recordings played alone: 0)."""
    by_kind = {k: {"cuts": c, "minutes": m, "per_min": round(c / m, 3)} for k, (c, m) in songs.items() if m}
    return {"false_cuts_by_kind": by_kind,
            "worst_false_cuts_per_min": max((v["per_min"] for v in by_kind.values()), default=0.0)}


GBT = {"max_depth": 3, "max_iter": 150, "learning_rate": 0.05}  # the tree's size (``--gbt``)


def fit(kind: str, X: np.ndarray, y: np.ndarray, columns):
    """A fitted model's probability for one feature row (and a description of it)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = X[:, columns]
    if kind == "gbt":
        model = HistGradientBoostingClassifier(**GBT, class_weight="balanced", random_state=0).fit(X, y)
        known = {}

        def prob(x):
            key = x.tobytes()
            if key not in known:
                known[key] = float(model.predict_proba(x[columns][None])[0, 1])
            return known[key]

        return prob, {"model": "gradient-boosted trees", **GBT, "_model": model}
    scaler = StandardScaler().fit(X)
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(scaler.transform(X), y)
    # w · (x − mean) / scale + b, folded into raw-feature weights: what an engine would apply
    w = lr.coef_[0] / scaler.scale_
    b = float(lr.intercept_[0] - w @ scaler.mean_)

    def prob(x):
        z = b + float(w @ x[columns])
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    return prob, {"model": "logistic regression", "intercept": round(b, 5),
                  "weights": {FEATURES[c]: round(float(wi), 5) for c, wi in zip(columns, w)},
                  "standardised_weights": {FEATURES[c]: round(float(wi), 4) for c, wi in zip(columns, lr.coef_[0])}}


def train_and_choose(judge: Judge, kind: str, columns, medleys, clips, low: float, log) -> dict:
    """Teacher-forced candidates, a fit, one DAgger round, the threshold (module doc, 3–4)."""
    data = []
    for r in medleys + clips:
        judge.run(r, low, None, data)
    teacher = {"candidates": len(data), "positives": int(sum(y for _, y in data))}

    def matrix(rows):
        return np.array([x for x, _ in rows]), np.array([y for _, y in rows], dtype=int)

    def choose(prob):
        best, rows = None, []
        for p in PROB_GRID:
            t = tally(judge, medleys, clips, lambda r: judge.run(r, low, lambda x: prob(x) >= p))
            t.pop("_found")
            rows.append({"p": float(p), **t})
            if t["worst_false_cuts_per_min"] <= S.DEV_FALSE_CUTS_MAX and (
                    best is None or (t["f"], t["precision"]) > (best["f"], best["precision"])):
                best = rows[-1]
        return best, rows

    prob, desc = fit(kind, *matrix(data), columns)
    best, _ = choose(prob)
    if best is not None:  # DAgger: the candidates the judge meets deciding itself
        own = []
        for r in medleys + clips:
            judge.run(r, low, lambda x: prob(x) >= best["p"], own)
        data += own
        prob, desc = fit(kind, *matrix(data), columns)
        best, rows = choose(prob)
    else:
        rows = []
    log(f"\n  {kind} low {low}: {teacher} train best {best}")
    return {"low": low, "teacher_candidates": teacher, "training_candidates": len(data), **desc,
            "train_best": best, "train_grid": rows, "_prob": prob}


def main(argv=None):
    ap = D.screen_parser(__doc__, "fusion_screen")
    ap.add_argument("--models", default=",".join(JUDGES),
                    help=f"judges to screen, comma-separated (of {', '.join(JUDGES)}; -no-tags: without the tag features)")
    ap.add_argument("--gbt", default=None, metavar="DEPTH,TREES,RATE",
                    help="the gradient-boosted judge's size (default %s)" % ",".join(map(str, GBT.values())))
    args = ap.parse_args(argv)
    if args.gbt:
        try:
            depth, trees, rate = args.gbt.split(",")
            GBT.update(max_depth=int(depth), max_iter=int(trees), learning_rate=float(rate))
        except ValueError:
            ap.error(f"--gbt {args.gbt!r}: give DEPTH,TREES,RATE, e.g. 3,150,0.05")
    kinds = [k for k in args.models.split(",") if k]
    if not kinds or any(k not in JUDGES for k in kinds):
        ap.error(f"--models {args.models!r}: choose from {', '.join(JUDGES)}")
    data, spec, config, audio, models, an, tags, t0 = D.setup(args)
    hop_s = spec.hop_seconds

    def load(recs, what):
        return recordings(recs, what, an, audio, tags, spec)

    medleys = {seed: load(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=seed), f"dev medleys {seed}")
               for seed in (7, 8)}
    clips = load(D.single_clips(data, audio, (0, 1)), "dev clips")
    clip_folds = {f: [r for r in clips if r.rec.meta["folds"] == [f]] for f in (0, 1)}
    cap0 = clips[0].cap
    judge = Judge(config, cap0)
    block_hops = int(round(cap0["block_s"] / hop_s))
    result = {"benchmark": "fusion_screen", "machine": machine(), "features": FEATURES, "gbt": GBT,
              "tag_cues": [T.vname(v) for v in TAG_CUES], "low_thresholds": LOW_THRESHOLDS,
              "probability_grid": list(map(float, PROB_GRID)), "dev_false_cuts_max": S.DEV_FALSE_CUTS_MAX,
              "development": {"folds": [0, 1], "medleys_each_seed": args.dev_medleys,
                              "clips_by_fold": {f: len(v) for f, v in clip_folds.items()}},
              "folds": []}

    log = D.log

    for train_seed, test_seed, train_fold, test_fold in ((7, 8, 0, 1), (8, 7, 1, 0)):
        tr_m, te_m = medleys[train_seed], medleys[test_seed]
        tr_c, te_c = clip_folds[train_fold], clip_folds[test_fold]
        # the tag cue's centre: the training clips' mean tag vector
        centre = {r: np.concatenate([T.representation(x.marks, r) for x in tr_c]).mean(0) for r in T.REPRS}
        for r in tr_m + te_m + clips:
            r.with_centre(centre, cap0["block_s"], block_hops)
        fold = {"train": {"medley_seed": train_seed, "clip_fold": train_fold},
                "test": {"medley_seed": test_seed, "clip_fold": test_fold}}
        log(f"fold: train seed {train_seed} + clips fold {train_fold}; test seed {test_seed} + clips fold {test_fold}")
        default_test = tally(judge, te_m, te_c, judge.defaults)
        default_train = tally(judge, tr_m, tr_c, judge.defaults)
        fold["defaults"] = {"train": {k: v for k, v in default_train.items() if k != "_found"},
                            "test": {k: v for k, v in default_test.items() if k != "_found"}}
        # how many joins have a candidate at all (the teacher keeps every one near a join)
        fold["candidate_ceiling"] = {}
        for low in LOW_THRESHOLDS:
            t = tally(judge, te_m, [], lambda r: judge.run(r, low))
            fold["candidate_ceiling"][str(low)] = {"test_joins_with_a_candidate": t["found"], "joins": t["joins"]}
        log(f"  defaults test {fold['defaults']['test']} ceiling {fold['candidate_ceiling']}")
        fold["judges"] = {}
        for kind in kinds:
            columns = [i for i, n in enumerate(FEATURES) if not (kind.endswith("-no-tags") and n in TAG_FEATURES)]
            fits = [train_and_choose(judge, kind.split("-")[0], columns, tr_m, tr_c, low, log)
                    for low in tqdm(LOW_THRESHOLDS, desc=kind, file=sys.stderr)]
            fits = [x for x in fits if x["train_best"] is not None]
            if not fits:
                fold["judges"][kind] = {"admitted": None}
                continue
            chosen = max(fits, key=lambda x: (x["train_best"]["f"], x["train_best"]["precision"]))
            prob, p, low = chosen.pop("_prob"), chosen["train_best"]["p"], chosen["low"]
            test = tally(judge, te_m, te_c, lambda r: judge.run(r, low, lambda x: prob(x) >= p))
            found = test.pop("_found")
            test["joins_gained"] = len(found - default_test["_found"])
            test["joins_lost"] = len(default_test["_found"] - found)
            # not used for any choice: the held-out scores at every probability threshold
            curve = []
            for q in PROB_GRID:
                t = tally(judge, te_m, te_c, lambda r: judge.run(r, low, lambda x: prob(x) >= q))
                t.pop("_found")
                curve.append({"p": float(q), **{k: t[k] for k in ("precision", "recall", "f", "found",
                                                                   "clip_false_cuts_per_min")}})
            test["held_out_curve"] = curve
            chosen.pop("_model", None)
            for x in fits:
                x.pop("_prob", None)
                x.pop("_model", None)
            fold["judges"][kind] = {"chosen": {k: v for k, v in chosen.items() if k != "train_grid"},
                                    "test": test, "all_fits": fits}
            log(f"  {kind} TEST {test}")
        result["folds"].append(fold)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('fusion_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
