"""Do tuned valence / arousal thresholds ship? A pre-registered nested cross-validation (issue #16).

    python -m export.emotion_offsets [--data ../shared/data]     # → export/results/emotion_offsets.json

Why. The engine publishes the quadrant of the signs of valence and arousal, both derived from
the quadrant probabilities (V = P(Q1) + P(Q4) − P(Q2) − P(Q3), A = P(Q1) + P(Q2) − P(Q3) −
P(Q4)), with both thresholds at 0. A new user saw Q2 and Q4 clips come out Q1 and Q3 — a
systematic lean that two thresholds (t_V, t_A) could take out: the quadrant of the signs of
(V − t_V, A − t_A). The vibenet peer gets such thresholds; the shipped head never had them.

Protocol (fixed before the run, the same nested loop as ``export.emotion_context``):

* The shipped setting: the v2.2 embeddings, ``Head`` with C = 0.001 on the window penultimate,
  clip = mean of its window probabilities at temperature 1; the rule as published.
* Outer loop: each of the 5 given folds in turn is the test fold. On the other four only:
  out-of-fold clip probabilities (each of the four predicted by a head trained on the other
  three); (t_V, t_A) on the grid {−0.2, −0.15, …, 0.2}² maximising the clip macro-F1 of those
  240 + 240 clips (ties: the smallest |t_V| + |t_A|, then t_V, then t_A); the head trained on
  the four folds scores the test fold with those thresholds and with (0, 0).
* Ship rule: tuned thresholds ship if the procedure beats (0, 0) over the 600 clips by ≥ +0.01
  with the paired bootstrap's 95 % interval above −0.01, and the same tuning on all five folds'
  out-of-fold probabilities picks thresholds other than (0, 0). Otherwise nothing ships.

Caveat: the folds 3–4 have been looked at for other levers before (see the model card).
"""
from __future__ import annotations


import numpy as np

from .emotion_context import clip_probs, passes, pooled_comparison, start, write_result
from .evaluate import macro_f1, quadrant_of_signs
from .train_emotion_musicnn import QUADRANT_VA, features

C = 0.001
GRID = np.round(np.arange(-0.2, 0.2001, 0.05), 2)


def decide(p: np.ndarray, tv: float, ta: float) -> np.ndarray:
    """Quadrant 0..3 of the signs of (V − t_V, A − t_A); zero counts as positive."""
    return quadrant_of_signs(p @ QUADRANT_VA - np.array([tv, ta]))


def tune(q: np.ndarray, p: np.ndarray) -> tuple[tuple, float]:
    """The grid's best (t_V, t_A) on clips ``q`` / ``p`` and its macro-F1 (ties as documented)."""
    scores = {(tv, ta): macro_f1(q, decide(p, tv, ta)) for tv in GRID for ta in GRID}
    best = max(scores, key=lambda k: (round(scores[k], 12), -(abs(k[0]) + abs(k[1])), -k[0], -k[1]))
    return (float(best[0]), float(best[1])), scores[best]


def out_of_fold(emb: dict, X: np.ndarray, folds) -> tuple[np.ndarray, np.ndarray]:
    """Clip quadrants and probabilities of every clip of ``folds``, each fold predicted by a
    head on ``X`` trained on the others of ``folds``."""
    parts = [clip_probs(emb, X, C, [g for g in folds if g != f], f) for f in folds]
    return np.concatenate([x[0] for x in parts]), np.concatenate([x[1] for x in parts])


def main(argv=None) -> dict:
    from threadpoolctl import threadpool_limits

    emb, t0 = start(__doc__, argv)
    X = features(emb, "penultimate")
    outer, ys, tuned, zero = {}, [], [], []
    with threadpool_limits(1):
        for f in range(5):
            inner = [g for g in range(5) if g != f]
            (tv, ta), inner_f1 = tune(*out_of_fold(emb, X, inner))
            q, cp = clip_probs(emb, X, C, inner, f)
            a, b = decide(cp, tv, ta), decide(cp, 0.0, 0.0)
            outer[f] = {"chosen": [tv, ta], "inner_score": inner_f1, "outer_score": macro_f1(q, a),
                        "zero_outer_score": macro_f1(q, b)}
            print(f"outer fold {f}: t_V {tv:+.2f} t_A {ta:+.2f} inner {inner_f1:.3f} outer {outer[f]['outer_score']:.3f}"
                  f" (zero {outer[f]['zero_outer_score']:.3f})", flush=True)
            ys.append(q), tuned.append(a), zero.append(b)
        final, final_f1 = tune(*out_of_fold(emb, X, range(5)))
    rep = {"per_outer_fold": outer, **pooled_comparison(emb, outer, ys, tuned, zero, "zero"),
           "final_choice": {"t_V": final[0], "t_A": final[1], "out_of_fold_score": final_f1}}
    rep["ship"] = passes(rep) and final != (0.0, 0.0)
    print(f"procedure {rep['procedure_pooled_600']:.3f} vs zero {rep['zero_pooled_600']:.3f}: "
          f"{rep['paired_bootstrap_all_5']}; final {final}; ship: {rep['ship']}")
    return write_result("emotion_offsets", rep, t0)


if __name__ == "__main__":
    main()
