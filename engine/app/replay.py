"""``sonolux replay DIR``: drive the outputs from a recording, at its own pace.

The recorded frames go into a mailbox exactly as the analysis thread would publish them, so
OSC targets (and visuals) cannot tell a replay from the show. ``--dry-run`` only reads the
recording and summarises it.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..frame import FrameLayout, Mailbox
from ..outputs.record import Recording


def layout_of(rec: Recording) -> FrameLayout:
    layout = FrameLayout()
    for name in rec.meta["scalars"]:
        layout.add_scalar(name)
    for name, size in rec.meta["vectors"].items():
        layout.add_vector(name, size, rec.meta.get("labels", {}).get(name))
    return layout


class Player:
    """Publishes a recording's frames into ``mailbox`` on its own thread."""

    def __init__(self, rec: Recording, mailbox: Mailbox, *, speed: float = 1.0):
        self.rec, self.mailbox, self.speed = rec, mailbox, speed
        self.n_scalars = len(rec.meta["scalars"])
        self.sample_rate = rec.meta["sample_rate"]
        self.played = 0
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-replay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        rows = self.rec.frames
        t0 = time.perf_counter()
        start_t = rows[0, 0] if rows.shape[0] else 0.0
        n = self.n_scalars
        for row in rows:
            if self._stop.is_set():
                break
            due = t0 + (row[0] - start_t) / self.speed
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            f = self.mailbox.begin()
            f.t = float(row[0])
            f.sample_end = int(round(row[0] * self.sample_rate))
            f.values[:] = row[2:2 + n]
            i = 2 + n
            for v in f.vectors.values():
                v[:] = row[i:i + v.shape[0]]
                i += v.shape[0]
            self.mailbox.publish(f)
            self.played += 1
        self.done.set()


def dry_run_report(rec: Recording) -> str:
    s = rec.summary()
    lines = [f"{s['folder']}: recorded {s['created']}",
             f"  frames {s['frames']}, {s['duration_s']:.1f} s, last frame at {s['last_t']} s"
             + (f", audio {s['audio_s']:.1f} s" if s["audio_s"] is not None else ""),
             f"  {s['columns']} columns: " + ", ".join(rec.meta["scalars"][:12])
             + (" …" if len(rec.meta["scalars"]) > 12 else "")]
    if rec.frames.shape[0] > 1:
        gaps = np.diff(rec.t)
        hop_s = rec.meta["hop"] / rec.meta["sample_rate"]
        missing = int(np.sum(np.round(gaps / hop_s) - 1))
        if missing > 0:
            lines.append(f"  {missing} frame(s) missing inside the recording (a slow disk dropped chunks)")
    lines += [f"  problem: {p}" for p in s["problems"]] or ["  intact: every chunk complete"]
    return "\n".join(lines)


def replay(rec: Recording, targets, *, speed: float = 1.0, progress=None):
    """Play ``rec`` into OSC ``targets`` (TargetConfigs) at its recorded pace × ``speed``
    until it ends or Ctrl-C; ``progress(frames_played)`` is called four times a second.
    Returns (frames played, the OscSender or None)."""
    from ..outputs.osc import OscSender

    mailbox = Mailbox(layout_of(rec))
    sender = OscSender(mailbox, list(targets)) if targets else None
    player = Player(rec, mailbox, speed=speed)
    if sender:
        sender.start()
    player.start()
    try:
        while not player.done.wait(0.25):
            if progress is not None:
                progress(player.played)
    except KeyboardInterrupt:
        pass
    finally:
        player.stop()
        if sender:
            sender.stop()  # sends the last frame's changes once its thread has ended
    return player.played, sender
