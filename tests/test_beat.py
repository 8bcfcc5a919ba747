"""Live beat tracker: locking to click tracks, following a tempo change, tap tempo, BPM range
changes from another thread, octave handling, silence and bad parameters."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.features.beat import BeatState, BeatTracker, check_bpm_range
from sonolux.errors import ParameterError
from sonolux.spec import StreamSpec

SR = 48000
SPEC = StreamSpec(sample_rate=SR, hop=256, n_fft=1024)


def click_track(beat_times, dur, sr=SR, seed=0, accent_every=0, subdivide=False):
    """Short noise bursts at ``beat_times`` (optionally quieter off-beat clicks)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(dur * sr), np.float32)
    burst = (rng.standard_normal(240) * np.exp(-np.arange(240) / 40.0)).astype(np.float32)
    for i, t in enumerate(beat_times):
        k = int(round(t * sr))
        if k + 240 <= len(y):
            amp = 0.8 if accent_every and i % accent_every == 0 else 0.5
            y[k:k + 240] += amp * burst
    if subdivide:
        bt = np.asarray(beat_times)
        for t in (bt[:-1] + bt[1:]) / 2:
            k = int(round(t * SR))
            if k + 240 <= len(y):
                y[k:k + 240] += 0.2 * burst
    return y


def beats_at(bpm, start, end):
    return np.arange(start, end, 60.0 / bpm)


def matched_fraction(est, ref, window=0.07):
    """Fraction of reference beats with an estimated beat within ``window`` s, and of
    estimated beats with a reference within ``window`` (recall, precision)."""
    if len(ref) == 0 or len(est) == 0:
        return 0.0, 0.0
    d_ref = np.min(np.abs(ref[:, None] - est[None, :]), axis=1)
    d_est = np.min(np.abs(est[:, None] - ref[None, :]), axis=1)
    return float(np.mean(d_ref <= window)), float(np.mean(d_est <= window))


def run(y, config=None):
    a = Analyzer(SPEC, config or AnalysisConfig())
    return a, a.analyze(y)


def test_locks_to_120_bpm_within_4s():
    ref = beats_at(120, 0.25, 16)
    _, tab = run(click_track(ref, 16))
    t, bpm = tab.t, tab.column("bpm")
    after = t >= 4.0
    assert np.all(np.abs(bpm[after] - 120.0) <= 0.04 * 120.0)
    est = tab.event_times("beat")
    rec, prec = matched_fraction(est[est >= 4.0], ref[(ref >= 4.0) & (ref < 15.9)])
    assert rec >= 0.95 and prec >= 0.95
    # beat phase is 0 at beats and rises toward 1 in between
    ph = tab.column("beat_phase")[after]
    assert ph.min() >= 0.0 and ph.max() < 1.0 and ph.max() > 0.9
    assert tab.column("bpm_confidence")[t >= 6].min() > 0.3
    assert np.all(np.diff(tab.column("beat_count")) >= 0)
    assert tab.column("beat_count")[-1] == tab.column("beat").sum()


def test_follows_tempo_change_120_to_140_within_6s():
    change = 12.0
    ref = np.concatenate([beats_at(120, 0.25, change), beats_at(140, change, 26)])
    _, tab = run(click_track(ref, 26))
    t, bpm = tab.t, tab.column("bpm")
    assert np.all(np.abs(bpm[(t >= 4) & (t < change)] - 120) <= 4.8)
    relocked = t >= change + 6.0
    assert np.all(np.abs(bpm[relocked] - 140) <= 0.04 * 140)
    est = tab.event_times("beat")
    sel_ref = ref[(ref >= change + 6.0) & (ref < 25.9)]
    rec, prec = matched_fraction(est[est >= change + 6.0], sel_ref)
    assert rec >= 0.9 and prec >= 0.9


def test_subdivisions_do_not_double_the_tempo():
    # strong quarter notes at 100 BPM with weak eighth notes in between: stay at 100
    ref = beats_at(100, 0.3, 16)
    _, tab = run(click_track(ref, 16, accent_every=4, subdivide=True))
    bpm = tab.column("bpm")[tab.t >= 6]
    assert np.median(bpm) == pytest.approx(100, rel=0.04)


def test_bpm_range_resolves_octave():
    # 60 BPM clicks; with range 70-180 the tracker must report 120 (double), with 40-90 60.
    ref = beats_at(60, 0.3, 20)
    y = click_track(ref, 20)
    _, tab = run(y, AnalysisConfig(bpm_range=(70, 180)))
    assert np.median(tab.column("bpm")[tab.t >= 8]) == pytest.approx(120, rel=0.04)
    _, tab = run(y, AnalysisConfig(bpm_range=(40, 90)))
    assert np.median(tab.column("bpm")[tab.t >= 8]) == pytest.approx(60, rel=0.04)


def test_silence_gives_no_beats():
    _, tab = run(np.zeros(SR * 6, np.float32))
    assert tab.column("beat").sum() == 0
    assert np.all(tab.column("bpm_confidence") == 0.0)


def test_tap_tempo_locks_without_audio_onsets():
    # quiet noise (no beats in the audio): taps at 128 BPM set tempo and phase
    rng = np.random.default_rng(1)
    y = (0.01 * rng.standard_normal(SR * 10)).astype(np.float32)
    a = Analyzer(SPEC)
    frame = a.layout.new_frame()
    hop = SPEC.hop
    period = 60.0 / 128
    taps = 2.0 + period * np.arange(4)
    beats = []
    i_beat = a.layout.scalars["beat"]
    ti = 0
    for i in range(len(y) // hop):
        t_now = (i + 1) * hop / SR
        while ti < len(taps) and taps[ti] <= t_now:
            a.tap(taps[ti])  # as the OSC control thread would
            ti += 1
        a.process_hop(y[i * hop:(i + 1) * hop], frame)
        if frame.values[i_beat] > 0.5:
            beats.append(frame.t)
    assert frame["bpm"] == pytest.approx(128, rel=0.01)
    beats = np.array(beats)
    later = beats[(beats > taps[-1] + 0.1) & (beats < 9.9)]
    expected = taps[-1] + period * np.arange(1, 20)
    expected = expected[expected < 9.9]
    rec, prec = matched_fraction(later, expected, window=0.02)
    assert rec >= 0.95 and prec >= 0.95


def test_tap_from_another_thread():
    # the control thread taps 100 BPM while the analysis runs on a 120 BPM click track
    a = Analyzer(SPEC)
    frame = a.layout.new_frame()
    y = click_track(beats_at(120, 0.25, 10), 10)
    taps = 4.0 + 0.6 * np.arange(5)
    posted = []
    done = threading.Event()

    def tapper():
        for t in taps:
            while a.sample_pos / SR < t and not done.is_set():
                done.wait(0.0005)
            a.tap(float(t))
            posted.append(t)

    th = threading.Thread(target=tapper)
    th.start()
    try:
        for i in range(len(y) // 256):
            a.process_hop(y[i * 256:(i + 1) * 256], frame)
            due = int(np.sum(taps <= a.sample_pos / SR))
            for _ in range(2000):  # give the control thread its turn (no timing assumptions)
                if len(posted) >= due:
                    break
                done.wait(0.0005)
    finally:
        done.set()
        th.join()
    assert len(posted) == len(taps)
    assert frame["bpm"] == pytest.approx(100, rel=0.06)


def test_tap_default_time_is_now():
    rng = np.random.default_rng(2)
    y = (0.01 * rng.standard_normal(SR * 6)).astype(np.float32)
    a = Analyzer(SPEC)
    frame = a.layout.new_frame()
    every = int(round(0.5 * SR / 256))  # a tap every 0.5 s -> 120 BPM (to a hop)
    for i in range(len(y) // 256):
        a.process_hop(y[i * 256:(i + 1) * 256], frame)
        if i >= 400 and (i - 400) % every == 0 and i < 400 + 4 * every + 1:
            a.tap()
    assert frame["bpm"] == pytest.approx(60 / (every * 256 / SR), rel=0.01)
    # three spaced taps then a pause > 2 s then a single tap: the old sequence is dropped
    a.tap(100.0)
    a.process_hop(y[:256], frame)
    assert frame["bpm"] == pytest.approx(60 / (every * 256 / SR), rel=0.01)


def test_tap_overrides_audio_tempo_and_expires():
    ref = beats_at(120, 0.25, 14)
    y = click_track(ref, 14)
    cfg = AnalysisConfig(tap_hold_s=30.0)
    a = Analyzer(SPEC, cfg)
    frame = a.layout.new_frame()
    for i in range(len(y) // 256):
        if i == int(6.0 * SR / 256):
            for k in range(4):  # tap at 90 BPM on the audio's downbeats
                a.tap(6.0 - (3 - k) * 60.0 / 90)
        a.process_hop(y[i * 256:(i + 1) * 256], frame)
    assert frame["bpm"] == pytest.approx(90, rel=0.06)


def test_set_bpm_range_at_runtime():
    ref = beats_at(160, 0.25, 16)
    y = click_track(ref, 16)
    a = Analyzer(SPEC, AnalysisConfig(bpm_range=(70, 180)))
    frame = a.layout.new_frame()
    for i in range(len(y) // 256):
        if i == int(6 * SR / 256):
            a.set_bpm_range(50, 100)  # now 160 BPM must read as 80
        a.process_hop(y[i * 256:(i + 1) * 256], frame)
    assert frame["bpm"] == pytest.approx(80, rel=0.04)
    with pytest.raises(ParameterError, match=r"bpm range \(100, 90\)"):
        a.set_bpm_range(100, 90)


def test_streaming_equals_offline_beats():
    y = click_track(beats_at(128, 0.1, 10), 10)
    a1, tab = run(y)
    a2 = Analyzer(SPEC)
    frame = a2.layout.new_frame()
    rows = []
    for i in range(len(y) // 256):
        a2.process_hop(y[i * 256:(i + 1) * 256], frame)
        rows.append(frame.values.copy())
    np.testing.assert_array_equal(np.array(rows), tab.values)


@pytest.mark.parametrize("lo,hi,match", [
    (0, 100, "must satisfy 30 <= lo < hi <= 300"), (120, 100, "must satisfy"),
    (100, 130, "too narrow"), ("x", 100, "must be two numbers")])
def test_bad_bpm_range(lo, hi, match):
    with pytest.raises(ParameterError, match=match):
        check_bpm_range(lo, hi)
    with pytest.raises(ParameterError):
        BeatTracker(AnalysisConfig(bpm_range=(lo, hi)))


def test_needs_onset_stage():
    from sonolux.features.base import ChainFacts
    from sonolux.frame import FrameLayout
    with pytest.raises(ParameterError, match="onset stage"):
        BeatTracker(AnalysisConfig()).prepare(SPEC, FrameLayout(), ChainFacts())
    with pytest.raises(ParameterError, match="beat_history_s=1.0"):
        BeatState(187.5, AnalysisConfig(beat_history_s=1.0))
