"""Ends what an embedded Ray leaves behind when ``sonolux batch`` itself is killed.

After a SIGKILL of the driver (or the OOM killer), Ray's per-node agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) of the embedded Ray outlive it, holding
memory and ports until someone finds them. Beside an embedded Ray the batch starts this small
watchdog: while the driver lives it notes the driver's descendants (Ray's processes: the
agents are children of the raylet, the driver's child) by process id and start time; once
the driver is gone it gives Ray's own clean-up a grace period and ends those still running.
(The environment cannot tell Ray's processes apart: Ray rewrites their process titles over
it.) Linux ``/proc`` only; elsewhere no watchdog is started. A normal end of the batch stops
the watchdog, as Ray then shuts itself down.

It runs as a script (``python reaper.py DRIVER_PID``), standard library only, so it costs a
few MB and starts in milliseconds.

>>> watchdog = start_reaper()   # doctest: +SKIP
>>> watchdog.terminate()        # the batch ended normally  # doctest: +SKIP
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time in clock ticks) of a process, None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name in parentheses may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Live descendants of ``root``: pid → start time (the pair names a process for good)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[0] != "Z":
                children.setdefault(st[1], []).append((int(entry.name), st[2]))
    found, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            found[pid] = start
            todo.append(pid)
    return found


def still_running(known: dict[int, int]) -> list[int]:
    """The processes of ``known`` (pid → start time) that still run (not reused pids)."""
    alive = []
    for pid, start in known.items():
        st = _stat(pid)
        if st is not None and st[0] != "Z" and st[2] == start:
            alive.append(pid)
    return alive


def watch(driver_pid: int, *, grace_s: float = 10.0, poll_s: float = 0.5) -> int:
    """Note the driver's (this process's parent's) descendants until it ends, then end those
    still running after ``grace_s``; returns how many were killed."""
    known: dict[int, int] = {}
    while os.getppid() == driver_pid:  # re-parented once the driver is gone (no pid reuse race)
        known.update(descendants(driver_pid))
        time.sleep(poll_s)
    known.pop(os.getpid(), None)
    deadline = time.monotonic() + grace_s
    while still_running(known) and time.monotonic() < deadline:
        time.sleep(poll_s)  # Ray ends most of its processes itself
    left = still_running(known)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(left)


def start_reaper() -> subprocess.Popen | None:
    """Start the watchdog of this process's embedded Ray; None where there is no ``/proc``."""
    if not (PROC / "self" / "stat").exists():
        return None
    return subprocess.Popen([sys.executable, "-I", str(Path(__file__).resolve()), str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # outside the terminal's signals: it must outlive the driver


if __name__ == "__main__":
    watch(int(sys.argv[1]))
