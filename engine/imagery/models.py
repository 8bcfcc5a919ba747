"""The imagery ONNX models and their contracts.

* ``music_embed.onnx`` — task ``music_embedding``: the emotion window (``mel`` (B, 250, 96),
  ``wavelet`` (B, 250, 6), the engine's model features) → ``embedding`` (B, 32) unit vector in
  the joint space + ``quadrant_probs`` (B, 4). Loaded by ``sonolux.inference.models.load_model``
  (the same feature-contract checks as the other encoders).
* ``image_embed.onnx`` — task ``image_embedding``: ``image`` (B, 3, 64, 64) RGB 0..1 →
  ``embedding`` (B, 32) + ``quadrant_probs`` (B, 4).
* ``generator.onnx`` — task ``generator``: ``z`` (B, 32), ``cond`` (B, 32) → ``image``
  (B, 3, 64, 64) RGB 0..1.

The last two take no audio features, so their checks are here: the contract's task, the
declared image size, the input and output names and shapes; a model that does not match
raises ModelError at load, naming the file and the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..inference.models import (SessionModel, check_io_names, contract_int, default_model_dir,
                                load_model, open_session)

FILES = {"music_embedding": "music_embed.onnx", "image_embedding": "image_embed.onnx",
         "generator": "generator.onnx"}
IMAGE_TASKS = {"image_embedding": (("image",), ("embedding", "quadrant_probs")),
               "generator": (("z", "cond"), ("image",))}


@dataclass
class ImageryModel(SessionModel):
    """An image encoder or the generator (no audio-feature contract)."""

    @property
    def image_size(self) -> int:
        return int(self.contract["image_size"])


def _fail(path, msg) -> ModelError:
    return ModelError(f"{path}: {msg}")


def load_image_model(path, task: str, *, device: str = "cpu", threads: int = 1) -> ImageryModel:
    """Open an ``image_embedding`` or ``generator`` model and check its contract."""
    if task not in IMAGE_TASKS:
        raise ModelError(f"task={task!r} must be one of {', '.join(IMAGE_TASKS)}")
    path = Path(path)
    session, contract = open_session(path, device=device, threads=threads)
    if contract.get("task") != task:
        raise _fail(path, f"task={contract.get('task')!r}, expected {task!r}")
    check_io_names(session, path, task, *IMAGE_TASKS[task])
    size = contract_int(contract, "image_size", path)
    model = ImageryModel(path, task, contract, session)
    if task == "image_embedding":
        test = {"image": np.zeros((1, 3, size, size), np.float32)}
    else:
        test = {"z": np.zeros((1, int(contract["z_dim"])), np.float32),
                "cond": np.zeros((1, int(contract["cond_dim"])), np.float32)}
    try:
        out = model.run(test)
    except Exception as e:  # noqa: BLE001
        raise _fail(path, f"fails on a test input ({str(e).splitlines()[0][:200]})") from None
    if task == "generator" and out["image"].shape[1:] != (3, size, size):
        raise _fail(path, f"gives images of shape {list(out['image'].shape[1:])}, its contract "
                          f"declares [3, {size}, {size}]")
    return model


def load_music_model(path=None, *, device: str = "cpu", threads: int = 1):
    """The music encoder through the engine's loader (feature contract checks)."""
    path = Path(path) if path else default_model_dir() / FILES["music_embedding"]
    return load_model(path, device=device, threads=threads, expect_task="music_embedding")


def model_path(task: str, model_dir=None) -> Path:
    return Path(model_dir or default_model_dir()) / FILES[task]
