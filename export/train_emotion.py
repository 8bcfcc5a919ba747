"""Train the emotion encoder (CRNN + wavelet branch) on the 4Q clips.

``--cv`` runs the fixed 5-fold split of clips.csv for the full model and for the ablation
without the wavelet branch, saving the held-out window predictions for export/evaluate.py;
the shipped model is then trained on all 600 clips and exported to models_onnx/emotion.onnx.

Targets: the clip's quadrant (cross-entropy), the signs of valence and arousal implied by it
(binary cross-entropy on tanh outputs: va = 2 P(positive) - 1), and, as an auxiliary head
that is not exported, vibenet's valence/energy of the overlapping 10 s window (distillation).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sonolux import modelinput as mi

from . import data as D
from .models import EmotionCRNN, n_params
from .training import Run, Timer, common_args, fit, predict, setup

WIN = mi.FEATURE_CONTRACT["emotion_frames"]
EVAL_STRIDE = 64          # one inference per 1.024 s, as the live engine schedules it
WINDOWS_PER_CLIP = 3      # random windows per clip per epoch
EPOCHS = 8
BATCH = 32
VARIANTS = {"full": True, "no_wavelet": False}
MEL_NORM = (-20.0, 16.0)   # global mean/std of the 4Q log-mel (dB)
WL_NORM = (-17.0, 12.0)    # global mean/std of the wavelet energies (dB)


def vibenet_targets(teach: dict, song: str, n_frames: int) -> np.ndarray:
    """Per-frame vibenet (valence, energy) in -1..1: the 10 s window (5 s hop) whose centre is
    nearest to each frame, used as the auxiliary target of windows ending there."""
    labels = list(teach["vibenet_labels"])
    w = teach[f"{song}__vibenet_windows"]
    ve = np.clip(w[:, [labels.index("valence"), labels.index("energy")]], 0, 1) * 2 - 1
    centres = 5.0 * np.arange(len(w)) + 5.0
    t = (np.arange(n_frames) + 1) * mi.HOP / mi.SR - WIN * mi.HOP / mi.SR / 2
    j = np.abs(t[:, None] - centres[None, :]).argmin(axis=1)
    return ve[j].astype(np.float32)


class EmotionData:
    """Clips with features, labels and auxiliary targets; samples training windows."""

    def __init__(self, clips, feats, teach):
        self.clips = clips
        self.mel = [feats[c["song"]]["mel"] for c in clips]
        self.wl = [feats[c["song"]]["wavelet"] for c in clips]
        self.q = np.array([c["q"] for c in clips])
        self.fold = np.array([c["fold"] for c in clips])
        self.aux = [vibenet_targets(teach, c["song"], len(m)) for c, m in zip(clips, self.mel)]
        sil = mi.silence_features()
        self.sil_mel, self.sil_wl = sil["mel"], sil["wavelet"]

    def window(self, i, end):
        return (mi.window_at(self.mel[i], end, WIN, self.sil_mel),
                mi.window_at(self.wl[i], end, WIN, self.sil_wl))

    def train_batches(self, idx, rng, n_per_clip=WINDOWS_PER_CLIP):
        order = np.repeat(idx, n_per_clip)
        rng.shuffle(order)
        for b in range(0, len(order), BATCH):
            mels, wls, qs, aux = [], [], [], []
            for i in order[b:b + BATCH]:
                n = len(self.mel[i])
                end = int(rng.integers(min(WIN, n), n + 1))
                m, w = self.window(i, end)
                gain = rng.uniform(-6, 6)              # level invariance (dB on both features)
                m = m + gain
                w = w + gain
                if rng.random() < 0.5:                 # frequency mask
                    f0 = int(rng.integers(0, mi.N_MELS - 12))
                    m = m.copy()
                    m[:, f0:f0 + int(rng.integers(1, 12))] = m.mean()
                mels.append(m)
                wls.append(w)
                qs.append(self.q[i])
                aux.append(self.aux[i][end - 1])
            yield (torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(wls)),
                   torch.from_numpy(np.array(qs)), torch.from_numpy(np.stack(aux)))

    def eval_windows(self, idx):
        """All live windows of the given clips: (mel, wavelet, clip index per window)."""
        mels, wls, owner = [], [], []
        for i in idx:
            for end in mi.frame_windows(len(self.mel[i]), window=WIN, stride=EVAL_STRIDE):
                m, w = self.window(i, int(end))
                mels.append(m)
                wls.append(w)
                owner.append(i)
        return np.stack(mels), np.stack(wls), np.array(owner)


def loss_fn(model, batch):
    mel, wl, q, aux = batch
    va_logit, q_logit, aux_out = model.heads(mel, wl)
    va_sign = torch.from_numpy(D.QUADRANT_VA)[q]
    loss_q = F.cross_entropy(q_logit, q, label_smoothing=0.05)
    loss_va = F.binary_cross_entropy_with_logits(2 * va_logit, (va_sign + 1) / 2)
    loss_aux = F.mse_loss(torch.tanh(aux_out), aux)
    return loss_q + loss_va + 0.5 * loss_aux


def train_one(ds, idx, *, use_wavelet, epochs, seed, desc):
    setup(seed)
    model = EmotionCRNN(use_wavelet=use_wavelet, mel_norm=MEL_NORM, wl_norm=WL_NORM)
    rng = np.random.default_rng(seed)
    fit(model, lambda ep: ds.train_batches(idx, rng), loss_fn, epochs=epochs, desc=desc)
    return model


def run(argv=None) -> dict:
    p = common_args(__doc__.splitlines()[0])
    a = p.parse_args(argv)
    run = Run(a)
    root, clips, cache = run.emotion4q()
    epochs = run.epochs(EPOCHS)
    feats = D.load_cache(cache, [c["song"] for c in clips])
    ds = EmotionData(clips, feats, D.load_teachers(root))
    work = run.work
    run.report.update(epochs=epochs, n_clips=len(clips))

    if a.cv:
        folds = [0] if a.smoke else range(5)
        for variant, use_wl in VARIANTS.items():
            qp_all, va_all, owner_all = [], [], []
            for f in folds:
                train = np.flatnonzero(ds.fold != f)
                test = np.flatnonzero(ds.fold == f)
                model = train_one(ds, train, use_wavelet=use_wl, epochs=epochs, seed=1000 + f,
                                  desc=f"emotion {variant} fold {f}")
                mel, wl, owner = ds.eval_windows(test)
                va, qp = predict(model, [mel, wl], batch=128)
                qp_all.append(qp), va_all.append(va), owner_all.append(owner)
            owner = np.concatenate(owner_all)
            np.savez(work / f"emotion_cv_{variant}.npz", quadrant_probs=np.concatenate(qp_all),
                     va=np.concatenate(va_all), song=np.array([clips[i]["song"] for i in owner]),
                     q=ds.q[owner], fold=ds.fold[owner])
        run.report["cv_wall_s"] = run.timer.s

    if not a.no_final:
        t_final = Timer()
        model = train_one(ds, np.arange(len(clips)), use_wavelet=True, epochs=epochs, seed=SEED_FINAL,
                          desc="emotion final")
        rng = np.random.default_rng(0)
        mel, wl, _ = ds.eval_windows(np.arange(min(4, len(clips))))
        real = {"mel": mel[:8], "wavelet": wl[:8]}
        rand = {"mel": rng.normal(-45, 20, (3, WIN, mi.N_MELS)).astype(np.float32),
                "wavelet": rng.normal(-15, 20, (3, WIN, mi.N_WAVELET)).astype(np.float32)}
        run.ship(model, "emotion", real=real, rand=rand, outputs=["va", "quadrant_probs"], contract={
            "name": "sonolux-emotion", "version": "1.0.0", "task": "emotion",
            "window_frames": WIN, "window_s": WIN * mi.HOP / mi.SR,
            "eval_stride_frames": EVAL_STRIDE,
            "labels": ["Q1", "Q2", "Q3", "Q4"],
            "quadrants": {"Q1": "+V+A happy", "Q2": "-V+A anxious", "Q3": "-V-A sad",
                          "Q4": "+V-A relaxed"},
            "va_labels": ["valence", "arousal"], "va_range": [-1.0, 1.0],
            "output_shapes": {"va": [2], "quadrant_probs": [4]},
            "training_data": "emotion4q: 600 clips of the Panda et al. 4Q set (research use only); "
                             "auxiliary targets: vibenet valence/energy (GPL-3.0 model outputs)",
            "n_params": n_params(model), "seed": SEED_FINAL, "epochs": epochs,
        })
        run.report["final_wall_s"] = t_final.s
    return run.finish("emotion")


SEED_FINAL = 7


if __name__ == "__main__":
    run()
