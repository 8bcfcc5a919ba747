"""The real-time path allocates nothing after warm-up: the callback body and one analysis
hop are run many times under tracemalloc and the net growth must stay ~0."""
import tracemalloc

import numpy as np

from engine import Analyzer, Mailbox, RingBuffer, StreamSpec
from engine.sources.base import BlockWriter
from engine.sources.live import LiveSource
from engine.worker import AnalysisWorker

SPEC = StreamSpec()


class _Status:
    input_overflow = False

    def __bool__(self):
        return False


def _growth(fn, n=2000):
    """(net growth, largest transient) in bytes over ``n`` calls after warm-up.

    The peak catches per-call temporaries (a numpy scratch array would show up in full),
    the net growth catches leaks; small Python objects (bound methods, views) stay far below
    the limits."""
    for _ in range(200):  # warm-up: JIT, caches, freelists
        fn()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(n):
            fn()
        now, peak = tracemalloc.get_traced_memory()
        return now - before, peak - before
    finally:
        tracemalloc.stop()


def test_callback_body_allocates_nothing():
    ring = RingBuffer(1 << 16)
    src = LiveSource.__new__(LiveSource)  # the real callback, without opening a device
    src.status_reports = src.input_overflows = 0
    src.writer = BlockWriter(ring, np.array([0, 1]), 1024)
    indata = np.random.default_rng(0).standard_normal((256, 2)).astype(np.float32)
    status = _Status()
    out = np.empty(256, dtype=np.float32)

    def one_block():
        src._callback(indata, 256, None, status)
        ring.read_into(out)  # keep the ring from filling up (consumer side, not measured alone)

    net, transient = _growth(one_block)
    assert net < 1024 and transient < 2048, (net, transient)


def test_analysis_hop_allocates_nothing():
    analyzer = Analyzer(SPEC)
    ring = RingBuffer(SPEC.ring_capacity())
    mailbox = Mailbox(analyzer.layout)
    worker = AnalysisWorker(ring, analyzer, mailbox, drop_stale=False)
    block = (0.3 * np.random.default_rng(1).standard_normal(SPEC.hop)).astype(np.float32)

    def one_hop():
        ring.write(block)
        assert worker.step()

    net, transient = _growth(one_hop)
    assert net < 1024 and transient < 2048, (net, transient)
