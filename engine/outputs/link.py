"""Ableton Link: publish the tracked tempo and beat phase to a Link session, so Resolume,
Ableton Live, Traktor, a drum machine app … play in time with the music sonolux hears.

sonolux leads: the music is the clock. Each step (100 Hz) sets the session tempo when the
tracker's BPM moved by more than ``tempo_step`` and, when the session's beat phase is more
than ``phase_tolerance_ms`` away from the tracker's phase (extrapolated to now), moves the
session's beat grid onto the music (Link's ``forceBeatAtTime``, keeping the beat count).
Before the tracker locks nothing is published.

``follow`` (``--link-follow``): when another peer changes the session tempo (a DJ's deck, a
drummer's app), sonolux takes it as the tracker's prior — ``follow(bpm)`` narrows the
tracker's BPM range around it (±25 %), which settles octave errors the session's way — and
stops publishing for ``follow_hold_s`` while the tracker re-locks.

Uses ``aalink`` (GPL-3.0-or-later, itself on Ableton's GPL Link library): an optional
extra, ``pip install sonolux[link]``; sonolux runs without it.

>>> link = LinkOutput(mailbox)            # doctest: +SKIP
>>> link.start(); link.health().transport # doctest: +SKIP
'link (2 peers)'
"""
from __future__ import annotations

import asyncio
import math

from ..errors import SonoluxError
from ..frame import Mailbox
from .polled import PolledOutput


def _new_link(bpm: float):
    try:
        import aalink
    except ImportError:
        raise SonoluxError("Ableton Link needs the optional package aalink (GPL-3): pip install 'sonolux[link]'") from None

    async def make():  # aalink binds to the running asyncio loop; ours only lives for this
        return aalink.Link(bpm)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(make())
    finally:
        loop.close()


class LinkOutput(PolledOutput):
    def __init__(self, mailbox: Mailbox, *, tempo_step: float = 0.05, phase_tolerance_ms: float = 3.0,
                 rate_hz: float = 100.0, quantum: float = 4.0, follow=None, follow_hold_s: float = 4.0):
        super().__init__(mailbox, name="link", transport="link", rate_hz=rate_hz)
        self._i_bpm, self._i_phase = self.field_indices("Ableton Link", "bpm", "beat_phase")
        self.tempo_step = tempo_step
        self.phase_tolerance_ms = phase_tolerance_ms
        self.link = _new_link(120.0)
        self.link.quantum = quantum
        self.link.enabled = True
        self.phase_moves = 0
        self.waiting = True
        self.follow, self.follow_hold_s = follow, follow_hold_s
        self.followed = 0  # session tempo changes taken from other peers
        self._published = None  # the tempo we set last
        self._quiet_until = -1.0

    def step(self, frame, fresh, now) -> None:
        bpm = float(frame.values[self._i_bpm])
        self.transport = f"link ({self.link.num_peers} peers)"
        if bpm <= 0.0 or not math.isfinite(bpm) or self.blackout:
            self.waiting = True
            return
        self.waiting = False
        link = self.link
        if self.follow is not None and self._session_changed_by_a_peer(bpm, now):
            return
        if now < self._quiet_until:
            return
        if abs(link.tempo - bpm) > self.tempo_step:
            link.tempo = bpm
            self._published = bpm
            self.count_sent()
        ours = (float(frame.values[self._i_phase]) + (now - frame.wall_time) * bpm / 60.0) % 1.0
        beat = link.beat
        err = (ours - beat % 1.0 + 0.5) % 1.0 - 0.5  # beats; > 0: the session is behind the music
        if abs(err) * 60e3 / bpm > self.phase_tolerance_ms:
            link.force_beat(beat + err)
            self.phase_moves += 1
            self.count_sent()

    def _session_changed_by_a_peer(self, bpm: float, now: float) -> bool:
        """True (and the tracker told) when the session tempo moved away from both what we
        published and what we hear: another peer set it."""
        tempo, step = self.link.tempo, self.tempo_step
        if (self._published is None or self.link.num_peers == 0 or abs(tempo - self._published) <= step
                or abs(tempo - bpm) <= step):
            return False
        self.follow(tempo)
        self.followed += 1
        self._published = tempo
        self._quiet_until = now + self.follow_hold_s
        return True

    def session_offset_ms(self, now: float, beat: float | None = None) -> float | None:
        """How far the session's beat phase (``beat``: as a peer reads it; default ours) is
        from the tracker's right now, in ms (None before the tracker locks)."""
        f = self._frame
        bpm = float(f.values[self._i_bpm])
        if bpm <= 0.0:
            return None
        ours = (float(f.values[self._i_phase]) + (now - f.wall_time) * bpm / 60.0) % 1.0
        beat = self.link.beat if beat is None else beat
        return ((beat % 1.0 - ours + 0.5) % 1.0 - 0.5) * 60e3 / bpm

    def close(self) -> None:
        self.link.enabled = False
