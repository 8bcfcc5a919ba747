"""Short-term energy E_t and the energy / tempo z-coefficients (seed eq. 3.1, 3.5, 3.7–3.8)."""
from __future__ import annotations

import numpy as np

from ..dsp.energy import (E_LAST, E_Z, EPS, T_Z, check_band, energy_update, new_energy_state,
                          new_tempo_state, tempo_update)
from ..errors import ParameterError
from .base import Processor


class EnergyContrast(Processor):
    """Fields ``energy`` (E_t of the newest complete segment of ``segment_s`` seconds),
    ``energy_z`` (z_t = E_{t+1}/E_t, held until the next segment; 1 before two segments) and
    ``energy_same`` (1.0 when z is inside ``band``, the "same region" band).

    Reads the hop's samples as they arrive (before pre-emphasis when it is placed first)."""

    def __init__(self, segment_s: float = 0.5, band=(0.6, 1.4)):
        if not segment_s > 0:
            raise ParameterError(f"energy segment_s={segment_s!r} must be positive")
        self.segment_s = float(segment_s)
        self.lo, self.hi = check_band("energy_band", band)

    def prepare(self, spec, layout):
        self.m = max(1, int(round(self.segment_s * spec.sample_rate)))
        self.state = new_energy_state()
        self._i_e = layout.add_scalar("energy")
        self._i_z = layout.add_scalar("energy_z")
        self._i_same = layout.add_scalar("energy_same")

    def process(self, ctx, frame):
        s = self.state
        energy_update(ctx.samples, self.m, s, EPS)
        v = frame.values
        v[self._i_e] = s[E_LAST]
        z = s[E_Z]
        v[self._i_z] = z
        v[self._i_same] = 1.0 if self.lo <= z <= self.hi else 0.0

    def reset(self):
        self.state[:] = new_energy_state()


class TempoContrast(Processor):
    """Fields ``tempo_z`` (γ_{l+1}/γ_l with γ the onset rate of consecutive segments of
    ``segment_s`` seconds, Laplace-smoothed counts; 1 before two segments) and ``tempo_same``
    (1.0 inside ``band``). Must follow the onset stage (reads ``onset``)."""

    def __init__(self, segment_s: float = 4.0, band=(0.8, 1.2)):
        if not segment_s > 0:
            raise ParameterError(f"tempo segment_s={segment_s!r} must be positive")
        self.segment_s = float(segment_s)
        self.lo, self.hi = check_band("tempo_band", band)

    def prepare(self, spec, layout):
        if "onset" not in layout.scalars:
            raise ParameterError("TempoContrast needs the onset stage before it in the chain")
        self.hops = max(1, int(round(self.segment_s * spec.frame_rate)))
        self.state = new_tempo_state()
        self._i_onset = layout.scalars["onset"]
        self._i_z = layout.add_scalar("tempo_z")
        self._i_same = layout.add_scalar("tempo_same")

    def process(self, ctx, frame):
        v = frame.values
        tempo_update(v[self._i_onset], self.hops, self.state)
        z = self.state[T_Z]
        v[self._i_z] = z
        v[self._i_same] = 1.0 if self.lo <= z <= self.hi else 0.0

    def reset(self):
        self.state[:] = new_tempo_state()
