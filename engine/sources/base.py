"""The interface every audio source implements.

Every source — PortAudio, file, synthetic — delivers blocks through
:class:`~sonolux.ringbuffer.BlockWriter`, the same few lines the PortAudio callback runs, so
tests on files exercise exactly the live code path.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..ringbuffer import BlockWriter, RingBuffer


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
