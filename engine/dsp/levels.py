"""Level and band-energy kernels.

Convention: dBFS = 20·log10(RMS), so a full-scale square wave reads 0 dBFS and a full-scale
sine −3.01 dBFS. Band levels use the same scale: the mean-square energy of the band's part
of the signal (Parseval on the windowed frame), so bass + mid + high add up to the frame's
mean square.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

SILENCE_DB = -120.0


@njit(cache=True)
def db_to_unit(db, floor_db):
    """Map dB in [floor_db, 0] to 0..1 (clipped)."""
    u = (db - floor_db) / -floor_db
    if u < 0.0:
        return 0.0
    if u > 1.0:
        return 1.0
    return u


@njit(cache=True)
def ms_to_db(ms):
    if ms <= 1e-12 or not math.isfinite(ms):
        return SILENCE_DB if ms <= 1e-12 else 0.0
    db = 10.0 * math.log10(ms)
    return db if db > SILENCE_DB else SILENCE_DB


@njit(cache=True)
def hop_levels(samples, floor_db, values, i_rms_db, i_rms, i_peak_db, i_peak):
    """RMS and peak of one hop, in dBFS and 0..1. Non-finite samples count as silence."""
    acc = 0.0
    peak = 0.0
    for i in range(samples.shape[0]):
        x = samples[i]
        if not math.isfinite(x):
            continue
        acc += x * x
        a = abs(x)
        if a > peak:
            peak = a
    rms_db = ms_to_db(acc / samples.shape[0])
    peak_db = ms_to_db(peak * peak)
    values[i_rms_db] = rms_db
    values[i_rms] = db_to_unit(rms_db, floor_db)
    values[i_peak_db] = peak_db
    values[i_peak] = db_to_unit(peak_db, floor_db)


@njit(cache=True)
def band_levels(power, starts, stops, scale, floor_db, values, idx_db, idx_unit):
    """Mean-square energy of bins [starts[b], stops[b]) times ``scale`` → dB and 0..1."""
    for b in range(starts.shape[0]):
        acc = 0.0
        for k in range(starts[b], stops[b]):
            acc += power[k]
        db = ms_to_db(acc * scale)
        values[idx_db[b]] = db
        values[idx_unit[b]] = db_to_unit(db, floor_db)


def power_scale(window: np.ndarray) -> float:
    """Factor turning a one-sided |X|² sum into the signal's mean square (Parseval)."""
    return 2.0 / (window.shape[0] * float(np.sum(window ** 2)))


def band_bins(edges_hz, sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin ranges [start, stop) for the bands between consecutive ``edges_hz``."""
    n_bins = n_fft // 2 + 1
    bins = [min(n_bins, max(1, int(round(f * n_fft / sample_rate)))) for f in edges_hz]
    starts = np.array(bins[:-1], dtype=np.int64)
    stops = np.array(bins[1:], dtype=np.int64)
    stops = np.maximum(stops, starts + 1)
    return starts, np.minimum(stops, n_bins)
