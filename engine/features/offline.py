"""Fused offline feature extraction: the live per-hop kernels in one Numba loop.

``offline_features`` runs, hop by hop, exactly the kernels the live processors call (STFT
``stft_power_hop``, ``mel_db_hop``, ``wavelet_hop``,
``energy_update``, ``mel_flux``, ``pick_onset``) in the same order on the same state, so its
results are identical to the processor chain ``EnergyContrast → Spectrum → MelSpectrum →
WaveletEnergies → FluxOnsets(bands=())`` (tested), without the Python overhead per hop. It is
the fast path for offline analysis and the throughput benchmark.

Note (Numba cache): ``_run`` inlines kernels from other modules, and Numba's on-disk cache is
only invalidated when *this* file changes. After editing a kernel in ``spectrum``/``mel``/
``wavelet``/``energy``/``onsets``, touch this file (or delete ``__pycache__/offline.*.nb*``);
``tests/test_features_streaming.py::test_fused_offline_features_equal_the_chain`` catches a
stale cache.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..spec import StreamSpec
from .config import AnalysisConfig
from .energy import E_LAST, E_Z, EPS, energy_update, new_energy_state
from .mel import MelState, mel_db_hop
from .onsets import mel_flux, new_picker_state, pick_onset
from .spectrum import StftState, stft_power_hop
from .wavelet import WaveletState, wavelet_hop_sliding


@njit(cache=True, nogil=True)
def _run(y, hop, history, window, frame, bitrev, tw_re, tw_im, sp_re, sp_im, z_re, z_im, re,
         im, power, fb, starts, stops, mel_power, mel_db, amin, w_hist, dec_lo, dec_hi, level,
         approx, a_off, coeffs, offsets, dirty, dirty_off, shifts, w_energy, seg, e_state,
         prev_db, floor_db,
         band_of_mel, band_count, band_flux, p_hist, p_state, k, delta, min_gap,
         out_mel, out_wl, out_energy, out_z, out_strength, out_onset):
    n_frames = out_mel.shape[0]
    for i in range(n_frames):
        x = y[i * hop:(i + 1) * hop]
        # EnergyContrast
        energy_update(x, seg, e_state, EPS)
        out_energy[i] = e_state[E_LAST]
        out_z[i] = e_state[E_Z]
        # Spectrum
        stft_power_hop(x, history, window, frame, bitrev, tw_re, tw_im, sp_re, sp_im, z_re,
                       z_im, re, im, power)
        # MelSpectrum
        mel_db_hop(power, fb, starts, stops, mel_power, mel_db, amin)
        for m in range(mel_db.shape[0]):
            out_mel[i, m] = mel_db[m]
        # WaveletEnergies
        wavelet_hop_sliding(w_hist, x, dec_lo, dec_hi, level, approx, a_off, coeffs, offsets,
                            dirty, dirty_off, shifts, i == 0, w_energy)
        for b in range(w_energy.shape[0]):
            out_wl[i, b] = w_energy[b]
        # FluxOnsets (full band)
        flux = mel_flux(mel_db, prev_db, floor_db, band_of_mel, band_count, band_flux)
        hit = pick_onset(flux, p_hist, p_state, k, delta, min_gap)
        out_strength[i] = flux
        out_onset[i] = 1.0 if hit else 0.0


def offline_features(y: np.ndarray, spec: StreamSpec | None = None,
                     config: AnalysisConfig | None = None) -> dict:
    """STFT → mel dB, DWT band energies, energy / z, log-mel flux onsets of a whole signal,
    with the sizes of ``spec`` (default ``StreamSpec()``) and the parameters of ``config``
    (default ``AnalysisConfig()``): the numbers of the live chain's stages.

    Returns a dict of arrays, one row per hop (``len(y) // hop``): ``t`` (end of each hop, s),
    ``mel_db`` (n, n_mels) float32, ``wavelet_energy`` (n, level+1) float32, ``energy``,
    ``energy_z``, ``onset_strength``, ``onset`` (0/1), and ``onset_times``.

    >>> out = offline_features(np.zeros(48000), StreamSpec(sample_rate=48000))
    >>> out["mel_db"].shape
    (187, 64)
    """
    spec = StreamSpec() if spec is None else spec
    c = AnalysisConfig() if config is None else config
    sample_rate, n_fft, hop = spec.sample_rate, spec.n_fft, spec.hop
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono (1-D), got shape {y.shape}")
    n = y.shape[0] // hop
    n_mels = c.n_mels
    stft = StftState(n_fft, hop, c.window)
    mel = MelState(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=c.mel_fmin,
                   fmax=c.mel_fmax_hz(sample_rate), amin=c.mel_amin)
    ws = WaveletState(c.wavelet_window, c.wavelet, c.wavelet_level, c.wavelet_mode, hop=hop)
    if ws.sliding is None:
        raise ParameterError(
            f"offline_features needs mode='periodization' and window={c.wavelet_window} and "
            f"hop={hop} divisible by 2^level={2 ** c.wavelet_level} with hop < window")
    wp = ws.plan
    frame_rate = spec.frame_rate
    p_hist, p_state = new_picker_state(max(4, int(round(c.onset_history_s * frame_rate))))
    out = {
        "mel_db": np.empty((n, n_mels), np.float32),
        "wavelet_energy": np.empty((n, wp.n_bands), np.float32),
        "energy": np.empty(n), "energy_z": np.empty(n),
        "onset_strength": np.empty(n), "onset": np.empty(n),
    }
    _run(y, hop, *stft.kernel_args, *mel.kernel_args, ws.history, wp.dec_lo, wp.dec_hi, wp.level,
         ws.approx, ws.a_off, wp.coeffs,
         wp.offsets, ws.sliding[0], ws.sliding[1], ws.sliding[2], ws.energies,
         float(max(1, int(round(c.energy_segment_s * sample_rate)))), new_energy_state(),
         np.full(n_mels, c.onset_floor_db), float(c.onset_floor_db),
         np.full(n_mels, -1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1),
         p_hist, p_state, float(c.onset_k), float(c.onset_delta),
         max(1.0, c.onset_min_gap_s * frame_rate),
         out["mel_db"], out["wavelet_energy"], out["energy"], out["energy_z"],
         out["onset_strength"], out["onset"])
    out["t"] = (np.arange(n) + 1) * hop / sample_rate
    out["onset_times"] = out["t"][out["onset"] > 0.5]
    return out


__all__ = ["offline_features"]
