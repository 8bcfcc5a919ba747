"""The notice of a slow start: standard library only, so that ``analyze`` (which keeps its
imports few) can use it as well as ``run`` and ``demo``."""
from __future__ import annotations

import sys
import threading
import time


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
        with self._lock:  # printed under the lock: a ``done()`` racing it comes after the line
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
