"""Single-producer single-consumer float32 ring buffer (JUCE AbstractFifo semantics).

The producer (the audio callback) and the consumer (the analysis thread) each own one
position; both only increase. The producer copies data first and publishes its position
after, so the consumer never sees a half-written block. Writing never blocks: when the
block does not fit, the *newest* block is dropped whole and counted. Under CPython the
position stores are atomic (a single reference assignment), which is all SPSC needs.
"""
from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .spec import is_power_of_two


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
        start = rp & self._mask
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        if first < n:
            out[first:] = self._buf[:n - first]
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
