"""Mel filterbank, projection and dB against librosa, on synthetic signals."""
from __future__ import annotations

import numpy as np
import pytest

from sonolux.features.mel import (log_mel_frames, mel_band_ranges, mel_filterbank, mel_project,
                            mel_project_sparse, power_to_db)
from sonolux.features.spectrum import stft_power_frames
from sonolux.errors import ParameterError

librosa = pytest.importorskip("librosa")


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (48000, 1024, 64, 0.0, None), (16000, 512, 96, 0.0, 8000.0), (22050, 2048, 128, 30.0, 11000.0),
    (44100, 256, 40, 100.0, 16000.0), (48000, 2048, 64, 0.0, 16000.0)])
def test_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                              htk=False, norm="slaney")
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_project_dense_sparse_and_db(rng):
    fb = mel_filterbank(sample_rate=48000, n_fft=1024, n_mels=64).astype(np.float64)
    p = rng.random(513) ** 4
    a, b = np.zeros(64), np.zeros(64)
    mel_project(p, fb, a)
    starts, stops = mel_band_ranges(fb)
    mel_project_sparse(p, fb, starts, stops, b)
    np.testing.assert_allclose(a, fb @ p, rtol=1e-12)
    np.testing.assert_allclose(b, fb @ p, rtol=1e-12)
    x = np.array([0.0, 1e-12, 1e-10, 1.0, 123.0])
    out = np.zeros(5)
    power_to_db(x, out)
    np.testing.assert_allclose(out, librosa.power_to_db(x, ref=1.0, amin=1e-10, top_db=None))
    power_to_db(x, out, 1e-5)
    assert out[0] == pytest.approx(-50.0)


def _signals(sr, n, rng):
    t = np.arange(n) / sr
    n_fft = 1024
    k = 37
    return {
        "sine_bin_centre": 0.5 * np.sin(2 * np.pi * k * sr / n_fft * t),
        "chirp": 0.5 * librosa.chirp(fmin=50, fmax=sr / 2.2, sr=sr, length=n),
        "clicks": librosa.clicks(times=np.arange(0.05, n / sr, 0.25), sr=sr, length=n),
        "white_noise": 0.3 * rng.standard_normal(n),
        "silence": np.zeros(n),
    }


@pytest.mark.parametrize("name", ["sine_bin_centre", "chirp", "clicks", "white_noise", "silence"])
def test_stft_and_log_mel_equal_librosa(name, rng):
    sr, n_fft, hop, n_mels = 48000, 1024, 256, 64
    y = _signals(sr, sr, rng)[name]
    peak = max(float(np.abs(y).max()), 1e-12)
    # power spectrogram: causal framing == librosa.stft on the left-padded signal
    ours_p = stft_power_frames(y, n_fft=n_fft, hop=hop)
    ref_p = np.abs(librosa.stft(np.pad(y, (n_fft - hop, 0)), n_fft=n_fft, hop_length=hop,
                                center=False)) ** 2
    n = ours_p.shape[0]
    assert ref_p.shape[1] >= n
    ref_p = ref_p[:, :n].T
    # |X|² scales with peak²: compare relative to the signal's peak power
    assert np.abs(ours_p - ref_p).max() <= 1e-4 * max(peak ** 2 * n_fft, 1e-12)
    ours = log_mel_frames(y, sample_rate=sr, n_fft=n_fft, hop=hop, n_mels=n_mels)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(
        y=np.pad(y, (n_fft - hop, 0)), sr=sr, n_fft=n_fft, hop_length=hop, center=False,
        power=2.0, n_mels=n_mels, htk=False, norm="slaney"), ref=1.0, amin=1e-10, top_db=None)
    ref = ref[:, :n].T
    assert ours.shape == (n, n_mels) and ours.dtype == np.float32
    # dB values: 1e-4 dB on peak-normalised log power, except far below the peak where
    # float rounding of tiny powers dominates; compare where the reference is > -100 dB re peak
    top = 10 * np.log10(max(peak ** 2, 1e-10)) + 10 * np.log10(n_fft)
    mask = ref > top - 100.0
    if name == "silence":
        assert np.all(ours == -100.0) and np.all(ref == -100.0)
    else:
        assert np.abs(ours - ref)[mask].max() <= 1e-3
        # and in linear mel power, relative to the peak
        lin_o, lin_r = 10 ** (ours / 10.0), 10 ** (ref / 10.0)
        assert np.abs(lin_o - lin_r).max() <= 1e-4 * lin_r.max()


def test_log_mel_matches_model_contract_setup(rng):
    y = 0.3 * rng.standard_normal(16000)
    ours = log_mel_frames(y, sample_rate=16000, n_fft=512, hop=256, n_mels=96, fmax=8000.0)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(
        y=np.pad(y, (256, 0)), sr=16000, n_fft=512, hop_length=256, center=False,
        n_mels=96, fmax=8000.0), top_db=None)[:, :ours.shape[0]].T
    assert np.abs(ours - ref).max() < 1e-3


@pytest.mark.parametrize("kwargs,match", [
    (dict(sample_rate=48000, n_fft=1000, n_mels=64), "n_fft=1000 must be a power of two"),
    (dict(sample_rate=48000, n_fft=1024, n_mels=0), "n_mels=0"),
    (dict(sample_rate=48000, n_fft=1024, n_mels=64, fmin=5000.0, fmax=4000.0), "fmin=5000.0"),
    (dict(sample_rate=16000, n_fft=512, n_mels=64, fmax=9000.0), "fmax=9000.0"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        mel_filterbank(**kwargs)


def test_bad_hop():
    with pytest.raises(ParameterError, match="hop=0"):
        log_mel_frames(np.zeros(1000), sample_rate=16000, n_fft=512, hop=0, n_mels=64)
    with pytest.raises(ParameterError, match="hop=1024 must not exceed n_fft=512"):
        log_mel_frames(np.zeros(4000), sample_rate=16000, n_fft=512, hop=1024, n_mels=64)
