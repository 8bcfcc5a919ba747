"""Could the tags be heads on the emotion model's musicnn (MSD) trunk? Agreement with the
musicnn MTT taggram, measured like the tagger's card.

    python -m export.evaluate_trunk_tags [--data ../shared/data]

Per 4 s emotion window (the cached ``export.musicnn_embed`` embeddings): target = the mean
teacher taggram (``teachers/emotion4q_dev.npz``, MTT_musicnn on 3 s patches) over the patches
whose centre lies in the window. A ridge regression from the standardised trunk outputs
(penultimate + mean/max pool) to the targets' logits; the ridge strength is chosen on the dev
folds 0–2 only; then the fixed 5-fold split. ROC-AUC / PR-AUC per tag against the target
binarised at its 90th percentile on the training folds (≈ 10 % positives, as the tagger's
card), macro over tags, mean over held-out folds. Writes ``models_onnx/trunk_tags_metrics.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sonolux import modelinput as mi

from . import data as D
from .evaluate import tag_scores
from .musicnn_embed import POOLS, span
from .train_emotion_musicnn import DEV_FOLDS, FEATURE_SETS, features, load_embeddings

REPO = Path(__file__).resolve().parents[1]
ALPHAS = (10.0, 100.0, 1000.0, 10000.0)
WIN = mi.FEATURE_CONTRACT["emotion_frames"]


def window_targets(emb: dict, teach: dict, frames: int = WIN) -> np.ndarray:
    """Mean teacher taggram over the 3 s patches centred inside each window of ``frames``."""
    out = np.zeros((len(emb["song"]), 50), np.float32)
    for i, (song, end) in enumerate(zip(emb["song"], emb["end"])):
        tg = teach[f"{song}__musicnn_taggram"]
        t1 = end * mi.HOP / mi.SR
        t0 = t1 - frames * mi.HOP / mi.SR
        centres = 3.0 * np.arange(len(tg)) + 1.5
        inside = (centres >= t0) & (centres < t1)
        out[i] = tg[inside].mean(0) if inside.any() else tg[np.abs(centres - (t0 + t1) / 2).argmin()]
    return out


def ridge(X, Y, alpha):
    mean, std = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / std
    ym = Y.mean(0)
    W = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (Y - ym))
    return lambda Xn: ((Xn - mean) / std) @ W + ym


def fold_scores(X, T, fold, test, train_folds, alpha) -> dict:
    tr, te = np.isin(fold, list(train_folds)), fold == test
    logit = np.log(np.clip(T, 1e-4, 1 - 1e-4) / (1 - np.clip(T, 1e-4, 1 - 1e-4)))
    pred = ridge(X[tr], logit[tr], alpha)(X[te])
    thr = np.quantile(T[tr], 0.9, axis=0)
    return tag_scores(T[te] > thr, pred)


def evaluate(emb: dict, teach: dict, pool: int) -> dict:
    """Ridge strength chosen on the dev folds, then the 5-fold agreement (see module doc)."""
    X = features(emb, "all")
    T = window_targets(emb, teach, span(pool))
    fold = emb["fold"]
    dev = {}
    for alpha in ALPHAS:
        dev[alpha] = float(np.mean([fold_scores(X, T, fold, f, [g for g in DEV_FOLDS if g != f], alpha)["roc_auc"]
                                    for f in DEV_FOLDS]))
        print(f"dev alpha={alpha:g}: ROC-AUC {dev[alpha]:.3f}")
    alpha = max(dev, key=dev.get)
    per = [fold_scores(X, T, fold, f, [g for g in range(5) if g != f], alpha) for f in range(5)]
    roc = [s["roc_auc"] for s in per]
    rep = {"features": FEATURE_SETS["all"], "alpha": alpha, "dev_grid": {str(k): v for k, v in dev.items()},
           "roc_auc_5fold": float(np.mean(roc)), "roc_auc_5fold_std": float(np.std(roc)),
           "pr_auc_5fold": float(np.mean([s["pr_auc"] for s in per])),
           "roc_auc_dev_folds": float(np.mean(roc[:3])), "roc_auc_untouched_folds": float(np.mean(roc[3:])),
           "per_fold": per, "unit": f"windows of {span(pool)} frames, one per 128 frames; target = mean MTT taggram "
                                   "of the 3 s patches centred in the window"}
    return rep


def fit_head(emb: dict, teach: dict, alpha: float, pool: int):
    """(W (dim, 50), b (50,), mean, std): the shipped tag head on all windows."""
    X = features(emb, "all")
    T = window_targets(emb, teach, span(pool))
    logit = np.log(np.clip(T, 1e-4, 1 - 1e-4) / (1 - np.clip(T, 1e-4, 1 - 1e-4)))
    mean, std = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / std
    ym = logit.mean(0)
    W = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (logit - ym))
    return W, ym, mean, std


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--stride", type=int, default=128)
    p.add_argument("--pool", type=int, default=POOLS[1], choices=POOLS, help="pooled feature columns")
    a = p.parse_args(argv)
    root = D.data_root(a.data)
    rep = evaluate(load_embeddings("MSD_musicnn", a.stride, a.pool), D.load_teachers(root), a.pool)
    (REPO / "models_onnx" / "trunk_tags_metrics.json").write_text(json.dumps(rep, indent=2) + "\n")
    print(f"tags as a ridge head on the MSD trunk: ROC-AUC {rep['roc_auc_5fold']:.3f} ± "
          f"{rep['roc_auc_5fold_std']:.3f} (dev {rep['roc_auc_dev_folds']:.3f}, untouched "
          f"{rep['roc_auc_untouched_folds']:.3f}), PR-AUC {rep['pr_auc_5fold']:.3f}, alpha {rep['alpha']:g}")
    return rep


if __name__ == "__main__":
    main()
