"""The two block-rate cues that sit next to the novelty: the seed paper's energy contrast on a
sliding boundary, and the change of mood. Both look at the same boundary as
:class:`~sonolux.features.novelty.FooteNovelty` — ``future_blocks`` blocks before the newest
block — so the fusion can add them up block by block.

* :class:`EnergyCue`: z = E(after) / E(before), the mean power of the ``window_blocks``
  blocks after the boundary over that of the same number before (the seed's z-coefficient,
  eq. 3.5, evaluated at every block instead of on a fixed grid of M-sample segments). The cue
  is |ln z| / ln(band edge): 1 at the edge of the seed's "same region" band [0.6, 1.4], 0 for
  equal energy.
* :class:`MoodCue`: how far the emotion model's quadrant probabilities after the boundary are
  from those before it: half the L1 distance of the two confidence-weighted mean probability
  vectors (0 same, 1 disjoint), times the lower of the two sides' confidences (mean top
  probability). A prediction covers the ``window_s`` of audio before it, so only predictions
  made at least ``window_s / 2`` after the boundary count as "after" (most of their window is
  after it), and only those made before the boundary count as "before".

Both allocate nothing per hop or block: rings sized at construction.

Example
-------
>>> import numpy as np
>>> cue = EnergyCue(window_blocks=10, future_blocks=10, band=(0.6, 1.4))
>>> vals = [cue.push(1.0 if k < 30 else 4.0) for k in range(40)]
>>> round(vals[-1], 2)   # ln 4 / ln 1.4
4.12
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError


class EnergyCue:
    """Sliding seed z-coefficient at the fusion's boundary (see the module doc)."""

    def __init__(self, *, window_blocks: int, future_blocks: int, band=(0.6, 1.4), eps: float = 1e-10):
        if window_blocks < 1 or future_blocks < 1:
            raise ParameterError(f"window_blocks={window_blocks} and future_blocks={future_blocks} must be positive")
        lo, hi = (float(b) for b in band)
        if not 0 < lo < 1 < hi:
            raise ParameterError(f"energy band={list(band)} must satisfy 0 < low < 1 < high")
        self.n_after = min(window_blocks, future_blocks)
        self.n_before = window_blocks
        self.future_blocks = future_blocks
        self.ln_lo, self.ln_hi = -math.log(lo), math.log(hi)
        self.eps = eps
        self.ring = np.zeros(window_blocks + future_blocks)
        self.reset()

    def reset(self) -> None:
        self.ring[:] = 0.0
        self.k = 0

    def push(self, energy: float) -> float:
        """A block's mean power; the cue at the boundary ``future_blocks`` back (NaN while filling)."""
        n = self.ring.shape[0]
        self.ring[self.k % n] = energy
        self.k += 1
        if self.k < n:
            return math.nan
        return energy_change(self.ring, self.k - self.future_blocks, self.n_after, self.n_before, self.eps,
                             self.ln_lo, self.ln_hi)


@njit(cache=True)
def energy_change(ring, first_future, n_after, n_before, eps, ln_lo, ln_hi):
    """The energy cue from the block ring: |ln z| over the band edge, z the mean power of
    the ``n_after`` blocks from ``first_future`` (the block right after the boundary) over
    that of the ``n_before`` blocks before it (indices modulo the ring)."""
    n = ring.shape[0]
    after = before = 0.0
    for i in range(n_after):
        after += ring[(first_future + i) % n]
    for i in range(n_before):
        before += ring[(first_future - 1 - i) % n]
    z = (after / n_after + eps) / (before / n_before + eps)
    ln = math.log(z)
    return ln / ln_hi if ln >= 0 else -ln / ln_lo


@njit(cache=True)
def mood_change(probs, has, b0, b1, a0, a1, acc):
    """The mood cue from the blocks [b0, b1) before and [a0, a1) after the boundary (block
    indices, taken modulo the ring); ``acc`` is scratch (2, 6)."""
    n = has.shape[0]
    acc[:] = 0.0
    for side in range(2):
        lo, hi = (b0, b1) if side == 0 else (a0, a1)
        for i in range(lo, hi):
            j = i % n
            if has[j]:
                top = 0.0
                for q in range(4):
                    top = max(top, probs[j, q])
                for q in range(4):
                    acc[side, q] += top * probs[j, q]
                acc[side, 4] += top
                acc[side, 5] += 1.0
    if acc[0, 5] == 0.0 or acc[1, 5] == 0.0 or acc[0, 4] <= 0.0 or acc[1, 4] <= 0.0:
        return 0.0
    dist = 0.0
    for q in range(4):
        dist += abs(acc[0, q] / acc[0, 4] - acc[1, q] / acc[1, 4])
    return 0.5 * dist * min(acc[0, 4] / acc[0, 5], acc[1, 4] / acc[1, 5])


class MoodCue:
    """Change of the emotion model's quadrant probabilities across the boundary."""

    def __init__(self, *, past_blocks: int, future_blocks: int, block_s: float, window_s: float = 4.0):
        if past_blocks < 1 or future_blocks < 1 or not block_s > 0:
            raise ParameterError(f"past_blocks={past_blocks}, future_blocks={future_blocks} and "
                                 f"block_s={block_s} must be positive")
        self.past_blocks, self.future_blocks = past_blocks, future_blocks
        # predictions made in the newest ``future_blocks - skip`` blocks count as "after"
        self.skip = min(future_blocks, int(math.ceil(0.5 * window_s / block_s)))
        n = past_blocks + future_blocks
        self.probs = np.zeros((n, 4))
        self.has = np.zeros(n, dtype=np.bool_)
        self._sum = np.zeros((2, 6))  # per side: weighted probs, confidence, count
        self.reset()

    def reset(self) -> None:
        self.has[:] = False
        self.k = 0

    def push(self, probs, new_prediction: bool) -> float:
        """The block's newest quadrant probabilities and whether a prediction arrived in this
        block; the cue at the boundary ``future_blocks`` back (NaN while filling, 0 when
        either side has no prediction)."""
        n = self.has.shape[0]
        slot = self.k % n
        self.has[slot] = new_prediction
        if new_prediction:
            self.probs[slot] = probs
        self.k += 1
        if self.k < n:
            return math.nan
        first_future = self.k - self.future_blocks
        return mood_change(self.probs, self.has, first_future - self.past_blocks, first_future,
                           first_future + self.skip, self.k, self._sum)
