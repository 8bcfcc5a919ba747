"""Hop level meter: RMS and peak in dBFS and 0..1 (kernels and the ``LevelMeter`` processor).

Convention: dBFS = 20·log10(RMS), so a full-scale square wave reads 0 dBFS and a full-scale
sine −3.01 dBFS. Band levels use the same scale: the mean-square energy of the band's part
of the signal (Parseval on the windowed frame), so bass + mid + high add up to the frame's
mean square.
"""
from __future__ import annotations

import math

from numba import njit

from .base import Processor
from .checks import floor_db as check_floor_db

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
def hop_levels_block(samples, n, floor_db, values, i_rms_db, i_rms, i_peak_db, i_peak):
    """``hop_levels`` of the first ``n`` rows of ``samples`` into the rows of ``values``."""
    for i in range(n):
        hop_levels(samples[i], floor_db, values[i], i_rms_db, i_rms, i_peak_db, i_peak)


class LevelMeter(Processor):
    """Fields: ``level_db``, ``level`` (RMS) and ``peak_db``, ``peak``; 0..1 spans
    ``config.floor_db``..0 dBFS."""

    def __init__(self, config):
        self.floor_db = check_floor_db(config.floor_db)

    def prepare(self, spec, layout, facts):
        self._idx = (layout.add_scalar("level_db"), layout.add_scalar("level"),
                     layout.add_scalar("peak_db"), layout.add_scalar("peak"))

    def process(self, ctx, frame):
        hop_levels(ctx.samples, self.floor_db, frame.values, *self._idx)

    blockwise = True

    def process_block(self, block):
        hop_levels_block(block.samples, block.n, self.floor_db, block.values, *self._idx)

