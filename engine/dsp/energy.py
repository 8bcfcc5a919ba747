"""Short-term energy and the z-coefficients of the seed paper (eq. 3.1, 3.5, 3.7–3.8).

* ``E_t = (1/M) Σ_{n in segment t} x[n]²``: mean-square energy of consecutive, non-overlapping
  segments of ``M`` samples (eq. 3.1).
* Energy contrast ``z_t = E_{t+1} / E_t`` (eq. 3.5), computed causally when segment ``t+1``
  completes. A tiny ``eps`` (1e-10) is added to both energies so silence gives ``z = 1``.
  ``lo <= z <= hi`` (default [0.6, 1.4]) means "same region".
* Tempo contrast ``z = γ_{l+1} / γ_l`` (eq. 3.7–3.8) over segments of ``M_tempo`` hops, with
  ``γ_l`` the onset rate of segment ``l``; counts are Laplace-smoothed
  (``(n_{l+1} + 1) / (n_l + 1)``) so empty segments give a finite value. Band [0.8, 1.2].

The kernels keep their state in small float64 arrays owned by the caller.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError

# energy state slots
E_ACC, E_COUNT, E_LAST, E_PREV, E_Z, E_NSEG = 0, 1, 2, 3, 4, 5
ENERGY_STATE_SIZE = 6
# tempo state slots
T_COUNT, T_HOPS, T_LAST, T_PREV, T_Z, T_NSEG = 0, 1, 2, 3, 4, 5
TEMPO_STATE_SIZE = 6

EPS = 1e-10


def new_energy_state() -> np.ndarray:
    s = np.zeros(ENERGY_STATE_SIZE)
    s[E_Z] = 1.0
    return s


def new_tempo_state() -> np.ndarray:
    s = np.zeros(TEMPO_STATE_SIZE)
    s[T_Z] = 1.0
    return s


@njit(cache=True)
def energy_update(samples, m, state, eps):
    """Accumulate ``samples`` into segments of ``m`` samples; returns the number of segments
    completed during this call. ``state[E_LAST]`` is the newest complete E_t, ``state[E_Z]``
    the newest z = E_last / E_prev (1 until two segments exist)."""
    done = 0
    acc = state[E_ACC]
    count = state[E_COUNT]
    for i in range(samples.shape[0]):
        x = samples[i]
        acc += x * x
        count += 1.0
        if count >= m:
            e = acc / m
            state[E_PREV] = state[E_LAST]
            state[E_LAST] = e
            if state[E_NSEG] >= 1.0:
                state[E_Z] = (e + eps) / (state[E_PREV] + eps)
            state[E_NSEG] += 1.0
            acc = 0.0
            count = 0.0
            done += 1
    state[E_ACC] = acc
    state[E_COUNT] = count
    return done


@njit(cache=True)
def tempo_update(n_onsets, hops_per_segment, state):
    """Add this hop's onset count; at the end of a segment of ``hops_per_segment`` hops update
    ``state[T_Z] = (n_last + 1) / (n_prev + 1)``. Returns True when a segment completed."""
    state[T_COUNT] += n_onsets
    state[T_HOPS] += 1.0
    if state[T_HOPS] >= hops_per_segment:
        state[T_PREV] = state[T_LAST]
        state[T_LAST] = state[T_COUNT]
        if state[T_NSEG] >= 1.0:
            state[T_Z] = (state[T_LAST] + 1.0) / (state[T_PREV] + 1.0)
        state[T_NSEG] += 1.0
        state[T_COUNT] = 0.0
        state[T_HOPS] = 0.0
        return True
    return False


def check_band(name: str, band) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={band!r} must be two numbers (lo, hi)") from None
    if not 0.0 < lo <= 1.0 <= hi:
        raise ParameterError(f"{name}={band!r} must satisfy 0 < lo <= 1 <= hi")
    return lo, hi


def segment_energies(y: np.ndarray, *, segment: int) -> np.ndarray:
    """E_t (eq. 3.1) of every complete segment of ``segment`` samples (offline)."""
    if isinstance(segment, bool) or not isinstance(segment, (int, np.integer)) or segment <= 0:
        raise ParameterError(f"segment={segment!r} must be a positive integer number of samples")
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0] // segment
    return np.mean(y[:n * segment].reshape(n, segment) ** 2, axis=1)


def energy_contrast(energies: np.ndarray, *, eps: float = EPS) -> np.ndarray:
    """z_t = E_{t+1} / E_t (eq. 3.5) for consecutive energies; length len(energies) - 1."""
    e = np.asarray(energies, dtype=np.float64)
    return (e[1:] + eps) / (e[:-1] + eps)


def same_region(z: np.ndarray, band=(0.6, 1.4)) -> np.ndarray:
    """Boolean: z within the "same region" band."""
    lo, hi = check_band("band", band)
    z = np.asarray(z)
    return (z >= lo) & (z <= hi)
