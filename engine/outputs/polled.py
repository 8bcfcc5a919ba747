"""The shared shape of the rig outputs (DMX, MIDI notes, OS2L, Link): a thread that reads the
newest frame from the mailbox at its own rate, hands it to ``step``, counts what it sent and
what failed, and reports one health record.

Why a base class: every output must never block the analysis (it only copies the newest
frame, a seqlock read), must pace itself on absolute deadlines (so a slow send does not turn
44 Hz into 40 Hz) and must say how it is doing in the same words (name, transport, state,
last error, rate: ``osc.TargetHealth``) for the status line, the panel and
``/sonolux/status``.

>>> class Printer(PolledOutput):
...     def step(self, frame, fresh, now):
...         if fresh:
...             self.count_sent()
>>> out = Printer(mailbox, name="printer", transport="stdout", rate_hz=10)  # doctest: +SKIP
>>> out.start(); out.health().state                                        # doctest: +SKIP
'ok'
"""
from __future__ import annotations

import logging
import threading
import time

from ..errors import ParameterError, SonoluxError
from ..frame import FeatureFrame, Mailbox
from .osc import TargetHealth

log = logging.getLogger("sonolux.outputs")


def require(module: str, what: str):
    """Import an optional dependency of the ``rig`` extra, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SonoluxError(f"{what} needs the optional package {module.split('.')[0]}: "
                           "pip install 'sonolux[rig]'") from None


class RateMeter:
    """Events per second over the last full second (cheap: two numbers per event)."""

    def __init__(self):
        self._start = time.perf_counter()
        self._count = 0
        self.rate_hz = 0.0

    def tick(self, now: float) -> None:
        self._count += 1
        self.roll(now)

    def roll(self, now: float) -> None:
        if now - self._start >= 1.0:
            self.rate_hz = self._count / (now - self._start)
            self._start, self._count = now, 0


class PolledOutput:
    """Subclasses implement ``step(frame, fresh, now)`` (``fresh``: a new frame since the
    last step) and may override ``close()``; they call ``count_sent()`` / ``count_error()``.
    ``blackout`` is read by ``step`` (DMX sends zeroes, the others hold events back)."""

    def __init__(self, mailbox: Mailbox, *, name: str, transport: str, rate_hz: float):
        if not 0.1 <= rate_hz <= 1000:
            raise ParameterError(f"{name}: rate {rate_hz!r} Hz is outside 0.1..1000")
        self.mailbox = mailbox
        self.name, self.transport = name, transport
        self.period = 1.0 / rate_hz
        self.blackout = False
        self.sent = self.errors = 0
        self.last_error = ""
        self.failing = False
        self.waiting = False
        self._rate = RateMeter()
        self._frame: FeatureFrame = mailbox.layout.new_frame()
        self._last_seq = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.running = False

    # -- for subclasses ------------------------------------------------------------------
    def field_indices(self, what: str, *names: str) -> list[int]:
        """The frame slots of ``names``, or one error saying what needs them."""
        s = self.mailbox.layout.scalars
        missing = [n for n in names if n not in s]
        if missing:
            raise ParameterError(f"{what} needs the beat tracker (fields {', '.join(names)}); "
                                 f"this analysis chain has no {', '.join(missing)}")
        return [s[n] for n in names]

    def step(self, frame: FeatureFrame, fresh: bool, now: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release sockets and ports (called once, on the output's thread, after the last step)."""

    def count_sent(self, n: int = 1) -> None:
        self.sent += n
        self.failing = False
        self._rate.tick(time.perf_counter())

    def count_error(self, err) -> None:
        self.errors += 1
        self.failing = True
        text = str(err) or type(err).__name__
        if text != self.last_error:
            log.warning("%s (%s): %s", self.name, self.transport, text)
        self.last_error = text

    # -- lifecycle -----------------------------------------------------------------------
    def poll_once(self, now: float | None = None) -> None:
        """Read the newest frame (if any) and step once; also used directly by tests."""
        now = time.perf_counter() if now is None else now
        fresh = self.mailbox.seq != self._last_seq and self.mailbox.read_latest(self._frame)
        if fresh:
            self._last_seq = self._frame.seq
        if self._last_seq < 0:
            return
        try:
            self.step(self._frame, fresh, now)
        except OSError as e:  # a transport error the subclass did not catch: count, go on
            self.count_error(e)

    def start(self) -> None:
        self.running = True
        self._thread = threading.Thread(target=self._run, name=f"sonolux-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is None:  # never started: release what the constructor opened
            self.close()
        elif self._thread.is_alive():
            self._thread.join(2.0)
        self.running = False

    def _run(self) -> None:
        deadline = time.perf_counter()
        try:
            while not self._stop.is_set():
                self.poll_once()
                deadline += self.period
                now = time.perf_counter()
                if deadline < now - self.period:  # fell behind (a stall): do not burst to catch up
                    deadline = now
                self._stop.wait(max(deadline - now, 0.0))
        finally:
            try:
                self.close()
            except OSError as e:
                self.count_error(e)

    def health(self) -> TargetHealth:
        """The same record as an OSC target's: state "ok", "waiting" (nothing to send yet:
        no tempo, no peer) or "error" (the last send failed; ``last_error`` says why)."""
        self._rate.roll(time.perf_counter())
        state = "error" if self.failing else "waiting" if self.waiting else "ok"
        return TargetHealth(self.name, self.transport, state, self.last_error or None,
                            self.sent, self.errors, round(self._rate.rate_hz, 2))
