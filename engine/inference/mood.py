"""One consistent mood answer from an emotion model's quadrant probabilities.

The published valence and arousal are *derived* from the four quadrant probabilities
(P(positive) − P(negative) per axis, Russell: Q1 +V+A, Q2 −V+A, Q3 −V−A, Q4 +V−A) and the
published quadrant is the quadrant of their signs, so the status line can never say
``Q3 sad v+0.10``. Hysteresis works per axis (:class:`AxisHysteresis`): a sign flips only
when the other side leads by ``margin`` for ``hold_s`` seconds; while a flip is held back
the published value sits just on the held side (±0.001), so sign and quadrant still agree.

Confidence (0..1) is the probability mass of the published quadrant times the share of the
model's window that held real audio (``fill``): low until the window is full.

Example::

    >>> va = va_from_probs(np.array([0.1, 0.2, 0.6, 0.1]))   # Q3-leaning
    >>> va.round(2).tolist(), quadrant_of(va)
    ([-0.6, -0.4], 3)
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError

#: sign of (valence, arousal) per quadrant Q1..Q4 (DESIGN.md contract)
QUADRANT_SIGNS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
HELD = 1e-3  # the published |value| while a sign flip is held back


def va_from_probs(probs: np.ndarray) -> np.ndarray:
    """(valence, arousal) in −1..1 from quadrant probabilities (..., 4)."""
    return np.asarray(probs, np.float64) @ QUADRANT_SIGNS


def quadrant_of(va) -> int:
    """Quadrant 1..4 of the signs of (valence, arousal); zero counts as positive."""
    v, a = float(va[0]) >= 0.0, float(va[1]) >= 0.0
    return (1 if v else 2) if a else (4 if v else 3)


def confidence(probs: np.ndarray, quadrant: int, fill: float) -> float:
    """P(published quadrant) × share of the window that held real audio, in 0..1."""
    return float(np.clip(probs[quadrant - 1] * min(max(fill, 0.0), 1.0), 0.0, 1.0))


class AxisHysteresis:
    """Sign hysteresis for valence and arousal; returns the published (v, a)."""

    def __init__(self, margin: float = 0.1, hold_s: float = 1.0):
        if not 0 <= margin < 1:
            raise ParameterError(f"hysteresis margin={margin} must be within 0..1")
        self.margin, self.hold_s = float(margin), float(hold_s)
        self.sign = np.zeros(2)  # 0 before the first value
        self._since = [None, None]

    def reset(self) -> None:
        self.sign[:] = 0.0
        self._since = [None, None]

    def __call__(self, va: np.ndarray, t: float) -> np.ndarray:
        out = np.array(va, np.float64)
        for k in range(2):
            s = 1.0 if out[k] >= 0 else -1.0
            if self.sign[k] == 0 or s == self.sign[k]:
                self.sign[k], self._since[k] = s, None
                continue
            if abs(out[k]) < self.margin:  # inside the band: no challenge
                self._since[k] = None
            elif self._since[k] is None:
                self._since[k] = t
            if self._since[k] is not None and t - self._since[k] >= self.hold_s:
                self.sign[k], self._since[k] = s, None
            else:
                out[k] = self.sign[k] * HELD
        return out
