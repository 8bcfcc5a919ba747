"""Per-show mood calibration learnt from the operator's overrides (seed 002's feedback loop).

While the operator forces a quadrant (``/sonolux/emotion/override``), the worker keeps each
window's raw quadrant probabilities with the forced label. A bias ``b`` on the quadrant
log-probabilities, ``p' ∝ p · exp(b)``, is fitted to those examples (maximum likelihood with
an L2 pull towards 0, so three corrections nudge and thirty decide) and applied to every
later window before smoothing. It is saved with the show as JSON and can be reset.

The pull's strength ``l2`` (the emotion model's contract ``calibration_l2``) was chosen in a
simulation with one example per ``EXAMPLE_S`` (2.048 s: the 128-frame stride of the model's
evaluation windows). The live worker keeps an example per mark (``--inference-every``, 0.5 s
by default), so each example weighs ``every_s / EXAMPLE_S`` (:func:`example_weight`): the
same seconds of corrected music pull as hard as in the simulation, whatever the rate —
before, an example counted once per mark, so the live pull was four times the chosen one
and doubled again at ``--inference-every 0.25``.

A calibration file that cannot be read is a clear :class:`CalibrationError` naming the file;
the engine then runs uncalibrated (see ``runtime.load_calibration``).

The bias corrects the probabilities of one model: another model confuses other quadrants
(emotion v2.2 normalises its input level, so its answers moved). A file therefore records the
emotion model it was fitted with (``model``: name and version) and is refused
(:class:`CalibrationModelMismatch`) with any other; a file without that record was saved
before v2.2 and is accepted only by a model that reads the raw log-mel as those did.

Example::

    cal = QuadrantCalibration()
    cal.add(np.array([0.6, 0.1, 0.1, 0.2]), 4)   # the operator says: calm, not happy
    cal.fit()
    cal.apply(np.array([0.6, 0.1, 0.1, 0.2]))     # Q4 gained, Q1 lost
    cal.save("show.calibration.json"); QuadrantCalibration.load("show.calibration.json")
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..config import read_json_file
from ..errors import SonoluxError
from ..modelinput import HOP, SR

VERSION = 1
_EPS = 1e-6
#: seconds of music one example stands for in the simulation that chose ``l2``
#: (export.train_emotion_musicnn: a window every 128 model-feature frames)
EXAMPLE_S = 128 * HOP / SR


def example_weight(every_s: float) -> float:
    """The weight of one example when the worker keeps one every ``every_s`` seconds."""
    return float(every_s) / EXAMPLE_S


class CalibrationError(SonoluxError):
    """A calibration file is missing, unreadable or malformed."""


class CalibrationModelMismatch(CalibrationError):
    """A readable calibration file fitted with another emotion model than the loaded one."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class QuadrantCalibration:
    def __init__(self, l2: float = 1.0, max_examples: int = 2000):
        self.l2 = float(l2)
        self.max_examples = int(max_examples)
        self.bias = np.zeros(4)
        self.probs: list[np.ndarray] = []
        self.labels: list[int] = []
        self.weights: list[float] = []
        self.model: dict | None = None  # {"name", "version"} of the emotion model it corrects

    @property
    def n_examples(self) -> int:
        return len(self.labels)

    def add(self, probs: np.ndarray, quadrant: int, weight: float = 1.0) -> None:
        """Keep one window's raw probabilities with the operator's quadrant (1..4); ``weight``:
        the seconds of music it stands for over ``EXAMPLE_S`` (:func:`example_weight`)."""
        if quadrant not in (1, 2, 3, 4):
            raise ValueError(f"quadrant={quadrant!r} must be 1..4")
        if not weight > 0:
            raise ValueError(f"weight={weight!r} must be positive")
        self.probs.append(np.asarray(probs, np.float64).copy())
        self.labels.append(int(quadrant) - 1)
        self.weights.append(float(weight))
        if len(self.labels) > self.max_examples:
            del self.probs[0], self.labels[0], self.weights[0]

    def fit(self, steps: int = 50) -> np.ndarray:
        """Newton steps on the penalised log-likelihood of the examples; returns the bias."""
        if not self.labels:
            self.bias = np.zeros(4)
            return self.bias
        logp = np.log(np.stack(self.probs) + _EPS)
        y = np.eye(4)[self.labels]
        w = np.asarray(self.weights)[:, None]
        b = np.zeros(4)
        for _ in range(steps):
            q = _softmax(logp + b)
            grad = (w * (q - y)).sum(0) + self.l2 * b
            hess = np.diag((w * q).sum(0)) - (w * q).T @ q + self.l2 * np.eye(4)
            step = np.linalg.solve(hess, grad)
            b -= step
            if np.abs(step).max() < 1e-8:
                break
        self.bias = b - b.mean()  # only differences matter
        return self.bias

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, (4,) or (..., 4) (unchanged while the bias is 0)."""
        if not self.bias.any():
            return np.asarray(probs, np.float64)
        return _softmax(np.log(np.asarray(probs, np.float64) + _EPS) + self.bias)

    def reset(self) -> None:
        """Forget every example and the bias: the model's own answer again."""
        self.bias = np.zeros(4)
        self.probs.clear()
        self.labels.clear()
        self.weights.clear()

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": VERSION, **({"model": self.model} if self.model else {}),
                "l2": self.l2, "bias": self.bias.tolist(),
                "examples": [{"probs": p.tolist(), "quadrant": q + 1, "weight": w}
                             for p, q, w in zip(self.probs, self.labels, self.weights)]}

    def save(self, path) -> None:
        """Write atomically (temporary file + rename); the previous file is kept as ``.bak``."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        if path.exists():
            os.replace(path, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path, model: dict | None = None, unstamped_ok: bool = True) -> "QuadrantCalibration":
        """Read a saved calibration. With ``model`` (``{"name", "version"}`` of the loaded
        emotion model) a file fitted with another model is refused, and so is a file without
        a model record unless ``unstamped_ok`` (CalibrationModelMismatch)."""
        path = Path(path)
        doc = read_json_file(path, "calibration", CalibrationError)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise CalibrationError(f"{path}: version={doc.get('version') if isinstance(doc, dict) else None!r}, "
                                   f"expected {VERSION}")
        cal = cls(l2=doc.get("l2", 1.0))
        bias = doc.get("bias")
        if not (isinstance(bias, list) and len(bias) == 4 and all(isinstance(x, (int, float)) for x in bias)
                and np.all(np.isfinite(bias))):
            raise CalibrationError(f"{path}: key 'bias' must be 4 finite numbers, got {bias!r}")
        for i, ex in enumerate(doc.get("examples", [])):
            try:  # a file saved before the weights: every example counted once
                probs, q = np.asarray(ex["probs"], np.float64), int(ex["quadrant"])
                weight = ex.get("weight", 1.0)
                if probs.shape != (4,) or not np.all(np.isfinite(probs)) or isinstance(weight, bool) \
                        or not isinstance(weight, (int, float)) or not np.isfinite(weight):
                    raise ValueError
                cal.add(probs, q, float(weight))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise CalibrationError(f"{path}: examples[{i}] must be {{'probs': 4 numbers, "
                                       f"'quadrant': 1..4, 'weight': a positive number}}, got {ex!r}") from None
        cal.bias = np.asarray(bias, np.float64)
        if model is not None:
            _check_model(path, doc.get("model"), model, unstamped_ok)
            cal.model = dict(model)
        return cal


def _check_model(path, stamp, model: dict, unstamped_ok: bool) -> None:
    """CalibrationModelMismatch unless the file's model record fits the loaded model."""
    loaded = f"{model.get('name')} {model.get('version')}"
    redo = "its corrections do not carry over: delete the file (or reset the calibration) and teach it again"
    if stamp is None:
        if not unstamped_ok:
            raise CalibrationModelMismatch(
                f"{path}: saved without a model record (before emotion v2.2), and the loaded emotion model "
                f"{loaded} normalises its input level; {redo}")
    elif not isinstance(stamp, dict) or (stamp.get("name"), stamp.get("version")) != (model.get("name"), model.get("version")):
        got = f"{stamp.get('name')} {stamp.get('version')}" if isinstance(stamp, dict) else repr(stamp)
        raise CalibrationModelMismatch(f"{path}: key 'model' = {got}, fitted with another emotion model than "
                                       f"the loaded {loaded}; {redo}")
