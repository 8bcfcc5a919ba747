"""Mallat DWT kernels against pywt.wavedec; sliding-window band energies."""
from __future__ import annotations

import numpy as np
import pytest

from sonolux.features.wavelet import WaveletState, max_level, wavedec, wavelet_energies_frames
from sonolux.errors import ParameterError

pywt = pytest.importorskip("pywt")


def _signal(kind, n, rng):
    t = np.arange(n) / 16000.0
    if kind == "sine":
        return 0.5 * np.sin(2 * np.pi * 16000 / 64 * t)
    if kind == "chirp":
        return 0.5 * np.sin(2 * np.pi * (50 * t + 3000 * t * t))
    if kind == "click":
        x = np.zeros(n); x[n // 3] = 1.0; x[2 * n // 3] = -0.7
        return x
    if kind == "noise":
        return rng.standard_normal(n)
    return np.zeros(n)


@pytest.mark.parametrize("wavelet", ["db4", "haar", "sym5", "db2", "coif2", "bior2.2"])
@pytest.mark.parametrize("mode", ["periodization", "symmetric", "zero", "reflect", "constant"])
@pytest.mark.parametrize("n", [1024, 1000, 333])
def test_wavedec_equals_pywt(wavelet, mode, n, rng):
    level = min(5, pywt.dwt_max_level(n, pywt.Wavelet(wavelet).dec_len))
    for kind in ("sine", "chirp", "click", "noise", "silence"):
        x = _signal(kind, n, rng)
        ours = wavedec(x, wavelet, level=level, mode=mode)
        ref = pywt.wavedec(x, wavelet, mode=mode, level=level)
        assert [len(a) for a in ours] == [len(b) for b in ref]
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, atol=1e-9, rtol=0)


def test_energies_frames_equal_pywt_sliding(rng):
    y = np.concatenate([_signal("chirp", 8000, rng), _signal("noise", 8000, rng) * 0.1])
    hop, window, level = 256, 1024, 5
    ours = wavelet_energies_frames(y, hop=hop, window=window, wavelet="db4", level=level)
    assert ours.shape == (len(y) // hop, level + 1) and ours.dtype == np.float32
    padded = np.concatenate([np.zeros(window), y])
    for i in range(ours.shape[0]):
        end = window + (i + 1) * hop
        coeffs = pywt.wavedec(padded[end - window:end], "db4", mode="periodization", level=level)
        ref = np.array([np.mean(c * c) for c in coeffs])
        np.testing.assert_allclose(ours[i], ref, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("hop,window", [(256, 1024), (512, 256), (100, 777)])
def test_energies_window_vs_hop(hop, window, rng):
    y = rng.standard_normal(5000)
    ours = wavelet_energies_frames(y, hop=hop, window=window, wavelet="haar", level=3)
    padded = np.concatenate([np.zeros(window), y])
    for i in (0, 3, ours.shape[0] - 1):
        end = window + (i + 1) * hop
        ref = [np.mean(c * c) for c in pywt.wavedec(padded[end - window:end], "haar",
                                                     mode="periodization", level=3)]
        np.testing.assert_allclose(ours[i], ref, rtol=1e-5)


def test_band_energy_localises_frequency():
    # a tone at fs/4 lands in cD_1 (fs/4..fs/2) / cD_2 boundary; fs/64 in deep bands
    n = 4096
    t = np.arange(n)
    hi = np.sin(2 * np.pi * 0.35 * t)   # 0.35 fs: cD_1 band
    lo = np.sin(2 * np.pi * 0.01 * t)   # 0.01 fs: cA_5 band (0..fs/64)
    e_hi = wavelet_energies_frames(hi, hop=1024, window=1024, wavelet="db8", level=5)[-1]
    e_lo = wavelet_energies_frames(lo, hop=1024, window=1024, wavelet="db8", level=5)[-1]
    assert np.argmax(e_hi) == 5 and np.argmax(e_lo) == 0


def test_silence_is_zero():
    e = wavelet_energies_frames(np.zeros(4096), hop=256, window=1024)
    assert np.all(e == 0.0)


def test_state_reset_and_streaming(rng):
    y = rng.standard_normal(4096)
    s = WaveletState(1024, "sym4", 4)
    a = np.array([s.push(y[i:i + 256]).copy() for i in range(0, 4096, 256)])
    s.reset()
    b = np.array([s.push(y[i:i + 256]).copy() for i in range(0, 4096, 256)])
    np.testing.assert_array_equal(a, b)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="wavelet='db99x' is unknown"):
        wavelet_energies_frames(np.zeros(2048), hop=256, window=1024, wavelet="db99x")
    with pytest.raises(ParameterError, match="the maximum is 7"):
        wavelet_energies_frames(np.zeros(2048), hop=256, window=1024, wavelet="db4", level=8)
    assert max_level(1024, "db4") == 7
    with pytest.raises(ParameterError, match="mode='wrap' is unknown"):
        wavelet_energies_frames(np.zeros(2048), hop=256, window=1024, mode="wrap")
    with pytest.raises(ParameterError, match="hop=0"):
        wavelet_energies_frames(np.zeros(2048), hop=0, window=1024)
    with pytest.raises(ParameterError, match="window=0"):
        wavelet_energies_frames(np.zeros(2048), hop=256, window=0)


@pytest.mark.parametrize("window,wavelet,level,hop", [
    (1024, "db4", 5, 256), (1024, "sym5", 5, 128), (512, "haar", 3, 64), (2048, "coif2", 6, 512),
    (1024, "db4", 5, 1000)])
def test_sliding_update_is_bit_identical_to_full(window, wavelet, level, hop, rng):
    y = rng.standard_normal(20 * hop)
    a = WaveletState(window, wavelet, level, hop=hop)
    b = WaveletState(window, wavelet, level)
    assert (a.sliding is None) == (hop % (1 << level) != 0)
    for i in range(len(y) // hop):
        x = y[i * hop:(i + 1) * hop]
        np.testing.assert_array_equal(a.push(x), b.push(x))
        np.testing.assert_array_equal(a.plan.coeffs, b.plan.coeffs)
    # a block of another size falls back to a full decomposition, then sliding again
    np.testing.assert_array_equal(a.push(y[:7]), b.push(y[:7]))
    for i in range(3):
        x = y[i * hop:(i + 1) * hop]
        np.testing.assert_array_equal(a.push(x), b.push(x))
    a.reset()
    b.reset()
    np.testing.assert_array_equal(a.push(y[:hop]), b.push(y[:hop]))
