"""Streaming musicnn embeddings of transformed copies of the 4Q clips (training-time
augmentation for the emotion head, issue #16 lever 1).

    python -m export.emotion_augment embed --folds 0,1,2 [--transforms pitch-1,...] [--jobs 2]
    python -m export.emotion_augment embed --folds 3,4
    python -m export.emotion_augment dev          # score on dev folds 0-2 -> export/results/
    python -m export.emotion_augment sensitivity  # how far each transform moves the windows

Each transform is one a listener would not hear as a change of quadrant: ±1 semitone pitch
shift, ±8 % tempo (librosa's phase vocoder, pitch kept), and mild level / spectral tilt /
low noise. A transformed clip goes through the engine's own log-mel (``sonolux.modelinput``)
and the frozen streaming trunk exactly as ``export.musicnn_embed`` runs it (the trunk over
silence + the clip in one call, windows every 128 frames, pool 105), so its windows are the
windows the live stream would produce for that audio. Every copy also gets a random gain
(±3 dB) so no two copies share a level. Seeds depend on the clip and the transform only:
re-running gives the same arrays.

Caches ``export/work/mood3/aug_<transform>_f<fold>.npz`` (``penultimate``, ``song``, ``q``,
``fold``, ``end``); an existing file is kept. The ``dev`` command trains the shipped head
(standardised logistic regression, ``export.train_emotion_musicnn.Head``) on the originals
plus the augmented windows of two dev folds and scores the third fold's originals, clip
macro-F1 of the signs rule (the protocol of ``export.emotion_head_experiments``).
"""
from __future__ import annotations

import argparse
import json
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from . import data as D
from .evaluate import macro_f1
from .train_emotion_musicnn import DEV_FOLDS, Head, clip_mean, decide, features, load_embeddings
from .workspace import WORK

OUT = WORK / "mood3"
RESULTS = Path(__file__).resolve().parent / "results"
POOL, STRIDE = 105, 128  # the shipped model's pool and the evaluation windows
TRANSFORMS = ("pitch-1", "pitch+1", "tempo0.92", "tempo1.08", "tilt_noise")


def transform(y: np.ndarray, name: str, seed: int, gain: bool = True) -> np.ndarray:
    """``y`` (16 kHz mono) changed by transform ``name``; a random ±3 dB gain on top unless
    ``gain`` is False. ``identity`` and ``gain±N`` (N dB) serve the sensitivity check."""
    import librosa
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(seed)
    if name.startswith("pitch"):
        y = librosa.effects.pitch_shift(y, sr=16000, n_steps=float(name[5:]))
    elif name.startswith("tempo"):
        y = librosa.effects.time_stretch(y, rate=float(name[5:]))
    elif name == "identity":
        pass
    elif name.startswith("gain"):
        y = y * 10 ** (float(name[4:]) / 20)
    elif name == "tilt_noise":
        b, a = butter(1, 1000, fs=16000)  # complementary split at 1 kHz: low + high == y
        low = lfilter(b, a, y)
        tilt = rng.uniform(-3, 3)  # dB, + brightens
        y = low * 10 ** (-tilt / 40) + (y - low) * 10 ** (tilt / 40)
        rms = np.sqrt(np.mean(y ** 2)) + 1e-9
        y = y + rng.standard_normal(len(y)) * rms * 10 ** (-rng.uniform(25, 40) / 20)  # SNR 25-40 dB
    else:
        raise ValueError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}")
    return (y * (10 ** (rng.uniform(-3, 3) / 20) if gain else 1.0)).astype(np.float32)


_worker: dict = {}


def _init_worker() -> None:
    import onnxruntime as ort
    import torch

    from .musicnn_torch import WEIGHTS, Musicnn
    from .musicnn_embed import _PoolHead

    torch.set_num_threads(1)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    _worker["session"] = ort.InferenceSession(str(WEIGHTS / "MSD_musicnn_trunk.onnx"), opts,
                                              providers=["CPUExecutionProvider"])
    _worker["head"] = _PoolHead(Musicnn.from_npz(WEIGHTS / "MSD_musicnn.npz")).eval()


def embed_mel(mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate (n, 200), window ends) of a clip's engine log-mel through the frozen
    streaming trunk (silence lead-in of ``export.musicnn_embed``, pool 105, a window every
    128 frames); needs ``_init_worker()`` in this process."""
    import torch

    from .musicnn_embed import POOLS, clip_centres, pooled_windows, span, window_ends

    pad = span(max(POOLS))  # the same silence lead-in as export.musicnn_embed
    centres = clip_centres(_worker["session"], mel, pad)
    ends = window_ends(len(mel), POOL, STRIDE)
    with torch.no_grad():
        pen = _worker["head"](torch.from_numpy(pooled_windows(centres, ends, POOL, pad)))[0].numpy()
    return pen.astype(np.float32), ends


def _embed_one(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate (n, 200), window ends) of one transformed clip; job = (song, audio,
    transform name[, random gain on top])."""
    from sonolux import modelinput as mi

    song, audio, name, *gain = job
    y = transform(audio, name, zlib.crc32(f"{song}/{name}".encode()), *gain)
    return embed_mel(mi.clip_features(y)["mel"])


def aug_path(name: str, fold: int) -> Path:
    return OUT / f"aug_{name}_f{fold}.npz"


def embed(root: Path, folds: list[int], names: list[str], jobs: int) -> None:
    from tqdm import tqdm

    clips = D.load_clips(root)
    OUT.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs, initializer=_init_worker) as ex:
        audio = {s: v["audio"] for s, v in D.load_cache(
            D.emotion4q_cache(root, clips), [c["song"] for c in clips if c["fold"] in folds]).items()}
        for name in names:  # transform by transform: each one's dev score can be read early
            for fold in folds:
                fc = [c for c in clips if c["fold"] == fold]
                dst = aug_path(name, fold)
                if dst.is_file():
                    continue
                t0 = time.time()
                res = list(tqdm(ex.map(_embed_one, [(c["song"], audio[c["song"]], name) for c in fc]),
                                total=len(fc), desc=f"{name} fold {fold}", unit="clip", mininterval=10))
                n = [len(e) for _, e in res]
                np.savez(dst, penultimate=np.concatenate([p for p, _ in res]),
                         end=np.concatenate([e for _, e in res]),
                         song=np.repeat([c["song"] for c in fc], n), q=np.repeat([c["q"] for c in fc], n),
                         fold=np.full(sum(n), fold))
                print(f"{dst.name}: {sum(n)} windows, {time.time() - t0:.0f} s", flush=True)


def load_aug(names, folds) -> dict:
    """Augmented windows of ``names`` × ``folds`` concatenated (missing files: clear error)."""
    parts = []
    for name in names:
        for f in folds:
            p = aug_path(name, f)
            if not p.is_file():
                raise D.DataMissing(f"{p} is missing: run `python -m export.emotion_augment embed "
                                    f"--folds {f} --transforms {name}` first")
            with np.load(p) as z:
                parts.append({k: z[k] for k in z.files})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def paired_bootstrap(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n: int = 2000) -> dict:
    """Macro-F1 difference a − b on the same clips, with a 95 % interval from resampling the
    clips: the noise a difference must beat."""
    rng = np.random.default_rng(0)
    d = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        d.append(macro_f1(y[i], pred_a[i]) - macro_f1(y[i], pred_b[i]))
    return {"diff": macro_f1(y, pred_a) - macro_f1(y, pred_b),
            "ci95": [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]}


def score_folds(emb: dict, aug: dict | None, C: float, test_folds, train_folds_of, temperature: float = 1.0):
    """Clip probabilities of each test fold from a head trained on the originals (+ ``aug``
    windows) of ``train_folds_of(test_fold)``; returns {fold: (clip q, clip probs)}."""
    X, q, fold = features(emb, "penultimate"), emb["q"], emb["fold"]
    out = {}
    for f in test_folds:
        tr = np.isin(fold, train_folds_of(f))
        Xs, ys = X[tr], q[tr]
        if aug is not None:
            m = np.isin(aug["fold"], train_folds_of(f))
            Xs = np.concatenate([Xs, aug["penultimate"][m].astype(np.float64)])
            ys = np.concatenate([ys, aug["q"][m]])
        te = fold == f
        songs, cp = clip_mean(emb["song"][te], Head(C).fit(Xs, ys).proba(X[te], temperature))
        out[f] = (np.array([q[te][emb["song"][te] == s][0] for s in songs]), cp)
    return out


def fold_f1(res: dict) -> dict:
    return {int(f): macro_f1(cq, decide(cp, "signs")) for f, (cq, cp) in res.items()}


def pooled_preds(res: dict) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([res[f][0] for f in sorted(res)]),
            np.concatenate([decide(res[f][1], "signs") for f in sorted(res)]))


def copies_scored(emb: dict, X: np.ndarray, aug: dict) -> dict:
    """Does the transform keep the quadrant in the head's eyes? The shipped-C head trained on
    the originals of two dev folds scores the third fold's originals and its transformed
    copies (clip macro-F1, signs rule, mean over the dev folds)."""
    out = {"originals": [], "copies": []}
    for f in DEV_FOLDS:
        tr = np.isin(emb["fold"], [g for g in DEV_FOLDS if g != f])
        head = Head(0.003).fit(X[tr], emb["q"][tr])
        for key, src, Z in (("originals", emb, X[emb["fold"] == f]),
                            ("copies", aug, aug["penultimate"][aug["fold"] == f].astype(np.float64))):
            m = src["fold"] == f
            songs, cp = clip_mean(src["song"][m], head.proba(Z))
            cq = np.array([src["q"][m][src["song"][m] == s][0] for s in songs])
            out[key].append(macro_f1(cq, decide(cp, "signs")))
    return {k: float(np.mean(v)) for k, v in out.items()}


SENSITIVITY = ("identity", "gain+3", "gain-3", "pitch+1", "pitch-1", "tilt_noise")


def sensitivity(root: Path, n_clips: int) -> dict:
    """How far do the length-keeping transforms move the frozen trunk's windows? For every
    5th clip of fold 0 (``n_clips`` of them), each transform without the random gain:
    relative change of the window penultimates and the share of window decisions (signs
    rule, shipped-C head trained on the originals of folds 1-2) that stay the same.
    ``identity`` measures the pipeline itself (16-bit cached audio, re-analysed)."""
    clips = D.load_clips(root)
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    X = features(emb, "penultimate")
    head = Head(0.003).fit(X[np.isin(emb["fold"], [1, 2])], emb["q"][np.isin(emb["fold"], [1, 2])])
    fc = [c for c in clips if c["fold"] == 0][::5][:n_clips]
    audio = D.load_cache(D.emotion4q_cache(root, clips), [c["song"] for c in fc])
    _init_worker()
    out = {}
    for name in SENSITIVITY:
        agree, rel = [], []
        for c in fc:
            pen, _ = _embed_one((c["song"], audio[c["song"]]["audio"], name, False))
            orig = X[emb["song"] == c["song"]]
            agree.append(np.mean(decide(head.proba(orig), "signs") == decide(head.proba(pen.astype(np.float64)), "signs")))
            rel.append(np.linalg.norm(pen - orig) / np.linalg.norm(orig))
        out[name] = {"window_decisions_kept": float(np.mean(agree)), "relative_embedding_change": float(np.mean(rel)),
                     "clips": len(fc)}
        print(name, out[name], flush=True)
    return out


SETS = {"pitch": ("pitch-1", "pitch+1"), "tempo": ("tempo0.92", "tempo1.08"), "tilt_noise": ("tilt_noise",),
        "pitch+tempo": ("pitch-1", "pitch+1", "tempo0.92", "tempo1.08"), "all": TRANSFORMS}
C_GRID = (0.001, 0.003, 0.01)


def dev(sets: list[str]) -> dict:
    """Every transform set × C on the dev folds (train on two, test on the third)."""
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    dev_folds = list(DEV_FOLDS)
    others = lambda f: [g for g in dev_folds if g != f]  # noqa: E731
    base = {C: score_folds(emb, None, C, dev_folds, others) for C in C_GRID}
    rep = {"protocol": "train on the originals (+ augmented windows) of two dev folds, test on the third's "
                       "originals; clip macro-F1 of the signs rule, softmax temperature 1, clip = mean of "
                       "window probabilities; windows every 128 frames, pool 105",
           "baseline": {f"C={C}": {"dev_clip_macro_f1": float(np.mean(list(fold_f1(r).values()))),
                                   "per_fold": fold_f1(r)} for C, r in base.items()}}
    yb, pb = pooled_preds(base[0.003])
    X = features(emb, "penultimate")
    for name in sets:
        aug = load_aug(SETS[name], dev_folds)
        rep[name] = {"copies_scored_by_the_original_head": copies_scored(emb, X, aug)}
        for C in C_GRID:
            r = score_folds(emb, aug, C, dev_folds, others)
            y, p = pooled_preds(r)
            assert np.array_equal(y, yb)
            rep[name][f"C={C}"] = {"dev_clip_macro_f1": float(np.mean(list(fold_f1(r).values()))),
                                   "per_fold": fold_f1(r), "vs_shipped_C=0.003": paired_bootstrap(y, p, pb)}
            print(name, C, json.dumps(rep[name][f"C={C}"]), flush=True)
    return rep


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("embed", help="cache the augmented embeddings of some folds")
    e.add_argument("--folds", default="0,1,2", help="comma list of folds (default: the dev folds)")
    e.add_argument("--transforms", default=",".join(TRANSFORMS), help="comma list of transforms")
    e.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    s = sub.add_parser("sensitivity", help="how far each transform moves the trunk's windows")
    s.add_argument("--clips", type=int, default=24, help="clips of fold 0 (every 5th)")
    d = sub.add_parser("dev", help="score the transform sets on the dev folds 0-2")
    d.add_argument("--sets", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    a = p.parse_args(argv)
    root = D.data_root(a.data)
    if a.cmd == "embed":
        unknown = set(a.transforms.split(",")) - set(TRANSFORMS) - set(SENSITIVITY)
        if unknown:
            p.error(f"--transforms: unknown {', '.join(sorted(unknown))}; known: {', '.join(TRANSFORMS)}")
        embed(root, [int(f) for f in a.folds.split(",")], a.transforms.split(","), a.jobs)
    else:
        rep = dev(a.sets.split(",")) if a.cmd == "dev" else {"sensitivity": sensitivity(root, a.clips)}
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "emotion_augment_dev.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**old, **rep}, indent=2, default=float) + "\n")
        print(f"-> {path}")


if __name__ == "__main__":
    main()
