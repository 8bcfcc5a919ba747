import threading

import numpy as np
import pytest

from sonolux import ParameterError, RingBuffer
from sonolux.ringbuffer import HistoryRing


def test_capacity_must_be_power_of_two():
    with pytest.raises(ParameterError, match="capacity=1000"):
        RingBuffer(1000)


def test_random_blocks_including_empty_and_single(rng):
    ring = RingBuffer(64)
    src = rng.standard_normal(5000).astype(np.float32)
    out = []
    pos = 0
    while pos < len(src):
        n = int(rng.choice([0, 1, 2, 7, 31, 64]))
        block = src[pos:pos + n]
        if ring.free_space() >= len(block):
            assert ring.write(block)
            pos += len(block)
        m = int(rng.choice([0, 1, 5, 40]))
        buf = np.empty(m, dtype=np.float32)
        got = ring.read_available(buf)
        out.append(buf[:got].copy())
    rest = np.empty(ring.available(), dtype=np.float32)
    ring.read_into(rest)
    out.append(rest)
    np.testing.assert_array_equal(np.concatenate(out), src)
    assert ring.dropped_blocks == 0


def test_wraparound_keeps_order():
    ring = RingBuffer(8)
    out = np.empty(5, dtype=np.float32)
    for i in range(10):
        block = np.arange(5, dtype=np.float32) + 5 * i
        assert ring.write(block)
        assert ring.read_into(out) == 5
        np.testing.assert_array_equal(out, block)
    assert ring.write_pos == ring.read_pos == 50


def test_overflow_drops_newest_block_and_counts():
    ring = RingBuffer(8)
    assert ring.write(np.ones(6, dtype=np.float32))
    assert not ring.write(np.full(4, 2.0, dtype=np.float32))  # does not fit: dropped whole
    assert ring.dropped_blocks == 1 and ring.dropped_samples == 4
    assert ring.write(np.full(2, 3.0, dtype=np.float32))  # fits exactly
    out = np.empty(8, dtype=np.float32)
    assert ring.read_into(out) == 8
    np.testing.assert_array_equal(out, [1, 1, 1, 1, 1, 1, 3, 3])


def test_read_is_all_or_nothing():
    ring = RingBuffer(16)
    ring.write(np.ones(3, dtype=np.float32))
    out = np.empty(4, dtype=np.float32)
    assert ring.read_into(out) == 0 and ring.available() == 3


def test_two_threads_ten_million_samples():
    total = 10_000_000
    ring = RingBuffer(1 << 16)
    received = np.empty(total, dtype=np.float32)
    block = 4096

    def produce():
        pos = 0
        data = np.arange(total, dtype=np.float64)  # exact as float32 up to 2**24; use mod below
        while pos < total:
            n = min(block, total - pos)
            chunk = (data[pos:pos + n] % 8_000_000).astype(np.float32)
            while not ring.write(chunk):
                ring.dropped_blocks -= 1  # retry: this test wants nothing lost
                ring.dropped_samples -= n
            pos += n

    def consume():
        pos = 0
        buf = np.empty(3000, dtype=np.float32)
        while pos < total:
            got = ring.read_available(buf[:min(3000, total - pos)])
            received[pos:pos + got] = buf[:got]
            pos += got

    tp, tc = threading.Thread(target=produce), threading.Thread(target=consume)
    tc.start(); tp.start()
    tp.join(120); tc.join(120)
    expected = (np.arange(total, dtype=np.float64) % 8_000_000).astype(np.float32)
    np.testing.assert_array_equal(received, expected)
    assert ring.write_pos == ring.read_pos == total


# -- HistoryRing: the inference worker's view of the analysed input --------------------------

def test_history_keeps_order_across_the_wrap_and_copies_into_also():
    ring = HistoryRing(16, max_write=4)
    also = np.empty(4)
    out = np.empty(3, dtype=np.float32)
    got = []
    for i in range(12):
        block = np.arange(4, dtype=np.float64) + 4 * i
        ring.write(block, also)
        np.testing.assert_array_equal(also, block)  # the same call filled the second copy
        while ring.read_into(out):
            got.append(out.copy())
    np.testing.assert_array_equal(np.concatenate(got), np.arange(48))  # 48 // 3 reads, in order
    assert ring.write_pos == 48 and ring.read_pos == 48


def test_history_overwrites_instead_of_refusing_and_the_reader_sees_it():
    ring = HistoryRing(8, max_write=2)
    out = np.empty(2, dtype=np.float32)
    for i in range(3):
        ring.write(np.full(2, float(i)))
    assert not ring.lapped() and ring.read_into(out) == 2
    for i in range(3, 7):  # the writer never waits: the reader's next samples are overwritten
        ring.write(np.full(2, float(i)))
    assert ring.lapped() and ring.read_into(out) == 0 and ring.read_pos == 2
    ring.read_pos = ring.write_pos - 4  # start again from the newest audio
    assert ring.read_into(out) == 2
    np.testing.assert_array_equal(out, [5, 5])


def test_history_rejects_bad_sizes():
    with pytest.raises(ParameterError, match="capacity=12"):
        HistoryRing(12, max_write=2)
    with pytest.raises(ParameterError, match=r"max_write=16 must be in 1..capacity-1=15"):
        HistoryRing(16, max_write=16)
    with pytest.raises(ParameterError, match="block has 5 samples, more than max_write=4"):
        HistoryRing(16, max_write=4).write(np.zeros(5))


def test_the_callbacks_kernel_is_ready_before_the_first_block(tmp_path):
    """A first run after an install compiles the Numba kernels: the audio callback's downmix
    must be compiled when the writer is made (before the stream opens), not at the first block
    — in a fresh process with an empty kernel cache, writing blocks compiles nothing more."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from sonolux.ringbuffer import BlockWriter, RingBuffer, downmix\n"
        "w = BlockWriter(RingBuffer(1 << 12), np.array([0, 1]), 256)\n"
        "ready = len(downmix.signatures)\n"
        "for n in (256, 7, 0):\n"
        "    w.write(np.ones((n, 2), np.float32))\n"
        "print(ready, len(downmix.signatures), w.blocks)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "3"]
