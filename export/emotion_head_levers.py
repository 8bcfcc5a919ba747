"""Two cheap levers on top of the frozen emotion trunk (issue #16), scored with the shipped
protocol; nothing here is shipped.

    python -m export.emotion_head_levers context       # dev folds 0-2 only
    python -m export.emotion_head_levers calibration   # l2 chosen on dev, reported on all 5 / 3-4

``context``: the head on [mean, std] of the penultimate over the clip's last N windows
(windows every 128 frames = 2.05 s, so N = 4 / 6 spans ~8 / ~12 s of embeddings before the
newest window), what a running mean/std in the live engine would see. N = 1 is the shipped
head. Train on two dev folds, test on the third, clip macro-F1 of the signs rule, clip = mean
of the window probabilities (temperature 1), like ``export.emotion_head_experiments``.

``calibration``: the simulated operator of ``export.train_emotion_musicnn`` (per held-out
fold of the 5-fold heads, the genre with the most wrong clips, k = 1/3/5 of them corrected,
every window of a corrected clip one example; F1 change on the fold's other clips and
accuracy change on that genre's other clips), with the per-show correction on the embedding
instead of a bias: logits' = head logits + W·z + b, z the head's standardised penultimate,
(W, b) fit on the corrected windows by penalised maximum likelihood (strength l2, chosen on
the dev folds). The bias calibration the engine ships is scored in the same run.

Writes ``export/results/emotion_head_levers.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from . import data as D
from .emotion_augment import paired_bootstrap
from .evaluate import macro_f1
from .train_emotion_musicnn import (CORRECTIONS, DEV_FOLDS, UNTOUCHED_FOLDS, Head, clip_mean, decide,
                                    evaluate_head, features, load_embeddings, simulate_calibration)

RESULTS = Path(__file__).resolve().parent / "results"
POOL, STRIDE, SHIPPED_C, SHIPPED_T, SHIPPED_BIAS_L2 = 105, 128, 0.003, 0.5, 100.0
CONTEXTS = (1, 2, 4, 6, 8)
C_GRID = (0.001, 0.003, 0.01)
EMBEDDING_L2 = (10.0, 100.0, 1000.0, 3000.0, 10000.0)


# ------------------------------------------------------------------------------ context pooling

def context_features(emb: dict, n: int) -> np.ndarray:
    """[mean, std] of the penultimate over each window's clip's last ``n`` windows (fewer at
    the clip's start, as a running statistic would have)."""
    X = emb["penultimate"].astype(np.float64)
    out = np.empty((len(X), 2 * X.shape[1]))
    for s in np.unique(emb["song"]):
        idx = np.flatnonzero(emb["song"] == s)
        idx = idx[np.argsort(emb["end"][idx])]
        for j, i in enumerate(idx):
            w = X[idx[max(0, j - n + 1):j + 1]]
            out[i] = np.concatenate([w.mean(0), w.std(0)])
    return out


def dev_clip_f1(emb: dict, X: np.ndarray, C: float, weights: np.ndarray | None = None) -> dict:
    """Dev-fold clip macro-F1 (mean and per fold) and the pooled clip labels / predictions
    (``weights``: per-column weights of the head, see ``Head``)."""
    per, ys, preds = {}, [], []
    for f in DEV_FOLDS:
        tr = np.isin(emb["fold"], [g for g in DEV_FOLDS if g != f])
        te = emb["fold"] == f
        songs, cp = clip_mean(emb["song"][te], Head(C, weights).fit(X[tr], emb["q"][tr]).proba(X[te]))
        cq = np.array([emb["q"][te][emb["song"][te] == s][0] for s in songs])
        per[f] = macro_f1(cq, decide(cp, "signs"))
        ys.append(cq)
        preds.append(decide(cp, "signs"))
    return {"dev_clip_macro_f1": float(np.mean(list(per.values()))), "per_fold": per,
            "y": np.concatenate(ys), "pred": np.concatenate(preds)}


def context(emb: dict) -> dict:
    """Every N × (mean | mean+std) × C; each against the shipped head (N = 1, C = 0.003) on
    the same dev clips with a paired bootstrap interval of the difference."""
    out = {}
    base = dev_clip_f1(emb, features(emb, "penultimate"), SHIPPED_C)
    for n in CONTEXTS:
        Xc = context_features(emb, n)
        for name, X in (("mean", Xc[:, :200]), ("mean+std", Xc)):
            if n == 1 and name == "mean+std":
                continue  # std of one window is 0
            for C in C_GRID:
                r = dev_clip_f1(emb, X, C)
                r["vs_shipped"] = paired_bootstrap(r["y"], r.pop("pred"), base["pred"])
                assert np.array_equal(r.pop("y"), base["y"])
                out[f"N={n} {name} C={C}"] = r
                print(f"context N={n} {name:8s} C={C}: {r['dev_clip_macro_f1']:.3f} {r['vs_shipped']}", flush=True)
    return out


FROZEN_CONTEXT = (6, 0.003)  # the dev-best setting (N windows, C): its 5-fold figure, for the record


def context_five_fold(emb: dict) -> dict:
    """The frozen context setting and the shipped head with the fixed 5-fold split (softmax
    temperature as shipped): clip macro-F1 per fold, all 5 / dev 0-2 / untouched 3-4."""
    n, C = FROZEN_CONTEXT
    out, preds = {}, {}
    for name, X, c in (("shipped N=1", features(emb, "penultimate"), SHIPPED_C),
                       (f"N={n} mean", context_features(emb, n)[:, :200], C)):
        per, preds[name] = {}, {}
        for f in range(5):
            head = Head(c).fit(X[emb["fold"] != f], emb["q"][emb["fold"] != f])
            r = evaluate_head(emb, X, f, head, SHIPPED_T, "signs")
            per[f] = r["clip"]["macro_f1"]
            preds[name][f] = (r["clip_q"], decide(r["clip_probs"], "signs"))
        dev, untouched = np.mean([per[f] for f in DEV_FOLDS]), np.mean([per[f] for f in UNTOUCHED_FOLDS])
        out[name] = {"all_5": float(np.mean(list(per.values()))), "std_5": float(np.std(list(per.values()))),
                     "dev_0_2": float(dev), "untouched_3_4": float(untouched), "gap_dev_minus_untouched":
                     float(dev - untouched), "per_fold": per}
        print(f"5-fold {name}: {out[name]}", flush=True)
    a, b = preds[f"N={n} mean"], preds["shipped N=1"]
    for label, folds in (("all_5", range(5)), ("untouched_3_4", UNTOUCHED_FOLDS)):
        y = np.concatenate([a[f][0] for f in folds])
        out[f"paired_bootstrap_{label}"] = paired_bootstrap(y, np.concatenate([a[f][1] for f in folds]),
                                                            np.concatenate([b[f][1] for f in folds]))
        print(label, out[f"paired_bootstrap_{label}"])
    return out


# ------------------------------------------------------------------------------ embedding calibration

def fit_embedding_correction(logits: np.ndarray, z: np.ndarray, y: np.ndarray, l2: float):
    """(W (4, d), b (4,)) minimising Σ CE(softmax(logits + z·Wᵀ + b), y) + l2·(|W|² + |b|²)."""
    n, d = z.shape
    Y = np.eye(4)[y]
    za = np.hstack([z, np.ones((n, 1))])

    def loss(theta):
        Wb = theta.reshape(4, d + 1)
        s = logits + za @ Wb.T
        s -= s.max(1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(1, keepdims=True))
        g = (np.exp(logp) - Y).T @ za + 2 * l2 * Wb
        return -(Y * logp).sum() + l2 * (Wb ** 2).sum(), g.ravel()

    res = minimize(loss, np.zeros(4 * (d + 1)), jac=True, method="L-BFGS-B")
    Wb = res.x.reshape(4, d + 1)
    return Wb[:, :d], Wb[:, d]


def _softmax(s):
    s = s - s.max(1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(1, keepdims=True)


def five_fold_runs(emb: dict) -> dict:
    """The shipped 5-fold heads (C, temperature as shipped): per fold the held-out run of
    ``evaluate_head`` plus window logits and standardised embeddings."""
    X, q, fold = features(emb, "penultimate"), emb["q"], emb["fold"]
    runs = {}
    for f in range(5):
        head = Head(SHIPPED_C).fit(X[fold != f], q[fold != f])
        r = evaluate_head(emb, X, f, head, SHIPPED_T, "signs")
        z = (X[fold == f] - head.mean) / head.std
        r["z"], r["logits"] = z, (z @ head.coef.T + head.intercept) / SHIPPED_T
        runs[f] = r
    return runs


def simulate_embedding_calibration(runs: dict, clips: list[dict], l2: float) -> dict:
    """``train_emotion_musicnn.simulate_calibration`` with the embedding correction."""
    genre = {c["song"]: (c["genres"].split(";")[0].strip() or "?") for c in clips}
    out = {}
    for k in CORRECTIONS:
        rows = []
        for f, r in runs.items():
            pred = decide(r["clip_probs"], "signs")
            by_genre = {}
            for i in np.flatnonzero(pred != r["clip_q"]):
                by_genre.setdefault(genre[r["songs"][i]], []).append(i)
            g, idx = max(by_genre.items(), key=lambda kv: (len(kv[1]), kv[0]))
            fixed = idx[:k]
            m = np.isin(r["window_song"], r["songs"][fixed])
            y = np.array([r["clip_q"][list(r["songs"]).index(s)] for s in r["window_song"][m]])
            W, b = fit_embedding_correction(r["logits"][m], r["z"][m], y, l2)
            songs, cp = clip_mean(r["window_song"], _softmax(r["logits"] + r["z"] @ W.T + b))
            assert np.array_equal(songs, r["songs"])
            rest = np.setdiff1d(np.arange(len(pred)), fixed)
            after = decide(cp, "signs")
            before_f1 = macro_f1(r["clip_q"][rest], pred[rest])
            in_g = np.array([genre[r["songs"][i]] == g for i in rest])
            ok_b, ok_a = pred[rest] == r["clip_q"][rest], after[rest] == r["clip_q"][rest]
            rows.append({"fold": int(f), "genre": g, "corrected": len(fixed), "f1_before": before_f1,
                         "f1_change": macro_f1(r["clip_q"][rest], after[rest]) - before_f1,
                         "same_genre_acc_change": float(ok_a[in_g].mean() - ok_b[in_g].mean()) if in_g.any() else 0.0,
                         "other_genres_acc_change": float(ok_a[~in_g].mean() - ok_b[~in_g].mean())})
        dev = [x["f1_change"] for x in rows if x["fold"] in DEV_FOLDS]
        untouched = [x["f1_change"] for x in rows if x["fold"] in UNTOUCHED_FOLDS]
        out[str(k)] = {"mean_f1_change": float(np.mean([x["f1_change"] for x in rows])),
                       "dev_f1_change": float(np.mean(dev)) if dev else None,
                       "untouched_f1_change": float(np.mean(untouched)) if untouched else None,
                       "same_genre_acc_change": float(np.mean([x["same_genre_acc_change"] for x in rows])),
                       "other_genres_acc_change": float(np.mean([x["other_genres_acc_change"] for x in rows])),
                       "per_fold": rows}
    return out


def calibration(emb: dict, clips: list[dict]) -> dict:
    runs = five_fold_runs(emb)
    dev_runs = {f: runs[f] for f in DEV_FOLDS}
    dev_score, detail = {}, {}
    for l2 in EMBEDDING_L2:
        sim = simulate_embedding_calibration(dev_runs, clips, l2)
        dev_score[l2] = float(np.mean([v["mean_f1_change"] for v in sim.values()]))
        detail[str(l2)] = {k: {m: v[m] for m in ("mean_f1_change", "same_genre_acc_change", "other_genres_acc_change")}
                           for k, v in sim.items()}
        print(f"embedding calibration l2={l2}: dev F1 change {dev_score[l2]:+.4f} {detail[str(l2)]}", flush=True)
    l2 = max(dev_score, key=dev_score.get)
    emb_sim = simulate_embedding_calibration(runs, clips, l2)
    bias_sim = simulate_calibration(runs, clips, "signs", SHIPPED_BIAS_L2)
    for k in emb_sim:
        print(f"k={k}: embedding {emb_sim[k]['mean_f1_change']:+.3f} (untouched {emb_sim[k]['untouched_f1_change']:+.3f},"
              f" genre acc {emb_sim[k]['same_genre_acc_change']:+.3f}); bias {bias_sim[k]['mean_f1_change']:+.3f}")
    return {"dev_f1_change_per_l2": {str(k): v for k, v in dev_score.items()}, "dev_per_l2_per_k": detail, "chosen_l2": l2,
            "embedding_correction": emb_sim, "bias_calibration_shipped": bias_sim}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("lever", choices=("context", "context_five_fold", "calibration"))
    a = p.parse_args(argv)
    clips = D.load_clips(D.data_root(a.data))
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    path = RESULTS / "emotion_head_levers.json"
    rep = json.loads(path.read_text()) if path.is_file() else {}
    run = {"context": lambda: context(emb), "context_five_fold": lambda: context_five_fold(emb),
           "calibration": lambda: calibration(emb, clips)}[a.lever]
    rep[a.lever] = run()
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, default=float) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
