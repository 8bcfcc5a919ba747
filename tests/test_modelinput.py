"""sonolux.modelinput: the model input contract, offline == streaming, padding, no torch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sonolux import modelinput as mi
from sonolux.errors import ParameterError

SR = 16000


def test_signal(rng, dur=3.5):
    """Sines at bin centres, a chirp and clicks: every kind of detail the features see."""
    t = np.arange(int(SR * dur)) / SR
    y = 0.3 * np.sin(2 * np.pi * (SR / 512 * 20) * t)
    y += 0.2 * np.sin(2 * np.pi * (200 + 1500 * t) * t)
    y[:: SR // 4] += 0.8
    y += 0.01 * rng.standard_normal(len(t))
    return y.astype(np.float32)


test_signal.__test__ = False  # a helper, not a test


def test_contract_numbers():
    c = mi.FEATURE_CONTRACT
    assert (c["sample_rate"], c["n_fft"], c["hop"], c["n_mels"]) == (16000, 512, 256, 96)
    assert c["fmax"] == 8000.0 and c["fmin"] == 0.0
    assert c["tagger_samples"] == c["tagger_frames"] * c["hop"]
    assert c["wavelet"] == "db4" and c["wavelet_level"] == 5


def test_clip_features_shapes_and_librosa(rng):
    librosa = pytest.importorskip("librosa")
    y = test_signal(rng)
    f = mi.clip_features(y)
    n = len(y) // mi.HOP
    assert f["mel"].shape == (n, 96) and f["wavelet"].shape == (n, 6)
    assert f["mel"].dtype == np.float32 and f["wavelet"].dtype == np.float32
    ref = librosa.feature.melspectrogram(y=np.pad(y.astype(np.float64), (512 - 256, 0)), sr=SR,
                                         n_fft=512, hop_length=256, center=False, power=2.0,
                                         n_mels=96, fmax=8000.0)
    ref = librosa.power_to_db(ref, ref=1.0, amin=1e-10, top_db=None).T[:n]
    assert np.max(np.abs(ref - f["mel"])) < 1e-3


def test_wavelet_frames_match_pywt(rng):
    pywt = pytest.importorskip("pywt")
    y = test_signal(rng, 1.0).astype(np.float64)
    f = mi.clip_features(y)["wavelet"]
    win = mi.FEATURE_CONTRACT["wavelet_window"]
    padded = np.concatenate([np.zeros(win), y])
    for i in (0, 3, 17, len(f) - 1):
        end = win + (i + 1) * mi.HOP
        coeffs = pywt.wavedec(padded[end - win:end], "db4", level=5, mode="periodization")
        ref = 10 * np.log10(np.maximum([np.mean(c * c) for c in coeffs], 1e-10))
        assert np.max(np.abs(ref - f[i])) < 1e-3


@pytest.mark.parametrize("sizes", [(0, 1, 255, 256, 257), (1,), (700, 0, 3)])
def test_streaming_equals_offline(rng, sizes):
    y = test_signal(rng)
    off = mi.clip_features(y)
    s = mi.FeatureStream()
    i = k = 0
    while i < len(y):
        b = sizes[k % len(sizes)] if k < 40 else int(rng.integers(0, 900))
        s.push(y[i:i + b])
        i += b
        k += 1
    n = len(off["mel"])
    assert s.n_frames == n
    for kind, frames in (("emotion", 250), ("tagger", 188), ("latent", 64)):
        w = s.window(kind)
        ref_mel = mi.window_at(off["mel"], n, frames, mi.silence_features()["mel"])
        np.testing.assert_array_equal(w["mel"][0], ref_mel)
        assert w["mel"].shape == (1, frames, 96)
        if kind == "emotion":
            ref_wl = mi.window_at(off["wavelet"], n, frames, mi.silence_features()["wavelet"])
            np.testing.assert_array_equal(w["wavelet"][0], ref_wl)
        if kind == "tagger":
            np.testing.assert_array_equal(w["wave"][0], mi.wave_window_at(y, n, 188 * 256))


def test_stream_start_is_silence_padded():
    s = mi.FeatureStream()
    s.push(np.zeros(256 * 10, np.float32))
    w = s.window("emotion")
    assert np.all(w["mel"] == -100.0) and np.all(w["wavelet"] == -100.0)


def test_window_helpers():
    frames = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    fill = np.full(3, -1.0, np.float32)
    w = mi.window_at(frames, 4, 6, fill)
    assert w.shape == (6, 3) and np.all(w[:2] == -1) and np.all(w[2:, 0] == [0, 1, 2, 3])
    np.testing.assert_array_equal(mi.frame_windows(100, window=40, stride=30), [40, 70, 100])
    np.testing.assert_array_equal(mi.frame_windows(10, window=40, stride=30), [10])
    y = np.arange(1, 2000, dtype=np.float32)
    seg = mi.wave_window_at(y, 2, 1000)
    assert len(seg) == 1000 and seg[-1] == 512 and np.all(seg[:488] == 0)


def test_errors_name_the_bad_value():
    with pytest.raises(ParameterError, match="sample_rate=44100"):
        mi.clip_features(np.zeros(1000), sample_rate=44100)
    with pytest.raises(ParameterError, match="mono"):
        mi.clip_features(np.zeros((2, 1000)))
    with pytest.raises(ParameterError, match="kind='x'"):
        mi.FeatureStream().window("x")


def test_engine_does_not_import_torch():
    code = "import sys, sonolux.modelinput; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
