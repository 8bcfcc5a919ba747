"""Pre-emphasis ``Y[n] = X[n] − α·X[n−1]`` (α default 0.97), in place, continuous across hops."""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from .base import Processor


@njit(cache=True)
def preemphasis_inplace(x, alpha, last):
    """Filter ``x`` in place; ``last[0]`` carries the previous hop's last input sample."""
    prev = last[0]
    for i in range(x.shape[0]):
        cur = x[i]
        x[i] = cur - alpha * prev
        prev = cur
    last[0] = prev


@njit(cache=True)
def preemphasis_block(samples, n, alpha, last):
    """``preemphasis_inplace`` over the first ``n`` rows (consecutive hops) of ``samples``."""
    for i in range(n):
        preemphasis_inplace(samples[i], alpha, last)


def check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ParameterError(f"preemphasis alpha={alpha!r} must be a number") from None
    if not 0.0 <= a < 1.0:  # also rejects nan
        raise ParameterError(f"preemphasis alpha={alpha!r} must be within [0, 1)")
    return a


def preemphasis(y: np.ndarray, *, alpha: float = 0.97) -> np.ndarray:
    """Offline pre-emphasis (zero before the start), equal to ``librosa.effects.preemphasis(
    y, coef=alpha, zi=0)``."""
    a = check_alpha(alpha)
    out = np.array(y, dtype=np.float64, copy=True)
    preemphasis_inplace(out, a, np.zeros(1))
    return out


class PreEmphasis(Processor):
    """``Y[n] = X[n] − α·X[n−1]`` (α = ``config.preemphasis``) on the hop's samples, in place,
    for the stages after it (no frame fields)."""

    def __init__(self, config):
        self.alpha = check_alpha(config.preemphasis)

    def prepare(self, spec, layout, facts):
        self._last = np.zeros(1)

    def process(self, ctx, frame):
        preemphasis_inplace(ctx.samples, self.alpha, self._last)

    blockwise = True

    def process_block(self, block):
        preemphasis_block(block.samples, block.n, self.alpha, self._last)

    def reset(self):
        self._last[:] = 0.0
