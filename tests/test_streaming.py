"""Streaming equals offline: the same frames whether a signal arrives whole or in random
blocks through the ring and the analysis worker (madmom's online/offline test)."""
import numpy as np
import pytest

from sonolux import Analyzer, Engine, Mailbox, RingBuffer, StreamSpec
from sonolux.analysis import FrameTable
from sonolux.sources import ArraySource
from sonolux.ringbuffer import BlockWriter
from sonolux.sources.synth import demo_track
from sonolux.worker import AnalysisWorker

SPEC = StreamSpec(sample_rate=48000, block_size=256, n_fft=1024, hop=256)


def offline(signal, spec=SPEC):
    return Analyzer(spec).analyze(signal)


def streamed(signal, rng, spec=SPEC):
    """Feed ``signal`` in random block sizes (0 and 1 included) through the ring and worker."""
    analyzer = Analyzer(spec)
    ring = RingBuffer(spec.ring_capacity())
    mailbox = Mailbox(analyzer.layout)
    frames = []
    worker = AnalysisWorker(ring, analyzer, mailbox, drop_stale=False,
                            on_frame=lambda f: frames.append(f.copy()))
    writer = BlockWriter(ring, np.array([0]), 4096)
    pos = 0
    while pos < len(signal):
        n = int(rng.choice([0, 1, 2, 3, 17, 64, 255, 256, 257, 1000, 4096]))
        writer.write(signal[pos:pos + n].reshape(-1, 1))
        pos += n
        while worker.step():
            pass
    table = FrameTable.empty(analyzer.layout, len(frames))
    for i, f in enumerate(frames):
        table.store(i, f)
    return table


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("hop", [128, 256, 512])
@pytest.mark.parametrize("kind", ["demo", "noise", "silence"])
def test_random_blocks_equal_whole_signal(kind, hop, sample_rate, rng):
    spec = StreamSpec(sample_rate=sample_rate, block_size=256, n_fft=1024, hop=hop)
    n = sample_rate * 3
    signal = {"demo": demo_track(sample_rate, bars=2)[:n],
              "noise": (0.3 * rng.standard_normal(n)).astype(np.float32),
              "silence": np.zeros(n, dtype=np.float32)}[kind]
    a, b = offline(signal, spec), streamed(signal, rng, spec)
    assert len(a) == len(b) == len(signal) // spec.hop
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.values, b.values)
    for k in a.vectors:
        np.testing.assert_array_equal(a.vectors[k], b.vectors[k])


def test_threaded_engine_equals_offline():
    signal = demo_track(48000, bars=2)
    frames = []
    source = ArraySource(signal, 48000, 480, realtime=False)  # blocks ≠ hop on purpose
    engine = Engine(SPEC, source)
    engine.worker.on_frame = lambda f: frames.append(f.copy())
    with engine:
        assert engine.wait(60)
    engine.check()
    ref = Analyzer(SPEC).analyze(signal)  # the engine's own chain, offline
    assert len(frames) == len(ref)
    got = np.array([f.values for f in frames])
    np.testing.assert_array_equal(got, ref.values)
    assert engine.stats().dropped_blocks == 0


def test_reset_then_rerun_is_identical(rng):
    signal = (0.2 * rng.standard_normal(48000)).astype(np.float32)
    an = Analyzer(SPEC)
    first = an.analyze(signal)
    an.reset()
    second = an.analyze(signal)
    np.testing.assert_array_equal(first.values, second.values)


def hop_by_hop(analyzer, signal, after_hop=None):
    """The live way: one ``process_hop`` per hop (reference for the bulk path)."""
    hop = analyzer.spec.hop
    n = len(signal) // hop
    table = FrameTable.empty(analyzer.layout, n)
    frame = analyzer.layout.new_frame()
    for i in range(n):
        analyzer.process_hop(signal[i * hop:(i + 1) * hop], frame)
        table.store(i, frame)
        if after_hop is not None:
            after_hop()
    return table


def assert_tables_equal(a, b):
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.values, b.values)
    for k in a.vectors:
        np.testing.assert_array_equal(a.vectors[k], b.vectors[k])


@pytest.mark.parametrize("block_hops", [1, 7, 1024])
@pytest.mark.parametrize("preemphasis", [None, 0.97])
def test_bulk_run_equals_the_live_chain_hop_by_hop(block_hops, preemphasis):
    """``Analyzer.analyze`` runs the chain in bulk (whole blocks of hops per processor);
    its frames are the live chain's, bit for bit, whatever the block size."""
    from sonolux.analysis import AnalysisConfig

    demo = demo_track(48000, bars=4)  # 8 s: beats lock, energy segments and regions close
    signal = np.concatenate([demo, np.zeros(3 * 48000, np.float32), demo])  # the silence gate acts
    config = AnalysisConfig(preemphasis=preemphasis)
    live = hop_by_hop(Analyzer(SPEC, config), signal)
    bulk = Analyzer(SPEC, config).analyze(signal, block_hops=block_hops)
    assert_tables_equal(live, bulk)
    assert bulk.column("beat").sum() > 4 and bulk.column("onset").sum() > 4
    assert bulk.column("silence").sum() > 10


def test_bulk_run_with_models_equals_hop_by_hop(tmp_path):
    """With the inference stage (tiny ONNX models stepped in lockstep after every hop), the
    bulk run's frames, mood included, equal the hop-by-hop run's."""
    import tiny_models
    from sonolux.inference.runtime import InferenceConfig, load_models, make_inference

    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    signal = demo_track(48000, bars=4)
    tables = []
    for bulk in (False, True):
        stage, worker = make_inference(models, InferenceConfig(every_s=0.25))
        an = Analyzer(SPEC, inference_stage=stage)
        tables.append(an.analyze(signal, after_hop=worker.poll, block_hops=100) if bulk
                      else hop_by_hop(an, signal, worker.poll))
    # prediction ids are unique in the process: equal runs change id on the same hops
    ids = [t.column("prediction_id").copy() for t in tables]
    for t, i in zip(tables, ids):
        t.values[:, t.layout.scalars["prediction_id"]] = np.r_[0, np.diff(i) != 0]
    assert_tables_equal(*tables)
    assert np.any(ids[1] > 0) and np.sum(np.diff(ids[1]) != 0) > 10


@pytest.mark.parametrize("method", ["seed", "cues"])
@pytest.mark.parametrize("block_hops", [1, 50, 1024])
def test_bulk_regions_equal_hop_by_hop(block_hops, method, rng):
    """Level steps make the region stage cut: its bulk run (quiet hops in one call, the
    hops where a segment completes in Python) gives the same frames and regions."""
    from sonolux.analysis import AnalysisConfig
    from sonolux.features.regions import RegionStage

    x = np.concatenate([a * rng.standard_normal(48000 * 5) for a in (0.02, 0.3, 0.02, 0.2)])
    # the cues' windows shortened so that each 5-s step is judged (the defaults need 6 s after it)
    config = AnalysisConfig(energy_segment_s=1.0, region_method=method, region_min_s=4.0, region_future_s=2.0,
                            region_localise_s=1.0, region_contrast_past_s=4.0)
    live_an, bulk_an = Analyzer(SPEC, config), Analyzer(SPEC, config)
    live = hop_by_hop(live_an, x.astype(np.float32))
    bulk = bulk_an.analyze(x.astype(np.float32), block_hops=block_hops)
    assert_tables_equal(live, bulk)
    assert bulk.column("region_change").sum() >= 2
    end = len(x) / 48000
    assert live_an.find(RegionStage).finish(end) == bulk_an.find(RegionStage).finish(end)


class _Override:
    """An operator who forces a quadrant from a given hop on (``emotion_override``)."""

    emotion_override = 0


@pytest.fixture(scope="module")
def set_parts():
    """A generated dance track (breakdown, build, drops), a pause, then two textures: the
    default region cues cut at the song change and at the timbre change, the section tracker
    fires every kind of event, the silence gate stops it in the pause."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import _sectiontracks

    rng = np.random.default_rng(4)
    song, _ = _sectiontracks.track(_sectiontracks.PLANS[0], bpm=128, sr=48000, seed=4)
    dark = np.convolve(rng.standard_normal(14 * 48000), np.ones(8) / 8, mode="same")
    bright = np.diff(rng.standard_normal(12 * 48000 + 1))
    return [x.astype(np.float32) for x in (song, np.zeros(3 * 48000), 0.1 * dark / dark.std(),
                                             0.1 * bright / bright.std())]


@pytest.fixture(scope="module")
def set_with_sections(set_parts):
    return np.concatenate(set_parts)


@pytest.mark.parametrize("block_hops", [1, 19, 256, 1000])
@pytest.mark.parametrize("operator", [False, True])
def test_default_chain_with_cues_and_sections_in_bulk_equals_hop_by_hop(set_with_sections, block_hops,
                                                                       operator):
    """The whole default chain — fused region cues and sections, both run block-wise in bulk
    (quiet hops in one Numba call per stage; block ends, cuts and events in Python) — gives
    the live chain's frames bit for bit, with real cuts and every kind of section event; and
    when the operator forces one quadrant, then another (at block boundaries: offline the
    override reaches the bulk stages at the next block), so that mood pieces end and the mood
    cue sees a change. The regions and section events are the same."""
    from sonolux.features.regions import RegionStage
    from sonolux.features.sections import SectionStage

    x = set_with_sections
    # hop → forced quadrant, on the first hop of a block (about 9.5 s and 14 s in)
    switches = {round(h / block_hops) * block_hops: q for h, q in ((1792, 2), (2560, 4))} if operator else {}
    runs = []
    for bulk in (False, True):
        state = _Override()
        an = Analyzer(SPEC, override_state=state)
        done = [0]

        def after_hop():
            done[0] += 1
            state.emotion_override = switches.get(done[0], state.emotion_override)

        table = an.analyze(x, after_hop=after_hop, block_hops=block_hops) if bulk else hop_by_hop(an, x, after_hop)
        end = len(x) / SPEC.sample_rate
        runs.append((table, an.find(RegionStage).finish(end), an.find(SectionStage).events))
    (live, live_regions, live_events), (bulk, bulk_regions, bulk_events) = runs
    assert_tables_equal(live, bulk)
    assert live_regions == bulk_regions and len(bulk_regions) >= 3, bulk_regions
    assert live_events == bulk_events
    assert {e["label"] for e in bulk_events} == {"build", "drop", "breakdown"}, bulk_events
    assert bulk.column("silence").sum() > 100
    assert np.ptp(bulk.column("region_contrast_cue")) > 1.0 and np.ptp(bulk.column("region_score")) > 1.0
    if operator:
        first, second = sorted(switches)
        assert set(bulk.column("quadrant")[[first - 1, first, second]]) == {0, 2, 4}
        assert bulk.column("region_mood_cue").max() > 0.5


@pytest.mark.parametrize("block_hops", [1, 256])
def test_default_chain_with_models_in_bulk_equals_hop_by_hop(set_parts, block_hops, tmp_path):
    """With the models (tiny ONNX encoders stepped in lockstep after every hop), the bulk run
    steps the inference stage hop by hop and then runs the silence gate, the override, the
    regions and the sections over the whole block: the frames equal the live chain's, with
    mood pieces, the mood cue, cuts and section events, and through the set's pauses (the
    silence gate holds the mood and marks the frame's prediction id -1, so the first hop with
    sound gets the newest prediction back, whether the frame is one for all hops or a row per
    hop)."""
    import tiny_models
    from sonolux.features.regions import RegionStage
    from sonolux.inference.runtime import InferenceConfig, load_models, make_inference

    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    runs = []
    for bulk in (False, True):
        stage, worker = make_inference(models, InferenceConfig(every_s=0.5))
        an = Analyzer(SPEC, inference_stage=stage)
        x = np.concatenate(set_parts)
        table = (an.analyze(x, after_hop=worker.poll, block_hops=block_hops) if bulk
                 else hop_by_hop(an, x, worker.poll))
        runs.append((table, an.find(RegionStage).finish(len(x) / SPEC.sample_rate)))
    (live, live_regions), (bulk, bulk_regions) = runs
    ids = [t.column("prediction_id").copy() for t in (live, bulk)]
    for t, i in zip((live, bulk), ids):  # ids are unique in the process: compare where they change
        t.values[:, t.layout.scalars["prediction_id"]] = np.r_[0, np.diff(i) != 0]
    assert_tables_equal(live, bulk)
    assert live_regions == bulk_regions and len(bulk_regions) >= 3, bulk_regions
    assert np.sum(np.diff(ids[1]) != 0) > 100 and bulk.column("region_mood_cue").max() > 0
    assert bulk.column("section_change").sum() >= 3 and bulk.column("silence").sum() > 100
    held = bulk.column("silence") > 0
    assert np.all(ids[1][held] == -1) and np.all(ids[1][~held] >= 0)
