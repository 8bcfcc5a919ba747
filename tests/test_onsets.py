"""Log-mel flux onsets: timing on clicks, minimum gap, silence, level gate and per-band
(kick / snare / hi-hat) onsets."""
from __future__ import annotations

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.features.onsets import mel_flux
from sonolux.spec import StreamSpec

SR = 48000
SPEC = StreamSpec(sample_rate=SR, hop=256, n_fft=1024)


def clicks(times, dur, amp=0.5, seed=0):
    burst = np.random.default_rng(seed).standard_normal(200) * np.exp(-np.arange(200) / 40)
    y = np.zeros(int(dur * SR), np.float32)
    for t in times:
        i = int(round(t * SR))
        y[i:i + 200] += amp * burst
    return y


def kick(n=6000):
    k = np.arange(n)
    f = 50 + 60 * np.exp(-k / 800)  # pitch drop 110 → 50 Hz
    fade = np.minimum(1.0, k / 48.0)  # 1 ms attack, decays to -70 dB by the end
    return 0.8 * np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-k / 700) * fade


def hat(rng, n=2000):
    x = rng.standard_normal(n)
    x = np.diff(np.diff(np.diff(x, prepend=0), prepend=0), prepend=0)  # strong high-pass
    return 0.1 * x / np.abs(x).max() * np.exp(-np.arange(n) / 250)


def test_mel_flux_kernel_half_wave_and_bands():
    prev = np.full(4, -80.0)
    cur = np.array([-80.0, -60.0, -100.0, -50.0])
    band_of = np.array([0, 0, 1, -1])
    counts = np.array([2, 1])
    bf = np.zeros(2)
    total = mel_flux(cur, prev, -80.0, band_of, counts, bf)
    assert total == pytest.approx((0 + 20 + 0 + 30) / 4)
    assert bf.tolist() == [10.0, 0.0]
    np.testing.assert_array_equal(prev, [-80.0, -60.0, -80.0, -50.0])
    total = mel_flux(np.full(4, -90.0), prev, -80.0, band_of, counts, bf)  # decreases: 0
    assert total == 0.0 and bf.tolist() == [0.0, 0.0]


def test_click_onsets_are_on_time():
    times = np.arange(0.3, 5.0, 0.37)
    tab = Analyzer(SPEC).analyze(clicks(times, 5.2))
    est = tab.event_times("onset")
    assert len(est) == len(times)
    # causal: reported at the end of the first hop that holds the click (0..2 hops later)
    d = est - times
    assert np.all(d >= 0) and np.all(d <= 2 * 256 / SR + 1e-9)
    assert tab.column("onset_count")[-1] == len(times)


def test_min_gap_merges_fast_repeats():
    times = np.sort(np.concatenate([np.arange(0.3, 3, 0.5), np.arange(0.3, 3, 0.5) + 0.02]))
    y = clicks(times, 3.2)
    tab = Analyzer(SPEC, AnalysisConfig(onset_min_gap_s=0.05)).analyze(y)
    assert len(tab.event_times("onset")) == len(times) // 2
    tab = Analyzer(SPEC, AnalysisConfig(onset_min_gap_s=0.6)).analyze(y)
    assert len(tab.event_times("onset")) <= len(times) // 2 - 2


def test_silence_and_quiet_noise_give_no_onsets(rng):
    tab = Analyzer(SPEC).analyze(np.zeros(3 * SR, np.float32))
    assert tab.column("onset").sum() == 0 and tab.column("onset_strength").max() == 0.0
    quiet = (1e-4 * rng.standard_normal(3 * SR)).astype(np.float32)  # -80 dBFS: below the gate
    tab = Analyzer(SPEC).analyze(quiet)
    assert tab.column("onset").sum() == 0
    assert tab.column("onset_kick").sum() == 0 and tab.column("onset_hihat").sum() == 0


def test_per_band_onsets_kick_vs_hihat(rng):
    dur = 6.0
    y = np.zeros(int(dur * SR))
    kicks = np.arange(0.4, 5.5, 0.5)
    hats = kicks + 0.25
    for t in kicks:
        i = int(t * SR)
        y[i:i + 6000] += kick()
    for t in hats:
        i = int(t * SR)
        y[i:i + 2000] += hat(rng)
    tab = Analyzer(SPEC).analyze(y.astype(np.float32))

    def near(est, ref, tol=0.03):
        return sum(np.any(np.abs(est - r) <= tol) for r in ref)

    k = tab.event_times("onset_kick")
    h = tab.event_times("onset_hihat")
    assert near(k, kicks) >= len(kicks) - 1 and near(k, hats) <= 1
    # (the first kick may leak into the hi-hat band before the band has heard a hat)
    assert near(h, hats) >= len(hats) - 1 and near(h, kicks[1:]) <= 1
    assert len(h) <= len(hats) + 2 and len(k) <= len(kicks) + 2
    assert tab.column("onset_kick_count")[-1] == tab.column("onset_kick").sum()
    assert tab.column("onset_hihat_count")[-1] == tab.column("onset_hihat").sum()
    # the full-band detector sees both
    assert near(tab.event_times("onset"), np.concatenate([kicks, hats])) >= 2 * len(kicks) - 2


def test_snare_band_fires_on_midrange_hits(rng):
    y = np.zeros(4 * SR)
    hits = np.arange(0.5, 3.6, 0.6)
    n = 4000
    k = np.arange(n)
    for t in hits:
        i = int(t * SR)
        body = np.sin(2 * np.pi * 200 * k / SR) * np.exp(-k / 800)
        noise = rng.standard_normal(n) * np.exp(-k / 600)
        y[i:i + n] += 0.4 * body + 0.2 * noise
    tab = Analyzer(SPEC).analyze(y.astype(np.float32))
    s = tab.event_times("onset_snare")
    assert sum(np.any(np.abs(s - h) <= 0.03) for h in hits) >= len(hits) - 1
