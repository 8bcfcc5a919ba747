"""The AllMusic mood words of the 4Q clips as training signal for the emotion head, and the
context head on the v2.2 embeddings (issue #16). Scored with the dev protocol of the card's
experiments; nothing here is shipped unless it wins there beyond the noise.

    python -m export.emotion_words dev                          # dev folds 0-2 only
    python -m export.emotion_words five_fold --candidate NAME   # a dev winner, frozen, on 5 folds

Each 4Q clip comes with the AllMusic mood words its quadrant was derived from
(``emotion4q/clips.csv``, column ``moods``) and ``PQuad`` (``panda_dataset_taffc_metadata.csv``:
the share of its words that agree with the quadrant). Nothing of them is an input: the words
only shape the training targets / weights of the head on the training folds, and the held-out
fold is scored against its quadrant as always.

Candidates (``dev``: train on two dev folds, score the third, clip = mean of the window
probabilities at temperature 1, clip macro-F1 of the signs rule; every candidate against the
shipped setting — linear head on the 6.3 s pool's penultimate, C = 0.001 — in the same run,
paired bootstrap over the 360 dev clips):

* ``soft λ``: soft labels. Each word's quadrant distribution is estimated on the *training
  folds only* (clip counts per quadrant, Laplace smoothing α = 1; leave-one-clip-out, so a
  clip's own label does not enter its own target; words seen in fewer than
  ``MIN_WORD_CLIPS`` other training clips are ignored). A training clip's target =
  (1 − λ)·one-hot(quadrant) + λ·mean of its words' distributions (its quadrant alone when
  none of its words is kept); each window of the clip four rows weighted by the target.
* ``pquad γ``: PQuad^γ as the sample weight of each training window (rescaled to mean 1, so
  the regularisation keeps its strength): clips whose words agree with their quadrant count more.
* ``soft λ + pquad γ``: both.
* ``aux r μ``: a low-rank linear head (standardised penultimate → r units, no non-linearity →
  quadrant logits) with an auxiliary multi-label target on the same r units: the clip's words
  (those in ≥ ``MIN_WORD_CLIPS`` training clips), binary cross-entropy weighted μ; μ = 0 is the
  plain low-rank head (the control); rank r and L2 strength l2 swept. Full-batch Adam, weight decay; only the quadrant head is scored.
* ``ctx N``: the context head — inputs the mean of the clip's last N windows' penultimates
  (one window per 128 frames, fewer at the clip's start; ``export.emotion_head_levers``),
  alone and with every setting of the word targets.
* ``self``: self-training on extra audio (``EXTRA``, embedded by ``python -m
  export.emotion_pseudo embed --corpora wesnoth``; skipped when not cached) with the context
  head (``TEACHER``) as teacher instead of the linear head of ``export.emotion_pseudo``, which
  mostly restated its own boundary; students: the same context head and the shipped window
  head, soft labels (optionally class-balanced) at weight w per extra window.

``five_fold`` runs the frozen candidate and the shipped setting on the fixed 5-fold split
(the word distributions from the four training folds only) → all 5, dev 0–2, untouched 3–4,
the gap (key ``five_fold`` → candidate name). Writes ``export/results/emotion_words.json``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import data as D
from .emotion_head_levers import context_features
from .emotion_pseudo import (MODEL, POOL, SHIPPED_C, SHIPPED_NAME, STRIDE, balance, compare_dev, compare_frozen,
                             excerpt_probs, fit_with_extra, lever_main, load_extra, soft_rows)
from .train_emotion_musicnn import Head, clip_mean, decide, load_embeddings

RESULTS = Path(__file__).resolve().parent / "results"
MIN_WORD_CLIPS = 3  # a word needs this many (other) training clips to say anything
ALPHA = 1.0  # Laplace smoothing of a word's quadrant counts
LAMBDAS = (0.2, 0.4, 0.6)
GAMMAS = (1.0, 2.0, 4.0)
C_GRID = (0.001, 0.003)
CONTEXTS = (4, 6, 8)
AUX_RANKS = (16, 64)
AUX_MUS = (0.0, 0.3, 1.0, 3.0)
AUX_L2 = (0.03, 0.1)
AUX_EPOCHS, AUX_LR = 400, 1e-2
EXTRA = ("wesnoth",)  # extra audio for self-training (export.emotion_pseudo embed --corpora wesnoth)
TEACHER = (8, 0.003)  # the context head (N, C) that labels it: the dev-best context head alone
SELF_WEIGHTS = (0.1, 0.3, 1.0)


# ------------------------------------------------------------------------------ the words

def clip_words(clips: list[dict]) -> dict[str, list[str]]:
    """{song: its mood words, lower case} from clips.csv's ``moods`` column."""
    return {c["song"]: sorted({w.strip().lower() for w in c["moods"].split(";") if w.strip()}) for c in clips}


def load_pquad(root: Path) -> dict[str, float]:
    """{song: PQuad} from the dataset's metadata."""
    import csv

    with open(root / "emotion4q" / "panda_dataset_taffc_metadata.csv", newline="") as f:
        return {r["Song"]: float(r["PQuad"]) for r in csv.DictReader(f)}


def word_counts(words: dict, q: dict, songs) -> dict[str, np.ndarray]:
    """{word: clip count per quadrant} over ``songs`` (the training clips)."""
    out: dict[str, np.ndarray] = {}
    for s in songs:
        for w in words[s]:
            out.setdefault(w, np.zeros(4))[q[s]] += 1
    return out


def soft_targets(words: dict, q: dict, songs, lam: float) -> dict[str, np.ndarray]:
    """{training song: (1 − λ)·one-hot + λ·mean of its words' quadrant distributions}, the
    distributions from the other training clips (leave-one-clip-out, Laplace α, words in
    fewer than MIN_WORD_CLIPS other clips ignored)."""
    counts = word_counts(words, q, songs)
    out = {}
    for s in songs:
        own = np.eye(4)[q[s]]
        dists = [(counts[w] - own + ALPHA) / (counts[w].sum() - 1 + 4 * ALPHA)
                 for w in words[s] if counts[w].sum() - 1 >= MIN_WORD_CLIPS]
        out[s] = own if not dists else (1 - lam) * own + lam * np.mean(dists, 0)
    return out


def word_matrix(words: dict, songs, vocabulary: list[str]) -> np.ndarray:
    """(len(songs), len(vocabulary)) 0/1: which words each clip has."""
    index = {w: i for i, w in enumerate(vocabulary)}
    M = np.zeros((len(songs), len(vocabulary)))
    for r, s in enumerate(songs):
        for w in words[s]:
            if w in index:
                M[r, index[w]] = 1
    return M


# ------------------------------------------------------------------------------ heads

def fit_targets(X: np.ndarray, y: np.ndarray, C: float, soft: np.ndarray | None = None,
                weight: np.ndarray | None = None) -> Head:
    """The shipped head on windows X with hard labels y or soft targets ``soft`` (n, 4) as
    weighted rows, and optional per-window weights (rescaled to mean 1)."""
    w = np.ones(len(X)) if weight is None else weight / weight.mean()
    if soft is None:
        return Head(C).fit(X, y, None if weight is None else w)
    Xs, ys, ws = soft_rows(X, soft * w[:, None], 1.0)
    keep = ws > 0
    return Head(C).fit(Xs[keep], ys[keep], ws[keep])


class LowRankAux:
    """Standardised inputs → r linear units → quadrant logits, and → word logits (auxiliary,
    binary cross-entropy weighted μ), an L2 penalty l2 on all weights
    (the linear head's strong regularisation, C = 0.001, in this form). Full-batch Adam, fixed seed."""

    def __init__(self, rank: int, mu: float, l2: float = 0.1, seed: int = 0):
        self.rank, self.mu, self.l2, self.seed = rank, mu, l2, seed

    def fit(self, X: np.ndarray, y: np.ndarray, W: np.ndarray) -> "LowRankAux":
        import torch
        from torch import nn

        torch.manual_seed(self.seed)
        self.mean, self.std = X.mean(0), X.std(0) + 1e-6
        x = torch.from_numpy(((X - self.mean) / self.std).astype(np.float32))
        yt, wt = torch.from_numpy(y.astype(np.int64)), torch.from_numpy(W.astype(np.float32))
        self.net = nn.Linear(X.shape[1], self.rank, bias=False)
        self.hq, hw = nn.Linear(self.rank, 4), nn.Linear(self.rank, W.shape[1])
        params = [*self.net.parameters(), *self.hq.parameters(), *hw.parameters()]
        opt = torch.optim.Adam(params, lr=AUX_LR)
        for _ in range(AUX_EPOCHS):
            opt.zero_grad()
            h = self.net(x)
            loss = nn.functional.cross_entropy(self.hq(h), yt)
            if self.mu:
                loss = loss + self.mu * nn.functional.binary_cross_entropy_with_logits(hw(h), wt)
            loss = loss + self.l2 * sum((p ** 2).sum() for p in params if p.dim() == 2)
            loss.backward()
            opt.step()
        return self

    def proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            z = self.hq(self.net(torch.from_numpy(((X - self.mean) / self.std).astype(np.float32))))
            return torch.softmax(z, 1).numpy().astype(np.float64)


# ------------------------------------------------------------------------------ candidates

def setup(root: Path):
    clips = D.load_clips(root)
    emb = load_embeddings(MODEL, STRIDE, POOL, "running_level")
    return clips, emb, clip_words(clips), load_pquad(root)


def candidates(emb: dict, clips: list[dict], words: dict, pquad: dict) -> dict:
    """name → (fit(test fold, train folds, X_test) → window probabilities, X or None)."""
    q = {c["song"]: c["q"] for c in clips}
    fold_of = {c["song"]: c["fold"] for c in clips}
    song = emb["song"]
    inputs = {"": emb["penultimate"].astype(np.float64)}
    inputs.update({f"ctx{n} ": context_features(emb, n)[:, :emb["penultimate"].shape[1]] for n in CONTEXTS})

    def make(X, C, lam=None, gamma=None):
        def fit(f, train, Xte):
            m = np.isin(emb["fold"], list(train))
            songs = [s for s in q if fold_of[s] in train]
            soft = None
            if lam is not None:
                t = soft_targets(words, q, songs, lam)
                soft = np.array([t[s] for s in song[m]])
            weight = None if gamma is None else np.array([pquad[s] for s in song[m]]) ** gamma
            return fit_targets(X[m], emb["q"][m], C, soft, weight).proba(Xte)
        return fit, X

    def aux(rank, mu, l2):
        X = inputs[""]

        def fit(f, train, Xte):
            m = np.isin(emb["fold"], list(train))
            songs = [s for s in q if fold_of[s] in train]
            counts = word_counts(words, q, songs)
            vocab = sorted(w for w, c in counts.items() if c.sum() >= MIN_WORD_CLIPS)
            Wc = dict(zip(songs, word_matrix(words, songs, vocab)))
            return LowRankAux(rank, mu, l2).fit(X[m], emb["q"][m], np.array([Wc[s] for s in song[m]])).proba(Xte)
        return fit, X

    out = {}
    for prefix, X in inputs.items():
        for C in C_GRID:
            base = "base" if not prefix else prefix.strip()
            out[f"{base} C={C}"] = make(X, C)
            for lam in LAMBDAS:
                out[f"{prefix}soft {lam} C={C}"] = make(X, C, lam)
            for gamma in GAMMAS:
                out[f"{prefix}pquad {gamma} C={C}"] = make(X, C, None, gamma)
            for lam in LAMBDAS:
                out[f"{prefix}soft {lam} + pquad 1.0 C={C}"] = make(X, C, lam, 1.0)
    out.update(self_training(emb, inputs))
    for rank in AUX_RANKS:
        for l2 in AUX_L2:
            for mu in AUX_MUS:
                out[f"aux r={rank} l2={l2} mu={mu}"] = aux(rank, mu, l2)
    return out


def self_training(emb: dict, inputs: dict) -> dict:
    """Self-training with the context head as teacher: the TEACHER head fit on the training
    folds labels every excerpt of the EXTRA audio (mean of its windows' probabilities); the
    student — the same context head, or the shipped window head — trains on the training folds
    plus the extra windows as soft rows of weight w (optionally class-balanced). Empty when the
    extra embeddings are not cached."""
    try:
        extra = load_extra(EXTRA)
    except D.DataMissing as e:
        print(f"self-training skipped: {e}")
        return {}
    n, C = TEACHER
    ex = {k: np.concatenate([extra[c][k] for c in EXTRA]) for k in ("penultimate", "song", "end")}
    Xl, Xe = {"window": inputs[""], f"ctx{n}": inputs[f"ctx{n} "]}, {"window": ex["penultimate"].astype(np.float64)}
    Xe[f"ctx{n}"] = context_features(ex, n)[:, :ex["penultimate"].shape[1]]
    teachers: dict = {}

    def teacher(train):
        key = tuple(train)
        if key not in teachers:
            m = np.isin(emb["fold"], list(train))
            teachers[key] = excerpt_probs(Head(C).fit(Xl[f"ctx{n}"][m], emb["q"][m]), ex, Xe[f"ctx{n}"])
        return teachers[key]

    def make(student, w, balanced):
        c = C if student != "window" else SHIPPED_C

        def fit(f, train, Xte):
            m = np.isin(emb["fold"], list(train))
            Xs, ys, ws = soft_rows(Xe[student], teacher(train), w)
            ws = balance(ys, ws) if balanced else ws
            return fit_with_extra(Xl[student][m], emb["q"][m], Xs, ys, ws, c).proba(Xte)
        return fit, Xl[student]

    return {f"self ctx{n} teacher -> {s} soft{' balanced' if b else ''} w={w}": make(s, w, b)
            for s in Xl for b in (False, True) for w in SELF_WEIGHTS}


def teacher_shares(emb: dict) -> dict:
    """The share of the extra excerpts the context teacher (fit on the dev folds) puts in each
    quadrant (signs rule) and its mean confidence."""
    try:
        extra = load_extra(EXTRA)
    except D.DataMissing:
        return {}
    n, C = TEACHER
    Xc = context_features(emb, n)[:, :emb["penultimate"].shape[1]]
    m = np.isin(emb["fold"], [0, 1, 2])
    head = Head(C).fit(Xc[m], emb["q"][m])
    out = {}
    for c, ex in extra.items():
        _, cp = clip_mean(ex["song"], head.proba(context_features(ex, n)[:, :Xc.shape[1]]))
        q = decide(cp, "signs")
        out[c] = {"excerpts": len(cp), "windows": len(ex["song"]),
                  "quadrant_share": (np.bincount(q, minlength=4) / len(q)).tolist(),
                  "mean_confidence": float(cp.max(1).mean())}
    return out


# ------------------------------------------------------------------------------ commands

def word_stats(clips: list[dict], words: dict, pquad: dict) -> dict:
    """What the words hold: vocabulary, words per clip, PQuad, and how peaked the dev folds'
    word distributions are (share of a word's clips in its commonest quadrant)."""
    q = {c["song"]: c["q"] for c in clips}
    dev_songs = [c["song"] for c in clips if c["fold"] in (0, 1, 2)]
    counts = word_counts(words, q, dev_songs)
    frequent = [c for c in counts.values() if c.sum() >= MIN_WORD_CLIPS]
    n = np.array([len(words[c["song"]]) for c in clips])
    pq = np.array([pquad[c["song"]] for c in clips])
    return {"vocabulary": len({w for ws in words.values() for w in ws}), "words_per_clip_mean": float(n.mean()),
            "words_per_clip_min_max": [int(n.min()), int(n.max())],
            "pquad_quartiles": np.percentile(pq, [0, 25, 50, 75, 100]).round(3).tolist(),
            "dev_words_in_3_plus_clips": len(frequent),
            "dev_word_top_quadrant_share_mean": float(np.mean([c.max() / c.sum() for c in frequent]))}


def dev(root: Path) -> dict:
    clips, emb, words, pquad = setup(root)
    rep = {"words": word_stats(clips, words, pquad), "context_teacher_on_extra_audio": teacher_shares(emb)}
    rep.update(compare_dev(emb, candidates(emb, clips, words, pquad), SHIPPED_NAME))
    return rep


def five_fold(root: Path, name: str) -> dict:
    """The frozen candidate and the shipped setting with the fixed 5-fold split."""
    clips, emb, words, pquad = setup(root)
    return compare_frozen(emb, clips, candidates(emb, clips, words, pquad), name)


def main(argv=None) -> None:
    lever_main(__doc__.splitlines()[0], argv, RESULTS / "emotion_words.json", dev, five_fold)


if __name__ == "__main__":
    main()
