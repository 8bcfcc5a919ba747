"""Short-term energy and the z-coefficients of the seed paper (eq. 3.1, 3.5, 3.7–3.8).

* ``E_t = (1/M) Σ_{n in segment t} x[n]²``: mean-square energy of consecutive, non-overlapping
  segments of ``M`` samples (eq. 3.1).
* Energy contrast ``z_t = E_{t+1} / E_t`` (eq. 3.5), computed causally when segment ``t+1``
  completes. A tiny ``eps`` (1e-10) is added to both energies so silence gives ``z = 1``.
  ``lo <= z <= hi`` (default [0.6, 1.4]) means "same region".
* Tempo contrast ``z = γ_{l+1} / γ_l`` (eq. 3.7–3.8) over segments of ``M_tempo`` hops, with
  ``γ_l`` the onset rate of segment ``l``; counts are Laplace-smoothed
  (``(n_{l+1} + 1) / (n_l + 1)``) so empty segments give a finite value. Band [0.8, 1.2].

The kernels keep their state in small float64 arrays owned by the caller; the processors
``EnergyContrast`` and ``TempoContrast`` put them in the chain.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError
from .base import Processor
from .checks import finite, positive_int
from .sums import add4

# energy state slots (E_ACC: the first of four partial sums, E_ACC..E_ACC + 3)
E_ACC, E_COUNT, E_LAST, E_PREV, E_Z, E_NSEG = 0, 4, 5, 6, 7, 8
ENERGY_STATE_SIZE = 9
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
    the newest z = E_last / E_prev (1 until two segments exist).

    The squares go into four partial sums by position in the segment (mod 4), added pairwise
    when the segment completes: four independent add chains, and the same sum however the
    samples are split into calls."""
    done = 0
    acc = state[E_ACC:E_ACC + 4]
    count = int(state[E_COUNT])
    n = samples.shape[0]
    i = 0
    while i < n:
        stop = min(n, i + (m - count))  # this call's samples up to the end of the segment
        while i < stop and count & 3:
            x = samples[i]
            acc[count & 3] += x * x
            count += 1
            i += 1
        acc[0], acc[1], acc[2], acc[3], end = add4(samples, i, stop, 0.0, True,
                                                   acc[0], acc[1], acc[2], acc[3])
        count += end - i
        i = end
        while i < stop:
            x = samples[i]
            acc[count & 3] += x * x
            count += 1
            i += 1
        if count >= m:
            e = ((acc[0] + acc[1]) + (acc[2] + acc[3])) / m
            state[E_PREV] = state[E_LAST]
            state[E_LAST] = e
            if state[E_NSEG] >= 1.0:
                state[E_Z] = (e + eps) / (state[E_PREV] + eps)
            state[E_NSEG] += 1.0
            acc[:] = 0.0
            count = 0
            done += 1
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


@njit(cache=True)
def _publish_z(values, z, i_z, i_same, lo, hi):
    values[i_z] = z
    values[i_same] = 1.0 if lo <= z <= hi else 0.0


@njit(cache=True)
def energy_block(samples, n, m, state, values, i_e, i_z, i_same, lo, hi):
    """``EnergyContrast`` over the first ``n`` rows (consecutive hops) of ``samples``."""
    for i in range(n):
        energy_update(samples[i], m, state, EPS)
        values[i, i_e] = state[E_LAST]
        _publish_z(values[i], state[E_Z], i_z, i_same, lo, hi)


@njit(cache=True)
def tempo_block(n, hops, state, values, i_onset, i_z, i_same, lo, hi):
    """``TempoContrast`` over the first ``n`` rows of ``values`` (reads the onset field)."""
    for i in range(n):
        tempo_update(values[i, i_onset], hops, state)
        _publish_z(values[i], state[T_Z], i_z, i_same, lo, hi)


def check_band(name: str, band) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={band!r} must be two numbers (lo, hi)") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParameterError(f"{name}={band!r} must be finite")
    if not 0.0 < lo <= 1.0 <= hi:
        raise ParameterError(f"{name}={band!r} must satisfy 0 < lo <= 1 <= hi")
    return lo, hi


def segment_energies(y: np.ndarray, *, segment: int) -> np.ndarray:
    """E_t (eq. 3.1) of every complete segment of ``segment`` samples (offline)."""
    positive_int("segment", segment)
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


class _SegmentContrast(Processor):
    """Shared by the energy and tempo contrasts: a positive segment length and a "same
    region" band ``(lo, hi)`` with 0 < lo <= 1 <= hi, both read from the config."""

    def __init__(self, name: str, segment_s, band):
        self.segment_s = finite(f"{name}_segment_s", segment_s, positive=True)
        self.lo, self.hi = check_band(f"{name}_band", band)

    blockwise = True

    def _publish(self, frame, z: float) -> None:
        _publish_z(frame.values, z, self._i_z, self._i_same, self.lo, self.hi)


class EnergyContrast(_SegmentContrast):
    """Fields ``energy`` (E_t of the newest complete segment of ``config.energy_segment_s``
    seconds), ``energy_z`` (z_t = E_{t+1}/E_t, held until the next segment; 1 before two
    segments) and ``energy_same`` (1.0 when z is inside ``config.energy_band``).

    Reads the hop's samples as they arrive (before pre-emphasis when it is placed first)."""

    def __init__(self, config):
        super().__init__("energy", config.energy_segment_s, config.energy_band)

    def prepare(self, spec, layout, facts):
        self.m = max(1, int(round(self.segment_s * spec.sample_rate)))
        self.state = new_energy_state()
        self._i_e = layout.add_scalar("energy")
        self._i_z = layout.add_scalar("energy_z")
        self._i_same = layout.add_scalar("energy_same")

    def process(self, ctx, frame):
        s = self.state
        energy_update(ctx.samples, self.m, s, EPS)
        frame.values[self._i_e] = s[E_LAST]
        self._publish(frame, s[E_Z])

    def process_block(self, block):
        energy_block(block.samples, block.n, self.m, self.state, block.values, self._i_e,
                     self._i_z, self._i_same, self.lo, self.hi)

    def reset(self):
        self.state[:] = new_energy_state()


class TempoContrast(_SegmentContrast):
    """Fields ``tempo_z`` (γ_{l+1}/γ_l with γ the onset rate of consecutive segments of
    ``config.tempo_segment_s`` seconds, Laplace-smoothed counts; 1 before two segments) and
    ``tempo_same`` (1.0 inside ``config.tempo_band``). Must follow the onset stage (reads
    ``onset``)."""

    def __init__(self, config):
        super().__init__("tempo", config.tempo_segment_s, config.tempo_band)

    def prepare(self, spec, layout, facts):
        if "onset" not in layout.scalars:
            raise ParameterError("TempoContrast needs the onset stage before it in the chain")
        self.hops = max(1, int(round(self.segment_s * spec.frame_rate)))
        self.state = new_tempo_state()
        self._i_onset = layout.scalars["onset"]
        self._i_z = layout.add_scalar("tempo_z")
        self._i_same = layout.add_scalar("tempo_same")

    def process(self, ctx, frame):
        tempo_update(frame.values[self._i_onset], self.hops, self.state)
        self._publish(frame, self.state[T_Z])

    def process_block(self, block):
        tempo_block(block.n, self.hops, self.state, block.values, self._i_onset, self._i_z,
                    self._i_same, self.lo, self.hi)

    def reset(self):
        self.state[:] = new_tempo_state()
