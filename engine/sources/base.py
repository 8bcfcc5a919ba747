"""The interface every audio source implements, and the block writer they all share.

Every source — PortAudio, file, synthetic — delivers blocks through ``BlockWriter.write``,
the same few lines the PortAudio callback runs: downmix the selected channels into a
preallocated mono buffer and copy it into the ring. So tests on files exercise exactly the
live code path.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..ringbuffer import RingBuffer


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


def select_channels(requested, available: int) -> np.ndarray:
    """Validate 1-based channel numbers (None → all channels, averaged)."""
    if not requested:
        return np.arange(available, dtype=np.int64)
    chans = []
    for c in requested:
        if not isinstance(c, int) or not 1 <= c <= available:
            raise ParameterError(f"channel {c!r} does not exist; the input has {available} channel(s), numbered 1..{available}")
        chans.append(c - 1)
    return np.array(chans, dtype=np.int64)


class AudioSource:
    """Base class: ``start(ring)``, ``stop()``, ``finished`` and counters.

    ``realtime`` is False for sources that run as fast as the analysis consumes (files in
    offline mode): they wait for ring space instead of dropping.
    """

    name = "source"
    realtime = True

    def __init__(self):
        self.writer: BlockWriter | None = None

    @property
    def finished(self) -> bool:
        """True when a finite source has delivered everything."""
        return False

    def start(self, ring: RingBuffer) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def dropped_blocks(self) -> int:
        return self.writer.ring.dropped_blocks if self.writer else 0
