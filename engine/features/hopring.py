"""Reading the region stage's ring of hop rows (times, log-mel, level) in time order.

Why a module of its own: the stage's placement (``regions.fade_cut``, ``regions.refine_cut``)
and the learned placer (:mod:`sonolux.features.cutplacer`) read the same ring the same way;
both run in Numba on the hop a cut is decided, over preallocated buffers.

>>> import numpy as np
>>> t = np.array([3.0, 1.0, 2.0]); order = np.zeros(3, np.int64); ts = np.zeros(3)
>>> ring_order(t, 4, order, ts), order.tolist(), ts.tolist()  # row 0 was written last (position 4)
(3, [1, 2, 0], [1.0, 2.0, 3.0])
"""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def ring_order(level_t, level_pos, order, ts):
    """The ring's rows in time order (what argsort of the times gives) into ``order`` and
    their times into ``ts``; returns how many rows are filled."""
    size = level_t.shape[0]
    n = level_pos if level_pos < size else size
    for k in range(n):
        order[k] = (level_pos - n + k) % size
        ts[k] = level_t[order[k]]
    return n


@njit(cache=True)
def window_mean(ts, feats, order, n, lo, hi, out):
    """Mean of the rows ``feats[order[k]]`` with ``lo <= ts[k] < hi`` into ``out``; returns
    how many there were (``out`` is zero when none)."""
    out[:] = 0.0
    count = 0
    for k in range(n):
        if lo <= ts[k] < hi:
            row = order[k]
            for b in range(out.shape[0]):
                out[b] += feats[row, b]
            count += 1
    if count:
        for b in range(out.shape[0]):
            out[b] /= count
    return count


@njit(cache=True)
def mel_order(level_t, level_pos, mel_shift_s, order, ts):
    """:func:`ring_order` with ``ts`` the log-mel windows' centres: ``mel_shift_s`` is (hop,
    half an FFT) in s — a hop's row is its FFT window ending at the hop's end."""
    n = ring_order(level_t, level_pos, order, ts)
    for k in range(n):
        ts[k] += mel_shift_s[0] - mel_shift_s[1]
    return n


@njit(cache=True)
def song_direction(ts, mel_hist, order, n, t, gap, window, min_rows, before, after):
    """The two songs either side of a cut at ``t``: the mean log-mel ``gap`` .. ``gap + window``
    before it into ``before`` and after it minus ``before`` into ``after`` (the direction from
    the song before to the song after). Returns its squared length, 0.0 when the ring holds
    fewer than ``min_rows`` hops of either side (``ts``: time-ordered, :func:`mel_order`)."""
    if (window_mean(ts, mel_hist, order, n, t - gap - window, t - gap, before) < min_rows
            or window_mean(ts, mel_hist, order, n, t + gap, t + gap + window, after) < min_rows):
        return 0.0
    dd = 0.0
    for b in range(after.shape[0]):
        after[b] -= before[b]
        dd += after[b] * after[b]
    return dd
