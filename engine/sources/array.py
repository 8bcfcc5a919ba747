"""A source that streams an in-memory signal block by block, paced like a sound card
(``realtime=True``) or as fast as the ring empties (``realtime=False``). Files and the
synthetic generators are built on it."""
from __future__ import annotations

import threading
import time

import numpy as np

from ..ringbuffer import BlockWriter
from .base import AudioSource


class ArraySource(AudioSource):
    def __init__(self, signal: np.ndarray, sample_rate: int, block_size: int, *,
                 realtime: bool = True, loop: bool = False, name: str = "array"):
        super().__init__()
        sig = np.asarray(signal, dtype=np.float32)
        self.signal = sig.reshape(-1, 1) if sig.ndim == 1 else sig
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.realtime = realtime
        self.loop = loop
        self.name = name
        self._done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.position = 0  # samples delivered

    @property
    def duration_s(self) -> float:
        return self.signal.shape[0] / self.sample_rate

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def start(self, ring) -> None:
        self.writer = BlockWriter(ring, np.arange(self.signal.shape[1]), self.block_size)
        self._thread = threading.Thread(target=self._feed, name=f"sonolux-{self.name}", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        sig, bs, writer = self.signal, self.block_size, self.writer
        n = sig.shape[0]
        t0 = time.perf_counter()
        sent = 0  # samples sent since t0 (for pacing)
        pos = 0
        while not self._stop.is_set():
            if pos >= n:
                if not self.loop or n == 0:
                    break
                pos = 0
            block = sig[pos:pos + bs]
            if self.realtime:
                due = t0 + sent / self.sample_rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            else:
                while writer.ring.free_space() < block.shape[0] and not self._stop.is_set():
                    time.sleep(0.0005)
            writer.write(block)
            pos += block.shape[0]
            sent += block.shape[0]
            self.position = sent
        self._done.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
