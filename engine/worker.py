"""The analysis thread: the ring's single consumer.

It waits for whole hops, runs the Analyzer into the mailbox's next slot and publishes it.
When it falls more than ``max_backlog_s`` behind a live source it skips to the newest audio
(stale analysis is worse than none on stage) and counts what it skipped.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from .analysis import Analyzer
from .frame import Mailbox
from .ringbuffer import RingBuffer


class AnalysisWorker:
    def __init__(self, ring: RingBuffer, analyzer: Analyzer, mailbox: Mailbox, *,
                 source_finished=lambda: False, drop_stale: bool = True, max_backlog_s: float = 0.25,
                 on_frame=None):
        self.ring = ring
        self.analyzer = analyzer
        self.mailbox = mailbox
        self.source_finished = source_finished
        self.drop_stale = drop_stale
        spec = analyzer.spec
        self.max_backlog = max(int(max_backlog_s * spec.sample_rate), 4 * spec.hop)
        self.poll_s = min(spec.hop_seconds / 4, 0.001)
        self.on_frame = on_frame  # called on the worker thread with each published frame
        self._hop = np.zeros(spec.hop, dtype=np.float32)
        self._stop = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-analysis", daemon=True)
        self.hops = 0
        self.skipped_samples = 0
        self.late_hops = 0  # hops that took longer than a hop's duration
        self.hop_seconds_max = 0.0
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def step(self) -> bool:
        """Analyse one hop if one is ready; True if it did."""
        ring, hop = self.ring, self._hop
        if self.drop_stale:
            backlog = ring.available() - hop.shape[0]
            if backlog > self.max_backlog:
                skip = backlog - backlog % hop.shape[0]
                ring.read_pos += skip  # consumer-owned position: skipping is just advancing it
                self.skipped_samples += skip
        if ring.read_into(hop) == 0:
            return False
        t0 = time.perf_counter()
        frame = self.mailbox.begin()
        self.analyzer.process_hop(hop, frame)
        self.mailbox.publish(frame)
        dt = time.perf_counter() - t0
        if dt > self.hop_seconds_max:
            self.hop_seconds_max = dt
        if dt > self.analyzer.spec.hop_seconds:
            self.late_hops += 1
        self.hops += 1
        if self.on_frame is not None:
            self.on_frame(frame)
        return True

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.step():
                    if self.source_finished() and self.ring.available() < self._hop.shape[0]:
                        break
                    time.sleep(self.poll_s)
        except BaseException as e:  # surfaced by Engine.check(); never silently lost
            self.error = e
        finally:
            self.done.set()
