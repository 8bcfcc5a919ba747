"""Spectral-flux onsets with a causal adaptive threshold."""
from __future__ import annotations

import numpy as np

from ..dsp.onset import log_flux, new_picker_state, pick_onset, reset_picker_state
from .base import Processor


class FluxOnsets(Processor):
    """Fields: ``onset_strength`` (flux), ``onset`` (1 on an onset hop, else 0) and
    ``onset_count`` (cumulative, so a reader that skips frames still sees every onset).

    ``k``: standard deviations above the recent mean; ``delta``: absolute margin;
    ``min_gap_s``: minimum time between onsets; ``history_s``: threshold memory;
    ``gate_db``: hops quieter than this never trigger.
    """

    def __init__(self, k: float = 2.0, delta: float = 0.02, min_gap_s: float = 0.05,
                 history_s: float = 0.5, gate_db: float = -60.0, gamma: float = 100.0):
        self.k, self.delta, self.min_gap_s = float(k), float(delta), float(min_gap_s)
        self.history_s, self.gate_db, self.gamma = float(history_s), float(gate_db), float(gamma)

    def prepare(self, spec, layout):
        self._prev_log = np.zeros(spec.n_fft // 2 + 1)
        n_hist = max(4, int(round(self.history_s * spec.frame_rate)))
        self._history, self._state = new_picker_state(n_hist)
        self._min_gap = max(1.0, self.min_gap_s * spec.frame_rate)
        self._i_strength = layout.add_scalar("onset_strength")
        self._i_onset = layout.add_scalar("onset")
        self._i_count = layout.add_scalar("onset_count")
        self._i_level = layout.scalars.get("level_db")
        self._count = 0

    def process(self, ctx, frame):
        flux = log_flux(ctx.power, self._prev_log, self.gamma)
        hit = pick_onset(flux, self._history, self._state, self.k, self.delta, self._min_gap)
        if hit and self._i_level is not None and frame.values[self._i_level] < self.gate_db:
            hit = False
        if hit:
            self._count += 1
        v = frame.values
        v[self._i_strength] = flux
        v[self._i_onset] = 1.0 if hit else 0.0
        v[self._i_count] = self._count

    def reset(self):
        self._prev_log[:] = 0.0
        reset_picker_state(self._history, self._state)
        self._count = 0
