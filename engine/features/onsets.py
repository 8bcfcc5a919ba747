"""Onsets: causal spectral flux, an adaptive-threshold peak picker, and the ``FluxOnsets``
processor (whole spectrum and per band: kick / snare / hi-hat).

``mel_flux`` is the default novelty: the half-wave rectified frame-to-frame increase of the
log-mel spectrum (dB, clamped below at ``floor_db`` so noise in silence does not count),
averaged over all mel bands and, at the same time, over each band group (kick / snare /
hi-hat by default) for per-band onsets. ``log_flux`` (log(1 + γ|X|) over FFT bins) is kept
for chains without a mel stage.

The picker only looks at the past: a hop is an onset when its novelty exceeds the recent
mean by ``k`` standard deviations plus ``delta``, rises above the previous hop, and the last
onset is at least ``min_gap`` hops ago. State lives in small arrays the caller owns.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError
from .base import Processor
from .checks import finite, floor_db as check_floor_db
from .mel import mel_centres
from .sums import sum4

# picker state slots
P_POS, P_FILLED, P_LAST_ONSET, P_PREV, P_HOP = 0, 1, 2, 3, 4
PICKER_STATE_SIZE = 5


def new_picker_state(history_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(history, state) arrays for ``pick_onset``."""
    state = np.zeros(PICKER_STATE_SIZE)
    state[P_LAST_ONSET] = -1e9
    return np.zeros(history_len), state


def reset_picker_state(history: np.ndarray, state: np.ndarray) -> None:
    history[:] = 0.0
    state[:] = 0.0
    state[P_LAST_ONSET] = -1e9


@njit(cache=True)
def log_flux(power, prev_log, gamma):
    """Half-wave rectified difference of log(1 + γ·|X|) between this and the previous
    frame, averaged over bins; updates ``prev_log`` in place."""
    acc = 0.0
    n = power.shape[0]
    for k in range(n):
        v = math.log1p(gamma * math.sqrt(power[k]))
        d = v - prev_log[k]
        if d > 0.0:
            acc += d
        prev_log[k] = v
    return acc / n


@njit(cache=True)
def _rise(mel_db, prev_db, m, floor_db):
    """Rise of band ``m`` (clamped below at ``floor_db``) against ``prev_db[m]``, which it
    then replaces."""
    v = mel_db[m]
    if v < floor_db:
        v = floor_db
    d = v - prev_db[m]
    prev_db[m] = v
    return d


@njit(cache=True)
def mel_flux(mel_db, prev_db, floor_db, band_of_mel, band_count, band_flux):
    """Half-wave rectified log-mel flux (dB) of this hop against ``prev_db`` (updated in place).

    Returns the mean over all mel bands; ``band_flux[b]`` gets the mean over the mel bands with
    ``band_of_mel[m] == b`` (``band_count[b]`` of them; -1 = in no group).
    """
    for b in range(band_flux.shape[0]):
        band_flux[b] = 0.0
    acc = 0.0
    n = mel_db.shape[0]
    for m in range(n):
        d = _rise(mel_db, prev_db, m, floor_db)
        if d > 0.0:
            acc += d
            b = band_of_mel[m]
            if b >= 0:
                band_flux[b] += d
    for b in range(band_flux.shape[0]):
        if band_count[b] > 0:
            band_flux[b] /= band_count[b]
    return acc / n


@njit(cache=True)
def pick_onset(novelty, history, state, k, delta, min_gap):
    """Feed one novelty value; return True if this hop is an onset."""
    n = history.shape[0]
    filled = int(state[P_FILLED])
    mean = 0.0
    var = 0.0
    if filled > 0:
        mean = sum4(history, 0, filled, 0.0, False) / filled
        var = sum4(history, 0, filled, mean, True) / filled
    threshold = mean + k * math.sqrt(var) + delta
    hop = state[P_HOP]
    warm = n // 4 if n // 4 < 24 else 24  # ~0.13 s at 187.5 hops/s before the first onset
    is_onset = (filled >= warm and novelty > threshold and novelty > state[P_PREV]
                and hop - state[P_LAST_ONSET] >= min_gap)
    if is_onset:
        state[P_LAST_ONSET] = hop
    pos = int(state[P_POS])
    history[pos] = novelty
    state[P_POS] = (pos + 1) % n
    if filled < n:
        state[P_FILLED] = filled + 1
    state[P_PREV] = novelty
    state[P_HOP] = hop + 1
    return is_onset


@njit(cache=True)
def pick_band_onsets(band_flux, band_hist, band_state, k, delta, min_gap, gated, totals,
                     values, idx):
    """Per-band ``pick_onset``; writes event / cumulative count / strength into ``values`` at
    ``idx[b, 0..2]``. Gated hops never trigger."""
    for b in range(band_flux.shape[0]):
        hit = pick_onset(band_flux[b], band_hist[b], band_state[b], k, delta, min_gap)
        if hit and not gated:
            totals[b] += 1.0
            values[idx[b, 0]] = 1.0
        else:
            values[idx[b, 0]] = 0.0
        values[idx[b, 1]] = totals[b]
        values[idx[b, 2]] = band_flux[b]


@njit(cache=True)
def band_flux_relative(mel_db, prev_db, band_of_mel, band_count, peak_db, decay_db, range_db,
                       floor_db, band_flux):
    """Per-band log-mel flux with a floor that follows each band's own recent peak.

    A band's values are clamped below at ``max(floor_db, peak − range_db)`` where ``peak``
    is the band's loudest mean level, decaying by ``decay_db`` per hop. Leakage of a kick
    into the hi-hat band (or of hats into the kick band) stays under that floor and does not
    count, while the band's own hits do; ``band_flux[b]`` is the mean rectified rise (dB).
    """
    nb = band_flux.shape[0]
    for b in range(nb):
        band_flux[b] = 0.0
    # band mean levels → running peaks
    for b in range(nb):
        acc = 0.0
        for m in range(mel_db.shape[0]):
            if band_of_mel[m] == b:
                acc += mel_db[m]
        mean = acc / band_count[b] if band_count[b] > 0 else floor_db
        p = peak_db[b] - decay_db
        peak_db[b] = mean if mean > p else p
    for m in range(mel_db.shape[0]):
        b = band_of_mel[m]
        if b < 0:
            continue
        fl = peak_db[b] - range_db
        d = _rise(mel_db, prev_db, m, floor_db if fl < floor_db else fl)
        if d > 0.0:
            band_flux[b] += d
    for b in range(nb):
        if band_count[b] > 0:
            band_flux[b] /= band_count[b]


@njit(cache=True)
def onsets_block(n, use_mel, mel_db, power, values, i_level, gate_db, prev_db, floor_db,
                 low_of_mel, low_count, low_flux, prev_log, gamma, history, state, k, delta,
                 min_gap, count, i_strength, i_onset, i_count, prev_band_db, band_of_mel,
                 band_counts, band_peak, band_decay, band_range_db, band_flux, band_hist,
                 band_state, band_k, band_delta, band_min_gap, band_total, i_band, n_bands,
                 flux_out, low_out):
    """``FluxOnsets.process`` over the first ``n`` hops of a block (``i_level`` < 0: no
    level gate); returns the onset count after them."""
    for i in range(n):
        v = values[i]
        gated = i_level >= 0 and v[i_level] < gate_db
        low = 0.0
        if use_mel:
            flux = mel_flux(mel_db[i], prev_db, floor_db, low_of_mel, low_count, low_flux)
            low = low_flux[0]
            if n_bands > 0:
                band_flux_relative(mel_db[i], prev_band_db, band_of_mel, band_counts, band_peak,
                                   band_decay, band_range_db, floor_db, band_flux)
                pick_band_onsets(band_flux, band_hist, band_state, band_k, band_delta,
                                 band_min_gap, gated, band_total, v, i_band)
        else:
            flux = log_flux(power[i], prev_log, gamma)
        flux_out[i] = flux
        low_out[i] = low
        hit = pick_onset(flux, history, state, k, delta, min_gap)
        if hit and gated:
            hit = False
        if hit:
            count += 1
        v[i_strength] = flux
        v[i_onset] = 1.0 if hit else 0.0
        v[i_count] = count
    return count


class FluxOnsets(Processor):
    """Fields: ``onset_strength`` (flux), ``onset`` (1 on an onset hop, else 0),
    ``onset_count`` (cumulative, so a reader that skips frames still sees every onset) and,
    when a mel stage precedes it, per band ``onset_<band>``, ``onset_<band>_count`` and
    ``onset_<band>_strength``.

    Novelty: with a ``MelSpectrum`` stage before it, the mean half-wave rectified increase of
    the log-mel spectrum in dB (clamped below at ``onset_floor_db``); without one, log(1 + γ|X|)
    flux. The flux is computed once per hop and published as ``ctx.onset_flux``, with the
    flux of the mel bands below ``onset_low_hz`` as ``ctx.low_flux`` (the beat tracker's
    novelty is their sum).

    Per band, the flux counts only rises above the band's own recent peak minus
    ``onset_band_range_db`` (so a kick leaking into the hi-hat band does not fire it).

    Parameters (``AnalysisConfig``): ``onset_k`` standard deviations above the recent mean;
    ``onset_delta`` absolute margin (dB for log-mel flux); ``onset_min_gap_s`` minimum time
    between onsets; ``onset_history_s`` threshold memory; ``onset_gate_db``: hops quieter than
    this (``level_db``) never trigger. ``k`` and ``gate_db`` may be changed while running.
    """

    def __init__(self, config):
        c = config
        self.k = finite("onset_k", c.onset_k, minimum=0.0)
        self.delta = finite("onset_delta", c.onset_delta)
        self.min_gap_s = finite("onset_min_gap_s", c.onset_min_gap_s, minimum=0.0)
        self.history_s = finite("onset_history_s", c.onset_history_s, positive=True)
        self.gate_db = finite("onset_gate_db", c.onset_gate_db)
        self.gamma = finite("onset_gamma", c.onset_gamma, positive=True)
        self.floor_db = check_floor_db(c.onset_floor_db, "onset_floor_db")
        self.low_hz = finite("onset_low_hz", c.onset_low_hz, positive=True)
        self.bands = tuple((str(n), float(lo), float(hi)) for n, lo, hi in c.onset_bands)
        for n, lo, hi in self.bands:
            if not (0.0 <= lo < hi and math.isfinite(hi)):
                raise ParameterError(f"onset band {n!r} ({lo}, {hi}) must have 0 <= lo < hi")
        self.band_k = finite("onset_band_k", c.onset_band_k, minimum=0.0)
        self.band_delta = finite("onset_band_delta", c.onset_band_delta)
        self.band_min_gap_s = finite("onset_band_min_gap_s", c.onset_band_min_gap_s, minimum=0.0)
        self.band_range_db = finite("onset_band_range_db", c.onset_band_range_db, positive=True)
        self.band_decay_db_s = finite("onset_band_decay_db_s", c.onset_band_decay_db_s, minimum=0.0)

    def prepare(self, spec, layout, facts):
        self.use_mel = facts.n_mels > 0
        n_hist = max(4, int(round(self.history_s * spec.frame_rate)))
        self._history, self._state = new_picker_state(n_hist)
        self._min_gap = max(1.0, self.min_gap_s * spec.frame_rate)
        self._band_min_gap = max(1.0, self.band_min_gap_s * spec.frame_rate)
        self._i_strength = layout.add_scalar("onset_strength")
        self._i_onset = layout.add_scalar("onset")
        self._i_count = layout.add_scalar("onset_count")
        self._i_level = layout.scalars.get("level_db")
        self._prev_log = np.zeros(spec.n_fft // 2 + 1)
        nb = len(self.bands) if self.use_mel else 0
        self.band_names = [b[0] for b in self.bands][:nb]
        self._band_flux = np.zeros(max(nb, 1))
        self._band_hist = np.zeros((max(nb, 1), n_hist))
        self._band_state = np.zeros((max(nb, 1), self._state.shape[0]))
        self._band_total = np.zeros(max(nb, 1))
        self._i_band = np.zeros((max(nb, 1), 3), dtype=np.int64)
        n_mels = max(facts.n_mels, 1)
        self._prev_db = np.full(n_mels, self.floor_db)
        self._prev_band_db = np.full(n_mels, self.floor_db)
        self._band_peak = np.full(max(nb, 1), self.floor_db)
        self._band_decay = self.band_decay_db_s / spec.frame_rate
        self._band_of_mel = np.full(n_mels, -1, dtype=np.int64)
        self._band_counts = np.zeros(max(nb, 1), dtype=np.int64)
        self._low_of_mel = np.full(n_mels, -1, dtype=np.int64)
        self._low_count = np.zeros(1, dtype=np.int64)
        self._low_flux = np.zeros(1)
        if self.use_mel:
            self._assign_bands(mel_centres(facts.n_mels, facts.mel_fmin, facts.mel_fmax))
            for b, (name, _, _) in enumerate(self.bands):
                self._i_band[b] = (layout.add_scalar(f"onset_{name}"),
                                   layout.add_scalar(f"onset_{name}_count"),
                                   layout.add_scalar(f"onset_{name}_strength"))
        facts.onset_flux = True
        self.reset()

    def _assign_bands(self, centres: np.ndarray) -> None:
        """Map mel bands to the band groups and to the low band (below ``low_hz``)."""
        for b, (name, lo, hi) in enumerate(self.bands):
            sel = (centres >= lo) & (centres < hi)
            if not sel.any():  # at least the nearest mel band
                dist = np.abs(centres - 0.5 * (lo + hi))
                sel = dist == dist.min()
            self._band_of_mel[sel & (self._band_of_mel < 0)] = b
            self._band_counts[b] = int(np.sum(self._band_of_mel == b))
        low = centres < self.low_hz
        if not low.any():
            low[0] = True
        self._low_of_mel[:] = np.where(low, 0, -1)
        self._low_count[0] = int(low.sum())

    def process(self, ctx, frame):
        v = frame.values
        gated = self._i_level is not None and v[self._i_level] < self.gate_db
        if self.use_mel:
            flux = mel_flux(ctx.mel_db, self._prev_db, self.floor_db, self._low_of_mel,
                            self._low_count, self._low_flux)
            ctx.low_flux = self._low_flux[0]
            if self.band_names:
                band_flux_relative(ctx.mel_db, self._prev_band_db, self._band_of_mel,
                                   self._band_counts, self._band_peak, self._band_decay,
                                   self.band_range_db, self.floor_db, self._band_flux)
                pick_band_onsets(self._band_flux, self._band_hist, self._band_state,
                                 self.band_k, self.band_delta, self._band_min_gap, gated,
                                 self._band_total, v, self._i_band)
        else:
            flux = log_flux(ctx.power, self._prev_log, self.gamma)
        ctx.onset_flux = flux
        hit = pick_onset(flux, self._history, self._state, self.k, self.delta, self._min_gap)
        if hit and gated:
            hit = False
        if hit:
            self._count += 1
        v[self._i_strength] = flux
        v[self._i_onset] = 1.0 if hit else 0.0
        v[self._i_count] = self._count

    blockwise = True

    def process_block(self, block):
        self._count = onsets_block(
            block.n, self.use_mel, block.mel_db, block.power, block.values,
            -1 if self._i_level is None else self._i_level, self.gate_db, self._prev_db,
            self.floor_db, self._low_of_mel, self._low_count, self._low_flux, self._prev_log,
            self.gamma, self._history, self._state, self.k, self.delta, self._min_gap,
            self._count, self._i_strength, self._i_onset, self._i_count, self._prev_band_db,
            self._band_of_mel, self._band_counts, self._band_peak, self._band_decay,
            self.band_range_db, self._band_flux, self._band_hist, self._band_state, self.band_k,
            self.band_delta, self._band_min_gap, self._band_total, self._i_band,
            len(self.band_names), block.onset_flux, block.low_flux)

    def reset(self):
        self._prev_log[:] = 0.0
        self._prev_db[:] = self.floor_db
        self._prev_band_db[:] = self.floor_db
        self._band_peak[:] = self.floor_db
        self._low_flux[:] = 0.0
        reset_picker_state(self._history, self._state)
        for b in range(self._band_hist.shape[0]):
            reset_picker_state(self._band_hist[b], self._band_state[b])
        self._band_total[:] = 0.0
        self._count = 0

