"""MIDI out (``mido`` over ``python-rtmidi``): a beat clock for drum machines, lighting desks
and DAWs, and notes / control changes for beats, onsets per band, levels and mood.

**Clock** (``MidiClock``): 24 ticks per quarter note at the tracker's tempo, locked to its
beat phase. A tick goes out on its own schedule (the clock thread sleeps to absolute
deadlines), and the tempo of the schedule is nudged so that every 24th tick lands on a
tracked beat: the phase error is read from the newest frame at each tick and corrected by
half per beat, at most 8 % of the tempo, so the receiver sees a smooth clock that follows
the music rather than jumps. When the tracker locks, the clock sends Song Position 0 and
Start, then ticks from the next beat; when it loses the tempo for ``stop_after_s`` it sends
Stop; when it locks again, Song Position (16ths so far) and Continue. Each tick's lateness
against its schedule is kept for the jitter report (``jitter_ms``).

**Notes and CC** (``MidiNotes``): an event field (``beat``, ``onset_kick`` …) plays a note
(on, then off after ``hold_ms``); a level field sends a control change (0..127) when it moves
by one step, at most ``max_rate_hz`` times a second. Blackout holds notes back and sends
each CC to its rest (the bottom of its range, or the middle for valence / arousal). Defaults: the General MIDI drum notes
on channel 10 for beat and onsets, CC 20–26 on channel 1 for level, bands, valence, arousal
and quadrant.

Ports: ``NAME`` opens the existing output port whose name contains NAME (case-insensitive,
it must be the only match); ``virtual:NAME`` creates a port other programs connect to
(ALSA sequencer on Linux, CoreMIDI on macOS; set ``MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK``
for JACK). Over JACK, a send never drops (rtmidi queues it for the next cycle), but a cycle that
a client misses (an xrun) loses that cycle's events between the clients, a note_off among them:
run JACK with realtime scheduling and a period the machine keeps up with.

>>> clock = MidiClock(mailbox, open_midi_output("virtual:sonolux clock"))   # doctest: +SKIP
>>> clock.start(); ...; clock.stop(); clock.jitter_ms()                     # doctest: +SKIP
{'p50': 0.08, 'p99': 0.41, 'max': 0.9, 'ticks': 2880}
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..config import did_you_mean
from ..errors import DeviceError, ParameterError
from ..frame import Mailbox
from .polled import PolledOutput, require

PPQN = 24
GM_DRUMS = 9  # MIDI channel 10, zero-based


def open_midi_output(spec: str, *, client_name: str = "sonolux"):
    """``NAME`` (an existing port, by part of its name) or ``virtual:NAME`` (a new port)."""
    mido = require("mido", "MIDI output")
    require("rtmidi", "MIDI output")
    if not spec or not spec.strip():
        raise ParameterError("MIDI port name is empty; give NAME or virtual:NAME (see `sonolux midi ports`)")
    try:
        if spec.startswith("virtual:"):
            return mido.open_output(spec[8:] or "sonolux", virtual=True, client_name=client_name)
        names = mido.get_output_names()
    except (OSError, SystemError, RuntimeError) as e:  # rtmidi: no ALSA sequencer, no JACK server
        raise DeviceError(f"MIDI port {spec!r}: the MIDI system cannot be opened ({str(e).strip()})") from None
    matches = [n for n in names if spec.lower() in n.lower()]
    exact = [n for n in names if n == spec]
    if len(exact) == 1 or len(matches) == 1:
        return mido.open_output((exact or matches)[0])
    if not matches:
        have = ", ".join(repr(n) for n in names) or "none"
        raise DeviceError(f"no MIDI output port matches {spec!r}; available: {have} "
                          f"(or create one with virtual:{spec})")
    raise DeviceError(f"MIDI port {spec!r} matches {len(matches)} ports: {', '.join(map(repr, matches))}; be more specific")


class _PortOutput(PolledOutput):
    """A polled output that writes to a mido port and counts failures.

    The port stays open ``CLOSE_DRAIN_S`` after the last message: over JACK, rtmidi queues a
    message for the next process cycle and the receiver reads it in that cycle; a port closed
    sooner is unregistered with the last cycle's messages still in it, and the last note_off
    or the Stop never arrive (measured on a dummy JACK server: 10 of 60 closes lost the last
    message without the wait, none of 60 with it). 0.1 s is two cycles of a long period (2048
    frames at 44.1 kHz) and a margin; it is spent once, at shutdown."""

    CLOSE_DRAIN_S = 0.1

    def __init__(self, mailbox, port, *, name, rate_hz):
        super().__init__(mailbox, name=name, transport=f"midi:{port.name}", rate_hz=rate_hz)
        self.port = port
        self._last_send = -math.inf  # perf_counter time of the last message handed to the port

    def send(self, msg) -> bool:
        try:
            self.port.send(msg)
        except (OSError, SystemError, RuntimeError, ValueError) as e:
            self.count_error(f"{self.port.name}: {e}")
            return False
        self._last_send = time.perf_counter()
        self.count_sent()
        return True

    def close(self) -> None:
        """Close the port once the last message has had time to leave (see the class docstring)."""
        drain = self._last_send + self.CLOSE_DRAIN_S - time.perf_counter()
        if drain > 0:
            time.sleep(drain)
        self.port.close()


class MidiClock(_PortOutput):
    """24-ppqn clock locked to the beat tracker (see the module docstring)."""

    MAX_CORRECTION = 0.08  # of the tempo
    GAIN = 0.5  # of the phase error corrected per beat

    def __init__(self, mailbox: Mailbox, port, *, stop_after_s: float = 2.0, history: int = 20000):
        super().__init__(mailbox, port, name="midi clock", rate_hz=PPQN * 300 / 60)
        self._i_bpm, self._i_phase = self.field_indices("the MIDI clock", "bpm", "beat_phase")
        self.stop_after_s = stop_after_s
        self.clock_running = False
        self.ticks = 0  # since the first Start
        self._next = 0.0  # perf_counter time of the next tick
        self._ours = 0.0  # our beat position (beats since start)
        self._lost_since = None
        self.lateness = deque(maxlen=history)  # seconds each tick left after its deadline
        self.waiting = True

    def tracker(self, now: float):
        """(bpm, beat phase extrapolated to ``now``) of the newest frame; bpm 0 = not locked."""
        f = self._frame
        bpm = float(f.values[self._i_bpm])
        if bpm <= 0.0 or not math.isfinite(bpm):
            return 0.0, 0.0
        return bpm, (float(f.values[self._i_phase]) + (now - f.wall_time) * bpm / 60.0) % 1.0

    def step(self, frame, fresh, now) -> None:
        """Called by ``poll_once`` before each tick: start, stop, continue or tick."""
        bpm, phase = self.tracker(now)
        if not self.clock_running:
            if bpm > 0.0:
                self._begin(bpm, phase, now)
            return
        if bpm <= 0.0:
            self._lost_since = self._lost_since or now
            if now - self._lost_since >= self.stop_after_s:
                self._end()
                return
        else:
            self._lost_since = None
        if now < self._next:
            return
        self.lateness.append(now - self._next)
        self.send(_msg("clock"))
        self._schedule(bpm, phase, now)
        self.ticks += 1
        self._ours += 1.0 / PPQN

    def _schedule(self, bpm: float, phase: float, now: float) -> None:
        """The next tick's deadline: the tempo, nudged toward the tracker's phase."""
        if bpm <= 0.0:  # lost for a moment: keep the last tempo
            self._next += self._period
            return
        # this tick sits at our position _ours; the tracker is at ``phase``: > 0, we are behind
        err = (phase - self._ours % 1.0 + 0.5) % 1.0 - 0.5
        corr = max(-self.MAX_CORRECTION, min(self.MAX_CORRECTION, self.GAIN * err))
        self._period = 60.0 / (bpm * PPQN) / (1.0 + corr)
        self._next += self._period
        if self._next < now - 0.1:  # stalled (suspend, debugger): do not burst to catch up
            self._next = now + self._period

    def _begin(self, bpm: float, phase: float, now: float) -> None:
        if self.ticks == 0:
            self.send(_msg("songpos", pos=0))
            self.send(_msg("start"))
        else:  # resume where we stopped, in 16th notes (6 ticks each)
            self.send(_msg("songpos", pos=min(self.ticks // 6, 16383)))
            self.send(_msg("continue"))
        self.clock_running, self.waiting = True, False
        self._period = 60.0 / (bpm * PPQN)
        self._next = now + (1.0 - phase) * 60.0 / bpm  # the first tick on the next beat
        self._ours = math.ceil(self._ours - 1e-9)  # our position, too, restarts on a beat

    def _end(self) -> None:
        self.send(_msg("stop"))
        self.clock_running, self.waiting = False, True
        self._lost_since = None

    def close(self) -> None:
        if self.clock_running:
            self._end()
        super().close()

    def _run(self) -> None:
        """Sleep to the next tick's deadline (or 5 ms while stopped), then step."""
        try:
            while not self._stop.is_set():
                self.poll_once()
                wait = (self._next - time.perf_counter()) if self.clock_running else 0.005
                if wait > 0:
                    self._stop.wait(min(wait, 0.005))
        finally:
            self.close()

    def jitter_ms(self) -> dict:
        """Tick lateness against the schedule (ms): p50 / p99 / max over the kept ticks."""
        late = np.asarray(self.lateness) * 1e3
        if late.size == 0:
            return {"p50": None, "p99": None, "max": None, "ticks": 0}
        return {"p50": round(float(np.percentile(late, 50)), 4), "p99": round(float(np.percentile(late, 99)), 4),
                "max": round(float(late.max()), 4), "ticks": int(late.size)}


def _msg(kind: str, **kw):
    import mido

    return mido.Message(kind, **kw)


@dataclass(frozen=True)
class NoteMap:
    """An event field → a note (on, off after ``hold_ms``)."""

    field: str
    note: int
    channel: int = GM_DRUMS
    velocity: int = 100
    hold_ms: float = 50.0


@dataclass(frozen=True)
class CcMap:
    """A level field → a control change 0..127 over ``range``."""

    field: str
    control: int
    channel: int = 0
    range: tuple = (0.0, 1.0)
    max_rate_hz: float = 44.0


DEFAULT_NOTES = (NoteMap("beat", 37), NoteMap("onset_kick", 36), NoteMap("onset_snare", 38),
                 NoteMap("onset_hihat", 42))  # GM: side stick, bass drum, snare, closed hi-hat
DEFAULT_CCS = (CcMap("level", 20), CcMap("band_bass", 21), CcMap("band_mid", 22), CcMap("band_high", 23),
               CcMap("valence", 24, range=(-1.0, 1.0)), CcMap("arousal", 25, range=(-1.0, 1.0)),
               CcMap("quadrant", 26, range=(0.0, 4.0)))


NOTE_KEYS = {"field", "note", "channel", "velocity", "hold_ms"}
CC_KEYS = {"field", "control", "channel", "range", "max_rate_hz"}


def load_midi_map(path: str) -> tuple[tuple, tuple]:
    """(notes, ccs) from a TOML file of ``[[note]]`` and ``[[cc]]`` tables; channels are
    1..16 as on the gear (stored 0-based). Errors name the file, the key and the value::

        [[note]]
        field = "onset_kick"   # an event field
        note = 36
        channel = 10
        velocity = 110
        hold_ms = 40
        [[cc]]
        field = "band_bass"
        control = 21
        channel = 1
        range = [0, 1]
    """
    import tomllib

    from .. import config
    from ..errors import ConfigError
    from .osc_config import _choice, _err, _num, _pair

    try:
        doc = tomllib.loads(config.read_text(path))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    for k in doc:
        _choice(path, k, k, ("note", "cc"))

    def common(key, d, known):
        if not isinstance(d, dict):
            raise _err(path, key, f"{d!r} must be a table")
        unknown = set(d) - known
        if unknown:
            raise _err(path, f"{key}.{sorted(unknown)[0]}", f"unknown key (known: {', '.join(sorted(known))})")
        if "field" not in d or not isinstance(d["field"], str):
            raise _err(path, f"{key}.field", "is required (a frame field name)")
        return {"field": d["field"], "channel": int(_num(path, f"{key}.channel", d.get("channel", 1), 1, 16, integer=True)) - 1}

    notes, ccs = [], []
    for i, d in enumerate(doc.get("note", [])):
        m = common(f"note[{i}]", d, NOTE_KEYS)
        if "note" not in d:
            raise _err(path, f"note[{i}].note", "is required (0..127, e.g. 36 = bass drum)")
        m["note"] = int(_num(path, f"note[{i}].note", d["note"], 0, 127, integer=True))
        m["velocity"] = int(_num(path, f"note[{i}].velocity", d.get("velocity", 100), 1, 127, integer=True))
        m["hold_ms"] = float(_num(path, f"note[{i}].hold_ms", d.get("hold_ms", 50), 1, 10000))
        notes.append(NoteMap(**m))
    for i, d in enumerate(doc.get("cc", [])):
        m = common(f"cc[{i}]", d, CC_KEYS)
        if "control" not in d:
            raise _err(path, f"cc[{i}].control", "is required (a controller number 0..127)")
        m["control"] = int(_num(path, f"cc[{i}].control", d["control"], 0, 127, integer=True))
        if "range" in d:
            m["range"] = _pair(path, f"cc[{i}].range", d["range"])
            if m["range"][0] == m["range"][1]:
                raise _err(path, f"cc[{i}].range", f"{d['range']!r} must not be empty")
        m["max_rate_hz"] = float(_num(path, f"cc[{i}].max_rate_hz", d.get("max_rate_hz", 44), 0.1, 1000))
        ccs.append(CcMap(**m))
    if not notes and not ccs:
        raise _err(path, "note", "a MIDI map needs at least one [[note]] or [[cc]]")
    return tuple(notes), tuple(ccs)


class MidiNotes(_PortOutput):
    """Notes for events and CCs for levels (see the module docstring); polls at 250 Hz so a
    note leaves within 4 ms of its frame."""

    def __init__(self, mailbox: Mailbox, port, *, notes=DEFAULT_NOTES, ccs=DEFAULT_CCS, rate_hz: float = 250.0):
        super().__init__(mailbox, port, name="midi notes", rate_hz=rate_hz)
        s = mailbox.layout.scalars
        for m in notes:
            if f"{m.field}_count" not in s:
                events = sorted(n[:-6] for n in s if n.endswith("_count"))
                raise ParameterError(f"MIDI note {m.note}: {m.field!r} is not an event field (events: {', '.join(events)})")
        for m in ccs:
            if m.field not in s:
                raise ParameterError(f"MIDI CC {m.control}: {m.field!r} is not a frame field"
                                     + did_you_mean(m.field, list(s)))
        self.notes = [(m, s[f"{m.field}_count"]) for m in notes]
        self.ccs = [(m, s[m.field]) for m in ccs]
        self._count = [None] * len(self.notes)
        self._off_due = [None] * len(self.notes)
        self._cc_last = [None] * len(self.ccs)
        self._cc_time = [-1e9] * len(self.ccs)

    def step(self, frame, fresh, now) -> None:
        v = frame.values
        for k, (m, i) in enumerate(self.notes):
            count = v[i]
            if self._off_due[k] is not None and now >= self._off_due[k]:
                self.send(_msg("note_off", note=m.note, channel=m.channel))
                self._off_due[k] = None
            if self._count[k] is not None and count > self._count[k] and not self.blackout:
                if self._off_due[k] is not None:  # still sounding: retrigger cleanly
                    self.send(_msg("note_off", note=m.note, channel=m.channel))
                self.send(_msg("note_on", note=m.note, velocity=m.velocity, channel=m.channel))
                self._off_due[k] = now + m.hold_ms / 1e3
            self._count[k] = count
        if not fresh:
            return
        for k, (m, i) in enumerate(self.ccs):
            lo, hi = m.range
            # blackout: the field's rest (0 where the range holds it: neutral mood = CC 64)
            x = (0.0 if lo <= 0.0 <= hi else lo) if self.blackout else float(v[i])
            value = int(round(min(max((x - lo) / (hi - lo), 0.0), 1.0) * 127)) if math.isfinite(x) else 0
            if value != self._cc_last[k] and now - self._cc_time[k] >= 1.0 / m.max_rate_hz:
                self.send(_msg("control_change", control=m.control, value=value, channel=m.channel))
                self._cc_last[k], self._cc_time[k] = value, now

    def close(self) -> None:
        for k, (m, _) in enumerate(self.notes):  # no note is left hanging
            if self._off_due[k] is not None:
                self.send(_msg("note_off", note=m.note, channel=m.channel))
        super().close()
