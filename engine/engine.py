"""Engine: source → ring → analysis worker → mailbox → outputs, with start/stop and stats.

It owns the wiring and the lifecycle, nothing else: the pieces each do one job.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .analysis import AnalysisConfig, Analyzer
from .errors import SonoluxError
from .frame import Mailbox
from .outputs.osc import OscSender, default_mappings
from .ringbuffer import RingBuffer
from .sources import AudioSource
from .spec import StreamSpec
from .worker import AnalysisWorker


@dataclass
class EngineStats:
    hops: int
    t: float  # audio time of the newest frame (s)
    dropped_blocks: int
    skipped_samples: int
    late_hops: int
    hop_ms_max: float
    osc_messages: int
    osc_errors: int
    status_reports: int


class Engine:
    def __init__(self, spec: StreamSpec, source: AudioSource, *, osc_targets=(),
                 osc_mappings=None, config: AnalysisConfig | None = None, on_send=None):
        self.spec = spec
        self.source = source
        self.ring = RingBuffer(spec.ring_capacity())
        self.analyzer = Analyzer(spec, config)
        self.mailbox = Mailbox(self.analyzer.layout)
        self.worker = AnalysisWorker(self.ring, self.analyzer, self.mailbox,
                                     source_finished=lambda: source.finished,
                                     drop_stale=source.realtime)
        self.osc = None
        if osc_targets:
            self.osc = OscSender(self.mailbox, list(osc_targets),
                                 osc_mappings if osc_mappings is not None else default_mappings(),
                                 on_send=on_send)
        self._started = False

    def start(self) -> None:
        self.analyzer.warm_up()
        self.worker.start()
        if self.osc:
            self.osc.start()
        try:
            self.source.start(self.ring)
        except BaseException:
            self.stop()
            raise
        self._started = True

    def stop(self) -> None:
        try:
            self.source.stop()
        finally:
            self.worker.stop()
            if self.osc:
                # let the sender flush the last frame's changes
                self.osc.poll_once()
                self.osc.stop()

    def check(self) -> None:
        """Re-raise an error that ended the analysis thread."""
        if self.worker.error is not None:
            err = self.worker.error
            raise err if isinstance(err, SonoluxError) else SonoluxError(f"analysis stopped: {err!r}")

    @property
    def finished(self) -> bool:
        return self.worker.done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a finite source is fully analysed; True if it finished."""
        return self.worker.done.wait(timeout)

    def stats(self) -> EngineStats:
        src = self.source
        return EngineStats(
            hops=self.worker.hops,
            t=self.worker.analyzer.sample_pos / self.spec.sample_rate,
            dropped_blocks=self.ring.dropped_blocks + (src.writer.oversized_blocks if src.writer else 0),
            skipped_samples=self.worker.skipped_samples,
            late_hops=self.worker.late_hops,
            hop_ms_max=self.worker.hop_seconds_max * 1e3,
            osc_messages=self.osc.messages if self.osc else 0,
            osc_errors=self.osc.errors if self.osc else 0,
            status_reports=getattr(src, "status_reports", 0),
        )

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
