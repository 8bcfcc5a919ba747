"""Shared training plumbing: seeds, thread budget, the generic epoch loop, CLI flags, and the
one run/export/parity tail every training script ends with (:class:`Run`).

Kept apart from the model-specific scripts so every model trains the same way (fixed seeds,
tqdm bars, smoke mode, one CPU budget) and ships the same way (checkpoint, ONNX with its
contract, parity on random and real inputs, a ``<name>_train.json`` report).
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

from sonolux.resources import models_dir

from . import data as D
from .models import n_params
from .onnx_export import export_checked
from .workspace import WORK

SEED = 1234
THREADS = 2  # the training machine is shared: never more than 2 torch threads


def setup(seed: int = SEED, threads: int = THREADS) -> None:
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_args(description: str, *, smoke_help: str, out_help: str) -> argparse.ArgumentParser:
    """The options every export script takes: ``--data``, ``--smoke``, ``--out``."""
    p = argparse.ArgumentParser(description=description)
    D.add_data_arg(p)
    p.add_argument("--smoke", action="store_true", help=smoke_help)
    p.add_argument("--out", default=None, help=out_help)
    return p


def common_args(description: str) -> argparse.ArgumentParser:
    """The options of a training script (``run_args`` + ``--cv``, ``--no-final``, ``--epochs``)."""
    p = run_args(description,
                 smoke_help="a few clips, one epoch, export + parity into export/work/smoke",
                 out_help="folder for the .onnx + sidecar (default models_onnx/)")
    p.add_argument("--cv", action="store_true", help="also run the 5-fold cross-validation")
    p.add_argument("--no-final", action="store_true", help="skip training the shipped model")
    p.add_argument("--epochs", type=int, default=None)
    return p


def eval_args(description: str) -> argparse.ArgumentParser:
    """The options of an evaluation script (``run_args``)."""
    return run_args(description, smoke_help="evaluate the smoke run's outputs",
                    out_help="model folder (default models_onnx/)")


def out_dirs(smoke: bool, out: str | None) -> tuple[Path, Path]:
    """(work folder for CV predictions and checkpoints, model output folder).

    The model folder is ``--out``, else the smoke run's own folder, else the shipped models
    (``sonolux.resources.models_dir()``)."""
    work = WORK / ("smoke" if smoke else "runs")
    work.mkdir(parents=True, exist_ok=True)
    model_dir = Path(out) if out else (work / "models_onnx" if smoke else models_dir())
    model_dir.mkdir(parents=True, exist_ok=True)
    return work, model_dir


class Run:
    """One training run: its options, seeds, clock, folders and report, with the shared tail.

    >>> run = Run(common_args("demo").parse_args(["--smoke"]))  # doctest: +SKIP
    >>> run.ship(model, "latent", real=real, rand=rand, outputs=["code"], contract={...})
    >>> run.finish("latent")  # writes export/work/smoke/latent_train.json
    """

    def __init__(self, args: argparse.Namespace, *, seed: int = SEED, threads: int = THREADS):
        setup(seed, threads)
        self.args = args
        self.timer = Timer()
        self.work, self.model_dir = out_dirs(args.smoke, args.out)
        self.report: dict = {}

    def epochs(self, full: int) -> int:
        """``--epochs``, else one epoch in smoke mode, else ``full``."""
        return self.args.epochs or (1 if self.args.smoke else full)

    def emotion4q(self) -> tuple[Path, list[dict], Path]:
        """The data folder, its 4Q clips (smoke subset in smoke mode) and their feature cache."""
        root, clips = D.corpus(self.args.data, self.args.smoke)
        cache = D.emotion4q_cache(root, clips,
                                  name="emotion4q_smoke" if self.args.smoke else "emotion4q")
        return root, clips, cache

    def ship(self, model: torch.nn.Module, name: str, *, real: dict, rand: dict,
             outputs: list[str], contract: dict) -> Path:
        """Save ``<name>.pt`` in the work folder, export ``<name>.onnx`` (+ sidecar) with its
        contract into the model folder and check parity; ``parity`` and ``n_params`` go into
        the report. Raises :class:`onnx_export.ExportError` when parity fails."""
        torch.save(model.state_dict(), self.work / f"{name}.pt")
        path = self.model_dir / f"{name}.onnx"
        self.report["parity"] = export_checked(model, path, real=real, rand=rand,
                                               outputs=outputs, contract=contract)
        self.report["n_params"] = n_params(model)
        return path

    def finish(self, name: str, report_file: str | None = None) -> dict:
        """Stamp the wall time, write the report (``<name>_train.json``) and return it."""
        self.report["wall_s"] = self.timer.s
        write_json(self.work / (report_file or f"{name}_train.json"), self.report)
        tqdm.write(f"{name} done: {self.report}")
        return self.report


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
