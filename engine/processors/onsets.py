"""Spectral-flux onsets (log-mel, half-wave rectified) with a causal adaptive threshold, for
the whole spectrum and per band (kick / snare / hi-hat)."""
from __future__ import annotations

import numpy as np

from ..dsp.mel import hz_to_mel, mel_to_hz
from ..dsp.onset import (band_flux_relative, log_flux, mel_flux, new_picker_state,
                         pick_band_onsets, pick_onset, reset_picker_state)
from ..errors import ParameterError
from .base import Processor

#: (name, lo Hz, hi Hz): mel bands whose centre lies in [lo, hi) belong to the group
DEFAULT_ONSET_BANDS = (("kick", 30.0, 150.0), ("snare", 150.0, 4000.0),
                       ("hihat", 6000.0, 16000.0))


def mel_centres(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequencies (Hz) of the Slaney mel bands of ``mel_filterbank``."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))[1:-1]


class FluxOnsets(Processor):
    """Fields: ``onset_strength`` (flux), ``onset`` (1 on an onset hop, else 0),
    ``onset_count`` (cumulative, so a reader that skips frames still sees every onset) and,
    when a mel stage precedes it, per band ``onset_<band>``, ``onset_<band>_count`` and
    ``onset_<band>_strength``.

    Per band, the flux counts only rises above the band's own recent peak minus
    ``band_range_db`` (so a kick leaking into the hi-hat band does not fire it).

    Novelty: with a ``MelSpectrum`` stage before it, the mean half-wave rectified increase of
    the log-mel spectrum in dB (clamped below at ``floor_db``); without one, log(1 + γ|X|) flux.

    ``k``: standard deviations above the recent mean; ``delta``: absolute margin (novelty
    units: dB for log-mel flux); ``min_gap_s``: minimum time between onsets; ``history_s``:
    threshold memory; ``gate_db``: hops quieter than this (``level_db``) never trigger.
    """

    def __init__(self, k: float = 1.0, delta: float = 0.3, min_gap_s: float = 0.03,
                 history_s: float = 2.0, gate_db: float = -60.0, gamma: float = 100.0,
                 floor_db: float = -80.0, bands=DEFAULT_ONSET_BANDS, band_k: float = 2.0,
                 band_delta: float = 1.0, band_min_gap_s: float = 0.08,
                 band_range_db: float = 20.0, band_decay_db_s: float = 6.0):
        self.k, self.delta, self.min_gap_s = float(k), float(delta), float(min_gap_s)
        self.history_s, self.gate_db, self.gamma = float(history_s), float(gate_db), float(gamma)
        self.floor_db = float(floor_db)
        self.bands = tuple((str(n), float(lo), float(hi)) for n, lo, hi in bands)
        for n, lo, hi in self.bands:
            if not 0.0 <= lo < hi:
                raise ParameterError(f"onset band {n!r} ({lo}, {hi}) must have 0 <= lo < hi")
        self.band_k, self.band_delta = float(band_k), float(band_delta)
        self.band_min_gap_s = float(band_min_gap_s)
        self.band_range_db, self.band_decay_db_s = float(band_range_db), float(band_decay_db_s)
        if self.min_gap_s < 0 or self.band_min_gap_s < 0:
            raise ParameterError(f"onset min_gap_s={min_gap_s!r} must not be negative")

    def prepare(self, spec, layout):
        self.use_mel = "mel_db" in layout.vectors
        n_hist = max(4, int(round(self.history_s * spec.frame_rate)))
        self._history, self._state = new_picker_state(n_hist)
        self._min_gap = max(1.0, self.min_gap_s * spec.frame_rate)
        self._band_min_gap = max(1.0, self.band_min_gap_s * spec.frame_rate)
        self._i_strength = layout.add_scalar("onset_strength")
        self._i_onset = layout.add_scalar("onset")
        self._i_count = layout.add_scalar("onset_count")
        self._i_level = layout.scalars.get("level_db")
        self._count = 0
        self._prev_log = np.zeros(spec.n_fft // 2 + 1)
        nb = len(self.bands) if self.use_mel else 0
        self.band_names = [b[0] for b in self.bands][:nb]
        self._band_flux = np.zeros(max(nb, 1))
        self._band_counts = np.zeros(max(nb, 1), dtype=np.int64)
        self._band_hist = np.zeros((max(nb, 1), n_hist))
        self._band_state = np.zeros((max(nb, 1), self._state.shape[0]))
        self._band_total = np.zeros(max(nb, 1))
        self._i_band = np.zeros((max(nb, 1), 3), dtype=np.int64)
        if self.use_mel:
            n_mels = layout.vectors["mel_db"]
            self._prev_db = np.full(n_mels, self.floor_db)
            self._prev_band_db = np.full(n_mels, self.floor_db)
            self._band_peak = np.full(max(nb, 1), self.floor_db)
            self._band_decay = self.band_decay_db_s / spec.frame_rate
            self._band_of_mel = np.full(n_mels, -1, dtype=np.int64)
            self._mel_stage_fmax = None
            for b, (name, _, _) in enumerate(self.bands):
                self._i_band[b] = (layout.add_scalar(f"onset_{name}"),
                                   layout.add_scalar(f"onset_{name}_count"),
                                   layout.add_scalar(f"onset_{name}_strength"))
        else:
            self._prev_db = np.zeros(1)
            self._prev_band_db = np.zeros(1)
            self._band_peak = np.zeros(1)
            self._band_of_mel = np.zeros(1, dtype=np.int64)
        self._spec = spec
        self._bands_ready = False
        self.reset()

    def _assign_bands(self, ctx):
        """Map mel bands to band groups (needs the mel stage's fmin/fmax: read once)."""
        mel = getattr(ctx, "mel_stage", None)
        fmin, fmax = (mel.fmin, mel.fmax_hz) if mel is not None else (
            0.0, min(self._spec.sample_rate / 2, 16000.0))
        centres = mel_centres(self._prev_db.shape[0], fmin, fmax)
        self._band_of_mel[:] = -1
        for b, (name, lo, hi) in enumerate(self.bands):
            sel = (centres >= lo) & (centres < hi)
            if not sel.any():  # at least the nearest mel band
                sel = np.abs(centres - 0.5 * (lo + hi)) == np.abs(centres - 0.5 * (lo + hi)).min()
            self._band_of_mel[sel & (self._band_of_mel < 0)] = b
            self._band_counts[b] = int(np.sum(self._band_of_mel == b))
        self._bands_ready = True

    def process(self, ctx, frame):
        v = frame.values
        gated = self._i_level is not None and v[self._i_level] < self.gate_db
        if self.use_mel:
            if not self._bands_ready:
                self._assign_bands(ctx)
            flux = mel_flux(ctx.mel_db, self._prev_db, self.floor_db, self._band_of_mel,
                            self._band_counts, self._band_flux)
            if self.band_names:
                band_flux_relative(ctx.mel_db, self._prev_band_db, self._band_of_mel,
                                   self._band_counts, self._band_peak, self._band_decay,
                                   self.band_range_db, self.floor_db, self._band_flux)
                pick_band_onsets(self._band_flux, self._band_hist, self._band_state,
                                 self.band_k, self.band_delta, self._band_min_gap, gated,
                                 self._band_total, v, self._i_band)
        else:
            flux = log_flux(ctx.power, self._prev_log, self.gamma)
        hit = pick_onset(flux, self._history, self._state, self.k, self.delta, self._min_gap)
        if hit and gated:
            hit = False
        if hit:
            self._count += 1
        v[self._i_strength] = flux
        v[self._i_onset] = 1.0 if hit else 0.0
        v[self._i_count] = self._count

    def reset(self):
        self._prev_log[:] = 0.0
        self._prev_db[:] = self.floor_db
        self._prev_band_db[:] = self.floor_db
        self._band_peak[:] = self.floor_db
        reset_picker_state(self._history, self._state)
        for b in range(self._band_hist.shape[0]):
            reset_picker_state(self._band_hist[b], self._band_state[b])
        self._band_total[:] = 0.0
        self._count = 0
