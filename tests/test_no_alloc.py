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


def test_per_hop_kernels_keep_the_gil():
    """A per-hop kernel that released the GIL would let other threads cut into the analysis
    hop (see engine/dsp/__init__.py); only the long-running bulk kernels release it."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import engine.dsp
    bulk = {"engine.dsp.features._run", "engine.dsp.resample.resample_into_nogil",
            "engine.modelinput._push_samples", "engine.modelinput._newest_rows"}
    names = [f"engine.dsp.{m.name}" for m in pkgutil.iter_modules(engine.dsp.__path__)]
    releasing, seen = set(), 0
    for mod_name in [*names, "engine.modelinput", "engine.sources.base"]:
        mod = importlib.import_module(mod_name)
        for attr, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod_name:
                seen += 1
                if obj.targetoptions.get("nogil"):
                    releasing.add(f"{mod_name}.{attr}")
    assert seen > 30
    assert releasing == bulk
