"""Causal onset detection: spectral flux and an adaptive-threshold peak picker.

The picker only looks at the past: a hop is an onset when its novelty exceeds the recent
mean by ``k`` standard deviations plus ``delta``, rises above the previous hop, and the last
onset is at least ``min_gap`` hops ago. State lives in small arrays the caller owns.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# picker state slots
P_POS, P_FILLED, P_LAST_ONSET, P_PREV, P_HOP = 0, 1, 2, 3, 4
PICKER_STATE_SIZE = 5


def new_picker_state(history_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(history, state) arrays for ``pick_onset``."""
    state = np.zeros(PICKER_STATE_SIZE)
    state[P_LAST_ONSET] = -1e9
    return np.zeros(history_len), state


def reset_picker_state(history: np.ndarray, state: np.ndarray) -> None:
    history[:] = 0.0
    state[:] = 0.0
    state[P_LAST_ONSET] = -1e9


@njit(cache=True, nogil=True)
def log_flux(power, prev_log, gamma):
    """Half-wave rectified difference of log(1 + γ·|X|) between this and the previous
    frame, averaged over bins; updates ``prev_log`` in place."""
    acc = 0.0
    n = power.shape[0]
    for k in range(n):
        v = math.log1p(gamma * math.sqrt(power[k]))
        d = v - prev_log[k]
        if d > 0.0:
            acc += d
        prev_log[k] = v
    return acc / n


@njit(cache=True, nogil=True)
def pick_onset(novelty, history, state, k, delta, min_gap):
    """Feed one novelty value; return True if this hop is an onset."""
    n = history.shape[0]
    filled = int(state[P_FILLED])
    mean = 0.0
    var = 0.0
    if filled > 0:
        for i in range(filled):
            mean += history[i]
        mean /= filled
        for i in range(filled):
            d = history[i] - mean
            var += d * d
        var /= filled
    threshold = mean + k * math.sqrt(var) + delta
    hop = state[P_HOP]
    is_onset = (filled >= n // 4 and novelty > threshold and novelty > state[P_PREV]
                and hop - state[P_LAST_ONSET] >= min_gap)
    if is_onset:
        state[P_LAST_ONSET] = hop
    pos = int(state[P_POS])
    history[pos] = novelty
    state[P_POS] = (pos + 1) % n
    if filled < n:
        state[P_FILLED] = filled + 1
    state[P_PREV] = novelty
    state[P_HOP] = hop + 1
    return is_onset
