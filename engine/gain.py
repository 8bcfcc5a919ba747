"""Input gain before the analysis: a fixed trim in dB, or automatic gain.

A quiet line input (a mixer's record out at -35 dBFS) leaves meters low and onsets under the
gate; a hot one pins them. :class:`InputGain` scales each hop on the analysis thread, in place,
before the features see it (the callback still only copies). ``auto`` follows the input's
loudness slowly (``tau_s``) towards ``target_db`` within ±``max_db``, and holds still while
the input is below ``floor_db`` so silence is never pumped up into noise.

>>> g = InputGain()          # unity: hops pass untouched
>>> g.set("auto")            # any thread; the analysis thread picks it up on the next hop
>>> g.set(6.0)               # +6 dB
"""
from __future__ import annotations

import math

import numpy as np

from .config import number
from .errors import ParameterError

MAX_DB = 24.0


def parse_gain(value, where: str = "gain", error=ParameterError):
    """``"auto"`` or a number of dB within ±24 (a number, or text like ``"-6"``)."""
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return "auto"
        try:
            value = float(value)
        except ValueError:
            raise error(f"{where}: {value!r} must be a number of dB or 'auto'") from None
    return number(value, f"{where} (dB)", lo=-MAX_DB, hi=MAX_DB, error=error)


class InputGain:
    def __init__(self, gain=0.0, *, target_db: float = -20.0, tau_s: float = 3.0, floor_db: float = -60.0,
                 max_db: float = MAX_DB):
        self.target_db, self.tau_s, self.floor_db, self.max_db = target_db, tau_s, floor_db, max_db
        self.auto = False
        self.factor = 1.0  # the linear gain applied to the last hop
        self._power = None  # the tracked input power (auto)
        self.set(gain)

    def set(self, gain) -> None:
        """``"auto"`` or dB; validated here, applied from the next hop on."""
        g = parse_gain(gain)
        if g == "auto":
            self.auto = True
        else:
            self.auto = False
            self.factor = 10.0 ** (g / 20.0)

    @property
    def db(self) -> float:
        return 20.0 * math.log10(self.factor)

    def apply(self, hop: np.ndarray, hop_s: float) -> None:
        """Scale ``hop`` in place (no allocation)."""
        if self.auto:
            p = float(np.dot(hop, hop)) / hop.shape[0]
            if p > 10.0 ** (self.floor_db / 10.0):  # silence does not move the gain
                a = min(1.0, hop_s / self.tau_s)
                self._power = p if self._power is None else self._power + a * (p - self._power)
                want = self.target_db - 10.0 * math.log10(self._power)
                self.factor = 10.0 ** (max(-self.max_db, min(self.max_db, want)) / 20.0)
        if self.factor != 1.0:
            np.multiply(hop, self.factor, out=hop)
