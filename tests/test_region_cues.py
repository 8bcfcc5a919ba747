"""Region cues (novelty, energy, mood, timbre contrast), their fusion with hysteresis, section events, and a
steady song that must not be cut — on constructed signals and generated tracks."""
import math
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sonolux import ParameterError, StreamSpec
from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.features.contrast import WindowContrast
from sonolux.features.cues import EnergyCue, MoodCue
from sonolux.features.cutfusion import CutFusion
from sonolux.features.novelty import FooteNovelty
from sonolux.features.regioncues import RegionCues
from sonolux.features.sections import SECTION_LABELS, SectionTracker
from sonolux.frame import FrameLayout
from sonolux.features.base import HopContext
from sonolux.features.regions import RegionStage
from sonolux.segment import Segmenter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _sectiontracks  # noqa: E402
from conftest import call_growths  # noqa: E402

SPEC = StreamSpec()
SR = SPEC.sample_rate
BLOCK_BYTES = SPEC.block_size * np.dtype(np.float32).itemsize  # 1 KiB


def frames_of(signal):
    an = Analyzer(SPEC)
    return an.analyze(signal)


def stage_layout(table):
    """(names, their columns in ``table``, a layout of them + ``mel_db``): the frames a region
    stage replayed over an analysed table sees (its own ``region_*`` fields left out)."""
    names = [n for n in table.layout.scalars if not n.startswith("region_")]
    idx = [table.layout.scalars[n] for n in names]
    layout = FrameLayout()
    for n in names:
        layout.add_scalar(n)
    layout.add_vector("mel_db", table.vectors["mel_db"].shape[1])
    return names, idx, layout


def feed_hops(stage, table, names, idx, layout) -> None:
    """Feed a prepared region ``stage`` every hop of an analysed table (``stage_layout``'s names, indices, layout)."""
    frame, ctx = layout.new_frame(), HopContext(SPEC)
    for i in range(len(table.t)):
        frame.values[:len(names)] = table.values[i, idx]
        frame.vectors["mel_db"][:] = table.vectors["mel_db"][i]
        ctx.sample_end = (i + 1) * SPEC.hop
        stage.process(ctx, frame)


def run_region_stage(table, **config):
    """The live RegionStage with fused cues over an analysed table's other fields:
    (regions, decisions [(boundary, decided at)])."""
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(**{"region_min_s": 4.0, **config}))
    stage.prepare(SPEC, layout, None)
    frame, ctx = layout.new_frame(), HopContext(SPEC)
    decided = []
    for i in range(len(table.t)):
        frame.values[:len(names)] = table.values[i, idx]
        frame.vectors["mel_db"][:] = table.vectors["mel_db"][i]
        ctx.sample_end = (i + 1) * SPEC.hop
        stage.process(ctx, frame)
        if frame.values[layout.scalars["region_change"]]:
            decided.append((frame.values[layout.scalars["region_boundary"]], ctx.t))
    return stage.finish(len(table.t) * SPEC.hop_seconds), decided


def textures(rng, first_s=14.0, second_s=10.0):
    """Noise through two different spectral shapes at the same loudness: a timbre change at
    ``first_s`` that the energy contrast cannot see."""
    a = rng.standard_normal(int(first_s * SR))
    a = np.convolve(a, np.ones(8) / 8, mode="same")  # dark
    b = np.diff(rng.standard_normal(int(second_s * SR) + 1))  # bright
    a *= 0.1 / a.std()
    b *= 0.1 / b.std()
    return np.concatenate([a, b]).astype(np.float32)


# ---- novelty -----------------------------------------------------------------------------
def test_novelty_peaks_at_a_timbre_change_energy_does_not_see(rng):
    table = frames_of(textures(rng))
    cues = RegionCues(AnalysisConfig(region_cues=("novelty",), region_future_s=2.5), n_mels=64,
                      hop_s=SPEC.hop_seconds)
    nov, en, ts = [], [], []
    for i in range(len(table.t)):
        level = table.values[i, table.layout.scalars["level_db"]]
        cues.hop(table.t[i], table.vectors["mel_db"][i], 10 ** (level / 10), None, False)
        if cues.boundary_t == cues.boundary_t and (not ts or ts[-1] != cues.boundary_t):
            ts.append(cues.boundary_t)
            nov.append(cues.values[0])
            en.append(cues.values[1])
    ts, nov, en = np.array(ts), np.array(nov), np.array(en)
    assert len(ts) > 50
    peak = ts[np.nanargmax(nov)]
    assert abs(peak - 14.0) < 0.3, peak
    assert np.nanmax(nov) > 1.0
    steady = (ts < 14.0 - 3.0) | (ts > 14.0 + 6.5)  # kernels that do not straddle the change
    assert np.nanmax(nov[steady]) < 0.3
    assert np.nanmax(en) < 1.0  # the energy contrast stays inside the seed's band


def test_novelty_is_nan_while_filling_and_validates():
    nov = FooteNovelty(n_mels=8, past_blocks=4, future_blocks=3)
    vals = [nov.push(np.zeros(8)) for _ in range(7)]
    assert all(math.isnan(v) for v in vals[:6]) and not math.isnan(vals[6])
    with pytest.raises(ParameterError, match="past_blocks=1"):
        FooteNovelty(n_mels=8, past_blocks=1, future_blocks=3)


# ---- timbre contrast -----------------------------------------------------------------------
def test_contrast_peaks_at_a_timbre_change_and_stays_low_on_a_steady_sound(rng):
    table = frames_of(textures(rng))
    cues = RegionCues(AnalysisConfig(region_cues=("contrast",), region_contrast_min_past_s=6.0), n_mels=64,
                      hop_s=SPEC.hop_seconds)
    con, ts = [], []
    for i in range(len(table.t)):
        cues.hop(table.t[i], table.vectors["mel_db"][i], 1e-3, None, False)
        if cues.boundary_t > 0 and (not ts or ts[-1] != cues.boundary_t):
            ts.append(cues.boundary_t)
            con.append(cues.values[3])
    ts, con = np.array(ts), np.array(con)
    judged = ts > cues.future_s - 0.5 * cues.block_s  # at least a future window's worth of past
    assert judged.sum() > 50 and np.all(con[~judged] == 0.0)
    assert abs(ts[np.argmax(con)] - 14.0) < 0.3
    assert con.max() > 10 * AnalysisConfig().region_threshold
    steady = WindowContrast(n_mels=64, past_blocks=150, future_blocks=60)
    noise = [steady.push(-40 + rng.normal(0, 3, 64)) for _ in range(400)]
    assert max(noise[300:]) < 0.5 * AnalysisConfig().region_threshold


def test_contrast_localises_a_crossfade_at_its_middle(rng):
    """With unequal windows a linear crossfade's peak lands late; equal windows put it back."""
    c = WindowContrast(n_mels=16, past_blocks=150, future_blocks=60, localise_blocks=40, radius_blocks=10)
    a, b = np.zeros(16), np.linspace(-10, 10, 16)
    fade = 20  # blocks, the change's middle at block 210
    vals = []
    for k in range(300):
        r = min(max((k - 200) / fade, 0.0), 1.0)
        vals.append(c.push((1 - r) * a + r * b + rng.normal(0, 1, 16)))
    assert c.boundary_block == 240
    peak = int(np.nanargmax(vals)) + 1 - 60  # the boundary block the highest value judged
    assert peak > 210  # unequal windows: late
    assert abs(c.localise(peak) - 210) <= 1


def test_contrast_restart_compares_only_with_the_current_region(rng):
    """After ``restart(block)`` the contrast is NaN until ``min_past_blocks`` blocks of the new
    region precede the boundary, then equals a contrast that never heard the old region."""
    blocks = [rng.normal(0, 1, 16) + (0 if k < 50 else np.linspace(-5, 5, 16)) for k in range(160)]
    c = WindowContrast(n_mels=16, past_blocks=40, future_blocks=10, min_past_blocks=20)
    fresh = WindowContrast(n_mels=16, past_blocks=40, future_blocks=10, min_past_blocks=20)
    for k in range(60):
        c.push(blocks[k])
    c.restart(50)  # the region of the second sound began at block 50
    after = [c.push(blocks[k]) for k in range(60, 160)]
    alone = [fresh.push(blocks[k]) for k in range(50, 160)][10:]
    boundary_first = np.arange(60, 160) - 10 + 1  # each value's first block after its boundary
    waiting = boundary_first - 50 < 20
    assert waiting.sum() > 0 and np.all(np.isnan(np.array(after)[waiting]))
    assert np.array_equal(np.array(after)[~waiting], np.array(alone)[~waiting])
    with pytest.raises(ParameterError, match="min_past_blocks=50"):
        WindowContrast(n_mels=8, past_blocks=40, future_blocks=10, min_past_blocks=50)


class _CuesWithoutRestart(RegionCues):
    def restart(self, block, t):  # the cues before the fix: a cut leaves their past as it was
        pass


def _medley_cuts(cues_class, seed):
    """A constructed medley: song A (20 s), then song B whose sound moves a little (a third
    of the join's size) 12 s after the join. Returns the decided cut times."""
    rng = np.random.default_rng(104)
    a, b = rng.normal(0, 6, 16), rng.normal(0, 6, 16)
    move = rng.normal(0, rng.uniform(1, 5), 16)
    spread_a, spread_b = rng.uniform(1, 6), rng.uniform(1, 6)
    parts = [(a, spread_a, 20.0), (b, spread_b, 12.0), (b + move, spread_b, 14.0)]
    config = AnalysisConfig(region_cues=("contrast", "novelty"), region_weights=(0.5, 0.0, 0.0, 1.0),
                            region_threshold=1.0, region_min_s=6.0, region_contrast_past_s=15.0,
                            region_contrast_min_past_s=15.0)
    hop = SPEC.hop_seconds
    cues = cues_class(config, n_mels=16, hop_s=hop)
    noise = np.random.default_rng(seed)
    cuts, i = [], 0
    for centre, spread, seconds in parts:
        for _ in range(int(seconds / hop)):
            i += 1
            t = cues.hop(i * hop, centre + noise.normal(0, spread, 16), 1e-3, None, False)
            if t == t:
                cuts.append(t)
    return cuts


@pytest.mark.parametrize("seed", [0, 1])
def test_a_cut_restarts_the_contrast_past_so_the_new_song_is_not_cut_again(seed):
    """Without the restart the 15-s past still holds song A 12 s after the join and the
    small move inside song B reads as a new song (a false cut at 32 s); with it, one cut."""
    before = _medley_cuts(_CuesWithoutRestart, seed)
    assert len(before) == 2 and abs(before[1] - 32.0) < 0.5, before  # the construction shows the fault
    cuts = _medley_cuts(RegionCues, seed)
    assert len(cuts) == 1 and abs(cuts[0] - 20.0) < 0.3, cuts


def test_contrast_validates():
    with pytest.raises(ParameterError, match="past_blocks=1"):
        WindowContrast(n_mels=8, past_blocks=1, future_blocks=3)
    with pytest.raises(ParameterError, match="floor"):
        WindowContrast(n_mels=8, past_blocks=4, future_blocks=3, floor=0.0)


# ---- energy and mood cues ------------------------------------------------------------------
def test_energy_cue_is_the_seed_z_at_the_boundary():
    cue = EnergyCue(window_blocks=5, future_blocks=5, band=(0.6, 1.4))
    vals = [cue.push(1.0 if k < 20 else 2.0) for k in range(30)]
    assert math.isnan(vals[8])
    assert vals[19] == pytest.approx(0.0)
    assert vals[24] == pytest.approx(math.log(2.0) / math.log(1.4))  # boundary 5 blocks back
    down = EnergyCue(window_blocks=5, future_blocks=5)
    vals = [down.push(1.0 if k < 20 else 0.6) for k in range(30)]
    assert vals[24] == pytest.approx(1.0)  # z = 0.6: at the band's lower edge


def test_mood_cue_sees_a_confident_change_and_nothing_without_predictions():
    cue = MoodCue(past_blocks=20, future_blocks=30, block_s=0.1, window_s=2.0)
    happy, sad = np.array([0.8, 0.1, 0.05, 0.05]), np.array([0.05, 0.05, 0.8, 0.1])
    vals = [cue.push(happy if k < 30 else sad, k % 5 == 0) for k in range(60)]
    assert vals[-1] == pytest.approx(0.8 * 0.8)  # half L1 distance 0.8, confidence 0.8
    quiet = MoodCue(past_blocks=20, future_blocks=30, block_s=0.1)
    assert [quiet.push(happy, False) for _ in range(60)][-1] == 0.0
    steady = MoodCue(past_blocks=20, future_blocks=30, block_s=0.1, window_s=2.0)
    assert [steady.push(happy, k % 5 == 0) for k in range(60)][-1] == pytest.approx(0.0)


# ---- fusion and hysteresis -----------------------------------------------------------------
def _cuts(fusion, scores, t0=0.0, dt=0.1):
    out = [fusion.push(t0 + dt * k, s, 0.0, 0.0, 0.0) for k, s in enumerate(scores)]
    return [round(c, 2) for c in out if c == c]


def test_fusion_cuts_once_per_excursion_at_its_peak():
    f = CutFusion(weights=(1, 0, 0, 0), base_threshold=1.0, hold_s=0.5, min_region_s=2.0)
    plateau = [0.0] * 50 + [1.2, 1.5, 1.4] + [1.3] * 40 + [0.0] * 30  # long high plateau: one cut
    assert _cuts(f, plateau) == [5.1]
    f.reset()
    wobble = [0.0] * 50 + [1.2, 0.9, 1.1, 0.0] + [0.0] * 20  # dips above the release level: one cut
    assert _cuts(f, wobble) == [5.0]


def test_a_dropped_peak_does_not_spend_the_excursion():
    """The learned judge drops an in-song peak; the join 3 s later, in the same excursion above
    the release level, is still a candidate (before, the fusion stayed spent and never saw it)."""
    excursion = [0.0] * 50 + [1.1] + [0.8] * 30 + [2.0, 1.8] + [0.8] * 20 + [0.0] * 30

    def run(judged):
        f = CutFusion(weights=(1, 0, 0, 0), base_threshold=1.0, hold_s=0.5, min_region_s=2.0)
        out = []
        for k, s in enumerate(excursion):
            c = f.push(0.1 * k, s, 0.0, 0.0, 0.0)
            if c == c and judged and round(c, 1) == 5.0:
                f.reject()  # the judge drops the first peak
                continue
            if c == c:
                out.append(round(c, 1))
        return out

    assert run(judged=False) == [5.0]  # the fixed fusion: one cut, at the first peak
    assert run(judged=True) == [8.1]  # dropped: the higher peak later in the excursion is judged
    # below the dropped peak nothing re-arms (a plateau is not judged again and again)
    f = CutFusion(weights=(1, 0, 0, 0), base_threshold=1.0, hold_s=0.5, min_region_s=2.0)
    cuts = []
    for k, s in enumerate([0.0] * 50 + [1.5] + [1.2] * 60 + [0.0] * 10 + [1.3] + [0.0] * 20):
        c = f.push(0.1 * k, s, 0.0, 0.0, 0.0)
        if c == c:
            cuts.append(round(c, 1))
            f.reject()
    assert cuts == [5.0, 12.1]  # after the excursion ended (below the release) a new one arms again


def test_fusion_min_region_and_sensitivity():
    f = CutFusion(weights=(1, 0, 0, 0), base_threshold=1.0, min_region_s=8.0)
    twice = [0.0] * 100 + [2.0] + [0.0] * 30 + [2.0] + [0.0] * 100  # 3.1 s apart
    assert _cuts(f, twice) == [10.0]
    assert f.suppressed == 1
    weak = [0.0] * 100 + [0.8] + [0.0] * 30
    assert _cuts(CutFusion(weights=(1, 0, 0, 0), sensitivity=0.5), weak) == []
    assert _cuts(CutFusion(weights=(1, 0, 0, 0), sensitivity=0.7), weak) == [10.0]
    with pytest.raises(ParameterError, match="sensitivity=1.5"):
        CutFusion(sensitivity=1.5)
    with pytest.raises(ParameterError, match="unknown"):
        RegionCues(AnalysisConfig(region_cues=("novelty", "loudness")), n_mels=8, hop_s=0.01)


def test_fusion_weights_add_agreeing_cues():
    f = CutFusion(weights=(1.0, 0.5, 1.0, 2.0), base_threshold=1.0)
    assert f.score_of(0.5, 0.4, 0.3, 0.0) == pytest.approx(1.0)
    assert f.score_of(math.nan, -1.0, 0.2, 0.1) == pytest.approx(0.4)  # NaN and negatives count as 0
    with pytest.raises(ParameterError, match="4 numbers"):
        CutFusion(weights=(1.0, 0.5, 1.0))


# ---- the region stage ----------------------------------------------------------------------
def test_region_stage_cuts_a_timbre_change_within_half_a_second(rng):
    regions, decided = run_region_stage(frames_of(textures(rng)), region_cues=("novelty", "energy"))
    assert [round(r["start"]) for r in regions] == [0, 14], regions
    assert abs(regions[1]["start"] - 14.0) < 0.5
    boundary, at = decided[0]
    delay = RegionCues(AnalysisConfig(), n_mels=64, hop_s=SPEC.hop_seconds).delay_s
    assert AnalysisConfig().region_future_s <= at - 14.0 <= delay  # the stated decision delay


def test_a_steady_song_is_not_cut():
    """A generated groove (kick, snare, hats, bass, pad; two root changes) for 64 bars."""
    y, events = _sectiontracks.track(("full", "full", "full", "full"), bpm=124, sr=SR, seed=5)
    assert events == []
    regions, _ = run_region_stage(frames_of(y), region_min_s=AnalysisConfig().region_min_s)
    assert len(regions) == 1, regions


# ---- sections ----------------------------------------------------------------------------
@pytest.mark.parametrize("bpm,plan", [(128.0, 0), (100.0, 0), (140.0, 1)])
def test_section_events_on_generated_tracks(bpm, plan):
    y, truth = _sectiontracks.track(_sectiontracks.PLANS[plan], bpm=bpm, sr=SR, seed=plan)
    table = frames_of(y)
    s = table.layout.scalars
    tr = SectionTracker(hop_s=SPEC.hop_seconds)
    found = []
    for i in range(len(table.t)):
        v = table.values[i]
        e = tr.hop(table.t[i], v[s["level_db"]], v[s["band_bass_db"]], v[s["onset"]])
        if e:
            found.append((SECTION_LABELS[e], tr.event_t, table.t[i]))
    assert found, "no section events"
    bar = 4 * 60.0 / bpm
    for kind in ("breakdown", "drop"):
        for _, t_true in (ev for ev in truth if ev[0] == kind):
            near = [f for f in found if f[0] == kind and abs(f[1] - t_true) <= bar]
            assert near, (kind, t_true, found)
            assert near[0][2] - t_true <= tr.delays[kind] + bar  # decided within the stated delay
    assert any(f[0] == "build" for f in found)


def test_sections_on_a_steady_groove_fire_nothing():
    y, _ = _sectiontracks.track(("full", "full", "full"), bpm=128, sr=SR, seed=2)
    table = frames_of(y)
    s = table.layout.scalars
    tr = SectionTracker(hop_s=SPEC.hop_seconds)
    events = [tr.hop(table.t[i], v[s["level_db"]], v[s["band_bass_db"]], v[s["onset"]])
              for i, v in enumerate(table.values)]
    assert not any(events)


# ---- no allocation per hop ------------------------------------------------------------------
def _retained(fn, n=3000):
    """Bytes still allocated after ``n`` more calls of ``fn`` (what the calls kept)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            fn()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_region_cues_and_sections_allocate_nothing_per_hop(measured_alone):
    """No hop makes a block-sized temporary (1 KiB: a 256-sample float32 block), and 3000 hops
    keep less than 1 KiB between them."""
    rng = np.random.default_rng(3)
    mel = rng.normal(-40, 3, size=64)
    probs = np.array([0.4, 0.3, 0.2, 0.1])
    cues = RegionCues(AnalysisConfig(region_cues=("novelty", "energy", "mood", "contrast")), n_mels=64,
                      hop_s=SPEC.hop_seconds)
    sections = SectionTracker(hop_s=SPEC.hop_seconds)
    state = {"i": 0}

    def one_hop():
        i = state["i"] = state["i"] + 1
        t = i * SPEC.hop_seconds
        cues.hop(t, mel, 1e-3, probs if i % 90 == 0 else None, i % 90 == 0)
        sections.hop(t, -20.0, -30.0, 1.0 if i % 50 == 0 else 0.0)

    growth = call_growths(one_hop, warm=300, n=3000)  # blocks close every 19 hops: measured too
    assert growth.max() < BLOCK_BYTES, (int(growth.max()), int(np.argmax(growth)))
    retained = _retained(one_hop)
    assert retained < 1024, retained


def test_live_cue_regions_and_sections_equal_offline(tmp_path, rng):
    """The default chain (fused cues, sections) live through the Engine, block by block,
    gives the regions and section events the offline ``analyze`` gives."""
    import soundfile as sf

    from sonolux.engine import Engine
    from sonolux.features.sections import SectionStage
    from sonolux.offline import analyze_file
    from sonolux.sources import ArraySource

    y, _ = _sectiontracks.track(("full", "breakdown", "full"), bpm=128, sr=SR, seed=4)
    x = np.concatenate([y, textures(rng, 14.0, 6.0)])
    wav = tmp_path / "set.wav"
    sf.write(wav, x, SR, subtype="FLOAT")
    config = AnalysisConfig(region_min_s=8.0)
    offline = analyze_file(wav, spec=SPEC, config=config)
    engine = Engine(SPEC, ArraySource(x, SR, 333, realtime=False), config=config)
    with engine:
        assert engine.wait(120)
    live = engine.analyzer.find(RegionStage).finish(len(x) / SR)
    assert len(offline["regions"]) >= 2 and offline["sections"], offline
    assert live == offline["regions"]
    assert engine.analyzer.find(SectionStage).events == offline["sections"]


def test_operator_controls_change_the_fusion_live():
    cues = RegionCues(AnalysisConfig(), n_mels=8, hop_s=0.01)
    t0 = cues.fusion.threshold
    cues.control(sensitivity=1.0, min_region_s=20.0, cues=("novelty",))
    assert cues.fusion.threshold == pytest.approx(t0 / math.e)
    assert cues.fusion.min_region_s == 20.0 and cues.fusion.w_mood == 0.0 and cues.fusion.w_contrast == 0.0
    assert cues.fusion.w_novelty == AnalysisConfig().region_weights[0] > 0
    with pytest.raises(ParameterError, match="region_sensitivity=-0.1"):
        cues.control(sensitivity=-0.1)
    with pytest.raises(ParameterError, match="unknown"):
        cues.control(cues=("vibes",))


def test_analyzer_region_controls():
    an = Analyzer(SPEC)
    an.set_region_controls(sensitivity=0.8, min_region_s=30.0, cues=("novelty",))
    fusion = an.find(RegionStage).cues.fusion
    assert fusion.min_region_s == 30.0 and fusion.w_mood == 0.0
    with pytest.raises(ParameterError, match="region_method='cues'"):
        Analyzer(SPEC, AnalysisConfig(region_method="seed")).set_region_controls(sensitivity=0.5)
    with pytest.raises(ParameterError, match="region_method='vibes'"):
        Analyzer(SPEC, AnalysisConfig(region_method="vibes"))
