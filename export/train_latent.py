"""Train the latent autoencoder (10-d code) on 1 s log-mel windows of the 4Q clips.

Loss: reconstruction MSE (standardised mel) + a decorrelation penalty on the batch's code
correlation matrix + a smoothness penalty between codes of windows 8 hops apart, so presets
get 10 steady, independent controls. After training, PCA whitening of the training codes is
baked into the exported encoder (zero mean, unit variance, decorrelated, ordered by variance).

Trained on folds 1-4 (480 clips); fold 0 stays held out for export/evaluate.py's
reconstruction and correlation metrics. The shipped encoder is this model.
"""
from __future__ import annotations

import numpy as np
import torch

from sonolux import modelinput as mi

from . import data as D
from .models import LatentAE, n_params
from .training import Run, common_args, fit, predict

WIN = mi.FEATURE_CONTRACT["latent_frames"]
LAG = 8                   # frames between the two windows of a smoothness pair
WINDOWS_PER_CLIP = 8
EPOCHS = 6
BATCH = 64
HELD_OUT_FOLD = 0
MEL_NORM = (-20.0, 16.0)   # global mean/std of the 4Q log-mel (dB)
W_DECOR = 0.1
W_SMOOTH = 0.05
SEED = 7


class LatentData:
    def __init__(self, mels):
        self.mel = mels
        self.sil = mi.silence_features()["mel"]

    def window(self, i, end):
        return mi.window_at(self.mel[i], end, WIN, self.sil)

    def train_batches(self, rng):
        n = len(self.mel)
        order = np.repeat(np.arange(n), WINDOWS_PER_CLIP)
        rng.shuffle(order)
        for b in range(0, len(order), BATCH):
            x0, x1 = [], []
            for i in order[b:b + BATCH]:
                end = int(rng.integers(WIN, len(self.mel[i]) - LAG + 1))
                x0.append(self.window(i, end))
                x1.append(self.window(i, end + LAG))
            yield torch.from_numpy(np.stack(x0)), torch.from_numpy(np.stack(x1))

    def eval_windows(self, stride=16):
        xs, owner = [], []
        for i, m in enumerate(self.mel):
            for end in mi.frame_windows(len(m), window=WIN, stride=stride):
                xs.append(self.window(i, int(end)))
                owner.append(i)
        return np.stack(xs), np.array(owner)


def loss_fn(model, batch):
    x0, x1 = batch
    z0, z1 = model.encode(x0), model.encode(x1)
    rec = ((model.decode(z0) - model.mel_norm(x0)) ** 2).mean()
    zc = z0 - z0.mean(0)
    std = zc.std(0) + 1e-4
    corr = (zc / std).T @ (zc / std) / (len(z0) - 1)
    off = corr - torch.diag(torch.diagonal(corr))
    decor = (off ** 2).sum() / (corr.shape[0] * (corr.shape[0] - 1))
    smooth = (((z1 - z0) / std) ** 2).mean()
    return rec + W_DECOR * decor + W_SMOOTH * smooth


def whiten(model, x: np.ndarray) -> None:
    """Bake PCA whitening of the codes of ``x`` into the model's output map."""
    with torch.no_grad():
        z = predict(model.encode, [x], batch=256)[0].astype(np.float64)
    mu = z.mean(0)
    val, vec = np.linalg.eigh(np.cov(z, rowvar=False))
    order = np.argsort(val)[::-1]
    w = vec[:, order] / np.sqrt(np.maximum(val[order], 1e-8))
    w *= np.sign(w[np.abs(w).argmax(axis=0), np.arange(w.shape[1])])  # deterministic signs
    model.white_mean.copy_(torch.from_numpy(mu.astype(np.float32)))
    model.white_mat.copy_(torch.from_numpy(w.astype(np.float32)))


def run(argv=None) -> dict:
    p = common_args(__doc__.splitlines()[0])
    a = p.parse_args(argv)
    run = Run(a, seed=SEED)
    _, clips, cache = run.emotion4q()
    epochs = run.epochs(EPOCHS)
    train_ids = [c["song"] for c in clips if c["fold"] != HELD_OUT_FOLD]
    feats = D.load_cache(cache, train_ids)
    ds = LatentData([feats[i]["mel"] for i in train_ids])
    run.report.update(epochs=epochs, n_clips=len(train_ids), held_out_fold=HELD_OUT_FOLD)

    model = LatentAE(mel_norm=MEL_NORM)
    rng = np.random.default_rng(SEED)
    run.report["loss"] = fit(model, lambda ep: ds.train_batches(rng), loss_fn, epochs=epochs,
                             desc="latent", lr=2e-3)
    x, _ = ds.eval_windows(stride=32)
    whiten(model, x)
    rand = {"mel": np.random.default_rng(0).normal(-45, 20, (3, WIN, mi.N_MELS)).astype(np.float32)}
    real = {"mel": x[:8]}
    run.ship(model, "latent", real=real, rand=rand, outputs=["code", "controls"], contract={
        "name": "sonolux-latent", "version": "1.0.0", "task": "latent",
        "window_frames": WIN, "window_s": WIN * mi.HOP / mi.SR,
        "labels": [f"latent{i}" for i in range(10)],
        "output_shapes": {"code": [10], "controls": [10]},
        "outputs_meaning": {"code": "whitened 10-d code (zero mean, unit variance on training "
                                    "windows, decorrelated, ordered by variance)",
                            "controls": "sigmoid(1.6*code): 0..1 preset controls"},
        "training_data": "log-mel windows of 480 emotion4q clips (folds 1-4; research use only)",
        "n_params": n_params(model), "seed": SEED, "epochs": epochs,
    })
    return run.finish("latent")


if __name__ == "__main__":
    run()
