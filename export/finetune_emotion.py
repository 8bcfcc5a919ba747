"""Fine-tune the musicnn (MSD) trunk above its front end on the 4Q quadrant labels.

    python -m export.finetune_cache                      # front-end outputs per clip (once)
    python -m export.finetune_emotion dev  [--configs A,B]   # choices on dev folds 0-2 only
    python -m export.finetune_emotion summary            # dev runs → export/results/emotion_finetune_dev.json

The shipped emotion model (v2.1, ``export.train_emotion_musicnn``) is the TF-converted
musicnn trunk, frozen, with a logistic-regression quadrant head on the penultimate layer of a
105-centre pool. Here the part above the frozen front end — the mid end (three 7-frame
convolutions), the dense/penultimate layer and the quadrant head — is trained end to end on
windows drawn at random positions of the training clips, starting from exactly the shipped
model (the TF weights and the head's logistic regression refitted on the training folds), so
epoch 0 *is* the baseline. Regularisation: dropout on the penultimate features and an L2-SP
penalty pulling the trainable weights towards their initial (pretrained) values. The live
cost does not change: same layers, same shapes, only different weights.

Protocol (issue 16): a configuration and its epoch count are chosen on the dev folds 0–2
only (train on two, test on the third, clip macro-F1 of the published "signs" rule after
every epoch); the frozen choice then runs the fixed 5-fold split (train on four, test on
the fifth), whose folds 3–4 were never used for a choice. Clip = mean of its window
probabilities (stride 128 frames, as ``export.musicnn_embed``). Each dev run writes
``export/work/mood/finetune_dev_<configs>_s<seed>.json`` (after every fold); ``summary``
gathers them into ``export/results/emotion_finetune_dev.json``. No configuration beat epoch
0 (the shipped model) on the dev folds, so the 5-fold stage and an export were never written.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sonolux import modelinput as mi

from . import data as D
from .evaluate import macro_f1
from .finetune_cache import OUT, load_front
from .musicnn_embed import span
from .musicnn_torch import WEIGHTS, Musicnn
from .train_emotion_musicnn import DEV_FOLDS, Head, decide, load_embeddings

RESULTS = Path(__file__).resolve().parent / "results"
POOL = 105  # the shipped model's pool (the features_past state's length): not a choice here
STRIDE = 128
FRONT_COLS = POOL + 18  # front-end columns one window needs (pool centres ± MID_SIDE)

#: configurations weighed on the dev folds; ``mid``: train the mid end too
CONFIGS = {
    # first round (dev mean clip F1 fell below epoch 0 after every epoch: the head's Adam
    # steps of 1e-3 undo the logistic regression's solution within one epoch)
    "dense": dict(mid=False, lr=1e-4, head_lr=1e-3, l2sp=1e-2, dropout=0.3, va_aux=0.0),
    "mid": dict(mid=True, lr=1e-4, head_lr=1e-3, l2sp=1e-2, dropout=0.3, va_aux=0.0),
    "mid_va": dict(mid=True, lr=1e-4, head_lr=1e-3, l2sp=1e-2, dropout=0.3, va_aux=0.5),
    "mid_lr3": dict(mid=True, lr=3e-4, head_lr=1e-3, l2sp=1e-2, dropout=0.5, va_aux=0.0),
    # second round: gentle steps, the head frozen during training and refitted after
    "gentle_dense": dict(mid=False, lr=1e-5, head_lr=0.0, l2sp=1e-2, dropout=0.1, va_aux=0.0),
    "gentle_mid": dict(mid=True, lr=1e-5, head_lr=0.0, l2sp=1e-2, dropout=0.1, va_aux=0.0),
    "gentle_mid3": dict(mid=True, lr=3e-5, head_lr=0.0, l2sp=1e-2, dropout=0.1, va_aux=0.0),
}
MAX_EPOCHS = 12
WINDOWS_PER_CLIP = 4  # random windows per training clip per epoch
BATCH = 32
HEAD_C = 0.003  # the shipped head's regularisation (chosen by train_emotion_musicnn on dev folds)
VA_SIGNS = torch.from_numpy(D.QUADRANT_VA.copy())


# ------------------------------------------------------------------------------ data

def window_starts(n_cols: int) -> np.ndarray:
    """First front-end column of each evaluated window (one per ``STRIDE`` frames). A window
    ending at clip frame ``e`` pools the centres ``e - 74 - POOL + 1 .. e - 74`` and needs the
    front columns ``e - POOL - 145 .. e - 128`` (column j = centre j + 63)."""
    ends = mi.frame_windows(n_cols + 127, window=span(POOL), stride=STRIDE)
    return ends - POOL - 145


def slices(front: np.ndarray, starts) -> torch.Tensor:
    return torch.from_numpy(np.stack([front[:, s:s + FRONT_COLS] for s in starts]).astype(np.float32))


# ------------------------------------------------------------------------------ model

class FineTuned(nn.Module):
    """Front-end columns (B, 561, POOL + 18) → quadrant logits, through the musicnn mid end,
    max+mean pooling, the dense/penultimate layer and a linear head."""

    def __init__(self, trunk: Musicnn, head: Head, dropout: float):
        super().__init__()
        self.trunk = copy.deepcopy(trunk)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(head.coef.shape[1], 4)
        with torch.no_grad():  # standardisation folded into the layer
            w = head.coef / head.std[None, :]
            self.head.weight.copy_(torch.from_numpy(w.astype(np.float32)))
            self.head.bias.copy_(torch.from_numpy((head.intercept - w @ head.mean).astype(np.float32)))

    def penultimate(self, front: torch.Tensor) -> torch.Tensor:
        t = self.trunk
        feats = t.mid_valid(front)
        pooled = t.bn_pool(torch.cat([feats.amax(dim=2), feats.mean(dim=2)], dim=1), 1)
        return t.bn_dense(F.relu(t.dense(pooled)), 1)

    def forward(self, front: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.penultimate(front)))

    def trainable(self, mid: bool) -> list[dict]:
        body = list(self.trunk.dense.parameters()) + (list(self.trunk.mid.parameters()) if mid else [])
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        for p in body:
            p.requires_grad_(True)
        return body


def init_head(emb: dict, train_folds) -> Head:
    """The shipped head (logistic regression on the penultimate) refitted on ``train_folds``."""
    tr = np.isin(emb["fold"], list(train_folds))
    return Head(HEAD_C).fit(emb["penultimate"][tr].astype(np.float64), emb["q"][tr])


@torch.no_grad()
def penultimates(model: FineTuned, front: dict, clips: list[dict]) -> dict:
    """Penultimate features of every evaluated window of ``clips`` with clip index and label."""
    model.eval()
    pen, clip, q = [], [], []
    for i, c in enumerate(clips):
        x = front[c["song"]]
        pen.append(torch.cat([model.penultimate(b) for b in torch.split(slices(x, window_starts(x.shape[1])), 64)]))
        clip += [i] * len(pen[-1])
        q += [c["q"]] * len(pen[-1])
    return {"pen": torch.cat(pen).numpy().astype(np.float64), "clip": np.array(clip), "q": np.array(q)}


def clip_predictions(logits: np.ndarray, windows: dict) -> dict:
    """Clip = mean of its window probabilities (and, for comparison, of its window logits)."""
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    n = windows["clip"].max() + 1
    count = np.bincount(windows["clip"], minlength=n)[:, None]
    mean = lambda a: np.stack([np.bincount(windows["clip"], a[:, k], minlength=n) for k in range(4)], 1) / count
    q = np.zeros(n, int)
    q[windows["clip"]] = windows["q"]
    return {"clip_probs": mean(p), "clip_logits": mean(logits), "clip_q": q}


def head_logits(model: FineTuned, pen: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.head(torch.from_numpy(pen.astype(np.float32))).numpy().astype(np.float64)


def predict(model: FineTuned, front: dict, clips: list[dict]) -> dict:
    w = penultimates(model, front, clips)
    return clip_predictions(head_logits(model, w["pen"]), w)


def scores(pred: dict) -> dict:
    p, q = pred["clip_probs"], pred["clip_q"]
    lp = torch.softmax(torch.from_numpy(pred["clip_logits"]), 1).numpy()
    return {"signs": macro_f1(q, decide(p, "signs")), "argmax": macro_f1(q, decide(p, "argmax")),
            "signs_mean_logits": macro_f1(q, decide(lp, "signs"))}


def train(model: FineTuned, front: dict, clips: list[dict], cfg: dict, epochs: int, seed: int,
          on_epoch=None) -> FineTuned:
    """Adam on random windows of ``clips``; ``on_epoch(epoch, model)`` after each epoch (and
    before the first, epoch 0 = the initial model)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    body = model.trainable(cfg["mid"])
    start = [p.detach().clone() for p in body]
    groups = [{"params": body, "lr": cfg["lr"]}]
    if cfg["head_lr"]:
        groups.append({"params": model.head.parameters(), "lr": cfg["head_lr"]})
    else:
        model.head.requires_grad_(False)
    opt = torch.optim.Adam(groups)
    if on_epoch:
        on_epoch(0, model)
    y_all = torch.tensor([c["q"] for c in clips])
    for epoch in range(1, epochs + 1):
        model.train()
        idx = np.repeat(np.arange(len(clips)), WINDOWS_PER_CLIP)
        rng.shuffle(idx)
        for b in range(0, len(idx), BATCH):
            chunk = idx[b:b + BATCH]
            xs = []
            for i in chunk:
                x = front[clips[i]["song"]]
                xs.append(x[:, (s := rng.integers(0, x.shape[1] - FRONT_COLS + 1)):s + FRONT_COLS])
            logits = model(torch.from_numpy(np.stack(xs).astype(np.float32)))
            y = y_all[chunk]
            loss = F.cross_entropy(logits, y)
            if cfg["va_aux"]:
                # P(+) of each axis from the quadrant probabilities: the published signs
                pos = torch.softmax(logits, 1) @ (VA_SIGNS > 0).float()
                loss = loss + cfg["va_aux"] * F.binary_cross_entropy(
                    pos.clamp(1e-6, 1 - 1e-6), (VA_SIGNS[y] > 0).float())
            loss = loss + cfg["l2sp"] * sum(((p - p0) ** 2).sum() for p, p0 in zip(body, start))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if on_epoch:
            on_epoch(epoch, model)
    return model


# ------------------------------------------------------------------------------ protocol

def dev_curves(name: str, front, clips, emb, trunk, epochs: int, seed: int, save=None) -> dict:
    """Clip macro-F1 per epoch on each dev fold (trained on the other two dev folds);
    ``save(partial)`` after each fold, so a stopped run keeps the folds it finished."""
    cfg = CONFIGS[name]
    curves = {}
    for f in DEV_FOLDS:
        train_folds = [g for g in DEV_FOLDS if g != f]
        tr = [c for c in clips if c["fold"] in train_folds]
        te = [c for c in clips if c["fold"] == f]
        model = FineTuned(trunk, init_head(emb, train_folds), cfg["dropout"])
        rows = []

        def log(epoch, m, rows=rows, tr=tr, te=te, f=f):
            w = penultimates(m, front, te)
            s = scores(clip_predictions(head_logits(m, w["pen"]), w))
            if not cfg["head_lr"]:  # the logistic regression refitted on the fine-tuned penultimate
                wt = penultimates(m, front, tr)
                refit = Head(HEAD_C).fit(wt["pen"], wt["q"])
                z = ((w["pen"] - refit.mean) / refit.std) @ refit.coef.T + refit.intercept
                s["refit_signs"] = scores(clip_predictions(z, w))["signs"]
            rows.append(s)
            print(f"{name} dev fold {f} epoch {epoch}: " + " ".join(f"{k} {v:.3f}" for k, v in s.items()), flush=True)

        train(model, front, tr, cfg, epochs, seed, log)
        curves[str(f)] = rows
        if save:
            save({"config": cfg, "seed": seed, "per_fold": curves, "complete": False})
    mean = [float(np.mean([curves[str(f)][e]["signs"] for f in DEV_FOLDS])) for e in range(epochs + 1)]
    print(f"{name}: dev mean clip F1 (signs) per epoch " + " ".join(f"{m:.3f}" for m in mean), flush=True)
    res = {"config": cfg, "seed": seed, "per_fold": curves, "complete": True, "dev_mean_signs": mean,
           "best_epoch": int(np.argmax(mean)), "best_dev_mean_signs": float(max(mean))}
    if not cfg["head_lr"]:
        refit = [float(np.mean([curves[str(f)][e]["refit_signs"] for f in DEV_FOLDS])) for e in range(epochs + 1)]
        print(f"{name}: dev mean clip F1 (signs, head refitted) per epoch " + " ".join(f"{m:.3f}" for m in refit))
        res.update(dev_mean_refit_signs=refit, best_refit_epoch=int(np.argmax(refit)),
                   best_dev_mean_refit_signs=float(max(refit)))
    return res


def summary() -> dict:
    """Every dev run in ``export/work/mood`` side by side: the mean over the dev folds a run
    finished of the clip macro-F1 per epoch, against epoch 0 (the shipped model's head refitted
    on the same training folds) over the same folds."""
    out = {}
    for path in sorted(OUT.glob("finetune_dev_*.json")):
        for name, run in json.loads(path.read_text()).items():
            folds = sorted(run["per_fold"])
            curve = lambda key: [float(np.mean([run["per_fold"][f][e][key] for f in folds]))
                                 for e in range(len(run["per_fold"][folds[0]]))]
            row = {"config": run["config"], "epochs": len(run["per_fold"][folds[0]]) - 1, "folds_done": folds,
                   "complete": run.get("complete", len(folds) == len(DEV_FOLDS)),
                   "dev_clip_f1_signs_per_epoch": curve("signs"),
                   # test-time aggregation: clip = mean of window logits instead of probabilities
                   "dev_clip_f1_signs_mean_logits_per_epoch": curve("signs_mean_logits"),
                   "dev_clip_f1_argmax_per_epoch": curve("argmax")}
            if "refit_signs" in run["per_fold"][folds[0]][0]:
                row["dev_clip_f1_signs_refitted_head_per_epoch"] = curve("refit_signs")
            sig = row["dev_clip_f1_signs_per_epoch"]
            row.update(epoch0=sig[0], best_epoch=int(np.argmax(sig[1:]) + 1), best_trained=float(max(sig[1:])))
            out[name] = row
            print(f"{name:14s} folds {','.join(folds)}: epoch 0 {sig[0]:.3f}, best trained epoch "
                  f"{row['best_epoch']} {row['best_trained']:.3f}, last {sig[-1]:.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "emotion_finetune_dev.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("stage", choices=("dev", "summary"))
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma list of configurations")
    p.add_argument("--epochs", type=int, default=MAX_EPOCHS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips-limit", type=int, default=0, help="debug: first N clips of each fold")
    a = p.parse_args(argv)
    if a.stage == "summary":
        summary()
        return
    torch.set_num_threads(1)
    root = D.data_root(a.data)
    clips = D.load_clips(root)
    if a.clips_limit:
        clips = [c for f in range(5) for c in [c for c in clips if c["fold"] == f][:a.clips_limit]]
    front = load_front()
    emb = load_embeddings("MSD_musicnn", STRIDE, POOL)
    trunk = Musicnn.from_npz(WEIGHTS / "MSD_musicnn.npz")
    t0 = time.time()
    res = {}
    out = OUT / f"finetune_dev_{a.configs.replace(',', '_')}_s{a.seed}.json"

    def save(name, partial):
        res[name] = {**partial, "epochs": a.epochs, "wall_s": time.time() - t0}
        out.write_text(json.dumps(res, indent=2) + "\n")

    for name in a.configs.split(","):
        save(name, dev_curves(name, front, clips, emb, trunk, a.epochs, a.seed, lambda r, n=name: save(n, r)))


if __name__ == "__main__":
    main()
