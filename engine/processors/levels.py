"""Hop level meter: RMS and peak in dBFS and 0..1."""
from __future__ import annotations

from ..dsp.levels import hop_levels
from .base import Processor


class LevelMeter(Processor):
    """Fields: ``level_db``, ``level`` (RMS) and ``peak_db``, ``peak``; 0..1 spans
    ``floor_db``..0 dBFS."""

    def __init__(self, floor_db: float = -60.0):
        self.floor_db = float(floor_db)

    def prepare(self, spec, layout):
        self._idx = (layout.add_scalar("level_db"), layout.add_scalar("level"),
                     layout.add_scalar("peak_db"), layout.add_scalar("peak"))

    def process(self, ctx, frame):
        hop_levels(ctx.samples, self.floor_db, frame.values, *self._idx)
