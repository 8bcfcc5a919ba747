"""Emotion regions: the z-coefficient segmenter on constructed signals, live and offline."""
import numpy as np
import pytest
import soundfile as sf

from conftest import sine
from sonolux import ParameterError, StreamSpec
from sonolux.analysis import AnalysisConfig
from sonolux.offline import analyze_file
from sonolux.analysis import Analyzer
from sonolux.engine import Engine
from sonolux.features.regions import RegionStage
from sonolux.segment import Segmenter
from sonolux.sources import ArraySource

SR = 48000
SPEC = StreamSpec()
HOP_S = SPEC.hop / SR


def noise_steps(levels, seconds, seed=0):
    """White noise whose amplitude changes at known times (step i starts at i*seconds)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    return np.concatenate([a * rng.standard_normal(n) for a in levels]).astype(np.float32)


def regions_of(signal, **seg):
    table_an = Analyzer(SPEC, AnalysisConfig(energy_segment_s=1.0, region_method="seed"), segmenter=Segmenter(**seg))
    table_an.analyze(signal)
    stage = table_an.find(RegionStage)
    return stage.finish(len(signal) / SR)


@pytest.mark.parametrize("step_at", [6.0, 6.3, 7.77])
def test_energy_steps_cut_within_one_hop(step_at):
    rng = np.random.default_rng(1)
    x = (0.02 * rng.standard_normal(int(14 * SR))).astype(np.float32)
    x[int(step_at * SR):] *= 10  # +20 dB at a known time, also inside a segment
    regions = regions_of(x)
    starts = [r["start"] for r in regions[1:]]
    assert len(starts) == 1, regions
    assert abs(starts[0] - step_at) <= HOP_S + 1e-9, (starts, step_at)


def test_steps_down_and_up_each_cut():
    x = noise_steps([0.3, 0.03, 0.3, 0.01], 6.0)
    starts = [r["start"] for r in regions_of(x)[1:]]
    assert len(starts) == 3 and np.allclose(starts, [6, 12, 18], atol=HOP_S + 1e-9), starts


def test_steady_signals_make_no_cuts(rng):
    t = np.arange(20 * SR) / SR
    for x in (0.3 * np.sin(2 * np.pi * 220 * t), 0.1 * rng.standard_normal(t.size),
              np.zeros(t.size)):
        assert len(regions_of(x.astype(np.float32))) == 1


def test_minimum_length_suppresses_flicker():
    x = noise_steps([0.3, 0.03] * 4, 3.0)  # the level flips every 3 s for 24 s
    regions = regions_of(x, min_region_s=4.0)
    lengths = [r["end"] - r["start"] for r in regions[:-1]]
    assert len(regions) >= 2 and min(lengths) >= 4.0 - 1e-9, regions
    assert len(regions_of(x, min_region_s=1.0)) == 8  # every flip cuts without the minimum
    # a level that flickers every second is one long transition, not a cut per flicker
    assert len(regions_of(noise_steps([0.3, 0.03] * 8, 1.0), min_region_s=1.0)) <= 4


def test_energy_only_and_tempo_only_variants(rng):
    x = noise_steps([0.3, 0.03], 8.0)
    assert len(regions_of(x, use_tempo=False)) == 2
    assert len(regions_of(x, use_energy=False)) == 1  # steady noise: no tempo change
    assert len(regions_of(x, use_energy=False, use_tempo=False, use_timbre=True)) == 2  # a timbre step too


def test_timbre_cuts_at_equal_loudness():
    """Noise then a tone at the same RMS: energy stays in band, the spectrum does not."""
    rng = np.random.default_rng(5)
    noise = (0.1 * rng.standard_normal(8 * SR)).astype(np.float32)
    tone = sine(440, SR, 8.0, 0.1 * np.sqrt(2))
    x = np.concatenate([noise, tone])
    assert len(regions_of(x)) == 1  # the paper's coefficients do not see it
    starts = [r["start"] for r in regions_of(x, use_timbre=True)[1:]]
    # located by the spectrum (no level step): within the FFT window, 1024 samples = 4 hops
    assert len(starts) == 1 and abs(starts[0] - 8.0) <= 4 * HOP_S + 1e-9, starts


def test_labels_follow_the_mood_inside_each_region():
    seg = Segmenter(min_region_s=1.0)
    for i in range(100):
        seg.mood(i * 0.05, [0.1, 0.7, 0.1, 0.1] if i < 60 else [0.7, 0.1, 0.1, 0.1])
    assert seg.cut(3.0) == 3.0  # decided at t=5, moods after t=3 move to the new region
    regions = seg.finish(5.0)
    assert [r["label"] for r in regions] == ["fierce", "cheerful"]
    assert [r["quadrant"] for r in regions] == ["Q2", "Q1"]


def test_live_stage_weighs_each_mood_piece_by_its_hops():
    """The live stage hands the segmenter one piece per prediction (or override), weighted by
    its hops: the label is what a mood sample at every hop would give, including the last
    piece (handed over by ``finish``) and the operator's override."""
    from sonolux.frame import FrameLayout
    from sonolux.features.base import ChainFacts, HopContext
    from sonolux.features.regions import RegionStage

    def label(pieces):  # [(prediction_id, override, quadrant, probs, hops), ...]
        layout = FrameLayout()
        for name in ("energy", "quadrant", "q1", "q2", "q3", "q4", "prediction_id", "emotion_override"):
            layout.add_scalar(name)
        stage = RegionStage(Segmenter(), AnalysisConfig(energy_segment_s=2.0, tempo_segment_s=4.0,
                                                       region_method="seed"))
        stage.prepare(SPEC, layout, ChainFacts())
        frame, ctx = layout.new_frame(), HopContext(SPEC)
        per_hop = Segmenter()
        i = 0
        for pid, override, q, probs, hops in pieces:
            for _ in range(hops):
                frame.values[:8] = [1.0, q, *probs, pid, override]
                i += 1
                ctx.sample_end = i * SPEC.hop
                stage.process(ctx, frame)
                per_hop.mood(ctx.t, probs)
        regions = stage.finish(ctx.t)
        assert len(regions) == 1 and regions == per_hop.finish(ctx.t)
        return regions[0]["quadrant"]

    tense, happy = [0.1, 0.5, 0.2, 0.2], [0.45, 0.35, 0.1, 0.1]
    # a long tense stretch outweighs a later happy one, and the other way round
    assert label([(1, 0, 2, tense, 500), (2, 0, 1, happy, 400)]) == "Q2"
    assert label([(1, 0, 2, tense, 100), (2, 0, 1, happy, 900)]) == "Q1"
    # the last piece counts although no new prediction ended it
    assert label([(1, 0, 2, tense, 20), (2, 0, 1, happy, 180), (3, 0, 2, tense, 170)]) == "Q2"
    # the override (prediction_id -1) is a piece of its own; before any prediction: no mood
    sad = [0.0, 0.0, 1.0, 0.0]
    assert label([(0, 0, 0, [0, 0, 0, 0], 300), (-1, 3, 3, sad, 200), (5, 0, 1, happy, 100)]) == "Q3"


def test_run_of_out_of_band_values_is_one_cut_at_the_strongest_jump():
    seg = Segmenter(min_region_s=0.0, reference="previous")
    energies = [1.0, 1.0, 1.0, 2.0, 8.0, 16.0, 16.0, 16.0]  # a crescendo over three segments
    cuts = [seg.energy(float(i), e) for i, e in enumerate(energies)]
    assert [c for c in cuts if c is not None] == [4.0]  # ×4 is the strongest jump of the run


def test_bad_parameters():
    with pytest.raises(ParameterError, match="energy_band"):
        Segmenter(energy_band=(1.2, 1.4))
    with pytest.raises(ParameterError, match="reference"):
        Segmenter(reference="median")


def test_live_regions_equal_offline(tmp_path):
    x = noise_steps([0.3, 0.03, 0.3], 6.0)
    wav = tmp_path / "steps.wav"
    sf.write(wav, x, SR, subtype="FLOAT")
    config = AnalysisConfig(energy_segment_s=1.0, region_method="seed")
    offline = analyze_file(wav, spec=SPEC, config=config)["regions"]
    engine = Engine(SPEC, ArraySource(x, SR, 333, realtime=False), config=config)
    changes = []
    engine.worker.on_frame = lambda f: changes.append((f["region_boundary"], f["region_index"])) if f["region_change"] else None
    with engine:
        assert engine.wait(60)
    live = engine.analyzer.find(RegionStage).finish(len(x) / SR)
    assert live == offline and len(live) == 3
    assert [round(b, 4) for b, _ in changes] == [r["start"] for r in offline[1:]]
    assert [i for _, i in changes] == [1, 2]


def test_analyze_plot_draws_a_timeline(tmp_path):
    from conftest import run_sonolux

    wav = tmp_path / "steps.wav"
    sf.write(wav, noise_steps([0.3, 0.03, 0.3], 5.0), SR)
    png = tmp_path / "timeline.png"
    res = run_sonolux("analyze", str(wav), "--no-models", "--plot", str(png), timeout=120)
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    bad = run_sonolux("analyze", str(wav), "--no-models", "--plot", str(tmp_path / "no" / "dir.png"), timeout=120)
    assert bad.returncode == 2 and "cannot write" in bad.stderr and "Traceback" not in bad.stderr


def _refine_numpy(stage, t):
    """The region stage's cut refinement as it was written in numpy (the reference)."""
    def largest_step(ts, feats, t, radius):
        w = stage._w
        c = np.concatenate([np.zeros((1, feats.shape[1])), np.cumsum(feats, axis=0)])
        idx = np.arange(w, ts.shape[0] - w + 1)
        diff = ((c[idx + w] - c[idx]) - (c[idx] - c[idx - w])) / w
        step = np.sqrt(np.mean(diff ** 2, axis=1))
        near = np.abs(ts[idx] - t) <= radius
        if not near.any():
            return None, 0.0
        k = np.argmax(step[near])
        return float(ts[idx[near][k]]), float(step[near][k])

    order = np.argsort(stage._level_t)
    ts = stage._level_t[order]
    ok = np.isfinite(ts)
    ts = ts[ok]
    if ts.shape[0] < 2 * stage._w + 1:
        return t
    mel = stage._mel_hist.shape[1] > 0
    if mel:
        centre = ts + stage.hop / stage.sr - stage.n_fft / (2 * stage.sr)
        t_mel, _ = largest_step(centre, stage._mel_hist[order][ok], t, stage.energy_segment_s)
        if t_mel is not None:
            t = t_mel
    t_lvl, step = largest_step(ts, stage._level_db[order][ok][:, None], t,
                               stage.n_fft / stage.sr if mel else stage.energy_segment_s)
    return t_lvl if t_lvl is not None and (step > 3.0 or not mel) else \
        float(ts[np.argmin(np.abs(ts - t))])


@pytest.mark.parametrize("hops", [5, 300, 1000, 5000])
def test_cut_refinement_kernel_equals_the_numpy_reference(hops, rng):
    """The allocation-free refinement picks the very hop the numpy formulation picks."""
    from sonolux.features.base import ChainFacts, HopContext
    from sonolux.features.regions import RegionStage
    from sonolux.frame import FrameLayout

    layout = FrameLayout()
    for name in ("energy", "level_db"):
        layout.add_scalar(name)
    layout.add_vector("mel_db", 64)
    stage = RegionStage(Segmenter(), AnalysisConfig(energy_segment_s=2.0))
    stage.prepare(SPEC, layout, ChainFacts())
    frame, ctx = layout.new_frame(), HopContext(SPEC)
    step_at = rng.integers(1, hops + 1)
    for i in range(hops):  # a level / timbre step at a random hop, noise around it
        loud = i >= step_at
        frame.values[1] = -40.0 + 20.0 * loud + rng.normal()
        frame.vectors["mel_db"][:] = -60.0 + 15.0 * loud * rng.random(64) + rng.normal(size=64)
        ctx.sample_end = (i + 1) * SPEC.hop
        stage.process(ctx, frame)
    for t in np.linspace(0, hops * HOP_S, 9):
        assert stage.refine(float(t)) == _refine_numpy(stage, float(t))
