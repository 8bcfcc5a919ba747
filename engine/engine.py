"""Engine: source → ring → analysis worker → mailbox → outputs, with start/stop and stats.

It owns the wiring and the lifecycle, nothing else: the pieces each do one job.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass

from .analysis import AnalysisConfig, Analyzer
from .errors import SonoluxError
from .frame import Mailbox
from .features.regions import NO_JUDGE_RECORD, RegionStage
from .features.silence import SilenceGate
from .gain import InputGain
from .operator_state import ControlState
from .inference.runtime import InferenceConfig, make_inference
from .outputs.record import Recorder
from .outputs.osc import OscSender
from .ringbuffer import RingBuffer
from .sources import AudioSource
from .spec import StreamSpec
from .worker import AnalysisWorker

log = logging.getLogger("sonolux")


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
    filled_hops: int = 0  # hops of silence analysed while the input delivered nothing
    input_lost: bool = False
    input_losses: int = 0
    inference_windows: int = 0
    inference_skipped: int = 0
    prediction_age_s: float = -1.0
    blackout: bool = False
    emotion_override: int = 0  # 0 = the models decide, 1..4 = the operator's quadrant
    gain_db: float = 0.0  # the input gain applied now
    gain_auto: bool = False
    tap_locked: bool = False  # a tap lock holds the beat tracker
    silent: bool = False  # the input is below the silence threshold


class Engine:
    """The live engine: a source, the analysis thread, the mailbox and the outputs.

    >>> import sonolux
    >>> spec = sonolux.StreamSpec()
    >>> source = sonolux.sources.SynthSource("clicks:120", spec.sample_rate, spec.block_size)
    >>> targets = sonolux.outputs.osc.build_targets(["127.0.0.1:9000"])
    >>> with sonolux.Engine(spec, source, osc_targets=targets) as engine:  # doctest: +SKIP
    ...     engine.wait(10)                                           # 10 s of audio, sent as OSC
    """

    def __init__(self, spec: StreamSpec, source: AudioSource, *, osc_targets=(),
                 config: AnalysisConfig | None = None, on_send=None, models: dict | None = None,
                 inference: InferenceConfig | None = None, record_dir=None, record_audio: bool = False):
        """``osc_targets``: TargetConfigs (see ``outputs.osc.build_targets``); ``models``:
        task → OnnxModel (``inference.runtime.load_models``), None or {} for none."""
        self.spec = spec
        self.source = source
        self.ring = RingBuffer(spec.ring_capacity())
        self.control_state = ControlState()
        self.inference_stage = self.inference = None
        self.inference_config = inference or InferenceConfig()
        if models:
            self.inference_stage, self.inference = make_inference(models, self.inference_config)
            # the operator's override teaches the per-show calibration
            self.inference.override = lambda: self.control_state.emotion_override
            self.inference.calibration_resets = lambda: self.control_state.calibration_resets
        self.analyzer = Analyzer(spec, config, override_state=self.control_state,
                                 inference_stage=self.inference_stage)
        self.preset_handler = None  # set by a visual host: called with a preset name
        self.preset_names = None  # set by a visual host: the presets it knows (None: unknown)
        self.visual_host = None
        self.blackout_handler = None  # set by a visual host: called with True/False
        self.mailbox = Mailbox(self.analyzer.layout)
        self.worker = AnalysisWorker(self.ring, self.analyzer, self.mailbox,
                                     source_finished=lambda: source.finished,
                                     drop_stale=source.realtime)
        self.gain = InputGain()  # unity until set (show file, --gain, /sonolux/gain, the panel)
        self.worker.gain = self.gain
        self.osc = None
        if osc_targets:
            self.osc = OscSender(self.mailbox, list(osc_targets), on_send=on_send, status=self.status_args)
        self.extra_outputs: list = []  # rig outputs (DMX, MIDI, OS2L, Link): see add_output
        self.recorder = None
        if record_dir is not None:
            self.recorder = Recorder(record_dir, self.analyzer.layout, spec, audio=record_audio)
            self.worker.recorder = self.recorder
        self._started = False
        self._stopped = False
        self.input_lost = False
        self.input_losses = 0
        self._supervisor = None
        self._supervisor_stop = threading.Event()

    def add_output(self, output) -> None:
        """Add an output that reads ``self.mailbox`` (``outputs.rig_options.build_rig_outputs``).
        It needs ``start()``, ``stop()``, a ``blackout`` attribute and ``health()``; the
        engine starts it with the analysis, stops it last and reports its health."""
        if self._started:
            raise SonoluxError("add outputs before the engine starts")
        self.extra_outputs.append(output)

    def _supervise(self) -> None:
        """Watch a live input: when its stream dies (unplugged, server restarted) log it
        once, let the analysis run on silence, and reopen the device by name with backoff."""
        src = self.source
        backoff, next_try = 0.5, 0.0
        while not self._supervisor_stop.wait(0.1):
            if src.active:
                continue
            now = time.monotonic()
            if not self.input_lost:
                self.input_lost = True
                self.input_losses += 1
                log.warning("input %r lost; outputs continue on silence, reconnecting …", src.name)
                next_try = now
            if now < next_try:
                continue
            try:
                rate = src.reconnect()
            except SonoluxError:
                next_try = now + backoff
                backoff = min(backoff * 2, 5.0)
                continue
            self.input_lost = False
            backoff = 0.5
            log.warning("input %r is back (%d Hz)", src.name, rate)

    def start(self) -> None:
        # CPython hands the GIL over every 5 ms by default, longer than a hop: ask for 1 ms
        # so the analysis thread never waits long behind the inference or output threads
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.analyzer.warm_up()
        if self.inference:
            self.inference.warm_up()
        self.worker.start()
        if self.inference:
            self.inference.start()
        if self.osc:
            self.osc.start()
        for out in self.extra_outputs:
            out.start()
        if hasattr(self.source, "rate_listener"):
            self.source.rate_listener = self.worker.set_input_rate
        try:
            self.source.start(self.ring)
        except BaseException:
            self.stop()
            raise
        if hasattr(self.source, "reconnect"):
            self._supervisor = threading.Thread(target=self._supervise, name="sonolux-supervisor", daemon=True)
            self._supervisor.start()
        self._started = True

    def request_preset(self, name: str) -> None:
        """Ask the visuals (if any) for preset ``name``; safe from any thread."""
        self.control_state.preset_request = name
        if self.preset_handler is not None:
            self.preset_handler(name)

    def set_blackout(self, on: bool) -> None:
        """Blackout: outputs go to the bottom of their range, visuals go dark."""
        self.control_state.blackout = bool(on)
        if self.osc is not None:
            self.osc.blackout = bool(on)
        for out in self.extra_outputs:  # DMX sends zeroes, MIDI / OS2L / Link hold events back
            out.blackout = bool(on)
        if self.blackout_handler is not None:
            self.blackout_handler(bool(on))

    def set_gain(self, gain) -> None:
        """Input gain: dB (±24) or "auto" (see :mod:`sonolux.gain`)."""
        self.gain.set(gain)

    def set_osc_threshold(self, threshold: float) -> None:
        """The on-change threshold of every OSC mapping (0..1 of its range)."""
        if self.osc is not None:
            self.osc.set_threshold(threshold)

    def output_health(self) -> list:
        """Each output target's health (:class:`~sonolux.outputs.osc.TargetHealth`): the OSC
        targets, then the rig outputs (DMX universes, MIDI, OS2L, Link)."""
        osc = self.osc.health() if self.osc is not None else []
        return osc + [out.health() for out in self.extra_outputs]

    def stop(self) -> None:
        """Stop everything, flush files and sockets. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        self._supervisor_stop.set()
        if self._supervisor is not None:
            self._supervisor.join(2.0)
        try:
            self.source.stop()
        finally:
            self.worker.stop()
            if self.inference:
                self.inference.stop()
                if self.inference.error is None:
                    self.inference.poll()  # the window the analysis marked last, if still pending
                path = self.inference_config.calibration
                if path is not None and (self.inference.calibration.n_examples or self.inference.calibration_was_reset):
                    self.inference.calibration.save(path)  # kept with the show (a reset one: empty)
            if self.osc:
                self.osc.stop()  # after its thread ends, it sends the last frame's changes
            for out in self.extra_outputs:
                out.stop()
            if self.recorder is not None:
                self.recorder.close()

    def check(self) -> None:
        """Re-raise an error that ended the analysis thread; an inference failure is
        reported once and the engine goes on without models."""
        if self.inference is not None and self.inference.error is not None:
            err, self.inference.error = self.inference.error, None
            log.error("inference stopped (%r); continuing without models", err)
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
            filled_hops=self.worker.filled_hops,
            input_lost=self.input_lost,
            input_losses=self.input_losses,
            inference_windows=self.inference.windows if self.inference else 0,
            inference_skipped=self.inference.skipped if self.inference else 0,
            prediction_age_s=self._prediction_age(),
            blackout=bool(self.control_state.blackout),
            gain_db=self.gain.db, gain_auto=self.gain.auto,
            tap_locked=self.analyzer.tap_locked,
            silent=bool(getattr(self.analyzer.find(SilenceGate), "silent", False)),
            emotion_override=int(self.control_state.emotion_override),
        )

    #: the arguments of ``/sonolux/status`` in order (``sonolux osc addresses`` prints them)
    STATUS_FIELDS = (
        ("i", "dropped audio blocks (the callback found the ring full)"),
        ("i", "late hops (the analysis fell behind real time)"),
        ("f", "audio skipped to catch up (s)"),
        ("f", "age of the mood/tags prediction in use (s; -1 without models)"),
        ("i", "OSC send errors, all targets"),
        ("i", "input lost: 1 while the device is gone (reconnecting)"),
        ("i", "hops analysed as silence while the input delivered nothing"),
        ("i", "blackout: 1 while on"),
        ("i", "emotion override: 0 = the models decide, 1-4 = forced quadrant"),
        ("i", "output targets failing now (refused, unresolved, send errors)"),
        ("s", "the first failing target and its cause, '' when none"),
        ("i", "tap lock: 1 while tapped tempo holds the beat tracker"),
        ("i", "silence: 1 while the input is below the silence threshold"),
        ("i", "region cut judge: 1 while it decides the region cuts"),
        ("i", "region cut judge: candidates judged since the start (-1: no judge in this chain)"),
        ("i", "region cut judge: candidates kept"),
        ("f", "region cut judge: the last candidate's probability (-1: none yet, or decided without tags)"),
        ("f", "region cut judge: the probability a candidate needs now (-1: no judge)"),
    )

    def status_args(self) -> tuple:
        """``/sonolux/status``: see :attr:`STATUS_FIELDS`."""
        s = self.stats()
        failing = [h for h in self.output_health() if h.failing]
        first = f"{failing[0].name}: {failing[0].state} ({failing[0].last_error})" if failing else ""
        return (int(s.dropped_blocks), int(s.late_hops), float(s.skipped_samples / self.spec.sample_rate),
                float(s.prediction_age_s), int(s.osc_errors), int(s.input_lost), int(s.filled_hops),
                int(s.blackout), int(s.emotion_override), len(failing), first, int(s.tap_locked),
                int(s.silent)) + self._judge_record()

    def _judge_record(self) -> tuple:
        regions = self.analyzer.find(RegionStage)
        return regions.judge_record() if regions is not None else NO_JUDGE_RECORD

    def _prediction_age(self) -> float:
        p = self.inference_stage.latest if self.inference_stage else None
        return -1.0 if p is None else self.worker.analyzer.sample_pos / self.spec.sample_rate - p.t

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
