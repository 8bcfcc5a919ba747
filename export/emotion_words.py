"""The last cheap levers on the frozen v2.2 emotion trunk (issue #16), scored with the shipped
protocol; nothing here is shipped unless it wins.

    python -m export.emotion_words dev         # dev folds 0-2 only
    python -m export.emotion_words five_fold   # the dev-best candidate, frozen, on the 5 folds

Candidates, each against the shipped setting (linear head on the 6.3 s pooled penultimate of
the level-normalised stream, C = 0.001) on the same dev clips — train on two dev folds, test on
the third, clip = mean of the window probabilities (temperature 1), quadrant of the signs of
V/A; the difference with a 95 % interval from a paired bootstrap over the 360 dev clips:

* **label confidence** — the 4Q set's ``PQuad`` (the share of a clip's AllMusic mood words that
  agree with its quadrant; the quadrant was derived from those words) as a sample weight
  ``PQuad ** a``: ambiguous clips count less;
* **mood-word soft labels** — each AllMusic mood word's quadrant distribution, counted on the
  training folds' clips only, and a clip's target ``(1 - λ) · one-hot + λ · mean of its words'
  distributions`` (every window four weighted rows): the words say how far a clip leans into
  a neighbouring quadrant;
* **a second trunk** — the MTT musicnn checkpoint's penultimate (the same streaming windows,
  ``python -m export.musicnn_embed --model MTT_musicnn``) next to the MSD one's (with weight 1
  or 0.5 on its standardised columns, see ``Head``), or the MTT taggram (50) next to it;
* **context** — the mean of the penultimate over the clip's last N windows (what a running
  mean in the engine would see), re-measured on the v2.2 embeddings (6.3 s pool).

Ship rule (the lead's): on dev a mean gain >= +0.01 with the interval's lower end > -0.01,
and the frozen 5-fold run not lower on the untouched folds 3-4. Writes
``export/results/emotion_words.json``.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from . import data as D
from .emotion_augment import paired_bootstrap
from .emotion_head_levers import context_features
from .emotion_pseudo import score
from .train_emotion_musicnn import DEV_FOLDS, UNTOUCHED_FOLDS, Head, load_embeddings

RESULTS = Path(__file__).resolve().parent / "results"
POOL, STRIDE, NORMALISATION, SHIPPED_C = 250, 128, "running_level", 0.001
C_GRID = (0.001, 0.003)
PQUAD_POWERS = (0.5, 1.0, 2.0)
WORD_LAMBDAS = (0.2, 0.4, 0.6)
CONTEXTS = (4, 6, 8)


def clip_words(root: Path, songs) -> tuple[dict, dict]:
    """Per clip: its AllMusic mood words (lower case) and its PQuad."""
    rows = {r["song"]: r for r in csv.DictReader(open(root / "emotion4q" / "clips.csv", newline=""))}
    meta = {r["Song"]: r for r in csv.DictReader(open(root / "emotion4q" / "panda_dataset_taffc_metadata.csv",
                                                      newline=""))}
    words = {s: [w.strip().lower() for w in rows[s]["moods"].split(";") if w.strip()] for s in songs}
    pquad = {s: float(meta[s]["PQuad"]) for s in songs}
    return words, pquad


def word_targets(words: dict, quadrant: dict, train_songs, lam: float) -> dict:
    """Soft quadrant targets per clip from its mood words' quadrant distributions, the
    distributions counted on ``train_songs`` only (a held-out clip's label never enters)."""
    counts: dict[str, np.ndarray] = {}
    for s in train_songs:
        for w in words[s]:
            counts.setdefault(w, np.zeros(4))[quadrant[s]] += 1
    out = {}
    for s in train_songs:
        onehot = np.eye(4)[quadrant[s]]
        dists = [counts[w] / counts[w].sum() for w in words[s]]
        out[s] = (1 - lam) * onehot + lam * (np.mean(dists, 0) if dists else onehot)
    return out


class Candidates:
    """The fitting rules of every candidate on one set of embeddings: each returns the
    function ``export.emotion_pseudo.score`` calls per test fold."""

    def __init__(self, emb: dict, mtt: dict | None, words: dict, pquad: dict):
        self.emb, self.words, self.pquad = emb, words, pquad
        self.X = emb["penultimate"].astype(np.float64)
        self.song, self.q, self.fold = emb["song"], emb["q"], emb["fold"]
        self.quadrant = {s: int(q) for s, q in zip(self.song, self.q)}
        self.mtt = mtt

    def _fits(self, X: np.ndarray, fit):
        def run(f, train_folds, _x_test):
            tr = np.isin(self.fold, list(train_folds))
            return fit(X, tr).proba(X[self.fold == f])
        return run

    def plain(self, C: float, X: np.ndarray | None = None, weights: np.ndarray | None = None):
        X = self.X if X is None else X
        return self._fits(X, lambda X, tr: Head(C, weights).fit(X[tr], self.q[tr]))

    def pquad_weights(self, C: float, power: float):
        def fit(X, tr):
            w = np.array([self.pquad[s] for s in self.song[tr]]) ** power
            return Head(C).fit(X[tr], self.q[tr], w / w.mean())
        return self._fits(self.X, fit)

    def word_soft(self, C: float, lam: float):
        def fit(X, tr):
            target = word_targets(self.words, self.quadrant, np.unique(self.song[tr]), lam)
            T = np.stack([target[s] for s in self.song[tr]])
            rows = np.repeat(X[tr], 4, 0)
            y = np.tile(np.arange(4), int(tr.sum()))
            w = T.ravel()
            keep = w > 0
            return Head(C).fit(rows[keep], y[keep], w[keep])
        return self._fits(self.X, fit)

    def settings(self) -> dict:
        """name → fits, every candidate of the dev screen."""
        out = {}
        for C in C_GRID:
            out[f"shipped features C={C}"] = self.plain(C)
            for a in PQUAD_POWERS:
                out[f"PQuad^{a} weights C={C}"] = self.pquad_weights(C, a)
            for lam in WORD_LAMBDAS:
                out[f"mood-word soft labels lambda={lam} C={C}"] = self.word_soft(C, lam)
            for n in CONTEXTS:
                out[f"context N={n} C={C}"] = self.plain(C, context_features(self.emb, n)[:, :200])
            if self.mtt is not None:
                both = np.concatenate([self.X, self.mtt["penultimate"]], 1).astype(np.float64)
                out[f"MSD+MTT penultimate C={C}"] = self.plain(C, both)
                out[f"MSD+MTT penultimate, MTT weight 0.5 C={C}"] = self.plain(
                    C, both, np.r_[np.ones(200), np.full(200, 0.5)])
                tags = np.concatenate([self.X, self.mtt["taggram"]], 1).astype(np.float64)
                out[f"MSD penultimate + MTT taggram C={C}"] = self.plain(C, tags)
        return out


def setup(root: Path) -> Candidates:
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL, NORMALISATION)
    try:
        mtt = load_embeddings("MTT_musicnn", STRIDE, POOL, NORMALISATION)
        if not (np.array_equal(mtt["song"], emb["song"]) and np.array_equal(mtt["end"], emb["end"])):
            raise SystemExit("the MTT embeddings' windows differ from the MSD ones: re-run export.musicnn_embed")
    except D.DataMissing as e:
        print(f"no second trunk: {e}")
        mtt = None
    words, pquad = clip_words(root, sorted(set(emb["song"])))
    return Candidates(emb, mtt, words, pquad)


def dev(root: Path) -> dict:
    cand = setup(root)
    dev_of = lambda f: [g for g in DEV_FOLDS if g != f]  # noqa: E731
    base = score(cand.emb, cand.plain(SHIPPED_C), DEV_FOLDS, dev_of)
    out = {"shipped": {"dev_clip_macro_f1": base["clip_macro_f1"], "per_fold": base["per_fold"]}, "candidates": {}}
    print(f"shipped setting: dev clip macro-F1 {base['clip_macro_f1']:.3f}", flush=True)
    for name, fits in cand.settings().items():
        r = score(cand.emb, fits, DEV_FOLDS, dev_of)
        assert np.array_equal(r["y"], base["y"])
        vs = paired_bootstrap(base["y"], r["pred"], base["pred"])
        out["candidates"][name] = {"dev_clip_macro_f1": r["clip_macro_f1"], "per_fold": r["per_fold"], "vs_shipped": vs}
        print(f"{name:48s} {r['clip_macro_f1']:.3f}  {vs['diff']:+.3f} [{vs['ci95'][0]:+.3f}, {vs['ci95'][1]:+.3f}]",
              flush=True)
    best = max(out["candidates"], key=lambda k: out["candidates"][k]["dev_clip_macro_f1"])
    g = out["candidates"][best]["vs_shipped"]
    out["dev_best"] = best
    out["passes_dev_rule"] = bool(g["diff"] >= 0.01 and g["ci95"][0] > -0.01)
    print(f"dev-best: {best} ({g['diff']:+.3f}); passes the dev rule: {out['passes_dev_rule']}")
    return out


def five_fold(root: Path, name: str) -> dict:
    """The named candidate frozen, against the shipped setting, on the fixed 5-fold split."""
    cand = setup(root)
    settings = cand.settings()
    rest = lambda f: [g for g in range(5) if g != f]  # noqa: E731
    runs = {"shipped": score(cand.emb, cand.plain(SHIPPED_C), range(5), rest),
            name: score(cand.emb, settings[name], range(5), rest)}
    out = {}
    for k, r in runs.items():
        per = r["per_fold"]
        d, u = np.mean([per[f] for f in DEV_FOLDS]), np.mean([per[f] for f in UNTOUCHED_FOLDS])
        out[k] = {"all_5": float(np.mean(list(per.values()))), "std_5": float(np.std(list(per.values()))),
                  "dev_0_2": float(d), "untouched_3_4": float(u), "gap_dev_minus_untouched": float(d - u),
                  "per_fold": per}
        print(f"5-fold {k}: {out[k]}")
    n_dev = int(sum(np.sum(cand.fold[np.unique(cand.song, return_index=True)[1]] == f) for f in DEV_FOLDS))
    a, b = runs[name], runs["shipped"]
    out["paired_bootstrap_all_5"] = paired_bootstrap(a["y"], a["pred"], b["pred"])
    out["paired_bootstrap_untouched_3_4"] = paired_bootstrap(a["y"][n_dev:], a["pred"][n_dev:], b["pred"][n_dev:])
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("step", choices=("dev", "five_fold"))
    p.add_argument("--candidate", default=None, help="five_fold: the candidate's name (default: the dev-best)")
    a = p.parse_args(argv)
    root = D.data_root(a.data)
    path = RESULTS / "emotion_words.json"
    rep = json.loads(path.read_text()) if path.is_file() else {}
    if a.step == "dev":
        rep["dev"] = dev(root)
    else:
        name = a.candidate or rep.get("dev", {}).get("dev_best")
        if not name:
            raise SystemExit("run `python -m export.emotion_words dev` first (or name --candidate)")
        rep["five_fold"] = {"candidate": name, **five_fold(root, name)}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, default=float) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
