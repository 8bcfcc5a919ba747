"""Test-time ensembling of emotion heads on the frozen trunk (issue #16 lever): average the
clip probabilities of linear heads on different pool lengths (105 / 187 / 250 feature
columns: 4.0 / 5.3 / 6.3 s windows, the cached streaming embeddings) and / or the context
head (the mean of the last N = 6 windows' penultimates, ``export.emotion_head_levers``).

    python -m export.emotion_ensemble dev                  # every ensemble × C, dev folds 0-2
    python -m export.emotion_ensemble five_fold            # the frozen dev choice, all 5 folds

Protocol as ``export.emotion_head_levers``: each member is the shipped head (standardised
multinomial logistic regression, temperature 1) trained on two dev folds and tested on the
third; a member's clip probability is the mean of its window probabilities; the ensemble's is
the mean of its members' clip probabilities; clip macro-F1 of the signs rule; paired
bootstrap over the 360 dev clips against the shipped head (pool 105, C = 0.003: 0.747).
The windows of different pools do not share end frames (a longer pool's first window ends
later), so this is the clip-level aggregate; live, every member would be evaluated at each
0.5 s mark on the same trunk state.

Writes ``export/results/emotion_ensemble.json``.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from .emotion_augment import paired_bootstrap
from .emotion_head_levers import context_features
from .evaluate import macro_f1
from .train_emotion_musicnn import DEV_FOLDS, UNTOUCHED_FOLDS, Head, clip_mean, decide, features, load_embeddings

RESULTS = Path(__file__).resolve().parent / "results"
STRIDE, SHIPPED_POOL, SHIPPED_C = 128, 105, 0.003
C_GRID = (0.001, 0.003, 0.01)
CONTEXT_N = 6
#: members: name → (pool, context windows); "p105" is the shipped head
MEMBERS = {"p105": (105, 1), "p187": (187, 1), "p250": (250, 1), "ctx6": (105, CONTEXT_N)}
ENSEMBLES = [m for r in (2, 3, 4) for m in itertools.combinations(MEMBERS, r)]


def member_inputs() -> dict:
    """name → (embeddings, X): the window features each member's head reads."""
    embs = {p: load_embeddings("MSD_musicnn", STRIDE, p) for p in {p for p, _ in MEMBERS.values()}}
    out = {}
    for name, (pool, n) in MEMBERS.items():
        emb = embs[pool]
        out[name] = (emb, features(emb, "penultimate") if n == 1 else context_features(emb, n)[:, :200])
    return out


def clip_probs(emb: dict, X: np.ndarray, C: float, test_folds, train_folds_of) -> dict:
    """{fold: (songs, clip labels, clip probabilities)} of held-out ``test_folds``."""
    out = {}
    for f in test_folds:
        tr = np.isin(emb["fold"], train_folds_of(f))
        te = emb["fold"] == f
        songs, cp = clip_mean(emb["song"][te], Head(C).fit(X[tr], emb["q"][tr]).proba(X[te]))
        out[f] = (songs, np.array([emb["q"][te][emb["song"][te] == s][0] for s in songs]), cp)
    return out


def combine(runs: list[dict]) -> dict:
    """Mean of the members' clip probabilities, fold by fold (same clips in the same order)."""
    out = {}
    for f in runs[0]:
        songs, q, _ = runs[0][f]
        assert all(np.array_equal(r[f][0], songs) for r in runs)
        out[f] = (songs, q, np.mean([r[f][2] for r in runs], axis=0))
    return out


def scores(res: dict, folds) -> tuple[dict, np.ndarray, np.ndarray]:
    per = {int(f): macro_f1(res[f][1], decide(res[f][2], "signs")) for f in folds}
    return (per, np.concatenate([res[f][1] for f in folds]),
            np.concatenate([decide(res[f][2], "signs") for f in folds]))


def dev() -> dict:
    inputs = member_inputs()
    others = lambda f: [g for g in DEV_FOLDS if g != f]  # noqa: E731
    runs = {(m, C): clip_probs(*inputs[m], C, DEV_FOLDS, others) for m in MEMBERS for C in C_GRID}
    _, yb, pb = scores(runs[("p105", SHIPPED_C)], DEV_FOLDS)
    rep = {"protocol": __doc__.split("Protocol as ")[1].split("Writes")[0].strip()}
    for combo in [(m,) for m in MEMBERS] + ENSEMBLES:
        for C in C_GRID:
            per, y, p = scores(combine([runs[(m, C)] for m in combo]), DEV_FOLDS)
            assert np.array_equal(y, yb)
            key = f"{'+'.join(combo)} C={C}"
            rep[key] = {"dev_clip_macro_f1": float(np.mean(list(per.values()))), "per_fold": per,
                        "vs_shipped": paired_bootstrap(y, p, pb)}
            print(f"{key:28s} {rep[key]['dev_clip_macro_f1']:.3f} {rep[key]['vs_shipped']}", flush=True)
    best = max((k for k in rep if "+" in k), key=lambda k: rep[k]["dev_clip_macro_f1"])
    rep["best_ensemble_on_dev"] = best
    print("best ensemble on dev:", best, rep[best])
    return rep


def five_fold(choice: str) -> dict:
    """The frozen ensemble ``choice`` ('a+b C=c') and the shipped head with the fixed 5-fold
    split: clip macro-F1 all 5 / dev 0-2 / untouched 3-4 and paired bootstrap intervals."""
    combo, C = choice.split(" C=")
    inputs = member_inputs()
    others = lambda f: [g for g in range(5) if g != f]  # noqa: E731
    res = {"shipped p105 C=0.003": clip_probs(*inputs["p105"], SHIPPED_C, range(5), others),
           choice: combine([clip_probs(*inputs[m], float(C), range(5), others) for m in combo.split("+")])}
    out, preds = {}, {}
    for name, r in res.items():
        per, y, preds[name] = scores(r, range(5))
        dev_, unt = np.mean([per[f] for f in DEV_FOLDS]), np.mean([per[f] for f in UNTOUCHED_FOLDS])
        out[name] = {"all_5": float(np.mean(list(per.values()))), "std_5": float(np.std(list(per.values()))),
                     "dev_0_2": float(dev_), "untouched_3_4": float(unt), "gap_dev_minus_untouched": float(dev_ - unt),
                     "per_fold": per}
        print(name, out[name], flush=True)
    n_dev = sum(len(res[choice][f][1]) for f in DEV_FOLDS)
    for label, sl in (("all_5", slice(None)), ("untouched_3_4", slice(n_dev, None))):
        out[f"paired_bootstrap_{label}"] = paired_bootstrap(y[sl], preds[choice][sl], preds["shipped p105 C=0.003"][sl])
        print(label, out[f"paired_bootstrap_{label}"], flush=True)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("dev", help="every ensemble × C on the dev folds 0-2")
    f = sub.add_parser("five_fold", help="the frozen dev choice on all 5 folds")
    f.add_argument("--choice", help="ensemble as 'a+b C=c' (default: the dev best in the results file)")
    a = p.parse_args(argv)
    path = RESULTS / "emotion_ensemble.json"
    rep = json.loads(path.read_text()) if path.is_file() else {}
    if a.cmd == "dev":
        rep["dev"] = dev()
    else:
        choice = a.choice or rep.get("dev", {}).get("best_ensemble_on_dev")
        if not choice:
            p.error("no dev result yet: run `python -m export.emotion_ensemble dev` first or pass --choice")
        rep["five_fold"] = {"choice": choice, **five_fold(choice)}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, default=float) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
