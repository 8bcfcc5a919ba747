"""The real-time path allocates nothing after warm-up, measured call by call.

Each call (the callback body, one analysis hop of the live chain, one OSC poll) runs under
tracemalloc with the peak reset before it; the largest growth any single call shows must stay
below ``LIMIT``, the size of one 256-sample float32 block (1 KiB). A numpy temporary of a
block's size (1 KiB + its header) therefore fails the test; the few small Python objects a
call makes and frees at once (numbers, argument tuples of the Numba dispatch) stay below it.
"""
import tracemalloc

import numpy as np
import pytest

from conftest import call_growths
from sonolux import Analyzer, Mailbox, RingBuffer, StreamSpec
from sonolux.ringbuffer import BlockWriter
from sonolux.sources.live import LiveSource
from sonolux.worker import AnalysisWorker

pytestmark = pytest.mark.usefixtures("measured_alone")  # tracemalloc counts every thread's

SPEC = StreamSpec()
BLOCK_BYTES = SPEC.block_size * np.dtype(np.float32).itemsize  # 1 KiB
LIMIT = BLOCK_BYTES


class _Status:
    input_overflow = False

    def __bool__(self):
        return False


def largest_call(fn, **kw) -> int:
    """The largest growth of any one call (see :func:`call_growths`)."""
    return int(call_growths(fn, **kw).max())


def test_the_measure_sees_one_block_sized_temporary():
    """The measure itself: a call that makes one block-sized float32 temporary exceeds it."""
    x = np.ones(SPEC.block_size, dtype=np.float32)
    assert largest_call(lambda: x * 2.0, warm=5, n=50) > LIMIT
    assert largest_call(lambda: np.multiply(x, 2.0, out=x), warm=5, n=50) < LIMIT


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
        ring.read_into(out)  # keep the ring from filling up (consumer side)

    assert largest_call(one_block) < LIMIT


def test_analysis_hop_allocates_nothing():
    """One hop of the live chain (features, override, regions) through the worker."""
    analyzer = Analyzer(SPEC)
    ring = RingBuffer(SPEC.ring_capacity())
    mailbox = Mailbox(analyzer.layout)
    worker = AnalysisWorker(ring, analyzer, mailbox, drop_stale=False)
    block = (0.3 * np.random.default_rng(1).standard_normal(SPEC.hop)).astype(np.float32)

    # 2000 hops cover five 2-s energy segments (the region stage's busiest hops)
    largest = largest_call(worker.step, setup=lambda: ring.write(block))
    assert analyzer.sample_pos > 5 * analyzer.config.energy_segment_s * SPEC.sample_rate
    assert largest < LIMIT, largest


@pytest.mark.parametrize("method", ["seed", "cues"])
def test_region_cut_hops_allocate_only_the_new_region(method):
    """Level steps make the region stage cut. Every other hop stays under ``LIMIT``; the hop
    where a cut is decided refines it in one Numba call over preallocated buffers and makes
    only the segmenter's new region record (a few small Python objects, < 8 KiB; the numpy
    refinement made ~1.8 MB of temporaries there)."""
    from sonolux.analysis import AnalysisConfig

    rng = np.random.default_rng(0)
    x = np.concatenate([a * rng.standard_normal(SPEC.sample_rate * 5) for a in (0.02, 0.3, 0.02, 0.2)])
    x = x.astype(np.float32)
    # the cues' windows shortened so that each 5-s level step is judged (the defaults need 6 s
    # of audio after a change); every kernel is loaded by warm_up and the stage's prepare
    analyzer = Analyzer(SPEC, AnalysisConfig(energy_segment_s=1.0, region_method=method, region_min_s=4.0,
                                             region_future_s=2.0, region_localise_s=1.0,
                                             region_contrast_past_s=4.0))
    analyzer.warm_up()
    frame, i_change = analyzer.layout.new_frame(), analyzer.layout.scalars["region_change"]
    hops = [x[k * SPEC.hop:(k + 1) * SPEC.hop] for k in range(len(x) // SPEC.hop)]
    pos = [0]

    def one_hop():
        analyzer.process_hop(hops[pos[0]], frame)
        pos[0] += 1

    growth = call_growths(one_hop, warm=5, n=len(hops) - 5)
    cut = np.zeros(len(growth), dtype=bool)
    analyzer.reset()  # replay to learn which hops cut (same input, same decisions)
    for k, h in enumerate(hops):
        analyzer.process_hop(h, frame)
        if k >= 5:
            cut[k - 5] = frame.values[i_change] > 0.5
    assert cut.sum() >= 2
    assert growth[~cut].max() < LIMIT, growth[~cut].max()
    assert growth[cut].max() < 8 * 1024, growth[cut]


def test_osc_poll_allocates_little():
    """One OSC poll of a fresh frame (all default mappings) to a real UDP socket.

    A poll sends datagrams, and outputs/osc.py builds each one as a new ``bytes`` (plus the
    message list): about 360 B a poll, up to ~1 KiB on the polls where most fields change.
    So this measure is the 99th percentile of the polls, not the largest; a block-sized
    numpy temporary in every poll still fails it."""
    import socket

    from sonolux.outputs.osc import OscSender, build_targets

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    analyzer = Analyzer(SPEC)
    mailbox = Mailbox(analyzer.layout)
    # no rate cap, so every poll sends what changed (the busiest case)
    sender = OscSender(mailbox, build_targets([f"127.0.0.1:{rx.getsockname()[1]}"], max_rate_hz=1e6))
    rng = np.random.default_rng(2)
    blocks = [(0.3 * rng.standard_normal(SPEC.hop)).astype(np.float32) for _ in range(64)]
    i = [0]

    def new_frame():  # unmeasured: analyse a hop, publish it, empty the socket
        try:
            while True:
                rx.recv(65536)
        except BlockingIOError:
            pass
        frame = mailbox.begin()
        analyzer.process_hop(blocks[i[0] % 64], frame)
        mailbox.publish(frame)
        i[0] += 1

    try:
        growth = call_growths(sender.poll_once, setup=new_frame, n=500)
    finally:
        rx.close()
    assert sender.messages > 100
    assert np.percentile(growth, 99) < LIMIT, (np.percentile(growth, [50, 99]), growth.max())


def test_inference_stage_allocates_nothing(tmp_path):
    """The models' share of the hop allocates nothing but a few Python numbers: the hop into
    the history ring (in the Analyzer's copy), the marks, the newest prediction into the
    mailbox slots (tiny ONNX models; predictions change while measuring; the worker itself
    is not measured). Measured call by call, so a numpy temporary (112 B and more) shows."""
    import dataclasses

    import tiny_models
    from sonolux.inference.runtime import InferenceConfig, load_models, make_inference

    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    stage, inference = make_inference(models, InferenceConfig(every_s=0.05))
    analyzer = Analyzer(SPEC, inference_stage=stage)
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
    hop (see engine/features/__init__.py); only the long-running bulk kernels release it."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import sonolux.features
    bulk = {"sonolux.features.resample.resample_into_nogil",
            "sonolux.modelinput._push_samples", "sonolux.modelinput._newest_rows"}
    names = [f"sonolux.features.{m.name}" for m in pkgutil.iter_modules(sonolux.features.__path__)]
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
