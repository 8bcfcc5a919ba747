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
