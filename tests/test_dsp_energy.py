"""Short-term energy E_t, energy contrast z_t = E_{t+1}/E_t, tempo contrast, pre-emphasis."""
from __future__ import annotations

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.features.energy import (E_LAST, E_Z, EPS, energy_contrast, energy_update,
                               new_energy_state, new_tempo_state, same_region,
                               segment_energies, tempo_update, T_Z)
from sonolux.features.preemphasis import preemphasis, preemphasis_inplace
from sonolux.errors import ParameterError
from sonolux.spec import StreamSpec

SR = 48000
SPEC = StreamSpec(sample_rate=SR, hop=256, n_fft=1024)


def stepped(levels, seg_s=0.5, rng=None):
    """White noise whose RMS is ``levels[i]`` in segment i (exact per-segment energy)."""
    rng = rng or np.random.default_rng(0)
    m = int(seg_s * SR)
    parts = []
    for a in levels:
        x = rng.standard_normal(m)
        x = x / np.sqrt(np.mean(x * x)) * a if a > 0 else np.zeros(m)
        parts.append(x)
    return np.concatenate(parts)


def test_segment_energy_and_contrast_values():
    levels = [0.1, 0.1, 0.2, 0.2, 0.05, 0.0, 0.0, 0.3]
    y = stepped(levels)
    e = segment_energies(y, segment=SR // 2)
    np.testing.assert_allclose(e, np.square(levels), rtol=1e-9, atol=1e-15)
    z = energy_contrast(e)
    np.testing.assert_allclose(z[:4], [1.0, 4.0, 1.0, 1 / 16], rtol=1e-6)
    assert z[5] == pytest.approx(1.0)  # silence → silence
    assert z[6] > 1e6  # silence → sound: a huge step, finite
    assert same_region(z).tolist() == [True, False, True, False, False, True, False]
    assert same_region(z, band=(0.2, 5.0)).tolist()[:4] == [True, True, True, False]


def test_streaming_energy_kernel_over_odd_hops():
    levels = [0.1, 0.3, 0.3, 0.1]
    y = stepped(levels)
    st = new_energy_state()
    m = SR // 2
    seen = []
    pos = 0
    for h in [1, 255, 7000, 3, 90000, 1]:  # hops that straddle segment edges
        energy_update(y[pos:pos + h], m, st, EPS)
        pos += h
        seen.append((st[E_LAST], st[E_Z]))
    energy_update(y[pos:], m, st, EPS)
    assert st[E_LAST] == pytest.approx(0.01, rel=1e-9)
    assert st[E_Z] == pytest.approx(0.01 / 0.09, rel=1e-6)


def test_energy_fields_in_the_chain():
    levels = [0.1, 0.1, 0.4, 0.4, 0.4, 0.1, 0.1]
    y = stepped(levels).astype(np.float32)
    tab = Analyzer(SPEC, AnalysisConfig(energy_segment_s=0.5)).analyze(y)
    t, e, z, same = tab.t, tab.column("energy"), tab.column("energy_z"), tab.column("energy_same")
    def at(s):
        return int(np.searchsorted(t, s + 1e-9))
    # after segment 2 (t=1.5 s) E = 0.16, z = 16 (rise), not the same region
    i = at(1.52)
    assert e[i] == pytest.approx(0.16, rel=1e-4) and z[i] == pytest.approx(16.0, rel=1e-3)
    assert same[i] == 0.0
    i = at(2.02)
    assert z[i] == pytest.approx(1.0, rel=1e-3) and same[i] == 1.0
    i = at(3.02)  # segment 5 (0.1) after segment 4 (0.4)
    assert z[i] == pytest.approx(1 / 16, rel=1e-3) and e[i] == pytest.approx(0.01, rel=1e-4)
    assert z[at(0.7)] == pytest.approx(1.0)  # before two segments: 1


def test_tempo_contrast_from_onset_rates():
    st = new_tempo_state()
    hops = 10
    # segment 1: 2 onsets, segment 2: 5 onsets, segment 3: 5
    pattern = [[1, 0, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 1, 0, 0, 1, 0, 0],
               [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]]
    zs = []
    for seg in pattern:
        for v in seg:
            done = tempo_update(float(v), hops, st)
        assert done
        zs.append(st[T_Z])
    assert zs == [1.0, pytest.approx(6 / 3), pytest.approx(1.0)]


def test_tempo_z_in_chain_on_click_rate_change():
    # 2 clicks/s for 8 s then 6 clicks/s (the picker needs ~0.13 s of history first): tempo_z jumps above the 0.8-1.2 band
    y = np.zeros(16 * SR, np.float32)
    burst = np.random.default_rng(3).standard_normal(200).astype(np.float32) * 0.5
    for tc in list(np.arange(0.3, 8, 0.5)) + list(np.arange(8.05, 16, 1 / 6)):
        i = int(tc * SR)
        y[i:i + 200] += burst
    tab = Analyzer(SPEC, AnalysisConfig(tempo_segment_s=4.0, beat=False)).analyze(y)
    z = tab.column("tempo_z")
    t = tab.t
    assert z[(t > 8.1) & (t < 11.9)].max() == pytest.approx(1.0)  # 8 vs 8 clicks
    late = (t > 12.1) & (t < 15.9)  # segment [8, 12) vs [4, 8): ~24 vs 8 clicks
    assert z[late].min() > 2.0
    assert tab.column("tempo_same")[late].max() == 0.0
    assert z[-1] == pytest.approx(1.0, abs=0.1)  # [12, 16) vs [8, 12): same rate again


def test_bad_energy_parameters():
    with pytest.raises(ParameterError, match="segment=0"):
        segment_energies(np.zeros(10), segment=0)
    with pytest.raises(ParameterError, match="band"):
        same_region(np.ones(3), band=(1.1, 1.4))


def test_preemphasis_equals_librosa_and_streams(rng):
    librosa = pytest.importorskip("librosa")
    y = rng.standard_normal(5000)
    ref = librosa.effects.preemphasis(y, coef=0.97, zi=0.0)
    np.testing.assert_allclose(preemphasis(y), ref, rtol=1e-12, atol=1e-12)
    x = y.copy()
    last = np.zeros(1)
    for a, b in [(0, 1), (1, 300), (300, 301), (301, 5000)]:
        preemphasis_inplace(x[a:b], 0.97, last)
    np.testing.assert_allclose(x, ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(ParameterError, match="alpha=1.0"):
        preemphasis(y, alpha=1.0)
