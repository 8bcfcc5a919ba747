"""Optional pre-emphasis stage: filters ``ctx.samples`` in place for the stages after it."""
from __future__ import annotations

import numpy as np

from ..dsp.preemphasis import check_alpha, preemphasis_inplace
from .base import Processor


class PreEmphasis(Processor):
    """``Y[n] = X[n] − α·X[n−1]`` on the hop's samples (no frame fields)."""

    def __init__(self, alpha: float = 0.97):
        self.alpha = check_alpha(alpha)

    def prepare(self, spec, layout):
        self._last = np.zeros(1)

    def process(self, ctx, frame):
        preemphasis_inplace(ctx.samples, self.alpha, self._last)

    def reset(self):
        self._last[:] = 0.0
