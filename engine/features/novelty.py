"""Causal Foote novelty: how different the last seconds sound from the seconds before.

Foote (2000) slides a checkerboard kernel along the diagonal of a self-similarity matrix
(SSM): similar within the two blocks and dissimilar across them is a boundary. Live we only
have the past, so the kernel's centre lags the newest frame by the *future* block: after
block ``k`` arrives, the novelty of the boundary ``future_blocks`` blocks back is known. That
lag is the cue's decision delay, stated and fixed.

What is computed, per block of ``block_hops`` hops (default 0.1 s):

* the block's timbre vector: the DCT (MFCC-like) of the block's mean log-mel spectrum,
  coefficient 0 (loudness) scaled by ``loudness_weight``, coefficients 1.. (spectral shape);
* its Euclidean distances to the blocks held in a ring (one new row and column of a distance
  SSM, kept incrementally: nothing is recomputed for older blocks);
* the checkerboard over the ring, Gaussian-tapered, normalised: the weighted mean distance
  *across* the past block P and the future block F divided by the mean distance *within* P
  and within F, minus 1. Zero means "the future sounds like the past", 1 means "twice as far
  apart across the boundary as inside either side" (``spread_floor`` keeps a perfectly
  steady sound from dividing by zero). Being a ratio it needs no level
  calibration: loud and quiet music give comparable numbers.

All state is preallocated at construction; :meth:`FooteNovelty.push` allocates nothing.

Example
-------
>>> import numpy as np
>>> nov = FooteNovelty(n_mels=16, past_blocks=20, future_blocks=10)
>>> a, b = np.zeros(16), np.linspace(-20, 20, 16)
>>> vals = [nov.push(a if k < 40 else b) for k in range(50)]
>>> round(vals[-1], 1) > 1.0   # the block 10 back is where b started
True
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError


def dct_matrix(n_coef: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows 0..n_coef-1 over ``n_in`` inputs (log-mel → cepstrum)."""
    k = np.arange(n_coef)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    m[0] /= math.sqrt(2.0)
    return m


def taper(n: int, sigma: float) -> np.ndarray:
    """Gaussian weights for blocks 0..n-1 away from the kernel centre (``sigma`` in blocks)."""
    d = np.arange(n) + 0.5
    return np.exp(-0.5 * (d / sigma) ** 2)


@njit(cache=True)
def block_accumulate(acc, x):
    """acc[:-1] += x; acc[-1] += 1 (the count) — one hop into the open block."""
    n = x.shape[0]
    for i in range(n):
        acc[i] += x[i]
    acc[n] += 1.0


@njit(cache=True)
def close_block(acc, dct, ring, slot):
    """The open block's timbre vector (the DCT of its mean log-mel; ``acc``: sum of hops +
    count) into ``ring[slot]``; ``acc`` is cleared for the next block."""
    n_in = acc.shape[0] - 1
    cnt = acc[n_in]
    for c in range(dct.shape[0]):  # the ring may hold more columns after these
        s = 0.0
        for i in range(n_in):
            s += dct[c, i] * acc[i]
        ring[slot, c] = s / cnt if cnt > 0 else 0.0
    for i in range(acc.shape[0]):
        acc[i] = 0.0


@njit(cache=True)
def novelty_push(acc, dct, loud_w, ring, dist, state, w_past, w_future, spread_floor, rows):
    """Close the open block (``acc``: sum of hops + count), push its timbre vector into the
    ring, update the distance SSM and return the novelty at the kernel centre (NaN until
    the ring is full). ``state``: [blocks pushed]; ``rows``: scratch (ring length) for the
    ring rows of the future and past blocks. Writes only into its arguments."""
    n_ring, n_coef = ring.shape
    k = int(state[0])
    slot = k % n_ring
    close_block(acc, dct, ring, slot)
    ring[slot, 0] *= loud_w
    filled = min(k + 1, n_ring)
    for j in range(filled):
        jj = (k - j) % n_ring
        s = 0.0
        for c in range(n_coef):
            d = ring[slot, c] - ring[jj, c]
            s += d * d
        s = math.sqrt(s)
        dist[slot, jj] = s
        dist[jj, slot] = s
    state[0] = k + 1
    if k + 1 < n_ring:
        return np.nan
    n_f = w_future.shape[0]
    n_p = w_past.shape[0]
    # future block: the newest n_f blocks; index d = 0 is the block right after the centre
    # (oldest of them); past block: d = 0 is the block right before the centre. Their ring
    # rows first (rows[:n_f] future, rows[n_f:] past), so the sums below index no modulo.
    for a in range(n_f):
        rows[a] = (k - n_f + 1 + a) % n_ring
    for b in range(n_p):
        rows[n_f + b] = (k - n_f - b) % n_ring
    wp = ww = wx = 0.0
    sp = sf = sx = 0.0
    for a in range(n_f):
        ia = rows[a]
        wa = w_future[a]
        for b in range(a + 1, n_f):
            w = wa * w_future[b]
            sf += w * dist[ia, rows[b]]
            ww += w
        for b in range(n_p):
            w = wa * w_past[b]
            sx += w * dist[ia, rows[n_f + b]]
            wx += w
    for a in range(n_p):
        ia = rows[n_f + a]
        for b in range(a + 1, n_p):
            w = w_past[a] * w_past[b]
            sp += w * dist[ia, rows[n_f + b]]
            wp += w
    within = 0.5 * (sp / wp + sf / ww)
    return (sx / wx) / (within + spread_floor) - 1.0


class BlockCue:
    """A cue fed hop by hop and judged per block: ``add`` sums one hop's log-mel vector into
    the open block (``self.acc``: the sum and the count), the subclass's ``close`` ends the
    block and returns the cue's value; ``push`` does both with a whole block (tests,
    examples)."""

    acc: np.ndarray

    def add(self, mel_db: np.ndarray) -> None:
        """One hop's log-mel vector into the open block."""
        block_accumulate(self.acc, mel_db)

    def close(self) -> float:  # pragma: no cover - every cue defines it
        raise NotImplementedError

    def push(self, mel_block: np.ndarray) -> float:
        """A whole block at once: ``add`` + ``close``."""
        self.add(mel_block)
        return self.close()


class FooteNovelty(BlockCue):
    """Incremental, causal checkerboard novelty over log-mel blocks (see the module doc).

    ``push(mel_block)`` takes one *block's* mean log-mel vector (the :class:`BlockNovelty`
    wrapper feeds hops); it returns the novelty of the boundary ``future_blocks`` blocks
    before the newest, or NaN while the ring is still filling."""

    def __init__(self, *, n_mels: int, past_blocks: int, future_blocks: int, n_coef: int = 20,
                 loudness_weight: float = 0.5, taper_sigma: float = 0.6, spread_floor: float = 1.0):
        """``spread_floor``: added to the within-block distance (cepstral units, ~dB) so a
        perfectly steady sound (synthetic, silence) does not turn a tiny change into a huge
        ratio."""
        if past_blocks < 2 or future_blocks < 2:
            raise ParameterError(f"past_blocks={past_blocks} and future_blocks={future_blocks} must be at least 2")
        if n_mels < 2:
            raise ParameterError(f"n_mels={n_mels} must be at least 2")
        if not taper_sigma > 0:
            raise ParameterError(f"taper_sigma={taper_sigma} must be positive")
        n_coef = min(n_coef, n_mels)
        self.past_blocks, self.future_blocks = past_blocks, future_blocks
        self.dct = dct_matrix(n_coef, n_mels)
        self.loudness_weight = float(loudness_weight)
        self.spread_floor = float(spread_floor)
        self.w_past = taper(past_blocks, taper_sigma * past_blocks)
        self.w_future = taper(future_blocks, taper_sigma * future_blocks)
        n = past_blocks + future_blocks
        self.ring = np.zeros((n, n_coef))
        self.dist = np.zeros((n, n))
        self.acc = np.zeros(n_mels + 1)
        self.state = np.zeros(1)
        self._rows = np.zeros(n, dtype=np.int64)

    def reset(self) -> None:
        self.ring[:] = 0.0
        self.dist[:] = 0.0
        self.acc[:] = 0.0
        self.state[:] = 0.0

    def close(self) -> float:
        """Close the open block; the novelty ``future_blocks`` blocks back (NaN while filling)."""
        return novelty_push(self.acc, self.dct, self.loudness_weight, self.ring, self.dist,
                            self.state, self.w_past, self.w_future, self.spread_floor, self._rows)
