"""Placing a region cut at a gradual join (a crossfade): the middle of the fitted ramp, while
a hard join keeps the sharpest step (RegionStage.place_fade, regions.fade_cut)."""
import numpy as np
import pytest

from sonolux import StreamSpec
from sonolux.analysis import AnalysisConfig
from sonolux.features.regions import FADE_GAP_S, FADE_MAX_S, FADE_WINDOW_S, HARD_STEP_RATIO, fade_cut

from test_region_cues import frames_of, run_region_stage

SPEC = StreamSpec()
SR = SPEC.sample_rate


def crossfaded_textures(rng, fade_s, first_s=14.0, second_s=10.0):
    """Dark noise, then bright noise at the same loudness, crossfaded linearly over ``fade_s``:
    (signal, the fade's middle in s)."""
    a = np.convolve(rng.standard_normal(int(first_s * SR)), np.ones(8) / 8, mode="same")
    b = np.diff(rng.standard_normal(int(second_s * SR) + 1))
    a *= 0.1 / a.std()
    b *= 0.1 / b.std()
    n = int(fade_s * SR)
    if n == 0:
        return np.concatenate([a, b]).astype(np.float32), first_s
    ramp = np.linspace(0.0, 1.0, n)
    y = np.concatenate([a[:-n], a[-n:] * (1 - ramp) + b[:n] * ramp, b[n:]])
    return y.astype(np.float32), (len(a) - n / 2) / SR


def _ring(times, rows):
    """A region stage's mel ring holding ``rows`` at hop starts ``times``, in time order."""
    level_t = np.asarray(times, dtype=float)
    return level_t, np.asarray(rows, dtype=float), len(level_t)


def _fade(level_t, mel, pos, t, t_step, radius=1.0, after=None):
    n = level_t.shape[0]
    hop_s = level_t[1] - level_t[0]
    after = radius if after is None else after
    return fade_cut(level_t, mel, pos, t, t_step, np.array([hop_s, 0.0]), radius, after, FADE_GAP_S, FADE_WINDOW_S,
                    FADE_MAX_S, 0.25, HARD_STEP_RATIO, int(0.5 * FADE_WINDOW_S / hop_s), 9, 4,
                    np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros((4, n)), np.zeros((4, mel.shape[1])))


def test_fade_cut_finds_the_middle_of_a_ramp_and_keeps_a_step(rng):
    hop_s = SPEC.hop_seconds
    t = np.arange(int(12.0 / hop_s)) * hop_s
    a, b = np.zeros(16), np.linspace(-10, 10, 16)
    middle, fade = 6.2, 1.6
    r = np.clip((t + hop_s - middle) / fade + 0.5, 0.0, 1.0)[:, None]  # a hop's row is centred at its end
    mel = (1 - r) * a + r * b + rng.normal(0, 1, (len(t), 16))
    # the cue cut late (as its unequal windows do) and the sharpest step at the fade's end
    placed = _fade(*_ring(t, mel), t=6.6, t_step=6.95)
    assert abs(placed - middle) < 0.1
    step = np.where(t + hop_s < middle, 0.0, 1.0)[:, None]
    mel = (1 - step) * a + step * b + rng.normal(0, 1, (len(t), 16))
    assert _fade(*_ring(t, mel), t=6.4, t_step=6.201) == 6.201  # a hard join keeps its step


def test_fade_cut_without_enough_history_keeps_the_step():
    hop_s = SPEC.hop_seconds
    t = np.arange(int(3.0 / hop_s)) * hop_s  # less than FADE_GAP_S + FADE_WINDOW_S either side
    mel = np.zeros((len(t), 8))
    assert _fade(*_ring(t, mel), t=1.5, t_step=1.45) == 1.45
    assert _fade(*_ring(np.arange(2000) * hop_s, np.zeros((2000, 8))), t=5.0, t_step=5.1) == 5.1  # no change


@pytest.mark.parametrize("fade_s", [1.2, 1.8])
def test_a_crossfade_is_cut_nearer_its_middle_than_its_sharpest_step(rng, fade_s):
    """The sharpest step of a dark-to-bright crossfade lies at its end (the dark noise's low
    bands fall there, in dB): the step alone misses the ±0.5 s tolerance around the middle;
    the fitted ramp lands within it (late by the same asymmetry, less)."""
    y, middle = crossfaded_textures(rng, fade_s)
    table = frames_of(y)
    hand_rule = {"region_place_choice": False}  # the learned choice among candidates: test_place_choice.py
    placed, _ = run_region_stage(table, region_cues=("contrast", "novelty"), **hand_rule)
    stepped, _ = run_region_stage(table, region_cues=("contrast", "novelty"), region_fade_radius_s=0.0, **hand_rule)
    assert len(placed) == len(stepped) == 2, (placed, stepped)
    error, step_error = abs(placed[1]["start"] - middle), abs(stepped[1]["start"] - middle)
    assert error < 0.5 < step_error, (placed[1]["start"], stepped[1]["start"], middle)


def test_a_hard_join_stays_on_its_step(rng):
    y, join = crossfaded_textures(rng, 0.0)
    regions, _ = run_region_stage(frames_of(y), region_cues=("contrast", "novelty"))
    assert len(regions) == 2, regions
    assert abs(regions[1]["start"] - join) < 0.03
    assert AnalysisConfig().region_fade_radius_s > 0  # the placement is on by default


def test_fade_cut_allocates_nothing(rng):
    """The placement runs on the analysis thread when a cut is decided: the whole ramp fit
    works in the stage's buffers (Numba's allocator counts no new array)."""
    from conftest import numba_allocations

    hop_s = SPEC.hop_seconds
    t = np.arange(int(12.0 / hop_s)) * hop_s
    r = np.clip((t - 6.2) / 1.6 + 0.5, 0.0, 1.0)[:, None]
    mel = (1 - r) * np.zeros(16) + r * np.linspace(-10, 10, 16) + rng.normal(0, 1, (len(t), 16))
    n = len(t)
    buffers = (np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros((4, n)), np.zeros((4, 16)))
    args = (t, mel, n, 6.6, 6.95, np.array([hop_s, 0.0]), 1.0, 0.5, FADE_GAP_S, FADE_WINDOW_S, FADE_MAX_S, 0.25,
            HARD_STEP_RATIO, int(0.5 * FADE_WINDOW_S / hop_s), 9, 4, *buffers)
    calling, passing = numba_allocations(fade_cut, *args)
    assert calling == passing == 7
    assert abs(fade_cut(*args) - 6.2) < 0.1  # the ramp path ran (not an early return)


def test_the_ramp_window_reaching_less_after_a_late_cue_fits_the_fade_not_its_end(rng):
    """A crossfade whose cue peak came late (0.7 s after the middle of a 2 s fade) and whose
    new song swells after the fade (the log-mel keeps moving toward it for 1.5 s more): the
    window 1 s either side of the cue fits its ramp to the fade's end and the swell (its
    middle more than 0.5 s late); from 1 s before to 0.5 s after the cue (the defaults) it
    fits the fade."""
    hop_s = SPEC.hop_seconds
    t = np.arange(int(14.0 / hop_s)) * hop_s
    middle, fade = 6.0, 2.0
    r = np.clip((t + hop_s - middle) / fade + 0.5, 0.0, 1.0)
    swell = np.clip((t + hop_s - (middle + fade / 2)) / 1.5, 0.0, 1.0)  # the new song still rising
    pos = 0.75 * r + 0.25 * swell
    a, b = np.zeros(16), np.linspace(-10, 10, 16)
    mel = (1 - pos)[:, None] * a + pos[:, None] * b + rng.normal(0, 0.5, (len(t), 16))
    wide = _fade(*_ring(t, mel), t=6.7, t_step=7.0, radius=1.0, after=1.0)
    narrow = _fade(*_ring(t, mel), t=6.7, t_step=7.0, radius=1.0, after=0.5)
    assert abs(narrow - middle) < 0.5 < abs(wide - middle), (narrow, wide)


def test_the_ramp_window_defaults_and_bad_values():
    from sonolux.errors import ParameterError
    from sonolux.features.regions import RegionStage
    from sonolux.segment import Segmenter

    config = AnalysisConfig()
    assert (config.region_fade_radius_s, config.region_fade_after_s) == (1.0, 0.5)
    for key, value in (("region_fade_after_s", -0.1), ("region_fade_after_s", float("nan")),
                       ("region_fade_after_s", "x")):
        with pytest.raises(ParameterError, match=key):
            RegionStage(Segmenter(), AnalysisConfig(**{key: value}))
