"""A second pretrained trunk next to the shipped one (issue #16): the MTT musicnn checkpoint's
outputs beside the MSD checkpoint's penultimate, under the shipped linear head; scored with
the shipped protocol, nothing shipped unless it wins.

    python -m export.musicnn_embed --model MTT_musicnn     # the MTT windows (the MSD ones exist)
    python -m export.emotion_second_trunk dev               # dev folds 0-2 only
    python -m export.emotion_second_trunk five_fold --candidate NAME

Both trunks run over the same streaming windows (6.3 s pool, one per 128 frames, the engine's
level normaliser in front), so a window's MSD and MTT rows line up. Candidates (C = 0.001 /
0.003): the MTT penultimate alone; MSD + MTT penultimates; the same with the MTT columns at
weight 0.5 (``Head``'s column weights); the MSD penultimate + the MTT taggram (50). Each against
the shipped setting (MSD penultimate, C = 0.001) on the same dev clips with a paired bootstrap
(``export.emotion_pseudo.compare_dev``); ship rule: dev gain >= +0.01 with the interval's
lower end > -0.01, then the untouched folds not lower. The cost of a second trunk — about
twice the emotion call — is only worth measuring for a candidate that passes. Writes
``export/results/emotion_second_trunk.json``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import data as D
from .emotion_pseudo import MODEL, POOL, SHIPPED_NAME, STRIDE, compare_dev, compare_frozen, lever_main
from .train_emotion_musicnn import Head, load_embeddings

RESULTS = Path(__file__).resolve().parent / "results"
SECOND = "MTT_musicnn"
C_GRID = (0.001, 0.003)


def setup(root: Path):
    clips = D.load_clips(root)
    emb = load_embeddings(MODEL, STRIDE, POOL, "running_level")
    other = load_embeddings(SECOND, STRIDE, POOL, "running_level")
    if not (np.array_equal(other["song"], emb["song"]) and np.array_equal(other["end"], emb["end"])):
        raise SystemExit(f"the {SECOND} windows differ from the {MODEL} ones: run export.musicnn_embed for both "
                         "with the same --stride")
    return clips, emb, other


def candidates(emb: dict, other: dict) -> dict:
    """name → (fit(test fold, train folds, X_test) → window probabilities, X)."""
    msd = emb["penultimate"].astype(np.float64)
    width = msd.shape[1]
    views = {"base": (msd, None),
             "MTT penultimate": (other["penultimate"].astype(np.float64), None),
             "MSD + MTT penultimates": (np.concatenate([msd, other["penultimate"]], 1), None),
             "MSD + MTT penultimates, MTT weight 0.5": (np.concatenate([msd, other["penultimate"]], 1),
                                                        np.r_[np.ones(width), np.full(width, 0.5)]),
             "MSD penultimate + MTT taggram": (np.concatenate([msd, other["taggram"]], 1), None)}

    def make(X, C, weights):
        def fit(f, train, Xte):
            m = np.isin(emb["fold"], list(train))
            return Head(C, weights).fit(X[m], emb["q"][m]).proba(Xte)
        return fit, X

    return {f"{name} C={C}": make(X, C, w) for name, (X, w) in views.items() for C in C_GRID}


def dev(root: Path) -> dict:
    _, emb, other = setup(root)
    return compare_dev(emb, candidates(emb, other), SHIPPED_NAME)


def five_fold(root: Path, name: str) -> dict:
    """The frozen candidate and the shipped setting with the fixed 5-fold split."""
    clips, emb, other = setup(root)
    return compare_frozen(emb, clips, candidates(emb, other), name)


def main(argv=None) -> None:
    lever_main(__doc__.splitlines()[0], argv, RESULTS / "emotion_second_trunk.json", dev, five_fold)


if __name__ == "__main__":
    main()
