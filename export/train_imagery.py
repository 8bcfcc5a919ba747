"""Train the joint music–image embedding (seed: Loss = Loss₁ + λ·Loss₂).

* Music encoder: the emotion window (4 s of 16 kHz log-mel + wavelet energies, the engine's
  model features) → a fixed summary → MLP → 32-d unit vector; image encoder: small CNN on
  64×64 RGB (+ colour moments) → 32-d unit vector. Both have a linear quadrant head.
* Pairs: no human music–image pairs exist offline, so pairs are built by emotion: a 4Q window
  (quadrant from the 4Q annotations) ↔ image crops whose Valdez–Mehrabian quadrant matches.
* Loss₁ (matching): cross-modal supervised contrastive loss, both directions, temperature
  0.1; the positives of a music window are the batch's images of its quadrant (and vice versa).
  Loss₂ (emotion classification): cross-entropy of both quadrant heads. Loss = Loss₁ + λ·Loss₂.

``--cv`` trains one model per (λ, held-out fold) on the fixed 5-fold split (clips by
clips.csv, images by source group) and saves the held-out embeddings for
``export/evaluate_imagery.py``. The shipped encoders (λ = 0.2, the seed's best) are trained on
folds 1–4 of the clips and all images; fold 0's clips are held out for the generator's
consistency evaluation. Exported to ``models_onnx/music_embed.onnx`` and ``image_embed.onnx``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from sonolux import modelinput as mi

from . import data as D
from . import imagery_data as ID
from .imagery_models import (EMBED_DIM, ImageEncoder, MusicEncoder, MusicHead, n_params)
from .onnx_export import export_checked
from .training import Run, Timer, common_args, setup

LAMBDAS = (0.0, 0.2, 0.4, 0.8)
SHIP_LAMBDA = 0.2
TAU = 0.1
BATCH = 64
STEPS = 240
SEED_FINAL = 7
VERSION = "1.0.0"
# one torch thread: on the shared 2-core machine two threads oversubscribe the cores and ran
# ~6x slower than one in a measurement
THREADS = 1


def augment(img: np.ndarray, rng) -> np.ndarray:
    """Flips and a small random translation (reflect padding); colours untouched (the labels
    are colour-derived)."""
    out = img.copy()
    flip = rng.random(len(out)) < 0.5
    out[flip] = out[flip, :, :, ::-1]
    dy, dx = rng.integers(-4, 5, 2)
    out = np.roll(out, (int(dy), int(dx)), axis=(2, 3))
    return out


class PairSampler:
    """Batches of (music summary, its quadrant, an image crop of the same quadrant)."""

    def __init__(self, music: dict, clip_idx, images: dict, img_idx, rng):
        self.rng = rng
        owner = music["owner"]
        self.win = np.flatnonzero(np.isin(owner, clip_idx))
        self.mx = music["x"]
        self.mq = music["q"][owner]
        self.crops = images["crops"]
        self.iq = images["q"]
        self.by_q = [np.asarray(img_idx)[self.iq[img_idx] == q] for q in range(4)]
        self.win_by_q = [self.win[self.mq[self.win] == q] for q in range(4)]

    def batch(self, n=BATCH):
        q = self.rng.integers(0, 4, n)  # balanced quadrants
        w = np.array([self.rng.choice(self.win_by_q[k]) for k in q])
        im = np.array([self.rng.choice(self.by_q[k]) for k in q])
        imgs = self.crops[im].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        imgs = augment(imgs, self.rng)
        return (torch.from_numpy(self.mx[w]), torch.from_numpy(np.ascontiguousarray(imgs)),
                torch.from_numpy(q), torch.from_numpy(self.iq[im]))


def supcon(a, b, qa, qb, tau=TAU):
    """Cross-modal supervised contrastive loss: rows of ``a`` against all of ``b``; the
    positives of row i are the columns with the same quadrant."""
    logits = a @ b.t() / tau
    pos = (qa[:, None] == qb[None, :]).float()
    logp = logits.log_softmax(dim=1)
    return -((pos * logp).sum(1) / pos.sum(1).clamp(min=1)).mean()


def train_pair(music, images, clip_idx, img_idx, *, lam, steps, seed, desc):
    setup(seed, THREADS)
    rng = np.random.default_rng(seed)
    x = music["x"][np.isin(music["owner"], clip_idx)]
    mh = MusicHead(mean=x.mean(0), std=x.std(0) + 1e-3)
    ie = ImageEncoder()
    params = list(mh.parameters()) + list(ie.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    sampler = PairSampler(music, clip_idx, images, img_idx, rng)
    mh.train(), ie.train()
    hist = []
    bar = tqdm(range(steps), desc=desc, unit="step", leave=False, mininterval=5.0)
    for _ in bar:
        mx, img, mq, iq = sampler.batch()
        em, lm = mh(mx)
        ei, li = ie.embed(img)
        l1 = 0.5 * (supcon(em, ei, mq, iq) + supcon(ei, em, iq, mq))
        l2 = 0.5 * (F.cross_entropy(lm, mq) + F.cross_entropy(li, iq))
        loss = l1 + lam * l2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        hist.append((float(l1.detach()), float(l2.detach())))
    mh.eval(), ie.eval()
    h = np.array(hist)
    tqdm.write(f"{desc}: loss1 {h[-50:, 0].mean():.3f} loss2 {h[-50:, 1].mean():.3f}")
    return mh, ie


@torch.no_grad()
def embed_music(mh, music, clip_idx):
    """Clip embeddings (mean of the window embeddings, renormalised) and window embeddings."""
    sel = np.flatnonzero(np.isin(music["owner"], clip_idx))
    e, logits = mh(torch.from_numpy(music["x"][sel]))
    e = e.numpy()
    owner = music["owner"][sel]
    clips = np.stack([e[owner == c].mean(0) for c in clip_idx])
    clips /= np.linalg.norm(clips, axis=1, keepdims=True) + 1e-9
    probs = np.stack([torch.softmax(logits, 1).numpy()[owner == c].mean(0) for c in clip_idx])
    return clips, probs, e, owner


@torch.no_grad()
def embed_images(ie, crops):
    out, probs = [], []
    for i in range(0, len(crops), 256):
        x = torch.from_numpy(crops[i:i + 256].astype(np.float32).transpose(0, 3, 1, 2) / 255.0)
        e, p = ie(x)
        out.append(e.numpy()), probs.append(p.numpy())
    return np.concatenate(out), np.concatenate(probs)


def load_sets(a, *, train_folds_images=None):
    root, clips = D.corpus(a.data, a.smoke)
    img_path = ID.build_images(smoke=a.smoke)
    music = dict(np.load(ID.build_music(root, clips, smoke=a.smoke)))
    music["q"] = np.array([c["q"] for c in clips])
    images = ID.load_images(img_path, train_folds_images)
    return clips, music, images


def run(argv=None) -> dict:
    p = common_args(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--lambdas", default=",".join(map(str, LAMBDAS)))
    a = p.parse_args(argv)
    run = Run(a, threads=THREADS)
    clips, music, images = load_sets(a)
    steps = a.steps or (20 if a.smoke else STEPS)
    work, model_dir = run.work, run.model_dir
    fold_c = np.array([c["fold"] for c in clips])
    fold_i = images["fold"]
    report = run.report
    report.update(steps=steps, batch=BATCH, n_clips=len(clips), n_images=int(len(fold_i)),
                  n_sources=int(len(images["source_id"])),
                  image_quadrants=np.bincount(images["q"], minlength=4).tolist())
    lambdas = [float(v) for v in a.lambdas.split(",")]

    if not a.no_final:
        t = Timer()
        train_c = np.flatnonzero(fold_c != 0) if not a.smoke else np.flatnonzero(fold_c != 0)
        mh, ie = train_pair(music, images, train_c, np.arange(len(fold_i)), lam=SHIP_LAMBDA,
                            steps=steps, seed=SEED_FINAL, desc="imagery final")
        torch.save({"music": mh.state_dict(), "image": ie.state_dict()}, work / "imagery.pt")
        report["final"] = export_models(mh, ie, images, clips, model_dir, steps)
        report["final"]["wall_s"] = t.s

    if a.cv:
        folds = [0] if a.smoke else range(5)
        out = {}
        for lam in lambdas:
            for f in folds:
                tr_c, te_c = np.flatnonzero(fold_c != f), np.flatnonzero(fold_c == f)
                tr_i, te_i = np.flatnonzero(fold_i != f), np.flatnonzero(fold_i == f)
                if len(te_i) == 0 or len(te_c) == 0:
                    continue
                # VM normalisation and thresholds from the training images only
                imgs = ID.load_images(ID.build_images(smoke=a.smoke), train_folds=[g for g in range(5) if g != f])
                mh, ie = train_pair(music, imgs, tr_c, tr_i, lam=lam, steps=steps, seed=1000 + f,
                                    desc=f"imagery λ={lam} fold {f}")
                ce, cp, _, _ = embed_music(mh, music, te_c)
                ie_e, ie_p = embed_images(ie, imgs["crops"][te_i])
                key = f"lam{lam:g}_f{f}"
                out[f"{key}__music"] = ce
                out[f"{key}__music_probs"] = cp
                out[f"{key}__music_q"] = music["q"][te_c]
                out[f"{key}__music_idx"] = te_c
                out[f"{key}__image"] = ie_e
                out[f"{key}__image_probs"] = ie_p
                out[f"{key}__image_q"] = imgs["q"][te_i]
                out[f"{key}__image_idx"] = te_i
        np.savez(work / "imagery_cv.npz", **out)
        report["cv_wall_s"] = run.timer.s
        report["lambdas"] = lambdas
    return run.finish("imagery", "imagery_cv.json" if a.no_final else None)


def export_models(mh, ie, images, clips, model_dir, steps) -> dict:
    win = mi.FEATURE_CONTRACT["emotion_frames"]
    rng = np.random.default_rng(0)
    music = MusicEncoder(mh).eval()
    real_m = {"mel": rng.normal(-40, 15, (4, win, mi.N_MELS)).astype(np.float32),
              "wavelet": rng.normal(-20, 10, (4, win, mi.N_WAVELET)).astype(np.float32)}
    rand_m = {"mel": rng.normal(-45, 20, (3, win, mi.N_MELS)).astype(np.float32),
              "wavelet": rng.normal(-15, 20, (3, win, mi.N_WAVELET)).astype(np.float32)}
    vm = images["vm"]
    common = {"version": VERSION, "embedding_dim": EMBED_DIM, "labels": ["Q1", "Q2", "Q3", "Q4"],
              "lambda": SHIP_LAMBDA, "loss": "supervised cross-modal contrastive (tau 0.1) + lambda * quadrant CE",
              "steps": steps, "batch": BATCH, "seed": SEED_FINAL,
              "pairs": "built by emotion: 4Q window <-> image crops with the same Valdez-Mehrabian quadrant",
              "training_data": "emotion4q folds 1-4 (480 clips; research use only) + "
                               f"{len(images['source_id'])} offline images (Debian wallpapers, skimage.data), "
                               f"{len(images['fold'])} crops",
              "image_emotion_rule": {"source": "Valdez & Mehrabian 1994", **vm.norm}}
    path_m = model_dir / "music_embed.onnx"
    contract_m = {
        **common, "name": "sonolux-music-embed", "task": "music_embedding", "window_frames": win,
        "window_s": win * mi.HOP / mi.SR, "output_shapes": {"embedding": [EMBED_DIM], "quadrant_probs": [4]},
        "n_params": n_params(mh)}
    par_m = export_checked(music, path_m, real=real_m, rand=rand_m,
                           outputs=["embedding", "quadrant_probs"], contract=contract_m)
    path_i = model_dir / "image_embed.onnx"
    crops = images["crops"][:6].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    real_i = {"image": np.ascontiguousarray(crops)}
    rand_i = {"image": rng.random((3, 3, 64, 64)).astype(np.float32)}
    contract_i = {
        **common, "name": "sonolux-image-embed", "task": "image_embedding", "window_frames": 0,
        "image_size": 64, "image_input": "RGB float32 0..1, (batch, 3, 64, 64), centre square, bilinear",
        "output_shapes": {"embedding": [EMBED_DIM], "quadrant_probs": [4]}, "n_params": n_params(ie)}
    par_i = export_checked(ie, path_i, real=real_i, rand=rand_i,
                           outputs=["embedding", "quadrant_probs"], contract=contract_i)
    return {"parity_music": par_m, "parity_image": par_i, "n_params_music": n_params(mh),
            "n_params_image": n_params(ie)}


if __name__ == "__main__":
    run()
