"""Clip-level linear heads on extra views of a clip, screened on the dev folds 0-2 against the
shipped emotion head (issue #16 levers; used by ``export.emotion_second_view`` and
``export.emotion_descriptors``). Nothing here is shipped.

Protocol (the shipped head's selection protocol, ``export.emotion_head_levers``): train on two
dev folds, test on the third, clip macro-F1 of the "signs" rule, mean over the three dev
folds; each setting's pooled dev-clip predictions are compared with

- the shipped window head (penultimate, C = 0.003, clip = mean of window probabilities:
  dev 0.747) — what the ship rule asks to beat;
- the clip-level head on the clip mean of the same musicnn penultimate at its best C — the
  like-for-like baseline, so a gain of ``musicnn + view`` over it is the view's own gain
  (and not the clip pooling's, which the "context" lever measured);

and each view is scored three ways: alone (clip-level head), ``musicnn + view`` (clip-level
head on the concatenation) and ``window head + view`` (the shipped window head with the
clip's view appended to each of its windows, clip = mean of the window probabilities: the
form a live engine with a running clip-wide descriptor would have); concatenations also
try a weight 3 on the view's standardised columns (a light view would otherwise be drowned
by 200 equally penalised musicnn dimensions);

with a 95 % paired-bootstrap interval over the 360 dev clips (``emotion_augment.
paired_bootstrap``). A clip-level head sees one example per clip (240 training clips), so
the C grid reaches weaker regularisation than the window head's.

Example::

    views = {"my view": array_of_shape_(600, d)}  # rows in clips.csv order
    report = screen(clips, views)
    report["musicnn + my view"]["best"]["dev_clip_macro_f1"]
"""
from __future__ import annotations

import numpy as np

from .emotion_augment import paired_bootstrap
from .emotion_head_levers import POOL, SHIPPED_C, STRIDE, dev_clip_f1
from .evaluate import macro_f1
from .train_emotion_musicnn import DEV_FOLDS, Head, decide, features, load_embeddings

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
WINDOW_C_GRID = (0.001, 0.003, 0.01)  # the window head's (export.emotion_head_levers)
#: weights of an extra view's standardised columns next to the musicnn block
VIEW_WEIGHTS = (1.0, 3.0)


def dev_clip_run(X: np.ndarray, q: np.ndarray, fold: np.ndarray, song: np.ndarray, C: float,
                 weights: np.ndarray | None = None) -> dict:
    """Clip macro-F1 per dev fold of a clip-level head; pooled (y, pred) in the order of the
    shipped head's run (dev folds in turn, songs sorted)."""
    per, ys, preds = {}, [], []
    for f in DEV_FOLDS:
        tr = np.isin(fold, [g for g in DEV_FOLDS if g != f])
        te = np.flatnonzero(fold == f)
        te = te[np.argsort(song[te])]
        pred = decide(Head(C, weights).fit(X[tr], q[tr]).proba(X[te]), "signs")
        per[int(f)] = macro_f1(q[te], pred)
        ys.append(q[te])
        preds.append(pred)
    return {"dev_clip_macro_f1": float(np.mean(list(per.values()))), "per_fold": per,
            "y": np.concatenate(ys), "pred": np.concatenate(preds)}


def _grid(name: str, run, refs: dict, first_block: int | None = None, width: int = 0,
          c_grid=C_GRID) -> tuple[dict, dict]:
    """``run(C, weights)`` for every C (and, for a concatenation of ``width`` columns, every
    weight of the columns after ``first_block``); the best setting against ``refs``."""
    runs = {}
    for w in (VIEW_WEIGHTS if first_block else (None,)):
        weights = None
        if w is not None:
            weights = np.ones(width)
            weights[first_block:] = w
        for C in c_grid:
            runs[f"C={C}" + (f" w={w}" if w is not None else "")] = run(C, weights)
    best_key = max(runs, key=lambda k: runs[k]["dev_clip_macro_f1"])
    best = runs[best_key]
    out = {"settings": {k: {"dev_clip_macro_f1": r["dev_clip_macro_f1"], "per_fold": r["per_fold"]}
                        for k, r in runs.items()},
           "best": {"setting": best_key, "dev_clip_macro_f1": best["dev_clip_macro_f1"], "per_fold": best["per_fold"]}}
    for ref_name, ref in refs.items():
        assert np.array_equal(ref["y"], best["y"])
        out["best"][f"vs_{ref_name}"] = paired_bootstrap(ref["y"], best["pred"], ref["pred"])
    print(f"{name:50s} best {best_key:15s} {best['dev_clip_macro_f1']:.3f} "
          + " ".join(f"{k} {v['diff']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"
                     for k, v in out["best"].items() if k.startswith("vs_")), flush=True)
    return out, best


def screen(clips: list[dict], views: dict[str, np.ndarray]) -> dict:
    """Every view alone and concatenated with the musicnn clip mean (clip-level heads), and
    appended to every window of its clip under the shipped window head, against the shipped
    head and the musicnn clip-mean head (see the module docstring)."""
    order = [c["song"] for c in clips]
    q = np.array([c["q"] for c in clips])
    fold = np.array([c["fold"] for c in clips])
    song = np.array(order)
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    P = features(emb, "penultimate")
    row = {s: i for i, s in enumerate(order)}
    row_of_window = np.array([row[s] for s in emb["song"]])
    shipped = dev_clip_f1(emb, P, SHIPPED_C)
    M = np.stack([P[emb["song"] == s].mean(0) for s in order])
    rep = {"protocol": __doc__.split("Example::")[0].strip(),
           "shipped window head": {"dev_clip_macro_f1": shipped["dev_clip_macro_f1"], "per_fold": shipped["per_fold"]}}
    print(f"shipped window head: {shipped['dev_clip_macro_f1']:.3f}", flush=True)

    def clip_head(X):
        return lambda C, w: dev_clip_run(X, q, fold, song, C, w)

    rep["musicnn clip mean"], base = _grid("musicnn clip mean", clip_head(M), {"shipped": shipped})
    refs = {"shipped": shipped, "musicnn_clip_mean": base}
    for name, V in views.items():
        rep[name], _ = _grid(name, clip_head(V), refs)
        rep[f"musicnn + {name}"], _ = _grid(f"musicnn + {name}", clip_head(np.hstack([M, V])), refs,
                                            first_block=M.shape[1], width=M.shape[1] + V.shape[1])
        W = np.hstack([P, V[row_of_window]])
        rep[f"window head + {name}"], _ = _grid(
            f"window head + {name}", lambda C, w, W=W: dev_clip_f1(emb, W, C, w), refs,
            first_block=P.shape[1], width=W.shape[1], c_grid=WINDOW_C_GRID)
    return rep
