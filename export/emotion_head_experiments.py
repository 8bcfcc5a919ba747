"""Alternatives to the shipped emotion head, each scored on the dev folds 0–2 only.

    python -m export.finetune_cache [--model MTT_musicnn]   # front-end caches (once per trunk)
    python -m export.emotion_head_experiments [--data ../shared/data]

The shipped head (``export.train_emotion_musicnn``) is a standardised logistic regression
on the penultimate layer of a 105-centre pool of the frozen musicnn (MSD) trunk; its
dev-selection figure (train on two dev folds, test on the third, clip macro-F1 of the
published "signs" rule, softmax temperature 1) is the maximum over 24 settings. Every
variant below is scored the same way and put next to that baseline, so what can be compared
is one protocol: same windows (one per 128 frames), clip = mean of its window probabilities.

- ``mlp``: a dropout MLP (or dropout + linear) on the standardised features, single seed and
  the mean of 3 seeds' probabilities (AdamW, fixed epochs);
- ``factorised_va``: two binary logistic regressions (valence sign, arousal sign) written as
  quadrant logits ``(s_v·v + s_a·a)/2``, alone and averaged with the 4-way head;
- ``temperature``: the same head scored at several softmax temperatures (the shipped model
  divides its logits by the temperature of lowest ECE, which moves the signs decision);
- ``pool_augment``: the head trained on the 105-centre windows plus the 187/250-centre
  windows of the same clips (applied to 105-centre windows);
- ``dense_windows``: the head trained on windows every 16 frames instead of 128;
- ``mtt_trunk``: the MagnaTagATune musicnn trunk (same size and cost) instead of MSD.

Writes ``export/results/emotion_head_experiments.json``. Nothing here is shipped.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as D
from .evaluate import macro_f1
from .finetune_cache import load_front
from .finetune_emotion import POOL, STRIDE, slices, window_starts
from .musicnn_torch import WEIGHTS, Musicnn
from .train_emotion_musicnn import (DEV_FOLDS, Head, clip_mean, decide, features, load_embeddings,
                                    reliability)

RESULTS = Path(__file__).resolve().parent / "results"
C_GRID = (0.001, 0.003, 0.01)
BASELINE_C = 0.003
MLP_SETTINGS = ({"hidden": 0, "dropout": 0.5, "weight_decay": 1e-2, "epochs": 20},
                {"hidden": 64, "dropout": 0.5, "weight_decay": 1e-2, "epochs": 20},
                {"hidden": 128, "dropout": 0.5, "weight_decay": 1e-1, "epochs": 20},
                {"hidden": 256, "dropout": 0.5, "weight_decay": 1e-2, "epochs": 10})
MLP_SEEDS = 3


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def clip_f1(emb: dict, te: np.ndarray, p: np.ndarray, rule: str = "signs") -> float:
    songs, cp = clip_mean(emb["song"][te], p)
    first = {s: q for s, q in zip(emb["song"][te][::-1], emb["q"][te][::-1])}
    return macro_f1(np.array([first[s] for s in songs]), decide(cp, rule))


def dev_mean(emb: dict, X: np.ndarray, fit_predict) -> float:
    """Mean over the dev folds of the clip macro-F1 of ``fit_predict(train_mask, test_mask)``."""
    scores = []
    for f in DEV_FOLDS:
        tr = np.isin(emb["fold"], [g for g in DEV_FOLDS if g != f])
        te = emb["fold"] == f
        scores.append(clip_f1(emb, te, fit_predict(tr, te)))
    return float(np.mean(scores))


def lr_probs(X, y, C, Xte, temperature=1.0):
    return Head(C).fit(X, y).proba(Xte, temperature)


def lr_logits(X, y, C, Xte):
    h = Head(C).fit(X, y)
    return ((Xte - h.mean) / h.std) @ h.coef.T + h.intercept


def mlp_probs(X, y, Xte, hidden, dropout, weight_decay, epochs, seed):
    torch.manual_seed(seed)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    xt, yt = torch.tensor((X - mu) / sd, dtype=torch.float32), torch.tensor(y)
    layers = [nn.Dropout(dropout)]
    layers += [nn.Linear(xt.shape[1], hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 4)] \
        if hidden else [nn.Linear(xt.shape[1], 4)]
    net = nn.Sequential(*layers)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(yt))
        for b in range(0, len(yt), 64):
            i = perm[b:b + 64]
            loss = F.cross_entropy(net(xt[i]), yt[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(torch.tensor((Xte - mu) / sd, dtype=torch.float32)), 1).numpy()


# ------------------------------------------------------------------------------ experiments

def baseline(emb) -> dict:
    X = features(emb, "penultimate")
    q = emb["q"]
    return {f"C={C}": dev_mean(emb, X, lambda tr, te: lr_probs(X[tr], q[tr], C, X[te])) for C in C_GRID}


def mlp(emb) -> list[dict]:
    rows = []
    for name in ("penultimate", "all"):
        X, q = features(emb, name), emb["q"]
        for s in MLP_SETTINGS:
            cache = {}

            def probs(tr, te, seeds):
                key = (tr.tobytes(), seeds)
                if key not in cache:
                    cache[key] = np.mean([mlp_probs(X[tr], q[tr], X[te], seed=k, **s) for k in range(seeds)], 0)
                return cache[key]

            row = {"features": name, **s, "single_seed": dev_mean(emb, X, lambda tr, te: probs(tr, te, 1)),
                   f"mean_of_{MLP_SEEDS}_seeds": dev_mean(emb, X, lambda tr, te: probs(tr, te, MLP_SEEDS))}
            print("mlp", row, flush=True)
            rows.append(row)
    return rows


def factorised_va(emb) -> dict:
    X, q = features(emb, "penultimate"), emb["q"]
    signs = D.QUADRANT_VA
    out = {}
    for C in C_GRID:
        def va_logits(tr, te):
            lv = lr_logits(X[tr], (signs[q[tr], 0] > 0).astype(int), C, X[te])[:, 0]
            la = lr_logits(X[tr], (signs[q[tr], 1] > 0).astype(int), C, X[te])[:, 0]
            return (signs[None, :, 0] * lv[:, None] + signs[None, :, 1] * la[:, None]) / 2

        out[f"C={C}"] = {
            "factorised": dev_mean(emb, X, lambda tr, te: softmax(va_logits(tr, te))),
            "mean_with_4way": dev_mean(emb, X, lambda tr, te: softmax(
                (va_logits(tr, te) + lr_logits(X[tr], q[tr], C, X[te])) / 2))}
    return out


def temperature(emb) -> dict:
    X, q = features(emb, "penultimate"), emb["q"]
    out = {}
    for T in (0.5, 0.7, 1.0, 1.5):
        probs = {}

        def run(tr, te, T=T, probs=probs):
            probs[int(te.argmax())] = (p := lr_probs(X[tr], q[tr], BASELINE_C, X[te], T))
            return p

        f1 = dev_mean(emb, X, run)
        clip_p, clip_q = [], []
        for f in DEV_FOLDS:
            te = emb["fold"] == f
            songs, cp = clip_mean(emb["song"][te], probs[int(te.argmax())])
            clip_p.append(cp)
            clip_q.append([q[te][emb["song"][te] == s][0] for s in songs])
        # the same dev folds scored by heads trained on the other four folds (as the 5-fold run)
        five = [clip_f1(emb, emb["fold"] == f, lr_probs(X[emb["fold"] != f], q[emb["fold"] != f], BASELINE_C,
                                                         X[emb["fold"] == f], T)) for f in DEV_FOLDS]
        out[str(T)] = {"clip_macro_f1": f1, "ece": reliability(np.concatenate(clip_p), np.concatenate(clip_q),
                                                               "signs")["ece"],
                       "clip_macro_f1_dev_folds_5fold_heads": float(np.mean(five))}
    return out


def pool_augment(embs) -> dict:
    emb = embs[POOL]
    X, out = features(emb, "penultimate"), {}
    for pools in ((105, 187), (105, 187, 250)):
        for C in C_GRID:
            def run(tr, te, pools=pools, C=C):
                train_folds = np.unique(emb["fold"][tr])
                Xs = np.concatenate([features(embs[p], "penultimate")[np.isin(embs[p]["fold"], train_folds)]
                                     for p in pools])
                ys = np.concatenate([embs[p]["q"][np.isin(embs[p]["fold"], train_folds)] for p in pools])
                return lr_probs(Xs, ys, C, X[te])

            out[f"pools={'+'.join(map(str, pools))} C={C}"] = dev_mean(emb, X, run)
    return out


@torch.no_grad()
def window_features(trunk: Musicnn, front: dict, clips: list[dict], stride: int) -> dict:
    """Penultimate (and pools) of windows every ``stride`` frames, from the front-end cache;
    at stride 128 these are exactly the windows of ``export.musicnn_embed``."""
    keys = ("penultimate", "mean_pool", "max_pool")
    out = {k: [] for k in (*keys, "song", "q", "fold")}
    for c in clips:
        x = front[c["song"]]
        starts = window_starts(x.shape[1])
        starts = np.arange(starts[0], starts[-1] + 1, stride)
        r = trunk.pool_head(torch.cat([trunk.mid_valid(b) for b in torch.split(slices(x, starts), 64)]))
        for k in keys:
            out[k].append(r[k].numpy())
        out["song"] += [c["song"]] * len(starts)
        out["q"] += [c["q"]] * len(starts)
        out["fold"] += [c["fold"]] * len(starts)
    return {k: (np.concatenate(v) if k in keys else np.array(v)) for k, v in out.items()}


def dense_windows(emb, clips) -> dict:
    trunk = Musicnn.from_npz(WEIGHTS / "MSD_musicnn.npz").eval()
    dense = window_features(trunk, load_front("MSD_musicnn"), clips, 16)
    X, Xd, out = features(emb, "penultimate"), features(dense, "penultimate"), {}
    for C in (0.0003, 0.001, 0.003):
        def run(tr, te, C=C):
            m = np.isin(dense["fold"], np.unique(emb["fold"][tr]))
            return lr_probs(Xd[m], dense["q"][m], C, X[te])

        out[f"stride16 C={C}"] = dev_mean(emb, X, run)
    return out


def mtt_trunk(clips) -> dict:
    trunk = Musicnn.from_npz(WEIGHTS / "MTT_musicnn.npz").eval()
    emb = window_features(trunk, load_front("MTT_musicnn"), clips, STRIDE)
    out = {}
    for name in ("penultimate", "all"):
        X, q = features(emb, name), emb["q"]
        for C in (0.0003,) + C_GRID:
            out[f"{name} C={C}"] = dev_mean(emb, X, lambda tr, te: lr_probs(X[tr], q[tr], C, X[te]))
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--skip", default="", help="comma list of experiments to skip (their earlier results in "
                                               "the JSON are kept)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    clips = D.load_clips(D.data_root(a.data))
    embs = {pool: load_embeddings("MSD_musicnn", STRIDE, pool) for pool in (105, 187, 250)}
    emb = embs[POOL]
    skip = set(a.skip.split(","))
    t0 = time.time()
    path = RESULTS / "emotion_head_experiments.json"
    rep = json.loads(path.read_text()) if path.is_file() else {}  # --skip keeps earlier results
    rep.pop("wall_s", None)  # (older files: one total)
    rep["protocol"] = ("train on two dev folds, test on the third (folds 0-2 only); clip macro-F1 of the "
                       "signs rule, clip = mean of window probabilities; windows every 128 frames, pool 105")
    runs = {"baseline_logistic_regression": lambda: baseline(emb), "factorised_va": lambda: factorised_va(emb),
            "temperature": lambda: temperature(emb), "pool_augment": lambda: pool_augment(embs),
            "dense_windows": lambda: dense_windows(emb, clips), "mtt_trunk": lambda: mtt_trunk(clips),
            "mlp": lambda: mlp(emb)}
    RESULTS.mkdir(exist_ok=True)
    for name, run in runs.items():
        if name in skip:
            continue
        rep[name] = run()
        print(name, json.dumps(rep[name], default=float), flush=True)
        rep[f"{name}_wall_s"] = time.time() - t0
        path.write_text(json.dumps(rep, indent=2, default=float) + "\n")
        t0 = time.time()
    return rep


if __name__ == "__main__":
    main()
