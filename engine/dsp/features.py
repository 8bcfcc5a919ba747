"""Fused offline feature extraction: the live per-hop kernels in one Numba loop.

``offline_features`` runs, hop by hop, exactly the kernels the live processors call (STFT
``stft_power_hop``, ``mel_db_hop``, ``wavelet_hop``,
``energy_update``, ``mel_flux``, ``pick_onset``) in the same order on the same state, so its
results are identical to the processor chain ``EnergyContrast → Spectrum → MelSpectrum →
WaveletEnergies → FluxOnsets(bands=())`` (tested), without the Python overhead per hop. It is
the fast path for offline analysis and the throughput benchmark.

Note (Numba cache): ``_run`` inlines kernels from other modules, and Numba's on-disk cache is
only invalidated when *this* file changes. After editing a kernel in ``stft``/``fft``/``mel``/
``wavelet``/``energy``/``onset``, touch this file (or delete ``__pycache__/features.*.nb*``);
``tests/test_features_streaming.py::test_fused_offline_features_equal_the_chain`` catches a
stale cache.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .energy import E_LAST, E_Z, EPS, energy_update, new_energy_state
from .mel import MelState, mel_db_hop
from .onset import mel_flux, new_picker_state, pick_onset
from .stft import StftState, stft_power_hop
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


def offline_features(y: np.ndarray, *, sample_rate: int, n_fft: int = 1024, hop: int = 256,
                     window: str = "hann", n_mels: int = 64, fmin: float = 0.0,
                     fmax: float | None = None, wavelet: str = "db4", wavelet_level: int = 5,
                     wavelet_window: int = 1024, wavelet_mode: str = "periodization",
                     energy_segment_s: float = 0.5, onset_k: float = 1.0,
                     onset_delta: float = 0.3, onset_min_gap_s: float = 0.03,
                     onset_history_s: float = 2.0, onset_floor_db: float = -80.0) -> dict:
    """STFT → mel dB, DWT band energies, energy / z, log-mel flux onsets of a whole signal.

    Returns a dict of arrays, one row per hop (``len(y) // hop``): ``t`` (end of each hop, s),
    ``mel_db`` (n, n_mels) float32, ``wavelet_energy`` (n, level+1) float32, ``energy``,
    ``energy_z``, ``onset_strength``, ``onset`` (0/1), and ``onset_times``.
    ``fmax=None`` is min(sample_rate / 2, 16 kHz), as in the live chain.
    """
    from ..errors import ParameterError
    from ..spec import StreamSpec

    spec = StreamSpec(sample_rate=sample_rate, n_fft=n_fft, hop=hop)  # validates sizes
    fmax = min(sample_rate / 2, 16000.0) if fmax is None else fmax
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = y.shape[0] // hop
    stft = StftState(n_fft, hop, window)
    mel = MelState(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ws = WaveletState(wavelet_window, wavelet, wavelet_level, wavelet_mode, hop=hop)
    if ws.sliding is None:
        raise ParameterError(
            f"offline_features needs mode='periodization' and window={wavelet_window} and "
            f"hop={hop} divisible by 2^level={2 ** wavelet_level} with hop < window")
    wp = ws.plan
    frame_rate = spec.frame_rate
    p_hist, p_state = new_picker_state(max(4, int(round(onset_history_s * frame_rate))))
    out = {
        "mel_db": np.empty((n, n_mels), np.float32),
        "wavelet_energy": np.empty((n, wp.n_bands), np.float32),
        "energy": np.empty(n), "energy_z": np.empty(n),
        "onset_strength": np.empty(n), "onset": np.empty(n),
    }
    _run(y, hop, *stft.kernel_args, *mel.kernel_args, ws.history, wp.dec_lo, wp.dec_hi, wp.level,
         ws.approx, ws.a_off, wp.coeffs,
         wp.offsets, ws.sliding[0], ws.sliding[1], ws.sliding[2], ws.energies,
         float(max(1, int(round(energy_segment_s * sample_rate)))), new_energy_state(),
         np.full(n_mels, onset_floor_db), float(onset_floor_db),
         np.full(n_mels, -1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1),
         p_hist, p_state, float(onset_k), float(onset_delta),
         max(1.0, onset_min_gap_s * frame_rate),
         out["mel_db"], out["wavelet_energy"], out["energy"], out["energy_z"],
         out["onset_strength"], out["onset"])
    out["t"] = (np.arange(n) + 1) * hop / sample_rate
    out["onset_times"] = out["t"][out["onset"] > 0.5]
    return out


__all__ = ["offline_features"]
