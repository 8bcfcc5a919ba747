"""Level invariance of the emotion model (issue #16): how much does the input gain move its
decisions, and does a causal level normalisation in front of the frozen trunk fix that
without costing F1?

    python -m export.emotion_level embed --variant none --gains 0,-12,-6,6 --folds 0,1,2
    python -m export.emotion_level embed --variant ema3 --gains 0 --folds 0,1,2   # (frame, ema10, ema30 alike)
    python -m export.emotion_level dev                  # every cached variant, dev folds 0-2
    python -m export.emotion_level embed --variant ema3 --gains -12,-6,6 --folds 0,1,2  # the dev best
    python -m export.emotion_level embed --variant none --gains 0 --folds 3,4
    python -m export.emotion_level embed --variant ema3 --gains 0 --folds 3,4
    python -m export.emotion_level dev && python -m export.emotion_level five_fold --variant ema3
    python -m export.emotion_level shipped v2.2=models_onnx/emotion.onnx v2.1=OLD.onnx --gains -12,-6,0,6
    python -m export.emotion_level versions v2.2=models_onnx/emotion.onnx v2.1=OLD.onnx

On stage the input gain is whatever the mixer sends. A clip at gain g dB is the 600 clips'
cached 16 kHz audio times 10^(g/20), through the engine's own log-mel
(``sonolux.modelinput.clip_features``), an optional level normaliser (below), and the frozen
streaming trunk exactly as ``export.musicnn_embed`` runs it (``export.emotion_augment.embed_mel``:
silence lead-in, pool 105, a window every 128 frames) — the windows the live stream would
give for that audio at that gain.

The normalisers (``VARIANTS``) are the engine's (``sonolux.inference.level``, which emotion
v2.2 ships with tau 3 s: ``export.input_level``); they are causal, so they run live frame by frame:
the frame's level is the mean mel power over the 96 bands in dB; the running level is the
exponentially weighted mean power of the frames heard so far (time constant ``tau`` s; weights
renormalised, so from the first loud frame it is the mean of what was heard: no start-up
transient), counting only frames above ``GATE_DB`` (silence does not pull it down). Every
band of the frame is then shifted by the reference level (``reference_level``: the median clip level of the dev folds) minus the running level: a gain of g dB shifts both the
frame and the running level by g, so the trunk sees the same input at any gain (exactly, but
for frames near the gate or the −100 dB floor). ``tau = 0`` normalises each frame by its own
level (no loudness left at all). Before the first gated frame the shift is 0, so the silence
that primes the stream is left as it is and the stream's primed state does not change.

``dev``: per variant, the shipped head (standardised logistic regression, C from the grid)
trained on two dev folds' 0 dB windows, tested on the third fold at every cached gain; clip
macro-F1 of the signs rule, clip = mean of the window probabilities (temperature 1), paired
bootstrap vs the shipped head on the cached embeddings (the 0.747 of the model card) and vs
no normalisation through the same 16-bit path; gain robustness = share of window (and clip)
decisions equal to the 0 dB decision, and the share of windows whose decision is the same at
every gain. Each normaliser is also scored with the context head (N = 6 windows,
``export.emotion_head_levers``) on its windows, and the head without one also trained on the
windows of every cached gain (gain augmentation). ``shipped``: whole model files (the
shipped v2.2 against v2.1) through the engine's own path (FeatureStream + ``model.infer``) on
one fold's clips at every gain: decisions kept and in-sample clip F1 (the files were trained on
every clip). Caches ``export/work/mood5/level_<variant>_g<gain>_f<fold>.npz``; results
``export/results/emotion_level.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from . import data as D
from .emotion_augment import POOL, STRIDE, _init_worker, embed_mel, paired_bootstrap, transform
from .emotion_head_levers import context_features
from .evaluate import macro_f1
from .input_level import GATE_DB, reference_db
from .input_level import normalise as normalise_entry
from .train_emotion_musicnn import DEV_FOLDS, UNTOUCHED_FOLDS, Head, clip_mean, decide, features, load_embeddings
from .workspace import WORK

OUT = WORK / "mood5"
RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {"none": None, "frame": 0.0, "ema3": 3.0, "ema10": 10.0, "ema30": 30.0}
C_GRID = (0.001, 0.003, 0.01)
SHIPPED_C = 0.003
CONTEXT_N = 6  # the context head of export.emotion_head_levers (dev 0.758 without a normaliser)


def normalise(mel: np.ndarray, tau_s: float | None, ref_db: float) -> np.ndarray:
    """``mel`` through the engine's normaliser with time constant ``tau_s`` (None: unchanged):
    :func:`export.input_level.normalise` with a contract entry made of the variant's settings."""
    entry = None if tau_s is None else {"tau_s": tau_s, "reference_db": ref_db, "gate_db": GATE_DB}
    return normalise_entry(mel, entry)


# ------------------------------------------------------------------------------ embedding

def _embed_job(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate, window ends) of one clip at gain ``gain_db`` through normaliser ``tau``."""
    from sonolux import modelinput as mi

    audio, gain_db, tau, ref = job
    y = transform(audio, f"gain{gain_db:+g}", 0, gain=False) if gain_db else audio
    return embed_mel(normalise(mi.clip_features(y)["mel"], tau, ref))


def cache_path(variant: str, gain: float, fold: int) -> Path:
    return OUT / f"level_{variant}_g{gain:+g}_f{fold}.npz"


def embed(root: Path, variant: str, gains: list[float], folds: list[int], jobs: int) -> None:
    from tqdm import tqdm

    clips = D.load_clips(root)
    ref = reference_db(root, clips)
    tau = VARIANTS[variant]
    audio = {s: v["audio"] for s, v in D.load_cache(
        D.emotion4q_cache(root, clips), [c["song"] for c in clips if c["fold"] in folds]).items()}
    OUT.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs, initializer=_init_worker) as ex:
        for gain in gains:
            for fold in folds:
                dst = cache_path(variant, gain, fold)
                if dst.is_file():
                    continue
                fc = [c for c in clips if c["fold"] == fold]
                t0 = time.time()
                res = list(tqdm(ex.map(_embed_job, [(audio[c["song"]], gain, tau, ref) for c in fc]),
                                total=len(fc), desc=f"{variant} {gain:+g} dB fold {fold}", unit="clip",
                                mininterval=10))
                n = [len(e) for _, e in res]
                np.savez(dst, penultimate=np.concatenate([p for p, _ in res]), end=np.concatenate([e for _, e in res]),
                         song=np.repeat([c["song"] for c in fc], n), q=np.repeat([c["q"] for c in fc], n),
                         fold=np.full(sum(n), fold))
                print(f"{dst.name}: {sum(n)} windows, {time.time() - t0:.0f} s", flush=True)


def load_level(variant: str, gain: float, folds) -> dict | None:
    """The cached windows of ``variant`` at ``gain`` over ``folds``; None if any is missing."""
    parts = []
    for f in folds:
        p = cache_path(variant, gain, f)
        if not p.is_file():
            return None
        with np.load(p) as z:
            parts.append({k: z[k] for k in z.files})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ------------------------------------------------------------------------------ scoring

def test_fold(train: dict, test: dict, f: int, train_folds, C: float) -> dict:
    """Head trained on ``train``'s windows of ``train_folds``, applied to ``test``'s fold f:
    window decisions, clip labels / probabilities (songs in sorted order)."""
    tr = np.isin(train["fold"], train_folds)
    head = Head(C).fit(train["penultimate"][tr].astype(np.float64), train["q"][tr])
    te = test["fold"] == f
    p = head.proba(test["penultimate"][te].astype(np.float64))
    songs, cp = clip_mean(test["song"][te], p)
    cq = np.array([test["q"][te][test["song"][te] == s][0] for s in songs])
    return {"window": decide(p, "signs"), "clip_q": cq, "clip": decide(cp, "signs"), "songs": songs,
            "window_key": np.stack([test["song"][te], test["end"][te].astype(str)], 1)}


def dev_runs(by_gain: dict, C: float, train_all_gains: bool = False) -> dict:
    """gain → {dev fold → ``test_fold`` result}; the head is trained on the 0 dB windows, or
    with ``train_all_gains`` on the windows of every cached gain (gain augmentation)."""
    train = by_gain[0.0]
    if train_all_gains:
        train = {k: np.concatenate([e[k] for e in by_gain.values()]) for k in train}
    return {g: {f: test_fold(train, emb, f, [h for h in DEV_FOLDS if h != f], C) for f in DEV_FOLDS}
            for g, emb in by_gain.items()}


def pooled(runs: dict, key: str) -> np.ndarray:
    return np.concatenate([runs[f][key] for f in sorted(runs)])


def robustness(runs: dict) -> dict:
    """Decisions at each gain against 0 dB, and windows / clips the same at every gain."""
    w0, c0 = pooled(runs[0.0], "window"), pooled(runs[0.0], "clip")
    same_w, same_c = np.ones(len(w0), bool), np.ones(len(c0), bool)
    out = {}
    for g in sorted(runs):
        w, c = pooled(runs[g], "window"), pooled(runs[g], "clip")
        assert np.array_equal(pooled(runs[g], "clip_q"), pooled(runs[0.0], "clip_q"))
        same_w &= w == w0
        same_c &= c == c0
        out[f"{g:+g} dB"] = {"dev_clip_macro_f1": float(np.mean([macro_f1(r["clip_q"], r["clip"])
                                                                 for r in runs[g].values()])),
                             "window_decisions_kept": float(np.mean(w == w0)),
                             "clip_decisions_kept": float(np.mean(c == c0))}
    out["windows_same_at_every_gain"] = float(same_w.mean())
    out["clips_same_at_every_gain"] = float(same_c.mean())
    out["windows"], out["clips"] = int(len(w0)), int(len(c0))
    return out


def shipped_baseline() -> dict:
    """The shipped head's dev-protocol clip decisions on the cached embeddings (0.747)."""
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    emb = {**emb, "penultimate": features(emb, "penultimate")}
    return {f: test_fold(emb, emb, f, [h for h in DEV_FOLDS if h != f], SHIPPED_C) for f in DEV_FOLDS}


def with_context(emb: dict, n: int = CONTEXT_N) -> dict:
    """``emb`` with each window's penultimate replaced by the mean over its clip's last ``n``
    windows (the context head of ``export.emotion_head_levers``)."""
    return {**emb, "penultimate": context_features(emb, n)[:, :200].astype(np.float32)}


def settings(gains: list[float]):
    """(name, gain → dev windows, head trained at every gain) of every cached variant; for
    the head without a normaliser also the gain-augmented head; for each normaliser also the
    context head on its windows."""
    for variant in VARIANTS:
        by_gain = {g: e for g in gains if (e := load_level(variant, g, DEV_FOLDS)) is not None}
        if 0.0 not in by_gain:
            continue
        yield variant, by_gain, False
        if variant == "none" and len(by_gain) > 1:
            yield "none, head trained at every gain", by_gain, True
        yield f"{variant} + context N={CONTEXT_N}", {g: with_context(e) for g, e in by_gain.items()}, False


def dev(gains: list[float], ref_db: float) -> dict:
    base = shipped_baseline()
    yb, pb = pooled(base, "clip_q"), pooled(base, "clip")
    rep = {"protocol": "head trained on two dev folds' 0 dB windows, tested on the third at each gain; clip "
                       "macro-F1 of the signs rule, clip = mean of window probabilities (temperature 1); windows "
                       "every 128 frames, pool 105; audio = the cached 16-bit clips × gain through the engine's "
                       "log-mel, the normaliser and the frozen streaming trunk",
           "shipped_head_cached_embeddings": float(np.mean([macro_f1(r["clip_q"], r["clip"]) for r in base.values()])),
           "ref_db": ref_db, "gate_db": GATE_DB}
    none0 = {}
    for name, by_gain, aug in settings(gains):
        rep[name] = {"tau_s": VARIANTS[name.split()[0].rstrip(",")], "gains": sorted(by_gain)}
        for C in C_GRID:
            runs = dev_runs(by_gain, C, aug)
            y, p = pooled(runs[0.0], "clip_q"), pooled(runs[0.0], "clip")
            assert np.array_equal(y, yb)
            r = {"dev_clip_macro_f1": float(np.mean([macro_f1(x["clip_q"], x["clip"]) for x in runs[0.0].values()])),
                 "per_fold": {f: macro_f1(x["clip_q"], x["clip"]) for f, x in runs[0.0].items()},
                 "vs_shipped_cached": paired_bootstrap(y, p, pb)}
            if name == "none":
                none0[C] = {g: pooled(x, "clip") for g, x in runs.items()}
            elif SHIPPED_C in none0:  # against the shipped setting through the same 16-bit path
                r["vs_none_same_path"] = paired_bootstrap(y, p, none0[SHIPPED_C][0.0])
                r["vs_none_same_path_per_gain"] = {
                    f"{g:+g} dB": paired_bootstrap(y, pooled(x, "clip"), none0[SHIPPED_C][g])
                    for g, x in runs.items() if g in none0[SHIPPED_C]}
            if len(by_gain) > 1:
                r["gain"] = robustness(runs)
            rep[name][f"C={C}"] = r
            print(name, C, json.dumps(r, default=float), flush=True)
    return rep


def five_fold(variant: str, C: float) -> dict:
    """The frozen choice with the fixed 5-fold split (train on 4 folds, test on the 5th,
    0 dB), against no normalisation through the same path and the shipped head's cached
    embeddings: clip macro-F1 all 5 / dev 0-2 / untouched 3-4, paired bootstrap intervals."""
    out, preds = {}, {}
    cached = load_embeddings("MSD_musicnn", STRIDE, POOL)
    cached = {**cached, "penultimate": features(cached, "penultimate")}
    sets = {"shipped (cached embeddings)": (cached, SHIPPED_C), "none (same 16-bit path)": (load_level("none", 0.0, range(5)), SHIPPED_C),
            variant: (load_level(variant, 0.0, range(5)), C)}
    for name, (emb, c) in sets.items():
        if emb is None:
            raise D.DataMissing(f"{name}: run `python -m export.emotion_level embed --variant "
                                f"{name.split()[0]} --gains 0 --folds 0,1,2,3,4` first")
        runs = {f: test_fold(emb, emb, f, [h for h in range(5) if h != f], c) for f in range(5)}
        per = {f: macro_f1(r["clip_q"], r["clip"]) for f, r in runs.items()}
        dev_, unt = np.mean([per[f] for f in DEV_FOLDS]), np.mean([per[f] for f in UNTOUCHED_FOLDS])
        out[name] = {"all_5": float(np.mean(list(per.values()))), "std_5": float(np.std(list(per.values()))),
                     "dev_0_2": float(dev_), "untouched_3_4": float(unt), "gap_dev_minus_untouched": float(dev_ - unt),
                     "per_fold": per}
        preds[name] = runs
        print(name, out[name], flush=True)
    for ref in ("shipped (cached embeddings)", "none (same 16-bit path)"):
        for label, folds in (("all_5", range(5)), ("untouched_3_4", UNTOUCHED_FOLDS)):
            a, b = preds[variant], preds[ref]
            y = np.concatenate([a[f]["clip_q"] for f in folds])
            out[f"vs {ref}, {label}"] = paired_bootstrap(y, np.concatenate([a[f]["clip"] for f in folds]),
                                                         np.concatenate([b[f]["clip"] for f in folds]))
            print(ref, label, out[f"vs {ref}, {label}"], flush=True)
    return out


# ------------------------------------------------------------------------------ shipped models

_models: dict = {}


def _init_models(paths: dict) -> None:
    from sonolux.inference.models import load_model

    for name, path in paths.items():
        _models[name] = load_model(path, device="cpu", threads=1)


def _shipped_job(job: tuple) -> np.ndarray:
    """Window quadrant probabilities of one clip at ``gain`` dB through a shipped model, the
    engine's own path (FeatureStream + ``model.infer``, a window every ``STRIDE`` frames)."""
    from .evaluate import emotion_windows

    name, audio, gain = job
    y = (audio * 10 ** (gain / 20)).astype(np.float32)
    return emotion_windows(_models[name], {"clip": {"audio": y}}, ["clip"], STRIDE)[1]


def shipped(root: Path, paths: dict, gains: list[float], folds: list[int], jobs: int) -> dict:
    """Each shipped model file (name → path) on the cached 16-bit clips of ``folds`` at every
    gain, through the engine: window decisions (the published rule: signs of V/A) kept
    against 0 dB, windows the same at every gain, clip macro-F1 per gain. The shipped models
    were trained on all 600 clips, so the F1 here is in-sample: it shows what the gain costs,
    not how well the model generalises (that is the 5-fold figure of the model card)."""
    from tqdm import tqdm

    clips = [c for c in D.load_clips(root) if c["fold"] in folds]
    audio = {s: v["audio"] for s, v in D.load_cache(D.emotion4q_cache(root, D.load_clips(root)),
                                                    [c["song"] for c in clips]).items()}
    q = np.array([c["q"] for c in clips])
    out = {"folds": folds, "clips": len(clips), "stride_frames": STRIDE, "rule": "signs",
           "f1": "clip macro-F1, in-sample (the shipped models saw these clips)"}
    gains = sorted(set(gains) | {0.0})
    with ProcessPoolExecutor(jobs, initializer=_init_models, initargs=(paths,)) as ex:
        for name in paths:
            probs = {}
            for g in gains:
                probs[g] = list(tqdm(ex.map(_shipped_job, [(name, audio[c["song"]], g) for c in clips]),
                                     total=len(clips), desc=f"{name} {g:+g} dB", unit="clip", mininterval=10))
            w0 = decide(np.concatenate(probs[0.0]), "signs")
            same = np.ones(len(w0), bool)
            rows = {}
            for g in gains:
                w = decide(np.concatenate(probs[g]), "signs")
                same &= w == w0
                clip = decide(np.stack([p.mean(0) for p in probs[g]]), "signs")
                rows[f"{g:+g} dB"] = {"clip_macro_f1": macro_f1(q, clip), "window_decisions_kept": float(np.mean(w == w0))}
            out[name] = {"path": str(paths[name]), **rows, "windows_same_at_every_gain": float(same.mean()),
                         "windows": int(len(w0))}
            print(name, json.dumps(out[name]), flush=True)
    return out


def versions(files: dict) -> dict:
    """The shipped model files' settings (name → file; each contract's ``metrics.choice`` and
    ``input_normalisation``) rerun on the fixed 5 folds from their own cached embeddings, as
    ``export.train_emotion_musicnn`` scores them (train on 4 folds, signs rule, the file's
    temperature); clip macro-F1 per fold, and the first against each other one with a paired
    bootstrap over the pooled clips: all 5 folds and the untouched folds 3-4."""
    from .onnx_export import read_contract
    from .train_emotion_musicnn import evaluate_head

    runs, out = {}, {}
    for name, path in files.items():
        contract = read_contract(Path(path))
        ch = contract["metrics"]["choice"]
        norm = "running_level" if contract.get("input_normalisation") else "none"
        emb = load_embeddings("MSD_musicnn", STRIDE, int(ch["pool"]), norm)
        X, q, fold = features(emb, ch["features"]), emb["q"], emb["fold"]
        runs[name] = {f: evaluate_head(emb, X, f, Head(ch["C"]).fit(X[fold != f], q[fold != f]),
                                       ch["temperature"], "signs") for f in range(5)}
        per = {f: macro_f1(r["clip_q"], decide(r["clip_probs"], "signs")) for f, r in runs[name].items()}
        out[name] = {"file": str(path), "version": contract.get("version"), "input": norm,
                     "choice": ch, "per_fold": per, "all_5": float(np.mean(list(per.values()))),
                     "std_5": float(np.std(list(per.values()))),
                     "untouched_3_4": float(np.mean([per[f] for f in UNTOUCHED_FOLDS]))}
        print(name, json.dumps(out[name], default=float), flush=True)
    first, *others = list(files)
    for other in others:
        for label, folds in (("all_5", range(5)), ("untouched_3_4", UNTOUCHED_FOLDS)):
            a, b = runs[first], runs[other]
            assert all(np.array_equal(a[f]["songs"], b[f]["songs"]) for f in folds)
            y = np.concatenate([a[f]["clip_q"] for f in folds])
            out[f"{first} vs {other}, {label}"] = paired_bootstrap(
                y, np.concatenate([decide(a[f]["clip_probs"], "signs") for f in folds]),
                np.concatenate([decide(b[f]["clip_probs"], "signs") for f in folds]))
            print(f"{first} vs {other}, {label}", out[f"{first} vs {other}, {label}"], flush=True)
    return out


def attach_negative_lists(argv: list[str]) -> list[str]:
    """``--gains -12,-6`` → ``--gains=-12,-6``: argparse takes a value starting with a minus
    that is not a plain number for an option, so the natural form would fail.

    >>> attach_negative_lists(["embed", "--gains", "-12,-6", "--folds", "0"])
    ['embed', '--gains=-12,-6', '--folds', '0']
    """
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--gains" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"--gains={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    number = lambda s: [float(x) for x in s.split(",")]  # noqa: E731
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("five_fold", help="the frozen variant on all 5 folds (0 dB)")
    f.add_argument("--variant", required=True, choices=list(VARIANTS))
    f.add_argument("--C", type=float, default=SHIPPED_C, help="the head's C chosen on dev")
    d = sub.add_parser("dev", help="score every cached variant on the dev folds 0-2")
    d.add_argument("--gains", default="0,-12,-6,6", help="gains to score where cached")
    e = sub.add_parser("embed", help="cache the windows of one normaliser at some gains and folds")
    e.add_argument("--variant", required=True, choices=list(VARIANTS), help="normaliser (none = shipped input)")
    e.add_argument("--gains", default="0", help="comma list of input gains in dB (default 0), e.g. --gains -12,-6,6")
    e.add_argument("--folds", default="0,1,2", help="comma list of folds (default: the dev folds)")
    e.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    for cmd, what in (("shipped", "shipped model files through the engine at every gain (in-sample F1, "
                                  "decisions kept)"),
                      ("versions", "model files' settings on the 5 folds, paired bootstrap of the first "
                                   "against the others")):
        s = sub.add_parser(cmd, help=what)
        s.add_argument("models", nargs="+", metavar="NAME=FILE", help="model files to compare, e.g. "
                       "v2.2=models_onnx/emotion.onnx v2.1=export/work/mood6/emotion_v2.1.onnx")
    s = sub.choices["shipped"]
    s.add_argument("--gains", default="-12,-6,0,6", help="comma list of input gains in dB")
    s.add_argument("--folds", default="4", help="comma list of folds whose clips to play (default 4)")
    s.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    a = p.parse_args(attach_negative_lists(sys.argv[1:] if argv is None else argv))
    root = D.data_root(a.data)
    if a.cmd == "embed":
        embed(root, a.variant, number(a.gains), [int(x) for x in a.folds.split(",")], a.jobs)
        return
    ref = reference_db(root, D.load_clips(root))
    if a.cmd in ("shipped", "versions"):
        bad = [m for m in a.models if "=" not in m or not Path(m.split("=", 1)[1]).is_file()]
        if bad:
            p.error(f"{', '.join(bad)}: each model must be NAME=FILE with an existing file")
        paths = dict(m.split("=", 1) for m in a.models)
    if a.cmd == "shipped":
        rep = {"shipped_models": shipped(root, paths, number(a.gains), [int(x) for x in a.folds.split(",")], a.jobs)}
    elif a.cmd == "versions":
        rep = {"versions": versions(paths)}
    elif a.cmd == "dev":
        rep = {"dev": dev(number(a.gains), ref)}
    else:
        rep = {f"five_fold {a.variant} C={a.C}": five_fold(a.variant, a.C)}
    path = RESULTS / "emotion_level.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps({**old, **rep}, indent=2, default=float) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
