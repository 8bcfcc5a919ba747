"""Level meter and band levels on synthetic signals (offline, exact expectations)."""
import numpy as np
import pytest

from conftest import sine
from sonolux import AnalysisConfig, Analyzer, StreamSpec
from sonolux.features.bands import bands_from_edges

SPEC = StreamSpec()


def steady(table, name):
    return float(np.median(table.column(name)[20:]))


@pytest.mark.parametrize("amp", [1.0, 0.5, 0.1, 0.01])
def test_sine_rms_and_peak_dbfs(amp):
    t = Analyzer(SPEC).analyze(sine(1000, 48000, 1.0, amp))
    assert steady(t, "level_db") == pytest.approx(20 * np.log10(amp / np.sqrt(2)), abs=0.05)
    assert steady(t, "peak_db") == pytest.approx(20 * np.log10(amp), abs=0.05)


def test_unit_scale_spans_floor_to_zero():
    t = Analyzer(SPEC, AnalysisConfig(floor_db=-60)).analyze(sine(1000, 48000, 1.0, 0.1 * np.sqrt(2)))
    # -20 dBFS RMS on a -60..0 scale
    assert steady(t, "level") == pytest.approx(2 / 3, abs=0.01)


def test_silence_is_zero_and_finite():
    t = Analyzer(SPEC).analyze(np.zeros(48000, dtype=np.float32))
    assert np.all(t.column("level") == 0) and np.all(np.isfinite(t.values))
    assert t.column("onset_count")[-1] == 0


@pytest.mark.parametrize("freq,band", [(60, "bass"), (440, "mid"), (2000, "mid"), (9000, "high")])
def test_dominant_band(freq, band):
    t = Analyzer(SPEC).analyze(sine(freq, 48000, 1.0, 0.5))
    levels = {b: steady(t, f"band_{b}_db") for b in ("bass", "mid", "high")}
    assert max(levels, key=levels.get) == band
    # band energy of a pure tone ≈ the tone's mean square
    assert levels[band] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.5)


def test_band_edges_are_configurable():
    cfg = AnalysisConfig(bands=bands_from_edges([100, 1000]))
    t = Analyzer(SPEC, cfg).analyze(sine(440, 48000, 1.0))
    assert steady(t, "band_mid") > steady(t, "band_bass")
    t = Analyzer(SPEC, AnalysisConfig(bands=bands_from_edges([500, 1000]))).analyze(sine(440, 48000, 1.0))
    assert steady(t, "band_bass") > steady(t, "band_mid")


def test_clicks_give_one_onset_each():
    from sonolux.sources.synth import click_track

    t = Analyzer(SPEC).analyze(click_track(48000, 120, 6.0))
    times = t.event_times("onset")
    assert 11 <= len(times) <= 12, times  # the very first click may fall in the warm-up
    assert np.all(np.abs(times - np.round(times * 2) / 2) < 0.03)  # on the beat grid
