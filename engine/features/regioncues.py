"""The region cues hop by hop: groups hops into blocks, feeds the novelty, energy and mood
cues, fuses them and returns decided cuts. No frames, no layout — the region processor hands
it the hop's log-mel vector, mean power and mood, and publishes what it says.

The boundary every cue looks at lies ``future_s`` behind the newest audio (the kernel
centre); a cut is decided at most ``hold_s`` after that: :attr:`RegionCues.delay_s` states
the decision delay (the time from a change in the music to the cut being published is
between ``future_s`` and ``delay_s``, plus a block).

Example
-------
>>> import numpy as np
>>> cues = RegionCues(n_mels=8, hop_s=0.01)
>>> a, b = np.full(8, -30.0), np.linspace(-60, 0, 8)
>>> cuts = [cues.hop(0.01 * (i + 1), a if i < 2000 else b, 1e-3, None, False) for i in range(3000)]
>>> [round(c, 1) for c in cuts if c == c]   # the timbre changes at 20 s
[20.0]
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from .cues import EnergyCue, MoodCue
from .cutfusion import CUES, CutFusion
from .novelty import FooteNovelty

#: defaults chosen on the development folds (0–1) of the 4Q medleys (benchmarks/segmentation.py)
DEFAULTS = dict(block_s=0.1, past_s=6.0, future_s=2.5, energy_window_s=2.0, hold_s=0.5,
                weights=(1.0, 0.25, 1.0), base_threshold=1.0, min_region_s=8.0)


def check_cues(cues) -> tuple:
    cues = tuple(cues)
    bad = [c for c in cues if c not in CUES]
    if bad:
        raise ParameterError(f"region cues={list(cues)}: unknown {bad}; choose from {list(CUES)}")
    return cues


class RegionCues:
    """Novelty + energy + mood cues and their fusion, fed one hop at a time."""

    def __init__(self, *, n_mels: int, hop_s: float, cues=CUES, sensitivity: float = 0.5,
                 min_region_s: float = DEFAULTS["min_region_s"], block_s: float = DEFAULTS["block_s"],
                 past_s: float = DEFAULTS["past_s"], future_s: float = DEFAULTS["future_s"],
                 energy_window_s: float = DEFAULTS["energy_window_s"], hold_s: float = DEFAULTS["hold_s"],
                 weights=DEFAULTS["weights"], base_threshold: float = DEFAULTS["base_threshold"],
                 energy_band=(0.6, 1.4), mood_window_s: float = 4.0):
        if not hop_s > 0 or not block_s >= hop_s:
            raise ParameterError(f"block_s={block_s} must be at least one hop ({hop_s} s)")
        on = check_cues(cues)
        self.block_hops = max(1, int(round(block_s / hop_s)))
        self.block_s = self.block_hops * hop_s
        past = max(2, int(round(past_s / self.block_s)))
        future = max(2, int(round(future_s / self.block_s)))
        self.future_s = future * self.block_s
        self.novelty = FooteNovelty(n_mels=n_mels, past_blocks=past, future_blocks=future)
        self.energy = EnergyCue(window_blocks=max(1, int(round(energy_window_s / self.block_s))),
                                future_blocks=future, band=energy_band)
        self.mood = MoodCue(past_blocks=past, future_blocks=future, block_s=self.block_s, window_s=mood_window_s)
        w = tuple(wi if name in on else 0.0 for wi, name in zip(weights, CUES))
        self.fusion = CutFusion(weights=w, base_threshold=base_threshold, sensitivity=sensitivity,
                                hold_s=hold_s, min_region_s=min_region_s)
        self.cues = on
        self.delay_s = self.future_s + hold_s + self.block_s
        self._probs = np.zeros(4)
        self.reset()

    def reset(self) -> None:
        self.novelty.reset()
        self.energy.reset()
        self.mood.reset()
        self.fusion.reset()
        self._n = 0
        self._power = 0.0
        self._new_pred = False
        self.boundary_t = math.nan  # the boundary the newest cue values belong to
        self.values = [math.nan, math.nan, math.nan]  # novelty, energy, mood at boundary_t

    def hop(self, t_end: float, mel_db: np.ndarray, power: float, probs, new_prediction: bool) -> float:
        """One hop ending at ``t_end`` s: its log-mel vector, mean power, and — when a new
        prediction arrived with it (``new_prediction``) — the quadrant probabilities (else
        None). Returns the time of a decided cut (a boundary in the past) or NaN."""
        self.novelty.add(mel_db)
        self._power += power
        if new_prediction and probs is not None:
            self._probs[:] = probs
            self._new_pred = True
        self._n += 1
        if self._n < self.block_hops:
            return math.nan
        nov = self.novelty.close()
        en = self.energy.push(self._power / self._n)
        mood = self.mood.push(self._probs, self._new_pred)
        self._n, self._power, self._new_pred = 0, 0.0, False
        self.boundary_t = t_end - self.future_s
        v = self.values
        v[0], v[1], v[2] = nov, en, mood
        return self.fusion.push(self.boundary_t, nov, en, mood)
