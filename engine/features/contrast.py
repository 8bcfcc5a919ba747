"""Causal two-window timbre contrast: does the last few seconds' sound come from the same
distribution as the seconds before?

At a join of two songs everything about the sound changes at once and stays changed; inside
a song the sound wanders around one distribution. The cue asks, for the boundary
``future_blocks`` blocks behind the newest block: how far apart are the mean timbre vectors of
the ``past_blocks`` blocks before it and the ``future_blocks`` blocks after it, measured in
the spread of those blocks — per cepstral coefficient ``(mean_after − mean_before)² /
(½(var_before + var_after) + floor)``, averaged over the coefficients (a two-sample test of
diagonal Gaussians, the mean part of their symmetric divergence). Being normalised by the
spread, it needs no level calibration and it is small for a song whose sound varies a lot.

A long past window (15 s) learns what "this song" sounds like; a long future window (6 s)
makes the new sound a stable estimate instead of one fill or one drum break — which is what
keeps single songs from being cut (measured in ``benchmarks/segmentation.py``). The future
window is the cue's lag: the boundary is judged ``future_blocks`` blocks after it happened.
Until ``past_blocks`` blocks precede the boundary (the start of a stream) the past window is
what there is, but at least ``min_past_blocks`` blocks (NaN before that). After a decided cut
:meth:`WindowContrast.restart` makes the cut the new start: the past window then holds only
the current region, so the song before a join no longer inflates the contrast for the
``past_blocks`` after it (which, in medleys, cut the new song again).

With unequal windows the peak of a gradual change (a crossfade) lands late by about
``fade · (past − future) / (past + future) / 2``; :meth:`WindowContrast.localise` therefore
re-places a decided cut with equal windows either side (``localise_blocks``), searching
``radius_blocks`` around it, over blocks still held in the ring (no look-ahead beyond the
audio already heard).

Block vector: the timbre — the DCT (MFCC-like) of the block's mean log-mel spectrum,
coefficients 0..``n_coef``-1 — and the texture — the DCT of each mel band's standard
deviation over the block's hops (how much the sound moves within 0.1 s: drums, tremolo),
``n_texture`` coefficients. All state is preallocated; ``add``/``close``/``localise`` allocate nothing.

Example
-------
>>> import numpy as np
>>> c = WindowContrast(n_mels=16, past_blocks=30, future_blocks=20, localise_blocks=10, radius_blocks=5)
>>> rng = np.random.default_rng(0)
>>> a, b = np.zeros(16), np.linspace(-20, 20, 16)
>>> vals = [c.push((a if k < 40 else b) + rng.normal(0, 1, 16)) for k in range(60)]
>>> vals[-1] > 10   # the block 20 back is where b started (with the 20 blocks before it)
True
>>> c.localise(c.boundary_block - 3) == c.boundary_block   # a cut placed 3 blocks early moves back
True
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError
from .novelty import BlockCue, close_block, dct_matrix


@njit(cache=True)
def window_contrast(ring, first, n_before, n_after, floor, share, work):
    """The contrast of the ``n_before`` blocks before absolute block index ``first`` and the
    ``n_after`` blocks from it on (rows of ``ring`` modulo its length). ``work``: scratch
    (4, n_coef) for the sums, then the squared mean differences and spreads; no allocation.
    The blocks are walked row by row (one modulo per block), each coefficient's sums in
    block order."""
    n_ring, n_coef = ring.shape
    for c in range(n_coef):
        for s in range(4):
            work[s, c] = 0.0
    for side in range(2):  # sums, then means: work[0] before, work[1] after
        lo = first - n_before if side == 0 else first
        for i in range(lo, lo + (n_before if side == 0 else n_after)):
            r = i % n_ring
            for c in range(n_coef):
                work[side, c] += ring[r, c]
    for c in range(n_coef):
        work[0, c] /= n_before
        work[1, c] /= n_after
    for side in range(2):  # sums of squared deviations: work[2] before, work[3] after
        lo = first - n_before if side == 0 else first
        for i in range(lo, lo + (n_before if side == 0 else n_after)):
            r = i % n_ring
            for c in range(n_coef):
                d = ring[r, c] - work[side, c]
                work[2 + side, c] += d * d
    mean_spread = 0.0
    for c in range(n_coef):
        mb, ma = work[0, c], work[1, c]
        work[0, c] = (ma - mb) * (ma - mb)
        work[1, c] = 0.5 * (work[2, c] / n_before + work[3, c] / n_after)
        mean_spread += work[1, c]
    mean_spread /= n_coef
    total = 0.0
    for c in range(n_coef):
        total += work[0, c] / (work[1, c] + floor + share * mean_spread)
    return total / n_coef


@njit(cache=True)
def texture_accumulate(sq, x):
    """sq += x² — one hop into the open block's sum of squares (for the texture part)."""
    for i in range(x.shape[0]):
        sq[i] += x[i] * x[i]


@njit(cache=True)
def contrast_push(acc, sq, dct, dct_tex, ring, spread, state, n_past, n_future, n_min_past, floor, share, work):
    """Close the open block into the ring — its timbre (DCT of the mean log-mel, from
    ``acc``: sum of hop vectors + count) and texture (DCT of each band's standard deviation
    over the block's hops, from ``sq``: sum of squares; ``spread``: scratch per band) — and
    return the contrast at the boundary ``n_future`` blocks back: with as many past blocks
    as there are since the current region began (at most ``n_past``), NaN while fewer than
    ``n_min_past`` precede the boundary. ``state``: [blocks pushed, first block of the region];
    ``work``: scratch (4, n_coef)."""
    k = int(state[0])
    slot = k % ring.shape[0]
    n_in = spread.shape[0]
    cnt = acc[n_in]
    for i in range(n_in):
        m = acc[i] / cnt if cnt > 0 else 0.0
        v = sq[i] / cnt - m * m if cnt > 0 else 0.0
        spread[i] = math.sqrt(v) if v > 0 else 0.0
        sq[i] = 0.0
    n_timbre = dct.shape[0]
    for c in range(dct_tex.shape[0]):
        s = 0.0
        for i in range(n_in):
            s += dct_tex[c, i] * spread[i]
        ring[slot, n_timbre + c] = s
    close_block(acc, dct, ring, slot)
    state[0] = k + 1
    before = min(k + 1 - n_future - int(state[1]), n_past)
    if before < n_min_past:
        return np.nan
    return window_contrast(ring, k - n_future + 1, before, n_future, floor, share, work)


@njit(cache=True)
def localise_block(ring, newest, around, radius, width, floor, share, work):
    """The boundary (absolute block index) within ``radius`` of ``around`` where equal
    windows of ``width`` blocks either side differ most, among the boundaries whose windows
    are still in the ring (``newest``: the newest block's index); ``around`` if none is."""
    n_ring = ring.shape[0]
    best, best_k = -1.0, around
    for k in range(around - radius, around + radius + 1):
        if k - width < newest - n_ring + 1 or k + width - 1 > newest:
            continue
        v = window_contrast(ring, k, width, width, floor, share, work)
        if v > best:
            best, best_k = v, k
    return best_k


class WindowContrast(BlockCue):
    """The two-window timbre contrast, fed one hop (``add``) or block (``push``) at a time."""

    def __init__(self, *, n_mels: int, past_blocks: int, future_blocks: int, n_coef: int = 20,
                 n_texture: int = 8, floor: float = 1.0, spread_share: float = 0.2, localise_blocks: int = 40,
                 radius_blocks: int = 10, min_past_blocks: int | None = None):
        """``floor``: added to each coefficient's spread (cepstral units, ~dB²) so a steady
        synthetic sound does not turn a tiny change into a huge ratio; ``spread_share``: each
        coefficient's spread is also raised by this share of the mean spread over all
        coefficients, so a coefficient along which the song is unusually steady (a held pad)
        cannot alone make a chord change look like a new song. ``localise_blocks``: the equal
        window either side used to re-place a cut; ``radius_blocks``: how far. ``n_coef`` and
        ``n_texture``: cepstral coefficients of the block's mean and of its per-band spread.
        ``min_past_blocks`` (default ``future_blocks``, at most ``past_blocks``): the fewest
        blocks of the current region a boundary is judged with — a short past is a noisy
        estimate of "this song", so right after a cut (or the start) the cue waits for it."""
        if past_blocks < 2 or future_blocks < 2:
            raise ParameterError(f"contrast past_blocks={past_blocks} and future_blocks={future_blocks} "
                                 "must be at least 2")
        if n_mels < 2:
            raise ParameterError(f"n_mels={n_mels} must be at least 2")
        if not floor > 0 or not spread_share >= 0:
            raise ParameterError(f"contrast floor={floor} must be positive and spread_share={spread_share} >= 0")
        if localise_blocks < 1 or radius_blocks < 0:
            raise ParameterError(f"localise_blocks={localise_blocks} must be >= 1 and "
                                 f"radius_blocks={radius_blocks} >= 0")
        self.past_blocks, self.future_blocks = int(past_blocks), int(future_blocks)
        min_past = self.future_blocks if min_past_blocks is None else int(min_past_blocks)
        if not 2 <= min_past <= self.past_blocks:
            raise ParameterError(f"contrast min_past_blocks={min_past_blocks} must be between 2 and "
                                 f"past_blocks={past_blocks}")
        self.min_past_blocks = min_past
        self.dct = dct_matrix(min(n_coef, n_mels), n_mels)
        self.dct_texture = dct_matrix(min(n_texture, n_mels), n_mels)
        self.floor, self.spread_share = float(floor), float(spread_share)
        self.localise_blocks, self.radius_blocks = int(localise_blocks), int(radius_blocks)
        n_cols = self.dct.shape[0] + self.dct_texture.shape[0]
        self.ring = np.zeros((self.past_blocks + self.future_blocks, n_cols))
        self.acc = np.zeros(n_mels + 1)
        self.sq = np.zeros(n_mels)
        self.spread = np.zeros(n_mels)
        self.state = np.zeros(2)  # blocks pushed, first block of the current region
        self.work = np.zeros((4, n_cols))

    def reset(self) -> None:
        self.ring[:] = 0.0
        self.acc[:] = 0.0
        self.sq[:] = 0.0
        self.state[:] = 0.0

    @property
    def boundary_block(self) -> int:
        """Absolute index of the first block after the boundary the newest value judges."""
        return int(self.state[0]) - self.future_blocks

    def add(self, mel_db: np.ndarray) -> None:
        """One hop's log-mel vector into the open block (its sum and sum of squares)."""
        super().add(mel_db)
        texture_accumulate(self.sq, mel_db)

    def close(self) -> float:
        """Close the open block; the contrast ``future_blocks`` blocks back (NaN while filling)."""
        return contrast_push(self.acc, self.sq, self.dct, self.dct_texture, self.ring, self.spread, self.state,
                             self.past_blocks, self.future_blocks, self.min_past_blocks, self.floor, self.spread_share, self.work)

    def restart(self, block: int) -> None:
        """A new region begins at absolute block index ``block`` (a decided cut): later
        boundaries compare their future only with the blocks from ``block`` on (NaN until
        ``min_past_blocks`` of them precede the boundary), as at the start of a stream."""
        self.state[1] = float(block)

    def localise(self, block: int) -> int:
        """Re-place a cut at absolute block index ``block`` with equal windows either side."""
        return int(localise_block(self.ring, int(self.state[0]) - 1, int(block), self.radius_blocks,
                                  self.localise_blocks, self.floor, self.spread_share, self.work))
