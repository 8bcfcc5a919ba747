"""The emotion model's input level normaliser as training sets it up (emotion v2.2, issue #16).

The computation itself lives in the engine (``sonolux.inference.level``: one implementation
for the live stream, ``analyze`` and the embeddings the head is trained on). This module
holds the training-side choices and writes them into the model's contract:

* ``TAU_S`` = 3 s and ``GATE_DB`` = −80 dB: chosen on the dev folds 0–2 only
  (``python -m export.emotion_level dev``: of tau 0 / 3 / 10 / 30 s, 3 s kept the most F1 and
  made every decision gain-invariant);
* the reference level: the median over the dev folds' clips of the clip's gated mean band
  power (dB), so the normalised input sits where the trunk's training input sat on average.
  Computed once from the feature cache and kept in ``export/work/mood6/reference_level.json``.

Example::

    entry = contract_entry(root, D.load_clips(root))   # {"kind": "running_level", ...}
    mel_n = normalise(mel, entry)                        # what the trunk sees
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sonolux.inference.level import normalise_levels

from . import data as D
from .workspace import WORK

KIND = "running_level"
TAU_S = 3.0
GATE_DB = -80.0  # frames whose mean band power is below this are silence: they do not count
CHOICES = ("running_level", "none")  # the --input-normalisation values of the export commands
CACHE = WORK / "mood6"


def frame_level_db(mel: np.ndarray) -> np.ndarray:
    """Mean power over the mel bands of each frame, in dB (mel: (T, 96) dB)."""
    return 10 * np.log10(np.maximum(np.mean(10.0 ** (mel / 10), axis=1), 1e-10))


def reference_level(feats: dict) -> float:
    """Median over clips of the clip's gated mean band power (dB)."""
    levels = []
    for f in feats.values():
        lv = frame_level_db(f["mel"])
        on = lv > GATE_DB
        levels.append(10 * np.log10(np.mean(10.0 ** (lv[on] / 10))))
    return float(np.median(levels))


def reference_db(root: Path, clips: list[dict]) -> float:
    """The reference level from the dev folds' cached log-mel (computed once, then cached)."""
    from .train_emotion_musicnn import DEV_FOLDS  # (that module imports this one's users)

    path = CACHE / "reference_level.json"
    if path.is_file():
        return json.loads(path.read_text())["ref_db"]
    feats = D.load_cache(D.emotion4q_cache(root, clips), [c["song"] for c in clips if c["fold"] in DEV_FOLDS])
    ref = reference_level(feats)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ref_db": ref, "gate_db": GATE_DB, "clips": len(feats),
                                "what": "median over the dev folds' clips of the gated mean band power (dB)"}))
    return ref


def contract_entry(root: Path, clips: list[dict], tau_s: float = TAU_S) -> dict:
    """The ``input_normalisation`` entry of the model contract (read by the engine's
    ``sonolux.inference.level.input_normalisation``)."""
    return {"kind": KIND, "tau_s": float(tau_s), "reference_db": round(reference_db(root, clips), 4),
            "gate_db": GATE_DB}


def normalise(mel: np.ndarray, entry: dict | None) -> np.ndarray:
    """``mel`` as the model with contract entry ``entry`` sees it (None: unchanged)."""
    if entry is None:
        return mel
    return normalise_levels(mel, tau_s=entry["tau_s"], reference_db=entry["reference_db"], gate_db=entry["gate_db"])
