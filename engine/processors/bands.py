"""Band levels (bass / mid / high by default) from the power spectrum."""
from __future__ import annotations

import numpy as np

from ..dsp.levels import band_bins, band_levels, power_scale
from ..errors import ParameterError
from .base import Processor

DEFAULT_BANDS = (("bass", 20.0, 250.0), ("mid", 250.0, 4000.0), ("high", 4000.0, 20000.0))


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
    """Fields ``band_<name>_db`` and ``band_<name>`` (0..1 over ``floor_db``..0)."""

    def __init__(self, bands=DEFAULT_BANDS, floor_db: float = -60.0):
        self.bands = tuple(bands)
        self.floor_db = float(floor_db)

    def prepare(self, spec, layout):
        edges = [(min(lo, spec.sample_rate / 2), min(hi, spec.sample_rate / 2))
                 for _, lo, hi in self.bands]
        ranges = [band_bins(e, spec.sample_rate, spec.n_fft) for e in edges]
        self.starts = np.array([r[0][0] for r in ranges], dtype=np.int64)
        self.stops = np.array([r[1][0] for r in ranges], dtype=np.int64)
        self.idx_db = np.array([layout.add_scalar(f"band_{b[0]}_db") for b in self.bands])
        self.idx_unit = np.array([layout.add_scalar(f"band_{b[0]}") for b in self.bands])
        self._scale = None

    def process(self, ctx, frame):
        if self._scale is None:
            self._scale = power_scale(ctx.window)
        band_levels(ctx.power, self.starts, self.stops, self._scale, self.floor_db,
                    frame.values, self.idx_db, self.idx_unit)
