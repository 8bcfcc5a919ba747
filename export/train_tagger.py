"""Train the 50-tag tagger by distillation from the musicnn MTT taggram on the 4Q clips.

Each training example is one of musicnn's 3 s patches: our 188-frame mel window and the
48128 raw samples ending where the patch ends, with the teacher's 50 probabilities as soft
targets. Loss: weighted binary cross-entropy with penalty ALPHA > 1 on missed positives
(-[a t log p + (1 - t) log(1 - p)]) plus the structured self-attention penalty.

``--cv`` runs the fixed 5 folds for the fused model and the mel-only / wave-only ablations and
saves held-out patch predictions for export/evaluate.py; the shipped model is trained on all
clips and exported to models_onnx/tagger.onnx.
"""
from __future__ import annotations

import numpy as np
import torch

from sonolux import modelinput as mi

from . import data as D
from .models import StructuredSelfAttention, Tagger, n_params
from .training import Run, Timer, common_args, fit, predict, setup

WIN = mi.FEATURE_CONTRACT["tagger_frames"]
WAVE = mi.FEATURE_CONTRACT["tagger_samples"]
PATCH_S = 3.0
ALPHA = 2.0               # penalty on missed positives
ATT_PENALTY = 0.003
PATCHES_PER_CLIP = 3      # random teacher patches per clip per epoch
EPOCHS = 6
BATCH = 32
VARIANTS = {"fused": ("mel", "wave"), "mel_only": ("mel",), "wave_only": ("wave",)}
MEL_NORM = (-20.0, 16.0)   # global mean/std of the 4Q log-mel (dB)
SEED_FINAL = 7


def patch_end_frame(i: int) -> int:
    """Exclusive end frame of our window for musicnn patch i ([3i, 3i+3) s)."""
    return int(np.floor((i + 1) * PATCH_S * mi.SR / mi.HOP))


class TagData:
    """Teacher patches of a corpus with their feature windows."""

    def __init__(self, ids, feats, taggrams):
        self.ids = list(ids)
        self.mel = [feats[i]["mel"] for i in self.ids]
        self.audio = [feats[i]["audio"] for i in self.ids]
        self.items = []   # (clip index, patch index)
        self.targets = []
        for k, cid in enumerate(self.ids):
            tg = taggrams[cid]
            for p in range(len(tg)):
                if patch_end_frame(p) <= len(self.mel[k]):
                    self.items.append((k, p))
                    self.targets.append(tg[p])
        self.items = np.array(self.items)
        self.targets = np.array(self.targets, np.float32)
        self.sil = mi.silence_features()["mel"]

    def window(self, k, end):
        return (mi.window_at(self.mel[k], end, WIN, self.sil),
                mi.wave_window_at(self.audio[k], end, WAVE))

    def select(self, clip_idx) -> np.ndarray:
        return np.flatnonzero(np.isin(self.items[:, 0], clip_idx))

    def train_batches(self, sel, rng, per_clip=PATCHES_PER_CLIP):
        by_clip = {}
        for j in sel:
            by_clip.setdefault(self.items[j, 0], []).append(j)
        order = np.concatenate([rng.choice(v, size=min(per_clip, len(v)), replace=False)
                                for v in by_clip.values()])
        rng.shuffle(order)
        for b in range(0, len(order), BATCH):
            mels, waves, ts = [], [], []
            for j in order[b:b + BATCH]:
                k, p = self.items[j]
                m, w = self.window(k, patch_end_frame(p))
                gain = rng.uniform(-6, 6)
                mels.append(m + gain)
                waves.append(w * np.float32(10 ** (gain / 20)))
                ts.append(self.targets[j])
            yield (torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(waves)),
                   torch.from_numpy(np.stack(ts)))

    def eval_inputs(self, sel):
        mels, waves = zip(*(self.window(k, patch_end_frame(p)) for k, p in self.items[sel]))
        return np.stack(mels), np.stack(waves)


def loss_fn(model, batch):
    mel, wave, t = batch
    logits, att = model.logits(mel, wave)
    log_p = torch.nn.functional.logsigmoid(logits)
    log_not_p = torch.nn.functional.logsigmoid(-logits)
    bce = -(ALPHA * t * log_p + (1 - t) * log_not_p).mean()
    return bce + ATT_PENALTY * StructuredSelfAttention.penalty(att)


def train_one(ds, sel, *, branches, epochs, seed, desc):
    setup(seed)
    model = Tagger(branches=branches, mel_norm=MEL_NORM)
    rng = np.random.default_rng(seed)
    fit(model, lambda ep: ds.train_batches(sel, rng), loss_fn, epochs=epochs, desc=desc)
    return model


def predict_sel(model, ds, sel, batch=64):
    out = []
    for i in range(0, len(sel), 512):  # bounded memory for the waveform windows
        mel, wave = ds.eval_inputs(sel[i:i + 512])
        out.append(predict(model, [mel, wave], batch=batch)[0])
    return np.concatenate(out)


def teacher_taggrams(teach: dict, ids) -> dict:
    return {i: teach[f"{i}__musicnn_taggram"] for i in ids}


def add_plan_args(p, prefix: str = "") -> None:
    """The tagger's CV plan options (``--folds``, ``--ablation-folds``, ``--ship-fold0``);
    ``prefix`` names them for a caller that runs several models (``--tagger-folds``)."""
    p.add_argument(f"--{prefix}folds", type=int, default=5,
                   help="CV folds for the fused tagger (first N)")
    p.add_argument("--ablation-folds", type=int, default=5,
                   help="folds used for the mel-only / wave-only ablations (first N)")
    p.add_argument(f"--{prefix}ship-fold0", action="store_true",
                   help="ship the fold-0 CV model (trained on folds 1-4) instead of retraining "
                        "on all clips (saves one training run on a busy machine)")


def run(argv=None) -> dict:
    p = common_args(__doc__.splitlines()[0])
    add_plan_args(p)
    a = p.parse_args(argv)
    run = Run(a)
    root, clips, cache = run.emotion4q()
    epochs = run.epochs(EPOCHS)
    ids = [c["song"] for c in clips]
    teach = D.load_teachers(root)
    ds = TagData(ids, D.load_cache(cache, ids), teacher_taggrams(teach, ids))
    labels = [str(x) for x in teach["musicnn_labels"]]
    fold = np.array([c["fold"] for c in clips])
    report = run.report
    report.update(epochs=epochs, n_clips=len(clips), n_patches=len(ds.items))

    def ship(model, desc):
        t_ship = Timer()
        mel, wave = ds.eval_inputs(np.arange(min(8, len(ds.items))))
        real = {"mel": mel, "wave": wave}
        rng = np.random.default_rng(0)
        rand = {"mel": rng.normal(-45, 20, (3, WIN, mi.N_MELS)).astype(np.float32),
                "wave": rng.normal(0, 0.1, (3, WAVE)).astype(np.float32)}
        run.ship(model, "tagger", real=real, rand=rand, outputs=["tags"], contract={
            "name": "sonolux-tagger", "version": "1.0.0", "task": "tags",
            "window_frames": WIN, "window_samples": WAVE, "window_s": WIN * mi.HOP / mi.SR,
            "labels": labels, "output_shapes": {"tags": [len(labels)]},
            "training_data": "distilled from musicnn MTT_musicnn (ISC) taggrams on the 4Q clips "
                             f"({desc}; audio: research use only)",
            "loss": f"weighted BCE alpha={ALPHA} on soft teacher targets + "
                    f"{ATT_PENALTY}*||AA^T-I||^2",
            "n_params": n_params(model), "seed": SEED_FINAL, "epochs": epochs,
        })
        report["shipped"] = desc
        report["export_wall_s"] = t_ship.s

    if a.cv:
        n_main = 1 if a.smoke else a.folds
        for variant, branches in VARIANTS.items():
            n_folds = n_main if variant == "fused" else min(n_main, a.ablation_folds)
            preds, sels = [], []
            for f in range(n_folds):
                train = ds.select(np.flatnonzero(fold != f))
                test = ds.select(np.flatnonzero(fold == f))
                model = train_one(ds, train, branches=branches, epochs=epochs, seed=2000 + f,
                                  desc=f"tagger {variant} fold {f}")
                preds.append(predict_sel(model, ds, test))
                sels.append(test)
                if a.ship_fold0 and variant == "fused" and f == 0:
                    ship(model, "folds 1-4, fold 0 held out")
            sel = np.concatenate(sels)
            np.savez(run.work / f"tagger_cv_{variant}.npz", pred=np.concatenate(preds),
                     target=ds.targets[sel], song=np.array(ids)[ds.items[sel, 0]],
                     patch=ds.items[sel, 1], fold=fold[ds.items[sel, 0]])
            report[f"cv_{variant}_wall_s"] = run.timer.s
        report["cv_wall_s"] = run.timer.s

    if not a.no_final and not a.ship_fold0:
        t_final = Timer()
        model = train_one(ds, np.arange(len(ds.items)), branches=VARIANTS["fused"],
                          epochs=epochs, seed=SEED_FINAL, desc="tagger final")
        ship(model, "all 600 clips")
        report["final_wall_s"] = t_final.s
    return run.finish("tagger")


if __name__ == "__main__":
    run()
