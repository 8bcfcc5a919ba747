"""The run loop of ``sonolux run`` and ``demo``: one loop for windowed and windowless runs.

:class:`RunLoop` does the work of one tick — re-raise an analysis error, print the status
line a few times a second, decide when the run is over (the source ended, or ``duration``
seconds of audio have played). Windowless, :func:`run_engine` calls it every 50 ms; with a
window, the window's timer calls it on the GUI thread, so the engine's threads never wait for
either.
"""
from __future__ import annotations

import sys
import time

from .startup import StartupNotice
from .status import StatusLine, run_summary


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
