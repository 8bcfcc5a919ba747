"""Ring buffers: the SPSC audio FIFO (JUCE AbstractFifo semantics), a history ring, and the
block writer — the audio callback's only callee: it downmixes the selected channels into a
preallocated mono buffer and copies it into the ring.

The producer (the audio callback) and the consumer (the analysis thread) each own one
position; both only increase. The producer copies data first and publishes its position
after, so the consumer never sees a half-written block. Writing never blocks: when the
block does not fit, the *newest* block is dropped whole and counted. Under CPython the
position stores are atomic (a single reference assignment), which is all SPSC needs.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .errors import ParameterError
from .spec import is_power_of_two


def _copy_out(buf: np.ndarray, pos: int, out: np.ndarray) -> None:
    """``len(out)`` samples of the power-of-two ring ``buf`` from stream position ``pos``
    (two slices when they wrap around the end)."""
    n, capacity = out.shape[0], buf.shape[0]
    start = pos & (capacity - 1)
    first = min(n, capacity - start)
    out[:first] = buf[start:start + first]
    if first < n:
        out[first:] = buf[:n - first]


class RingBuffer:
    def __init__(self, capacity: int):
        if not is_power_of_two(capacity):
            raise ParameterError(f"capacity={capacity} must be a power of two")
        self.capacity = capacity
        self._mask = capacity - 1
        self._buf = np.zeros(capacity, dtype=np.float32)
        self.write_pos = 0  # total samples ever written (owned by the producer)
        self.read_pos = 0  # total samples ever read (owned by the consumer)
        self.dropped_blocks = 0
        self.dropped_samples = 0

    # -- producer side -------------------------------------------------------------
    def free_space(self) -> int:
        return self.capacity - (self.write_pos - self.read_pos)

    def write(self, block: np.ndarray) -> bool:
        """Copy ``block`` (1-D float32) in; return False (and count) when it does not fit."""
        n = block.shape[0]
        if n == 0:
            return True
        wp = self.write_pos
        if n > self.capacity - (wp - self.read_pos):
            self.dropped_blocks += 1
            self.dropped_samples += n
            return False
        start = wp & self._mask
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = block[:first]
        if first < n:
            self._buf[:n - first] = block[first:]
        self.write_pos = wp + n  # publish after the copy
        return True

    # -- consumer side -------------------------------------------------------------
    def available(self) -> int:
        return self.write_pos - self.read_pos

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` completely if that many samples are available; return samples read.

        Reads all-or-nothing so the analysis always gets whole hops.
        """
        n = out.shape[0]
        rp = self.read_pos
        if n == 0 or self.write_pos - rp < n:
            return 0
        _copy_out(self._buf, rp, out)
        self.read_pos = rp + n  # release the space after the copy
        return n

    def read_available(self, out: np.ndarray) -> int:
        """Read up to ``len(out)`` samples (whatever is there); return how many."""
        n = min(out.shape[0], self.write_pos - self.read_pos)
        return self.read_into(out[:n]) if n > 0 else 0

    def reset(self) -> None:
        """Forget everything. Only call when neither side is running."""
        self.read_pos = self.write_pos = 0
        self.dropped_blocks = self.dropped_samples = 0


@njit(cache=True)
def _copy_in(x, buf, pos, also):
    """``x`` into the power-of-two ring ``buf`` from stream position ``pos`` on, wrapping,
    and into ``also`` (its first ``len(also)`` samples) in the same pass."""
    mask = buf.shape[0] - 1
    for k in range(x.shape[0]):
        buf[(pos + k) & mask] = x[k]
        if k < also.shape[0]:
            also[k] = x[k]


_NOWHERE = np.zeros(0)


class HistoryRing:
    """The newest ``capacity`` samples of a stream, for a reader that may fall far behind
    (the inference worker behind the analysis thread).

    Unlike :class:`RingBuffer` the writer never refuses a block: it overwrites the oldest
    samples, in one Numba call (any float dtype in, float32 stored, nothing allocated), and
    publishes ``write_pos`` after the copy. The reader owns ``read_pos``; when the writer has
    lapped it (``lapped()``) the samples it wanted are gone and it starts again from the newest.
    ``max_write`` is the largest block one ``write`` takes: the reader keeps that much away
    from the writer, whose copy may be under way.
    """

    def __init__(self, capacity: int, max_write: int):
        if not is_power_of_two(capacity):
            raise ParameterError(f"capacity={capacity} must be a power of two")
        if not 0 < max_write < capacity:
            raise ParameterError(f"max_write={max_write} must be in 1..capacity-1={capacity - 1}")
        self.capacity = capacity
        self.max_write = max_write
        self._buf = np.zeros(capacity, dtype=np.float32)
        self.write_pos = 0  # total samples ever written (owned by the writer)
        self.read_pos = 0  # total samples ever read (owned by the reader)

    def write(self, block: np.ndarray, also: np.ndarray = _NOWHERE) -> None:
        """Append ``block``; copy it into ``also`` (float64, same length) in the same call:
        the analysis hop's one copy of its input feeds both its context and this ring."""
        if block.shape[0] > self.max_write:
            raise ParameterError(f"block has {block.shape[0]} samples, more than max_write={self.max_write}")
        _copy_in(block, self._buf, self.write_pos, also)
        self.write_pos += block.shape[0]  # publish after the copy

    def lapped(self) -> bool:
        """True when samples at ``read_pos`` are overwritten or may be being overwritten."""
        return self.write_pos + self.max_write - self.read_pos > self.capacity

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` from ``read_pos`` if that many samples are there and still intact;
        return samples read (0: not written yet, or lapped before or during the copy)."""
        n = out.shape[0]
        rp = self.read_pos
        if n == 0 or self.write_pos - rp < n or self.lapped():
            return 0
        _copy_out(self._buf, rp, out)
        if self.lapped():  # overwritten while copying: the copy may be torn
            return 0
        self.read_pos = rp + n
        return n

    def reset(self) -> None:
        """Forget everything. Only call when neither side is running."""
        self.read_pos = self.write_pos = 0


@njit(cache=True)
def downmix(block, channels, out):
    """Average the ``channels`` columns of ``block`` (frames × ch) into ``out[:frames]``.

    NaN / ±Inf samples (a broken driver, a corrupt file) become 0 so nothing downstream
    ever sees them; returns how many were replaced."""
    n = block.shape[0]
    c = channels.shape[0]
    inv = 1.0 / c
    bad = 0
    for i in range(n):
        acc = 0.0
        for j in range(c):
            x = block[i, channels[j]]
            if math.isfinite(x):
                acc += x
            else:
                bad += 1
        out[i] = acc * inv
    return bad


class BlockWriter:
    """Downmixes blocks of up to ``max_frames`` into the ring; counts what it drops."""

    def __init__(self, ring: RingBuffer, channels: np.ndarray, max_frames: int):
        self.ring = ring
        self.channels = np.asarray(channels, dtype=np.int64)
        self._mono = np.zeros(max_frames, dtype=np.float32)
        self.blocks = 0
        self.oversized_blocks = 0
        self.nonfinite_samples = 0
        # load (or, on a first run, compile) the kernel now, not in the audio callback: a
        # compile there holds the GIL for seconds while the input keeps coming
        width = int(self.channels.max()) + 1 if self.channels.size else 1
        downmix(np.zeros((1, width), np.float32), self.channels, self._mono)

    def write(self, block: np.ndarray) -> None:
        n = block.shape[0]
        if n > self._mono.shape[0]:  # never allocate in the callback: count and drop
            self.oversized_blocks += 1
            return
        bad = downmix(block, self.channels, self._mono)
        if bad:
            self.nonfinite_samples += bad
        self.ring.write(self._mono[:n])
        self.blocks += 1
