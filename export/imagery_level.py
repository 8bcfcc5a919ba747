"""Level invariance of the imagery music side: does the mixer's gain change which picture the
music encoder chooses, and does a level normalisation in front of the frozen encoder fix that
without costing retrieval or quadrant quality?

    python -m export.imagery_level [--data ../shared/data]

Clips: the 4Q clips of fold 0 (held out from the shipped ``music_embed.onnx``). A clip at gain
g dB is its cached 16 kHz audio times 10^(g/20) (float: no clipping), through the engine's
model features (``sonolux.modelinput.clip_features``), one emotion window every 64 frames
(``export.imagery_data``'s windows, silence-padded at the start as a live stream) and the
shipped music encoder. Input variants (``VARIANTS``):

* ``raw``: the window as the encoder was trained on it (the engine before this change);
* ``running_level``: the emotion model's causal running-level normaliser with the emotion
  contract's settings (``sonolux.inference.level.normalise_levels`` on the whole file's
  log-mel from the stream start; the same per-frame shift added to the wavelet energies);
* ``window_level``: the stateless per-window rule of ``sonolux.imagery.level``
  (the window's gated level shifted to the same reference level, mel and wavelet, then a
  floor at −80 dB);
* ``window_level_no_floor``: the same without the floor (the rule as first measured: it kept
  the top-1 picture of 97.7 % of the windows at every gain; the windows that changed held
  bands at the engine's −100 dB log floor, which does not move with the gain; floors of
  −80 / −70 / −60 dB were then tried on this fold, −80 dB, the least intrusive, kept).

Gallery: the image crops of ``export.imagery_data.build_images`` from the image sources
installed on this machine (the Valdez–Mehrabian quadrant of each crop), and the paired
gallery of ``export.evaluate_imagery.pair_gallery`` (one distinct crop of its quadrant per
clip). Per variant and gain: the share of windows whose top-1 crop (of all crops, and of the
paired gallery) and whose quadrant-head decision are the same as at 0 dB, and those the same
at every gain; the quality figures at each gain (window and clip music quadrant accuracy,
clip = mean of window probabilities; R@K / P@K of ``evaluate_imagery.retrieval`` with the
clip embedding = mean of its window embeddings); and against ``raw`` at 0 dB a paired
bootstrap over clips of the clip quadrant-accuracy difference.

Decision rule (fixed before the first run): a normaliser ships if its top-1 picture and quadrant
decision are kept for ≥ 99 % of windows at every gain and its 0 dB clip quadrant accuracy is
not worse than ``raw`` beyond noise (the paired 95 % interval of the difference reaches 0);
of two that pass, the stateless ``window_level`` (identical live and offline, no work on the
analysis thread). If none passes, the encoder needs retraining on normalised input.
Results: ``export/results/imagery_level.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sonolux import modelinput as mi
from sonolux.imagery.level import FLOOR_DB, GATE_DB, REFERENCE_DB, normalise_window
from sonolux.inference.level import normalise_levels
from sonolux.resources import models_dir

from . import data as D
from . import imagery_data as ID
from .evaluate_imagery import pair_gallery, retrieval
from .imagery_speed import session
from .input_level import TAU_S  # the emotion contract's running-level time constant

RESULTS = Path(__file__).resolve().parent / "results" / "imagery_level.json"
GAINS = (-12.0, -6.0, 0.0, 6.0)
VARIANTS = ("raw", "running_level", "window_level", "window_level_no_floor")
FOLD = 0
N_BOOT = 2000


def windows(f: dict, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """The (mel, wavelet) emotion windows (n, 250, bands) of one clip's features ``f`` as the
    encoder reads them under ``variant``."""
    mel, wl = f["mel"], f["wavelet"]
    if variant == "running_level":
        norm = normalise_levels(mel, tau_s=TAU_S, reference_db=REFERENCE_DB, gate_db=GATE_DB)
        wl = wl + (norm[:, :1] - mel[:, :1])  # the frame's shift, applied to its wavelet energies too
        mel = norm
    sil = mi.silence_features()
    ends = mi.frame_windows(len(mel), window=ID.MUSIC_WIN, stride=ID.MUSIC_STRIDE)
    m = np.stack([mi.window_at(mel, int(e), ID.MUSIC_WIN, sil["mel"]) for e in ends]).astype(np.float32)
    w = np.stack([mi.window_at(wl, int(e), ID.MUSIC_WIN, sil["wavelet"]) for e in ends]).astype(np.float32)
    if variant.startswith("window_level"):
        normalise_window(m, w, **({"floor_db": None} if variant.endswith("no_floor") else {}))
    return m, w


def embed_all(sess, feats: dict, songs: list[str], variant: str) -> dict:
    """Window embeddings, quadrant probabilities and owning clip of every window of ``songs``."""
    emb, probs, owner = [], [], []
    for i, s in enumerate(songs):
        m, w = windows(feats[s], variant)
        e, p = sess.run(None, {"mel": m, "wavelet": w})
        emb.append(e), probs.append(p), owner.append(np.full(len(e), i))
    return {"emb": np.concatenate(emb), "probs": np.concatenate(probs), "owner": np.concatenate(owner)}


def quality(r: dict, q: np.ndarray, gal_emb: np.ndarray, gal_q: np.ndarray, paired: np.ndarray) -> dict:
    """Quadrant accuracy (window, clip) and retrieval figures of one variant at one gain."""
    n = len(q)
    clip_p = np.stack([r["probs"][r["owner"] == i].mean(0) for i in range(n)])
    clip_e = np.stack([r["emb"][r["owner"] == i].mean(0) for i in range(n)])
    out = {"window_q_acc": float(np.mean(r["probs"].argmax(1) == q[r["owner"]])),
           "clip_q_acc": float(np.mean(clip_p.argmax(1) == q))}
    out.update(retrieval(clip_e @ gal_emb.T, paired, q, gal_q))
    return out


def paired_accuracy(correct_a: np.ndarray, correct_b: np.ndarray, n: int = N_BOOT) -> dict:
    """Accuracy difference a − b on the same clips with a 95 % interval from resampling clips."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(correct_a), (n, len(correct_a)))
    d = correct_a[idx].mean(1) - correct_b[idx].mean(1)
    return {"diff": float(correct_a.mean() - correct_b.mean()),
            "ci95": [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]}


def wavelet_check(clean: dict, loud: dict, gain: float) -> dict:
    """How the wavelet energies and the frame levels move with the gain (dB per dB), over
    frames clear of the log floor at both gains: 1.0 means the same shift as the log-mel."""
    lv = lambda m: 10 * np.log10(np.mean(10.0 ** (m.astype(np.float64) / 10), axis=1))  # noqa: E731
    ok = (clean["wavelet"] > -70) & (loud["wavelet"] > -70)
    dl = (lv(loud["mel"]) - lv(clean["mel"]))
    on = (lv(clean["mel"]) > -70) & (lv(loud["mel"]) > -70)
    return {"wavelet_db_per_db": float(np.median((loud["wavelet"] - clean["wavelet"])[ok]) / gain),
            "frame_level_db_per_db": float(np.median(dl[on]) / gain)}


def below_floor(feats: dict, songs: list[str]) -> float:
    """Share of the log-mel values of all windows of ``songs`` that the per-window shift
    leaves below the floor ``FLOOR_DB`` (what the floor changes)."""
    vals = [windows(feats[s], "window_level_no_floor")[0] for s in songs]
    return float(np.mean(np.concatenate([v.ravel() for v in vals]) < FLOOR_DB))


def stacked(feats: dict, songs: list[str]) -> dict:
    """The features of ``songs`` one after the other (frames of all clips)."""
    return {k: np.concatenate([feats[s][k] for s in songs]) for k in ("mel", "wavelet")}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    a = p.parse_args(argv)
    t0 = time.time()
    root, clips = D.corpus(a.data, False)
    test = [c for c in clips if c["fold"] == FOLD]
    songs, q = [c["song"] for c in test], np.array([c["q"] for c in test])
    audio = {s: v["audio"] for s, v in D.load_cache(D.emotion4q_cache(root, clips), songs).items()}
    feats = {g: {s: mi.clip_features(audio[s] * np.float32(10 ** (g / 20))) for s in songs} for g in GAINS}
    images = ID.load_images(ID.build_images())
    img = session(models_dir() / "image_embed.onnx", 2)
    crops = images["crops"].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    all_emb = np.concatenate([img.run(None, {"image": crops[i:i + 256]})[0] for i in range(0, len(crops), 256)])
    gal, paired = pair_gallery(q, images["q"], np.random.default_rng(500 + FOLD))
    gal_emb, gal_q = all_emb[gal], images["q"][gal]
    music = session(models_dir() / "music_embed.onnx", 2)
    rep = {"protocol": __doc__.split("\n\n", 2)[2].strip(),
           "settings": {"reference_db": REFERENCE_DB, "gate_db": GATE_DB, "floor_db": FLOOR_DB,
                        "running_level_tau_s": TAU_S},
           "clips": len(test), "gains_db": list(GAINS),
           "gallery": {"crops": int(len(crops)), "sources": int(len(images["source_id"])),
                       "paired_gallery": int(len(gal)), "paired_per_quadrant": np.bincount(gal_q, minlength=4).tolist(),
                       "crops_per_quadrant": np.bincount(images["q"], minlength=4).tolist()},
           "wavelet_check": {f"{g:+g} dB": wavelet_check(stacked(feats[0.0], songs), stacked(feats[g], songs), g)
                             for g in GAINS if g},
           "shifted_mel_below_floor": {f"{g:+g} dB": below_floor(feats[g], songs) for g in GAINS},
           "variants": {}}
    clip_correct = {}
    for v in VARIANTS:
        runs = {g: embed_all(music, feats[g], songs, v) for g in GAINS}
        ref = runs[0.0]
        top_all0 = (ref["emb"] @ all_emb.T).argmax(1)
        top_gal0 = (ref["emb"] @ gal_emb.T).argmax(1)
        quad0 = ref["probs"].argmax(1)
        same = {"top1_all_crops": np.ones(len(quad0), bool), "top1_paired_gallery": np.ones(len(quad0), bool),
                "quadrant": np.ones(len(quad0), bool)}
        out = {}
        for g in GAINS:
            r = runs[g]
            kept = {"top1_all_crops": (r["emb"] @ all_emb.T).argmax(1) == top_all0,
                    "top1_paired_gallery": (r["emb"] @ gal_emb.T).argmax(1) == top_gal0,
                    "quadrant": r["probs"].argmax(1) == quad0}
            for k in same:
                same[k] &= kept[k]
            out[f"{g:+g} dB"] = {"kept_vs_0dB": {k: float(x.mean()) for k, x in kept.items()},
                                 "quality": quality(r, q, gal_emb, gal_q, paired)}
        out["same_at_every_gain"] = {k: float(x.mean()) for k, x in same.items()}
        out["windows"] = int(len(quad0))
        clip_p = np.stack([ref["probs"][ref["owner"] == i].mean(0) for i in range(len(q))])
        clip_correct[v] = (clip_p.argmax(1) == q).astype(float)
        if v != "raw":
            out["clip_q_acc_vs_raw_0dB"] = paired_accuracy(clip_correct[v], clip_correct["raw"])
        rep["variants"][v] = out
        print(v, json.dumps(out, default=float), flush=True)
    passing = [v for v in VARIANTS[1:] if min(rep["variants"][v]["same_at_every_gain"].values()) >= 0.99
               and rep["variants"][v]["clip_q_acc_vs_raw_0dB"]["ci95"][1] >= 0]
    rep["passing"] = passing
    rep["chosen"] = "window_level" if "window_level" in passing else (passing[0] if passing else None)
    rep["wall_s"] = round(time.time() - t0, 1)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rep, indent=2, default=float) + "\n")
    print(f"-> {RESULTS}; chosen: {rep['chosen']}")
    return rep


if __name__ == "__main__":
    main()
