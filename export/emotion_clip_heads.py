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

import json

import numpy as np

from .emotion_augment import paired_bootstrap
from .emotion_head_levers import POOL, SHIPPED_C, SHIPPED_T, STRIDE, dev_clip_f1
from .evaluate import macro_f1
from .train_emotion_musicnn import (DEV_FOLDS, UNTOUCHED_FOLDS, Head, decide, evaluate_head, features,
                                    load_embeddings)

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
WINDOW_C_GRID = (0.001, 0.003, 0.01)  # the window head's (export.emotion_head_levers)
#: weights of an extra view's standardised columns next to the musicnn block
VIEW_WEIGHTS = (1.0, 3.0)


def clip_fold(X, q, fold, song, C: float, weights, test_fold: int, train_folds) -> tuple[np.ndarray, np.ndarray]:
    """(labels, signs-rule predictions) of ``test_fold``'s clips, songs sorted, from a
    clip-level head trained on ``train_folds``."""
    tr = np.isin(fold, list(train_folds))
    te = np.flatnonzero(fold == test_fold)
    te = te[np.argsort(song[te])]
    return q[te], decide(Head(C, weights).fit(X[tr], q[tr]).proba(X[te]), "signs")


def dev_clip_run(X: np.ndarray, q: np.ndarray, fold: np.ndarray, song: np.ndarray, C: float,
                 weights: np.ndarray | None = None) -> dict:
    """Clip macro-F1 per dev fold of a clip-level head; pooled (y, pred) in the order of the
    shipped head's run (dev folds in turn, songs sorted)."""
    per, ys, preds = {}, [], []
    for f in DEV_FOLDS:
        y, pred = clip_fold(X, q, fold, song, C, weights, f, [g for g in DEV_FOLDS if g != f])
        per[int(f)] = macro_f1(y, pred)
        ys.append(y)
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


def load(clips: list[dict]) -> dict:
    """Clip labels/folds in ``clips`` order, the cached streaming windows, their penultimate
    ``P``, its clip mean ``M`` and each window's clip row."""
    order = [c["song"] for c in clips]
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    P = features(emb, "penultimate")
    row = {s: i for i, s in enumerate(order)}
    return {"q": np.array([c["q"] for c in clips]), "fold": np.array([c["fold"] for c in clips]),
            "song": np.array(order), "emb": emb, "P": P,
            "M": np.stack([P[emb["song"] == s].mean(0) for s in order]),
            "row_of_window": np.array([row[s] for s in emb["song"]])}


def form_features(d: dict, form: str, V: np.ndarray) -> np.ndarray:
    """The inputs of a form: ``view`` alone, ``musicnn + view`` (clip rows) or ``window head +
    view`` (window rows)."""
    return {"view": lambda: V, "musicnn + view": lambda: np.hstack([d["M"], V]),
            "window head + view": lambda: np.hstack([d["P"], V[d["row_of_window"]]])}[form]()


def screen(clips: list[dict], views: dict[str, np.ndarray]) -> dict:
    """Every view alone and concatenated with the musicnn clip mean (clip-level heads), and
    appended to every window of its clip under the shipped window head, against the shipped
    head and the musicnn clip-mean head (see the module docstring)."""
    d = load(clips)
    q, fold, song, emb, P, M = d["q"], d["fold"], d["song"], d["emb"], d["P"], d["M"]
    shipped = dev_clip_f1(emb, P, SHIPPED_C)
    rep = {"protocol": __doc__.split("Example::")[0].strip(),
           "shipped window head": {"dev_clip_macro_f1": shipped["dev_clip_macro_f1"], "per_fold": shipped["per_fold"]}}
    print(f"shipped window head: {shipped['dev_clip_macro_f1']:.3f}", flush=True)

    def clip_head(X):
        return lambda C, w: dev_clip_run(X, q, fold, song, C, w)

    rep["musicnn clip mean"], base = _grid("musicnn clip mean", clip_head(M), {"shipped": shipped})
    refs = {"shipped": shipped, "musicnn_clip_mean": base}
    for name, V in views.items():
        rep[name], _ = _grid(name, clip_head(V), refs)
        X = form_features(d, "musicnn + view", V)
        rep[f"musicnn + {name}"], _ = _grid(f"musicnn + {name}", clip_head(X), refs,
                                            first_block=M.shape[1], width=X.shape[1])
        W = form_features(d, "window head + view", V)
        rep[f"window head + {name}"], _ = _grid(
            f"window head + {name}", lambda C, w, W=W: dev_clip_f1(emb, W, C, w), refs,
            first_block=P.shape[1], width=W.shape[1], c_grid=WINDOW_C_GRID)
    return rep


def five_fold(clips: list[dict], V: np.ndarray, form: str, C: float, w: float | None) -> dict:
    """A frozen dev choice with the fixed 5-fold split (train on four folds, test on the
    fifth) next to the shipped head's 5-fold run (C = 0.003, temperature 0.5 as shipped) and
    the same form and C without the view: clip macro-F1 per fold, all 5 / dev 0-2 /
    untouched 3-4, the gap dev − untouched, and paired-bootstrap intervals vs both on all
    600 clips and on folds 3-4."""
    d = load(clips)
    X = form_features(d, form, V)
    first = d["P"].shape[1] if form != "view" else 0
    weights = None if w is None else np.r_[np.ones(first), np.full(X.shape[1] - first, w)]
    without = X[:, :first]  # the same form and C without the view: the view's own gain
    runs = {}
    for name in ("shipped", "frozen", "frozen without the view"):
        if name == "frozen without the view" and form == "view":
            continue
        Xn, wn = (X, weights) if name == "frozen" else (without, None)
        runs[name] = {}
        for f in range(5):
            train = [g for g in range(5) if g != f]
            if name == "shipped" or form == "window head + view":
                Xw, C_, T = (d["P"], SHIPPED_C, SHIPPED_T) if name == "shipped" else (Xn, C, 1.0)
                tr = np.isin(d["emb"]["fold"], train)
                r = evaluate_head(d["emb"], Xw, f, Head(C_, wn).fit(Xw[tr], d["emb"]["q"][tr]), T, "signs")
                runs[name][f] = (r["clip_q"], decide(r["clip_probs"], "signs"))
            else:
                runs[name][f] = clip_fold(Xn, d["q"], d["fold"], d["song"], C, wn, f, train)
    out = {"form": form, "C": C, "w": w}
    for name, per_fold in runs.items():
        per = {f: macro_f1(*yp) for f, yp in per_fold.items()}
        dev, untouched = np.mean([per[f] for f in DEV_FOLDS]), np.mean([per[f] for f in UNTOUCHED_FOLDS])
        out[name] = {"all_5": float(np.mean(list(per.values()))), "std_5": float(np.std(list(per.values()))),
                     "dev_0_2": float(dev), "untouched_3_4": float(untouched),
                     "gap_dev_minus_untouched": float(dev - untouched), "per_fold": per}
    for ref in [r for r in runs if r != "frozen"]:
        for label, folds in (("all_5", range(5)), ("untouched_3_4", UNTOUCHED_FOLDS)):
            a, b = runs["frozen"], runs[ref]
            assert all(np.array_equal(a[f][0], b[f][0]) for f in folds)
            out[f"vs_{ref.replace(' ', '_')}_{label}"] = paired_bootstrap(
                np.concatenate([a[f][0] for f in folds]), np.concatenate([a[f][1] for f in folds]),
                np.concatenate([b[f][1] for f in folds]))
    print(json.dumps(out, default=float), flush=True)
    return out


def frozen_choice(dev: dict, view: str) -> tuple[str, float, float | None]:
    """(form, C, w) of the best dev setting of ``view`` with the musicnn embedding (either
    concatenation form), from a ``screen`` report."""
    forms = {"musicnn + view": dev[f"musicnn + {view}"]["best"], "window head + view": dev[f"window head + {view}"]["best"]}
    form = max(forms, key=lambda k: forms[k]["dev_clip_macro_f1"])
    setting = dict(kv.split("=") for kv in forms[form]["setting"].split())
    return form, float(setting["C"]), float(setting["w"]) if "w" in setting else None


def add_five_fold_args(p) -> None:
    p.add_argument("--view", help="five_fold: the view whose best dev setting (with musicnn) is frozen and run "
                                  "on all 5 folds")


def update_results(path, key: str | tuple[str, str], compute) -> None:
    """Set ``key`` (or ``(section, key)``) of the results JSON at ``path`` to
    ``compute(report)``, keeping the other results."""
    rep = json.loads(path.read_text()) if path.is_file() else {}
    value = compute(rep)
    if isinstance(key, tuple):
        rep.setdefault(key[0], {})[key[1]] = value
    else:
        rep[key] = value
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, default=float) + "\n")
    print(f"-> {path}")


def lever_step(p, step: str, view: str | None, path, clips: list[dict], views) -> None:
    """The ``dev`` / ``five_fold`` steps of a lever's CLI; ``views(clips)`` gives the views."""
    if step == "dev":
        update_results(path, "dev", lambda rep: screen(clips, views(clips)))
    else:
        update_results(path, ("five_fold", view), lambda rep: five_fold_step(p, view, rep, clips, views(clips)))


def five_fold_step(p, view: str | None, rep: dict, clips: list[dict], views: dict[str, np.ndarray]) -> dict:
    """The ``five_fold`` step of a lever's CLI: checks ``--view`` and that the dev step ran
    (``p.error`` names what is missing), then ``five_fold`` of the frozen dev choice."""
    if view not in views:
        p.error(f"five_fold needs --view, one of: {', '.join(repr(v) for v in views)} (got {view!r})")
    if f"musicnn + {view}" not in rep.get("dev", {}):
        p.error(f"no dev result for {view!r} in the results JSON: run the dev step first")
    return five_fold(clips, views[view], *frozen_choice(rep["dev"], view))
