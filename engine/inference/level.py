"""Input level normalisation for the emotion model: the mixer's gain must not change the mood.

On stage the input level is whatever the mixer sends: the same song arrives 12 dB quieter at
one venue than at the next. A model trained on clips at one level partly learns loudness
(emotion v2.1 lost 0.14 clip F1 at −12 dB and kept only 57 % of its window decisions at all
of −12 / −6 / 0 / +6 dB; ``export/emotion_level.py``). This normaliser, in front of the
frozen trunk, removes the gain before the model sees the log-mel:

* the *frame level* is the mean mel power over the bands, in dB;
* the *running level* is the exponentially weighted mean power (time constant ``tau_s``) of
  the frames heard so far whose level is above ``gate_db`` (silence does not pull it down);
  the weights are renormalised (a gated power sum over a gated weight sum), so from the first
  loud frame on it is the mean of what was heard, with no start-up transient;
* every band of a frame is shifted by ``reference_db`` − the running level at that frame
  (causal: the frame itself counts, later frames never change it).

A gain of g dB shifts the frame levels and the running level by g, so the shifted frames are
the same at any gain (exactly, but for frames near the gate or the −100 dB log floor).
Before the first gated frame the shift is 0: the silence that primes a stream (and that the
export puts before every clip) passes unchanged, so the model's primed state does not move.

One computation, two entry points that give identical arrays (the same Numba kernel):
:class:`RunningLevel` holds one stream's state and normalises new frames as they come (the
engine's streaming emotion model, one instance per stream); :func:`normalise_levels` does a
whole clip at once (``export/``: the embeddings the shipped head is trained on).

Example::

    level = RunningLevel(tau_s=3.0, reference_db=-2.32, gate_db=-80.0)
    level.process(new_mel_frames)            # (n, 96) dB, float32, shifted in place
    whole = normalise_levels(mel, tau_s=3.0, reference_db=-2.32, gate_db=-80.0)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ModelError
from ..modelinput import HOP, SR

FRAME_RATE = SR / HOP  # mel frames per second
FLOOR_DB = 10 * math.log10(1e-10)  # the engine's log-mel floor (modelinput: max(power, 1e-10))
KINDS = ("running_level",)
# sum, weight, seen: the gated power sum, the gated weight sum, 1.0 once a frame passed the gate
_SUM, _WEIGHT, _SEEN = range(3)


@njit(cache=True, nogil=True)
def _normalise_frames(mel, state, decay, reference_db, gate_db):
    """Shift each row of ``mel`` (n, bands) dB in place by ``reference_db`` − the running
    level after that row; ``state`` (sum, weight, seen) float64 carries over between calls."""
    bands = mel.shape[1]
    for i in range(mel.shape[0]):
        power = 0.0
        for b in range(bands):
            power += 10.0 ** (np.float64(mel[i, b]) / 10.0)
        power /= bands
        level = 10.0 * math.log10(max(power, 1e-10))
        state[_SUM] *= decay
        state[_WEIGHT] *= decay
        if level > gate_db:
            state[_SUM] += (1.0 - decay) * power
            state[_WEIGHT] += 1.0 - decay
            state[_SEEN] = 1.0
        if state[_SEEN] == 0.0 or state[_WEIGHT] <= 0.0:
            continue  # nothing heard yet (or forgotten, tau 0): the frame stays as it is
        shift = np.float32(reference_db - 10.0 * math.log10(state[_SUM] / state[_WEIGHT]))
        for b in range(bands):
            mel[i, b] += shift


class RunningLevel:
    """One stream's running level (see module docstring): :meth:`process` shifts new log-mel
    frames in place, continuing from the frames before; :meth:`reset` forgets them."""

    __slots__ = ("tau_s", "reference_db", "gate_db", "decay", "state")

    def __init__(self, *, tau_s: float, reference_db: float, gate_db: float):
        if not tau_s >= 0:
            raise ValueError(f"tau_s={tau_s!r} must be >= 0 (0: each frame by its own level)")
        self.tau_s, self.reference_db, self.gate_db = float(tau_s), float(reference_db), float(gate_db)
        self.decay = math.exp(-1.0 / (self.tau_s * FRAME_RATE)) if self.tau_s else 0.0
        self.state = np.zeros(3)

    def reset(self) -> None:
        self.state[:] = 0.0

    def fresh(self) -> "RunningLevel":
        """A new normaliser with the same settings and nothing heard (one per stream)."""
        return RunningLevel(tau_s=self.tau_s, reference_db=self.reference_db, gate_db=self.gate_db)

    @property
    def level_db(self) -> float | None:
        """The running level now (dB), None before the first frame above the gate."""
        s = self.state
        return 10 * math.log10(s[_SUM] / s[_WEIGHT]) if s[_SEEN] and s[_WEIGHT] > 0 else None

    def process(self, mel: np.ndarray) -> np.ndarray:
        """Shift ``mel`` ((n, bands) float32 dB, C-contiguous) in place; returns it."""
        if mel.dtype != np.float32 or mel.ndim != 2 or not mel.flags.c_contiguous:
            raise ValueError(f"mel must be a C-contiguous (n, bands) float32 array, got "
                             f"{mel.dtype} {mel.shape}")
        _normalise_frames(mel, self.state, self.decay, self.reference_db, self.gate_db)
        return mel


def normalise_levels(mel: np.ndarray, *, tau_s: float, reference_db: float, gate_db: float) -> np.ndarray:
    """A normalised float32 copy of a whole clip's log-mel ``mel`` (frames, bands) dB: what a
    fresh :class:`RunningLevel` gives frame by frame (identical arrays).

    >>> loud = np.full((200, 96), -10.0, np.float32)
    >>> float(normalise_levels(loud, tau_s=3.0, reference_db=-2.0, gate_db=-80.0)[-1, 0])
    -2.0
    """
    out = np.array(mel, dtype=np.float32, order="C", copy=True)
    return RunningLevel(tau_s=tau_s, reference_db=reference_db, gate_db=gate_db).process(out)


def input_normalisation(contract: dict, path) -> RunningLevel | None:
    """The running-level normaliser a model's contract asks for (``input_normalisation``:
    ``{"kind": "running_level", "tau_s": >0, "reference_db": number, "gate_db": number}``),
    or None where the contract has no such entry (models before emotion v2.2 see the raw
    log-mel). A bad entry is a ModelError naming the file, the key and the value."""
    entry = contract.get("input_normalisation")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ModelError(f"{path}: contract input_normalisation={entry!r} must be a table "
                         f"with kind, tau_s, reference_db, gate_db")
    if entry.get("kind") not in KINDS:
        raise ModelError(f"{path}: contract input_normalisation.kind={entry.get('kind')!r} is not "
                         f"one of {', '.join(KINDS)}")
    values = {}
    for key in ("tau_s", "reference_db", "gate_db"):
        v = entry.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ModelError(f"{path}: contract input_normalisation.{key}={v!r} must be a finite number")
        values[key] = float(v)
    if values["tau_s"] <= 0:
        raise ModelError(f"{path}: contract input_normalisation.tau_s={values['tau_s']!r} must be > 0 "
                         f"(seconds)")
    if values["gate_db"] <= FLOOR_DB:
        raise ModelError(f"{path}: contract input_normalisation.gate_db={values['gate_db']!r} must be above "
                         f"the log-mel floor {FLOOR_DB:g} dB (digital silence must not count as sound)")
    return RunningLevel(**values)
