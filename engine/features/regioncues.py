"""The region cues hop by hop: groups hops into blocks, feeds the novelty, energy, mood and
timbre-contrast cues, fuses them and returns decided cuts. No frames, no layout — the region processor hands
it the hop's log-mel vector, mean power and mood, and publishes what it says.

The boundary every cue looks at lies ``future_s`` behind the newest audio (the kernel
centre); a cut is decided at most ``hold_s`` after that: :attr:`RegionCues.delay_s` states
the decision delay (the time from a change in the music to the cut being published is
between ``future_s`` and ``delay_s``, plus a block). The published cut time is the estimated
time of the change, in the past: with the contrast cue on, the fused peak is re-placed by
:meth:`~sonolux.features.contrast.WindowContrast.localise` (equal windows either side).
A decided cut begins a new region: :meth:`RegionCues.restart` makes the cues' past windows
start there, so the song before a join is not compared with the song after it again.

Example
-------
>>> import numpy as np
>>> from sonolux.analysis import AnalysisConfig
>>> cues = RegionCues(AnalysisConfig(), n_mels=8, hop_s=0.01)
>>> rng = np.random.default_rng(1)
>>> a, b = np.full(8, -30.0), np.linspace(-60, 0, 8)
>>> cuts = [cues.hop(0.01 * (i + 1), (a if i < 2000 else b) + rng.normal(0, 2, 8), 1e-3, None, False)
...         for i in range(3000)]
>>> [round(c, 1) for c in cuts if c == c]   # the timbre changes at 20 s
[20.0]
>>> round(cues.delay_s, 1)   # published at most this long after the change
6.6
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from .cues import EnergyCue, MoodCue
from .checks import finite
from .contrast import WindowContrast
from .cutfusion import CUES, CutFusion, check_sensitivity, threshold_factor
from .novelty import FooteNovelty

def check_cues(cues) -> tuple:
    cues = tuple(cues)
    bad = [c for c in cues if c not in CUES]
    if bad:
        raise ParameterError(f"region cues={list(cues)}: unknown {bad}; choose from {list(CUES)}")
    return cues


class RegionCues:
    """Novelty + energy + mood + contrast cues and their fusion, fed one hop at a time."""

    def __init__(self, config=None, *, n_mels: int, hop_s: float):
        """Reads the ``region_*`` parameters of ``config`` (an :class:`AnalysisConfig`;
        default: the defaults) and ``energy_band``; ``n_mels`` and ``hop_s`` size it."""
        from .config import AnalysisConfig

        c = AnalysisConfig() if config is None else config
        block_s = finite("region_block_s", c.region_block_s, positive=True)
        if not hop_s > 0 or not block_s >= hop_s:
            raise ParameterError(f"region_block_s={block_s} must be at least one hop ({hop_s} s)")
        on = check_cues(c.region_cues)
        self.block_hops = max(1, int(round(block_s / hop_s)))
        self.block_s = self.block_hops * hop_s
        past = max(2, int(round(finite("region_past_s", c.region_past_s, positive=True) / self.block_s)))
        future = max(2, int(round(finite("region_future_s", c.region_future_s, positive=True) / self.block_s)))
        self.future_s = future * self.block_s
        self.past_s = past * self.block_s  # the novelty's and the mood's past window
        self.novelty = FooteNovelty(n_mels=n_mels, past_blocks=past, future_blocks=future)
        self.energy = EnergyCue(window_blocks=max(1, int(round(c.energy_segment_s / self.block_s))),
                                future_blocks=future, band=c.energy_band)
        self.mood = MoodCue(past_blocks=past, future_blocks=future, block_s=self.block_s,
                            window_s=c.region_mood_window_s)
        contrast_past = finite("region_contrast_past_s", c.region_contrast_past_s, positive=True)
        # a past shorter than asked for caps the minimum (region_contrast_past_s=4 judges with 4 s)
        min_past = min(finite("region_contrast_min_past_s", c.region_contrast_min_past_s, positive=True),
                       contrast_past)
        localise = finite("region_localise_s", c.region_localise_s, positive=True)
        radius = finite("region_localise_radius_s", c.region_localise_radius_s, minimum=0.0)
        self.contrast = WindowContrast(
            n_mels=n_mels, past_blocks=max(2, int(round(contrast_past / self.block_s))), future_blocks=future,
            localise_blocks=max(1, int(round(localise / self.block_s))),
            radius_blocks=int(round(radius / self.block_s)),
            min_past_blocks=max(2, int(round(min_past / self.block_s))))
        if len(c.region_weights) != len(CUES):
            raise ParameterError(f"region_weights={list(c.region_weights)} must be {len(CUES)} numbers "
                                 f"({', '.join(CUES)})")
        w = tuple(wi if name in on else 0.0 for wi, name in zip(c.region_weights, CUES))
        hold_s = finite("region_hold_s", c.region_hold_s, minimum=0.0)
        self.fusion = CutFusion(weights=w, base_threshold=c.region_threshold, sensitivity=c.region_sensitivity,
                                hold_s=hold_s, min_region_s=c.region_min_s)
        self.cues = on
        self._weights = tuple(float(x) for x in c.region_weights)
        #: the decision delay: a cut is published at most this long after the change it marks
        #: (plus the localisation's radius when it moves a cut earlier)
        self.delay_s = self.future_s + hold_s + self.block_s
        self._probs = np.zeros(4)
        #: the learned cut judge (:class:`~sonolux.features.cutjudge.LiveJudge`), attached by
        #: the region stage when an emotion model with tags runs; used while ``judge_on``
        self.judge = None
        self.judge_on = False
        self._threshold = float(c.region_threshold)
        #: the operator's sensitivity (0..1): the fixed fusion's threshold, or with the judge on
        #: the judge's probability threshold (:meth:`set_judge`)
        self.sensitivity = check_sensitivity(c.region_sensitivity)
        self._warm_kernels()
        self.reset()

    def attach_judge(self, judge, on: bool) -> None:
        """Give the cues a live judge (or None) and say whether it decides now."""
        self.judge = judge
        self.set_judge(on)

    def set_judge(self, on: bool) -> bool:
        """Judge on: the fusion arms at the judge's low threshold and every decided peak is
        judged; off: the fixed fusion at ``region_threshold``. Returns whether the judge is
        on (False when there is none). Any thread: swaps plain numbers.

        The operator's sensitivity moves what decides: with the judge off, the fusion's
        threshold; with it on, the judge's probability threshold
        (:meth:`~sonolux.features.cutjudge.LiveJudge.set_sensitivity`), while the fusion arms at
        the low threshold the judge's candidates were trained from. Why: on the development
        medleys the judge's probability is the better dial — at a precision near 0.84 it
        keeps more joins than a higher arming threshold does (``benchmarks/segmentation.py``'s
        sensitivity rows report it)."""
        on = bool(on) and self.judge is not None
        self.fusion.set_base_threshold(self.judge.judge.low_threshold if on else self._threshold)
        self.judge_on = on
        self._apply_sensitivity()
        return on

    def _apply_sensitivity(self) -> None:
        if self.judge_on:
            self.fusion.set_sensitivity(0.5)
            self.judge.set_sensitivity(self.sensitivity)
        else:
            self.fusion.set_sensitivity(self.sensitivity)

    def control(self, *, sensitivity: float | None = None, min_region_s: float | None = None,
                cues=None, judge: bool | None = None) -> None:
        """The operator's knobs, live (any thread: each swaps plain numbers the next block
        reads): sensitivity 0..1, minimum region length (s), which cues are on, the learned
        judge on/off (on only where one is attached)."""
        if judge is not None:
            self.set_judge(judge)
        if sensitivity is not None:
            self.sensitivity = check_sensitivity(sensitivity)
            self._apply_sensitivity()
        if min_region_s is not None:
            self.fusion.set_min_region(min_region_s)
        if cues is not None:
            on = check_cues(cues)
            self.fusion.set_weights(*(w if name in on else 0.0 for w, name in zip(self._weights, CUES)))
            self.cues = on

    def _warm_kernels(self) -> None:
        """Run every code path once now (Numba loads its compiled kernels on the first call),
        so the first full ring, seconds into a show, does not allocate; ``reset`` follows."""
        for _ in range(max(self.novelty.ring.shape[0], self.contrast.ring.shape[0])):
            self.novelty.push(self.novelty.acc[:-1])
            self.contrast.push(self.contrast.acc[:-1])
            self.energy.push(1.0)
            self.mood.push(self._probs, True)
        self.contrast.localise(self.contrast.boundary_block)

    def reset(self) -> None:
        self.novelty.reset()
        self.contrast.reset()
        self.energy.reset()
        self.mood.reset()
        self.fusion.reset()
        if self.judge is not None:
            self.judge.reset()
        self.region_start_t = 0.0  # the last decided cut: the cues' past windows begin there
        self.region_start_block = 0  # ... and the first block after it
        self._n = 0
        self._power = 0.0
        self._new_pred = False
        # the boundary the newest cue values belong to, and the values (0 while a cue fills:
        # frames carry finite numbers only)
        self.boundary_t = 0.0
        self.values = [0.0, 0.0, 0.0, 0.0]  # novelty, energy, mood, contrast at boundary_t

    def hop(self, t_end: float, mel_db: np.ndarray, power: float, probs, new_prediction: bool) -> float:
        """One hop ending at ``t_end`` s: its log-mel vector, mean power, and — when a new
        prediction arrived with it (``new_prediction``) — the quadrant probabilities (else
        None). Returns the time of a decided cut (a boundary in the past) or NaN."""
        self.novelty.add(mel_db)
        self.contrast.add(mel_db)
        self._power += power
        if new_prediction and probs is not None:
            self._probs[:] = probs
            self._new_pred = True
        self._n += 1
        if self._n < self.block_hops:
            return math.nan
        nov = self.novelty.close()
        con = self.contrast.close()
        en = self.energy.push(self._power / self._n)
        mood = self.mood.push(self._probs, self._new_pred)
        self._n, self._power, self._new_pred = 0, 0.0, False
        self.boundary_t = t_end - self.future_s
        if self.boundary_t - self.region_start_t < self.past_s:
            nov = mood = math.nan  # their past still holds the region before the last cut
        v = self.values
        v[0] = nov if nov == nov else 0.0
        v[1] = en if en == en else 0.0
        v[2] = mood if mood == mood else 0.0
        v[3] = con if con == con else 0.0
        last_kept = self.fusion.last_cut
        cut = self.fusion.push(self.boundary_t, nov, en, mood, con)
        judge = self.judge
        if judge is not None:
            judge.block(nov, mood, con, self.fusion.score)
            if cut == cut and self.judge_on:
                # the fixed fusion's threshold at the same sensitivity: what decides a candidate
                # the judge cannot judge (no tags in step with the audio, LiveJudge.blind)
                fixed = self._threshold * threshold_factor(self.sensitivity)
                if not judge.keep(cut, self.boundary_t, self.fusion.peak, self.region_start_block,
                                  self.region_start_t, fixed):
                    self.fusion.last_cut = last_kept  # dropped: no restart, the minimum region counts on
                    self.fusion.reject()  # ... and a higher score in the same excursion is a new candidate
                    cut = math.nan
        if cut == cut:
            lag = int(round((self.boundary_t - cut) / self.block_s))
            block = self.contrast.boundary_block - lag
            if self.fusion.w_contrast:
                moved = self.contrast.localise(block)
                cut += (moved - block) * self.block_s
                block = moved
            self.restart(block, cut)
        return cut

    def restart(self, block: int, t: float) -> None:
        """A cut at ``t`` s (absolute block ``block``) begins a new region: the cues' past
        windows restart there, so the region before it (the previous song) is no longer
        compared with what follows — the contrast's long past would otherwise keep firing
        for ``region_contrast_past_s`` after every join. The novelty's and the mood's past
        (``region_past_s``) are not cut short: their values are withheld (counted as 0)
        until their whole past lies after ``t``."""
        self.contrast.restart(block)
        self.region_start_t = t
        self.region_start_block = block

    # ---- bulk runs: RegionStage.process_block adds the hops between block ends itself, in one
    # Numba call (each hop's log-mel vector into ``novelty.acc`` and ``contrast.acc``/``sq``, as
    # ``novelty.add`` and ``contrast.add`` do, and its power into the sum), then hands back the
    # open block's count and sum; the hop that ends a block goes through ``hop``.
    def open_block(self) -> tuple[int, float]:
        """(hops, power sum) of the open block: what ``hop`` added since the last block ended."""
        return self._n, self._power

    def set_open_block(self, hops: int, power: float) -> None:
        """The open block's count and power sum after a bulk run added hops to it."""
        self._n, self._power = int(hops), float(power)
