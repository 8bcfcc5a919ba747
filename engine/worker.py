"""The analysis thread: the ring's single consumer.

It waits for whole hops, runs the Analyzer into the mailbox's next slot and publishes it.
When it falls more than ``max_backlog_s`` behind a live source it skips to the newest audio
(stale analysis is worse than none on stage) and counts what it skipped.

When a live input stops delivering (an unplugged interface, a PulseAudio source with
nothing playing, a restarting server) the worker analyses silence at real-time pace after
``stall_s``, so outputs keep moving (levels fall to zero) instead of freezing. It fills on
the consumer side, so the ring keeps its single producer. After a reconnect at another
sample rate, ``set_input_rate`` makes it resample to the engine rate before the hops.
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
        self.stall_s = max(0.25, 4 * analyzer.spec.block_size / spec.sample_rate)
        self.fill_silence = drop_stale  # only live (real-time) sources stall
        self.filled_hops = 0
        self._last_data = None  # perf_counter of the last hop made of real input
        self._resample_path = None  # (raw buffer, resampler, staged ring) for a foreign input rate
        self.on_frame = on_frame  # called on the worker thread with each published frame
        self.recorder = None  # a Recorder: gets each frame and its hop of audio
        self.gain = None  # an InputGain: scales each hop before the analysis
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

    def set_input_rate(self, rate: int) -> None:
        """The source now delivers ``rate`` Hz (call while no block is being written)."""
        from .features.resample import StreamResampler

        spec = self.analyzer.spec
        if rate == spec.sample_rate:
            self._resample_path = None
            return
        raw = np.zeros(4096, dtype=np.float32)
        self._resample_path = (raw, StreamResampler(rate, spec.sample_rate, raw.shape[0]),
                               RingBuffer(spec.ring_capacity()))  # one swap: the worker sees all or none

    def _next_hop(self) -> bool:
        """Fill ``self._hop`` from the input (resampled when needed); False if not enough."""
        path = self._resample_path
        if path is None:
            return self.ring.read_into(self._hop) > 0
        raw, resampler, staged = path
        n = self.ring.read_available(raw)
        if n:
            staged.write(resampler.process(raw[:n]))
        return staged.read_into(self._hop) > 0

    def _silence_due(self) -> bool:
        """A live input has been quiet for longer than ``stall_s``: time for a silent hop."""
        now = time.perf_counter()
        if self._last_data is None:
            return False
        hop_s = self.analyzer.spec.hop_seconds
        if now - self._last_data < self.stall_s:
            return False
        self._last_data += hop_s  # one hop of silence per hop of wall time
        return True

    def step(self) -> bool:
        """Analyse one hop if one is ready; True if it did."""
        ring, hop = self.ring, self._hop
        if self.drop_stale:
            backlog = ring.available() - hop.shape[0]
            if backlog > self.max_backlog:
                skip = backlog - backlog % hop.shape[0]
                ring.read_pos += skip  # consumer-owned position: skipping is just advancing it
                self.skipped_samples += skip
        if self._next_hop():
            self._last_data = time.perf_counter()
        elif self.fill_silence and not self.source_finished() and self._silence_due():
            hop[:] = 0.0
            self.filled_hops += 1
        else:
            return False
        t0 = time.perf_counter()
        if self.gain is not None:
            self.gain.apply(hop, self.analyzer.spec.hop_seconds)
        frame = self.mailbox.begin()
        self.analyzer.process_hop(hop, frame)
        self.mailbox.publish(frame)
        dt = time.perf_counter() - t0
        if dt > self.hop_seconds_max:
            self.hop_seconds_max = dt
        if dt > self.analyzer.spec.hop_seconds:
            self.late_hops += 1
        self.hops += 1
        if self.recorder is not None:
            self.recorder.capture(frame, hop)
        if self.on_frame is not None:
            self.on_frame(frame)
        return True

    def _run(self) -> None:
        self._last_data = time.perf_counter()  # an input that never starts also counts as stalled
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
