"""Band levels (bass / mid / high by default) from the power spectrum.

Same scale as the hop levels: the mean-square energy of the band's part of the signal
(Parseval on the windowed frame), so bass + mid + high add up to the frame's mean square.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from .base import Processor
from .checks import floor_db as check_floor_db
from .levels import db_to_unit, ms_to_db


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


@njit(cache=True)
def band_levels_block(power, n, starts, stops, scale, floor_db, values, idx_db, idx_unit):
    """``band_levels`` of the first ``n`` rows of ``power`` into the rows of ``values``."""
    for i in range(n):
        band_levels(power[i], starts, stops, scale, floor_db, values[i], idx_db, idx_unit)


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



def bands_from_edges(edges) -> tuple[tuple[str, float, float], ...]:
    """Bass / mid / high from three or four edges in Hz, e.g. (20, 250, 4000, 20000)."""
    edges = [float(e) for e in edges]
    if len(edges) == 2:  # only the two crossovers given
        edges = [20.0, *edges, 20000.0]
    if len(edges) != 4 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
        raise ParameterError(
            f"band edges {edges} must be 2 crossovers or 4 increasing frequencies in Hz")
    return tuple(zip(("bass", "mid", "high"), edges[:-1], edges[1:]))


class BandLevels(Processor):
    """Fields ``band_<name>_db`` and ``band_<name>`` (0..1 over ``config.floor_db``..0) of
    ``config.bands``; reads ``ctx.power`` and the window from ``facts`` (Spectrum first)."""

    def __init__(self, config):
        self.bands = check_bands(config.bands)
        self.floor_db = check_floor_db(config.floor_db)

    def prepare(self, spec, layout, facts):
        edges = [(min(lo, spec.sample_rate / 2), min(hi, spec.sample_rate / 2))
                 for _, lo, hi in self.bands]
        ranges = [band_bins(e, spec.sample_rate, spec.n_fft) for e in edges]
        self.starts = np.array([r[0][0] for r in ranges], dtype=np.int64)
        self.stops = np.array([r[1][0] for r in ranges], dtype=np.int64)
        self.idx_db = np.array([layout.add_scalar(f"band_{b[0]}_db") for b in self.bands])
        self.idx_unit = np.array([layout.add_scalar(f"band_{b[0]}") for b in self.bands])
        self._scale = power_scale(facts.require("window", "BandLevels", "Spectrum"))

    blockwise = True

    def process_block(self, block):
        band_levels_block(block.power, block.n, self.starts, self.stops, self._scale,
                          self.floor_db, block.values, self.idx_db, self.idx_unit)

    def process(self, ctx, frame):
        band_levels(ctx.power, self.starts, self.stops, self._scale, self.floor_db,
                    frame.values, self.idx_db, self.idx_unit)


def check_bands(bands) -> tuple[tuple[str, float, float], ...]:
    """``((name, lo_hz, hi_hz), ...)`` with 0 <= lo < hi, finite."""
    try:
        out = tuple((str(n), float(lo), float(hi)) for n, lo, hi in bands)
    except (TypeError, ValueError):
        raise ParameterError(f"bands={bands!r} must be (name, lo Hz, hi Hz) triples") from None
    for n, lo, hi in out:
        if not (0.0 <= lo < hi and np.isfinite(hi)):
            raise ParameterError(f"band {n!r} ({lo:g}, {hi:g}) Hz must have 0 <= lo < hi, finite")
    return out
