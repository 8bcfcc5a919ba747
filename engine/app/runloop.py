"""The run loop of ``sonolux run`` and ``demo``: one loop for windowed and windowless runs.

:class:`RunLoop` does the work of one tick — re-raise an analysis error, print the status
line a few times a second, decide when the run is over (the source ended, or ``duration``
seconds of audio have played). Windowless, :func:`run_engine` calls it every 50 ms; with a
window, the window's timer calls it on the GUI thread, so the engine's threads never wait for
either.
"""
from __future__ import annotations

import sys
import threading
import time

from .status import StatusLine, run_summary


class StartupNotice:
    """Says, once, why a start takes long — on a fresh install or after an upgrade the first
    run compiles the analysis kernels (35 s on an idle two-core machine), and a terminal
    silent that long looks like a hang. Shown only if start-up is still going after
    ``after_s``; ``done()`` then says how long it took. Quiet runs and fast (cached) starts
    print nothing.

    >>> with StartupNotice(after_s=3.0) as notice:
    ...     notice.done()   # started within 3 s: nothing was printed
    """

    def __init__(self, *, after_s: float = 3.0, quiet: bool = False, out=None):
        self.out = sys.stderr if out is None else out
        self.t0 = time.monotonic()
        self.shown = False
        self._lock = threading.Lock()
        self._timer = None
        if not quiet:
            self._timer = threading.Timer(after_s, self._show)
            self._timer.daemon = True
            self._timer.start()

    def _show(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            self.shown = True
        print("sonolux: starting … the first run after installing or upgrading compiles the "
              "analysis kernels (half a minute or more); later runs start in seconds",
              file=self.out, flush=True)

    def __enter__(self) -> "StartupNotice":
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()  # an error or Ctrl-C during start-up: no notice after it

    def cancel(self) -> bool:
        """Stop the timer; True if it was still running (start-up had not ended before)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        return timer is not None

    def done(self) -> None:
        """Start-up has ended: no notice from now on, and if one was shown, how long it took."""
        if self.cancel() and self.shown:
            print(f"sonolux: ready (start-up took {time.monotonic() - self.t0:.0f} s)", file=self.out, flush=True)


class RunLoop:
    """One tick of a running engine; ``tick()`` is False when the run should end."""

    def __init__(self, engine, *, duration: float | None = None, quiet: bool = False,
                 clock=None, visual=None, out=sys.stderr):
        """``clock()``: the audio time that counts for ``duration`` (default: the newest
        analysed frame; a window passes the time of the frame on screen). ``visual``: the
        VisualHost, named on the status line."""
        self.engine, self.duration, self.quiet, self.out = engine, duration, quiet, out
        self.clock = clock or (lambda: engine.stats().t)
        self.visual = visual
        self.status = StatusLine()
        self.tty = out.isatty()
        self.interval = 0.25 if self.tty else 1.0
        self.frame = engine.mailbox.layout.new_frame()
        self.last_print = 0.0
        self.error: BaseException | None = None

    def tick(self) -> bool:
        try:
            self.engine.check()
        except Exception as e:  # noqa: BLE001 - re-raised by finish(), after the window closed
            self.error = e
            return False
        now = time.perf_counter()
        if now - self.last_print >= self.interval:
            self.last_print = now
            self._print_status()
        if self.duration and self.clock() >= self.duration:
            return False
        return not self.engine.finished

    def _print_status(self) -> None:
        stats = self.engine.stats()
        if self.visual is not None:
            self.visual.dropped_blocks = stats.dropped_blocks
        if self.quiet or not self.engine.mailbox.read_latest(self.frame):
            return
        line = self.status.format(self.frame, stats, self.engine.output_health())
        if self.visual is not None:
            line += f" | {self.visual.current}"
        print(("\r" + line + "\x1b[K") if self.tty else line, end="" if self.tty else "\n",
              file=self.out, flush=True)

    def finish(self) -> int:
        """After the engine stopped: re-raise what ended the run, print the summary."""
        if not self.quiet and self.tty:
            print(file=self.out)
        if self.error is not None:
            raise self.error
        self.engine.check()
        if not self.quiet:
            extra = f", preset errors {self.visual.errors}" if self.visual is not None else ""
            print(run_summary(self.engine.stats(), extra, self.engine.output_health()), file=self.out)
        return 0


def run_engine(engine, *, duration: float | None = None, quiet: bool = False, window_args=None,
               servers=(), notice: StartupNotice | None = None) -> int:
    """Start ``engine`` and run until Ctrl-C, the end of the source or ``duration`` seconds of
    audio; with ``window_args`` (the parsed visual options) in the visual window. Stops the
    ``servers`` (OSC control, the panel: anything with ``stop()``) and the engine on the way out.
    ``notice``: the command's StartupNotice, ended once the engine has started."""
    host = None
    if window_args is not None:
        from ..visual.live import open_host

        host = open_host(engine, window_args)
    loop = RunLoop(engine, duration=duration, quiet=quiet, visual=host,
                   clock=(lambda: host.t) if host is not None else None)
    try:
        engine.start()  # inside the try: a Ctrl-C during start-up still stops what started
        if notice is not None:
            notice.done()
        if host is not None:
            from ..visual.live import show_window

            show_window(host, engine, window_args, on_tick=loop.tick, quiet=quiet)
        else:
            while loop.tick():
                time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        if notice is not None:
            notice.cancel()  # a failed or interrupted start says no more
        for server in servers:
            server.stop()
        engine.stop()
    return loop.finish()
