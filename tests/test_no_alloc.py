"""The real-time path allocates nothing after warm-up: the callback body and one analysis
hop are run many times under tracemalloc and the net growth must stay ~0."""
import tracemalloc

import numpy as np

from sonolux import Analyzer, Mailbox, RingBuffer, StreamSpec
from sonolux.sources.base import BlockWriter
from sonolux.sources.live import LiveSource
from sonolux.worker import AnalysisWorker

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


def test_inference_stage_allocates_nothing(tmp_path):
    """The models' share of the hop allocates nothing but a few Python numbers: the hop into
    the history ring (in the Analyzer's copy), the marks, the newest prediction into the
    mailbox slots (tiny ONNX models; predictions change while measuring; the worker itself
    is not measured). Measured call by call, so a numpy temporary (112 B and more) shows."""
    import dataclasses

    import tiny_models
    from sonolux.engine import make_analyzer
    from sonolux.inference.runtime import InferenceConfig, load_models, make_inference

    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    stage, inference = make_inference(models, InferenceConfig(every_s=0.05))
    analyzer = make_analyzer(SPEC, None, None, stage)
    mailbox = Mailbox(analyzer.layout)
    ctx, history = analyzer.ctx, stage.input_history
    block = (0.3 * np.random.default_rng(1).standard_normal(SPEC.hop)).astype(np.float32)
    for _ in range(20):
        analyzer.process_hop(block, mailbox.begin())
    assert inference.poll() and stage.latest is not None
    predictions = [dataclasses.replace(stage.latest) for _ in range(40)]  # 40 new ids
    largest = {"history": 0, "hop": 0, "mark hop": 0}

    def measured(kind, fn, *args):
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn(*args)
        largest[kind] = max(largest[kind], tracemalloc.get_traced_memory()[1] - before)

    tracemalloc.start()
    try:
        for i in range(2200):
            if i % 50 == 0:
                stage.latest = predictions[(i // 50) % 40]  # the worker's reference swap
            if i == 200:  # warmed up
                largest = dict.fromkeys(largest, 0)
                marks = stage.mark_seq
            frame = mailbox.begin()
            measured("history", history.write, block, ctx.samples)
            ctx.sample_end += SPEC.hop
            measured("mark hop" if (stage.hops + 1) % stage.every == 0 else "hop",
                     stage.process, ctx, frame)
            mailbox.publish(frame)
    finally:
        tracemalloc.stop()
    assert stage.mark_seq - marks > 100  # marks were dropped while measuring
    assert largest["hop"] < 100 and largest["history"] < 256 and largest["mark hop"] < 256, largest


def test_per_hop_kernels_keep_the_gil():
    """A per-hop kernel that released the GIL would let other threads cut into the analysis
    hop (see engine/dsp/__init__.py); only the long-running bulk kernels release it."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import sonolux.dsp
    bulk = {"sonolux.dsp.features._run", "sonolux.dsp.resample.resample_into_nogil",
            "sonolux.modelinput._push_samples", "sonolux.modelinput._newest_rows"}
    names = [f"sonolux.dsp.{m.name}" for m in pkgutil.iter_modules(sonolux.dsp.__path__)]
    releasing, seen = set(), 0
    for mod_name in [*names, "sonolux.modelinput", "sonolux.sources.base", "sonolux.ringbuffer"]:
        mod = importlib.import_module(mod_name)
        for attr, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod_name:
                seen += 1
                if obj.targetoptions.get("nogil"):
                    releasing.add(f"{mod_name}.{attr}")
    assert seen > 30
    assert releasing == bulk
