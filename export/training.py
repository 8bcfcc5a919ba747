"""Shared training plumbing: seeds, thread budget, the generic epoch loop, CLI flags.

Kept apart from the model-specific scripts so every model trains the same way (fixed seeds,
tqdm bars, smoke mode, one CPU budget).
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data import WORK, add_data_arg

SEED = 1234
THREADS = 2  # the training machine is shared: never more than 2 torch threads


def setup(seed: int = SEED) -> None:
    torch.set_num_threads(THREADS)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def common_args(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    add_data_arg(p)
    p.add_argument("--smoke", action="store_true",
                   help="a few clips, one epoch, export + parity into export/work/smoke")
    p.add_argument("--cv", action="store_true", help="also run the 5-fold cross-validation")
    p.add_argument("--no-final", action="store_true", help="skip training the shipped model")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--out", default=None, help="folder for the .onnx + sidecar (default models_onnx/)")
    return p


def out_dirs(smoke: bool, out: str | None) -> tuple[Path, Path]:
    """(work folder for CV predictions and checkpoints, model output folder)."""
    repo = Path(__file__).resolve().parents[1]
    work = WORK / ("smoke" if smoke else "runs")
    work.mkdir(parents=True, exist_ok=True)
    model_dir = Path(out) if out else (work / "models_onnx" if smoke else repo / "models_onnx")
    model_dir.mkdir(parents=True, exist_ok=True)
    return work, model_dir


def fit(model, batches_fn, loss_fn, *, epochs: int, lr: float = 2e-3, desc: str = "train",
        weight_decay: float = 1e-4) -> list[float]:
    """Adam + one-cycle cosine schedule; ``batches_fn(epoch)`` yields tuples of tensors,
    ``loss_fn(model, batch)`` returns a scalar. Returns the mean loss per epoch."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n_steps = sum(1 for _ in batches_fn(0)) * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(n_steps, 1),
                                                pct_start=0.2)
    history = []
    for ep in range(epochs):
        model.train()
        losses = []
        bar = tqdm(list(batches_fn(ep)), desc=f"{desc} ep{ep + 1}/{epochs}", unit="batch",
                   leave=False, mininterval=2.0)
        for batch in bar:
            loss = loss_fn(model, batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(float(loss))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        history.append(float(np.mean(losses)))
        tqdm.write(f"{desc} epoch {ep + 1}: loss {history[-1]:.4f}")
    model.eval()
    return history


@torch.no_grad()
def predict(model_fn, inputs: list[np.ndarray], batch: int = 64) -> list[np.ndarray]:
    """Run ``model_fn`` over aligned input arrays in batches; returns the concatenated outputs."""
    outs = None
    n = len(inputs[0])
    for i in range(0, n, batch):
        res = model_fn(*[torch.from_numpy(np.ascontiguousarray(x[i:i + batch])) for x in inputs])
        res = res if isinstance(res, tuple) else (res,)
        if outs is None:
            outs = [[] for _ in res]
        for o, r in zip(outs, res):
            o.append(r.numpy())
    return [np.concatenate(o) for o in outs]


class Timer:
    def __init__(self):
        self.t0 = time.time()

    @property
    def s(self) -> float:
        return time.time() - self.t0


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n")
