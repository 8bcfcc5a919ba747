"""Silence: below the threshold beats, onsets and per-band triggers stop, the tempo holds for
re-entry, the mood holds and then goes neutral, and /sonolux/silence says so (offline chain,
the gate on its own, and a live engine into a real oscdump)."""
from __future__ import annotations

import numpy as np
import pytest

from sonolux import Engine, StreamSpec
from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.frame import FrameLayout
from sonolux.outputs.osc import build_targets
from sonolux.features.base import ChainFacts
from sonolux.features.silence import SilenceGate
from sonolux.sources import ArraySource
from sonolux.sources.synth import demo_track

SR = 48000
SPEC = StreamSpec()
BEAT_S = 0.5  # the demo track is 120 BPM


def music_silence_music(music_s: float, silence_s: float) -> np.ndarray:
    x = demo_track(SR, bars=int(music_s / 2))
    return np.concatenate([x, np.zeros(int(silence_s * SR), np.float32), x]).astype(np.float32)


@pytest.mark.parametrize("gated", [True, False])
def test_no_beats_or_onsets_in_silence_and_beats_resume_on_the_next_beat(gated):
    sig = music_silence_music(8.0, 6.0)  # music 0-8 s, silence 8-14 s, music 14-22 s
    config = AnalysisConfig() if gated else AnalysisConfig(silence_db=-120.0)  # -120: never silent
    analyzer = Analyzer(SPEC, config)
    gate = analyzer.find(SilenceGate)
    table = analyzer.analyze(sig)
    beats, onsets = table.event_times("beat"), table.event_times("onset")
    band_onsets = np.concatenate([table.event_times(n[:-6]) for n in table.layout.scalars
                                  if n.startswith("onset_") and n.endswith("_count")])
    in_silence = lambda ev: ev[(ev > 8.0 + gate.enter_s + 0.05) & (ev < 14.0)]  # noqa: E731
    if not gated:  # the test can fail: without the gate the tracker beats on into the silence
        assert in_silence(beats).size > 5
        return
    assert beats.size > 20 and onsets.size > 20  # the music has them
    assert in_silence(beats).size == 0 and in_silence(onsets).size == 0 and in_silence(band_onsets).size == 0
    after = beats[beats >= 14.0]
    assert after.size and after[0] <= 14.0 + BEAT_S + 0.1, after[:3]  # the next beat (or the one after the first)
    assert np.all(np.diff(table.column("beat_count")) >= 0)  # counters stay monotonic
    silence = table.column("silence")
    t = np.arange(1, len(table) + 1) * SPEC.hop / SR
    assert np.all(silence[(t > 8.0 + gate.enter_s + 0.1) & (t < 13.99)] == 1)
    assert np.all(silence[(t < 8.0) | (t > 14.01)] == 0)
    bpm = table.column("bpm")
    assert np.all(np.abs(bpm[(t > 9.0) & (t < 14.0)] - 120.0) < 2.0)  # the tempo holds for re-entry


def gate_frames(gate: SilenceGate, hop_s: float):
    layout = FrameLayout()
    for name in ("level_db", "valence", "arousal", "quadrant", "q1", "q2", "q3", "q4", "bpm",
                 "bpm_confidence", "beat_phase", "beat", "beat_count"):
        layout.add_scalar(name)
    spec = StreamSpec(hop=256, n_fft=1024)
    gate.prepare(spec, layout, ChainFacts())
    return layout, layout.new_frame()


def test_mood_holds_then_goes_neutral():
    gate = SilenceGate(AnalysisConfig(silence_enter_s=0.5, silence_mood_hold_s=2.0))
    layout, f = gate_frames(gate, SPEC.hop / SR)
    s = layout.scalars
    hop_s = SPEC.hop / SR

    def step(level_db, valence=-0.8, arousal=-0.7, quadrant=3):
        f.values[s["level_db"]] = level_db
        f.values[s["valence"]], f.values[s["arousal"]], f.values[s["quadrant"]] = valence, arousal, quadrant
        gate.process(None, f)
        return f.values[s["valence"]], f.values[s["arousal"]], f.values[s["quadrant"]], f.values[s["silence"]]

    assert step(-20.0, 0.6, 0.4, 1) == (pytest.approx(0.6), pytest.approx(0.4), 1, 0)  # music: Q1
    # silence: the models drift to "sad" (-0.8, -0.7, Q3); the frame keeps the last music mood
    seen = [step(-120.0) for _ in range(int(2.4 / hop_s))]
    held = [v for v in seen if v[3] == 1]
    assert held and all(v[:3] == (pytest.approx(0.6), pytest.approx(0.4), 1) for v in held)
    later = [step(-120.0) for _ in range(int(0.5 / hop_s))]
    assert later[-1][:3] == (0.0, 0.0, 0.0) and later[-1][3] == 1  # then neutral
    assert step(-20.0, 0.5, 0.5, 1)[3] == 0  # the music is back: the models decide again


def test_live_silence_reaches_oscdump_and_triggers_stop(oscdump):
    from conftest import wait_until

    dump = oscdump()
    sig = music_silence_music(4.0, 3.0)  # 11 s in real time
    engine = Engine(SPEC, ArraySource(sig, SR, SPEC.block_size, realtime=True),
                    osc_targets=build_targets([f"127.0.0.1:{dump.port}"]))
    with engine:
        wait_until(lambda: engine.finished, 60, "the signal played")
    msgs = dump.stop()
    assert msgs
    silence = [(t, v[0]) for t, a, _, v in msgs if a == "/sonolux/silence"]
    assert [v for _, v in silence][-2:] == [1, 0], silence
    t_on = next(t for t, v in silence if v == 1)
    t_off = next(t for t, v in silence if v == 0 and t > t_on)
    beats_on = [t for t, a, _, v in msgs if a == "/sonolux/beat" and v and v[0] == 1.0]
    assert beats_on and not [t for t in beats_on if t_on < t < t_off]
    assert [t for t in beats_on if t > t_off]  # and back after the silence


@pytest.mark.parametrize("field,value,message", [("silence_db", float("nan"), "silence_db=nan must be finite"),
                                                 ("silence_enter_s", -1.0, "silence_enter_s=-1.0 must be at least 0"),
                                                 ("silence_mood_hold_s", "x", "silence_mood_hold_s='x' must be a number")])
def test_bad_silence_parameters_name_the_value(field, value, message):
    from sonolux import ParameterError

    with pytest.raises(ParameterError, match=message):
        Analyzer(SPEC, AnalysisConfig(**{field: value}))


def test_tags_and_confidence_hold_with_the_mood_then_go_neutral():
    """The models tag silence too (and are sure of it): the frame keeps the last music's tags
    and confidence while the mood holds, then publishes no tag and no confidence."""
    gate = SilenceGate(AnalysisConfig(silence_enter_s=0.5, silence_mood_hold_s=2.0))
    layout = FrameLayout()
    for name in ("level_db", "valence", "arousal", "quadrant", "q1", "q2", "q3", "q4", "emotion_confidence",
                 "emotion_fill", "prediction_id"):
        layout.add_scalar(name)
    layout.add_vector("tags", 3, ["rock", "piano", "quiet"])
    gate.prepare(StreamSpec(hop=256, n_fft=1024), layout, ChainFacts())
    s, hop_s = layout.scalars, SPEC.hop / SR
    rock, quiet = np.array([0.9, 0.1, 0.0], np.float32), np.array([0.0, 0.2, 0.95], np.float32)

    def run(frames, level_db, tags, confidence):
        """``frames`` hops through the hop path and the same through the block path."""
        f = layout.new_frame()
        out = []
        for _ in range(frames):
            f.values[s["level_db"]], f.values[s["emotion_confidence"]] = level_db, confidence
            f.values[s["prediction_id"]] = 7.0
            f.vectors["tags"][:] = tags
            gate.process(None, f)
            out.append((f.vectors["tags"].copy(), f.values[s["emotion_confidence"]], f.values[s["prediction_id"]]))
        return out

    run(3, -20.0, rock, 0.8)
    held = run(int(2.2 / hop_s), -120.0, quiet, 0.99)
    silent_held = held[int(0.6 / hop_s):int(2.4 / hop_s)]
    assert all(np.array_equal(t, rock) and c == pytest.approx(0.8) and pid == -1 for t, c, pid in silent_held)
    later = run(int(0.5 / hop_s), -120.0, quiet, 0.99)
    assert not later[-1][0].any() and later[-1][1] == 0.0  # neutral: no tag, no confidence
    back = run(1, -20.0, quiet, 0.7)[-1]
    assert np.array_equal(back[0], quiet) and back[1] == pytest.approx(0.7) and back[2] == 7.0


def test_block_path_holds_tags_like_the_hop_path():
    """The bulk path (a row per hop) and the hop path give the same frames."""
    from sonolux.features.base import HopBlock

    def chain():
        gate = SilenceGate(AnalysisConfig(silence_enter_s=0.2, silence_mood_hold_s=0.5))
        layout = FrameLayout()
        for name in ("level_db", "quadrant", "emotion_confidence", "prediction_id"):
            layout.add_scalar(name)
        layout.add_vector("tags", 2, ["a", "b"])
        gate.prepare(StreamSpec(hop=256, n_fft=1024), layout, ChainFacts())
        return gate, layout

    rng = np.random.default_rng(3)
    n = 400
    level = np.where((np.arange(n) > 50) & (np.arange(n) < 300), -120.0, -20.0)
    tags = rng.random((n, 2)).astype(np.float32)
    gate, layout = chain()
    s = layout.scalars
    f = layout.new_frame()
    hop_out = []
    for i in range(n):
        f.values[:] = 0.0
        f.values[s["level_db"]], f.values[s["emotion_confidence"]], f.values[s["quadrant"]] = level[i], 0.5, 2
        f.vectors["tags"][:] = tags[i]
        gate.process(None, f)
        hop_out.append(f.vectors["tags"].copy())
    gate, layout = chain()
    block = HopBlock(StreamSpec(hop=256, n_fft=1024), layout, n)
    block.n = n
    block.values[:n] = 0.0
    block.values[:n, s["level_db"]], block.values[:n, s["emotion_confidence"]] = level, 0.5
    block.values[:n, s["quadrant"]] = 2
    block.vectors["tags"][:n] = tags
    gate.process_block(block)
    assert np.array_equal(np.array(hop_out), block.vectors["tags"][:n])
    assert not block.vectors["tags"][299].any() and np.array_equal(block.vectors["tags"][100], tags[50])
