"""MIDI out through real ports: a private JACK server (``jackd -d dummy``) carries sonolux's
virtual ports to a python-rtmidi input in the test — the ALSA sequencer is used instead where
the kernel offers one. Clock: 24 ppqn at the tracked 120 BPM (beat length from a line fitted
to the received beats, and every beat within 10 %), Song Position + Start, Stop on shutdown.
Notes on the beat and the kick, CC for the level. Start / stop / continue and an unknown port
without ports. Why the rig (synchronous JACK, a queue-mode receiver) is built as it is: see
``jack_rig``."""
import os
import re
import shutil
import time

import numpy as np
import pytest

from conftest import wait_until
from jack_rig import Receiver, start_jackd, stop_jackd
from jack_rig import jackd_said as _jackd_said
from sonolux import Engine, StreamSpec
from sonolux.analysis import Analyzer
from sonolux.errors import DeviceError
from sonolux.frame import Mailbox
from sonolux.errors import ConfigError, ParameterError
from sonolux.outputs.midi import PPQN, MidiClock, MidiNotes, load_midi_map, open_midi_output
from sonolux.sources import SynthSource

mido = pytest.importorskip("mido")


JACKD_LOG = []  # the private jackd's log file, for failure messages


def jackd_said() -> str:
    return _jackd_said(JACKD_LOG[0] if JACKD_LOG else None)


@pytest.fixture(scope="module")
def midi_system(tmp_path_factory):
    """The MIDI system the ports go through: ALSA if /dev/snd/seq exists, else private JACK."""
    if os.path.exists("/dev/snd/seq"):
        mido.set_backend("mido.backends.rtmidi/LINUX_ALSA")
        yield "alsa"
        return
    if shutil.which("jackd") is None:
        pytest.skip("no ALSA sequencer (/dev/snd/seq missing) and no JACK server (apt-get install jackd2)")
    # a name of this test process's own: a leftover server or another checkout's test run on
    # the same machine must neither make ours exit ("already running") nor carry our ports
    server = f"sonolux-test-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = server
    JACKD_LOG[:] = [tmp_path_factory.mktemp("jackd") / "jackd.log"]
    proc = start_jackd(server, JACKD_LOG[0])
    yield "jack"
    stop_jackd(proc)
    JACKD_LOG.clear()
    mido.set_backend("mido.backends.rtmidi")
    os.environ.pop("JACK_DEFAULT_SERVER", None)


class SentLog:
    """sonolux's real output port, wrapped to keep (perf_counter, message) of each send: what
    the engine sent and when, to hold the received stream against, and the engine's own tick
    times (the receiver's arrival times also carry the rig's delays: a JACK cycle that the
    loaded machine starves holds every event of that cycle back)."""

    def __init__(self, port):
        self.port, self.name, self.sent = port, port.name, []

    def send(self, msg):
        self.sent.append((time.perf_counter(), msg))
        self.port.send(msg)

    def close(self):
        self.port.close()


def tails(rx: Receiver, port: SentLog) -> str:
    """The last messages sent and received, and how long ago, for a failure message."""
    now = time.perf_counter()
    sent = [(round(now - t, 3), m) for t, m in port.sent[-4:]]
    return f"{len(port.sent)} sent, the last (s ago, message): {sent}; {len(rx.got)} received, the last: {[m for _, m in rx.got[-4:]]}"


def demo_engine():
    spec = StreamSpec()
    return Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))  # 120 BPM demo


def run_demo_out(midi_system, output_cls, name: str, until, timeout: float, what: str):
    """Play the demo into ``output_cls`` on the virtual port ``name`` until the receiver has
    ``until(rx)``; returns (output, its sent log, receiver, output health before the stop)."""
    engine = demo_engine()
    port = SentLog(open_midi_output(f"virtual:{name}"))
    out = output_cls(engine.mailbox, port)
    engine.add_output(out)
    with engine:
        rx = Receiver(midi_system, name)
        wait_until(lambda: until(rx), timeout, what)
        health = out.health()
    return out, port, rx, health


SETTLE, STEADY = 4, 16  # beats of phase settling after Start (skipped), beats measured


def test_clock_follows_the_tracked_tempo(midi_system):
    clock, port, rx, health = run_demo_out(
        midi_system, MidiClock, "sonolux clock", lambda rx: len(rx.of("clock")) > (SETTLE + STEADY) * PPQN,
        30, f"{SETTLE + STEADY} beats of MIDI clock")
    wait_until(lambda: rx.got and rx.got[-1][1].type == "stop", 2,
               lambda: f"Stop after the engine stops ({tails(rx, port)}{jackd_said()})")
    rx.close()
    got = [m for _, m in rx.got]
    assert [m.type for m in got[:3]] == ["songpos", "start", "clock"] and got[0].pos == 0
    # every message the engine sent arrived, in order, once (Song Position on is all of them)
    assert [m.bytes() for m in got] == [m.bytes() for _, m in port.sent]
    # per beat, what the clock scheduled (each tick's send time minus its lateness): correcting
    # the phase by at most 8 % keeps a beat within 0.5 s / (1 ± 0.08). A tick sent more than
    # 0.1 s late re-anchors the schedule (a cycle starved by the machine's load, not the
    # clock's choice: under a loaded test run one beat once took 0.60 s), so beats holding
    # one are left out — at most a quarter of them.
    late = np.array(clock.lateness)
    ticks = np.array([t for t, m in port.sent if m.type == "clock"])
    assert late.size == ticks.size
    span = slice(SETTLE * PPQN, (SETTLE + STEADY) * PPQN + 1)
    due, late = (ticks - late)[span], late[span]
    per_beat = np.diff(due[::PPQN])
    stalled = np.array([late[k * PPQN + 1:(k + 1) * PPQN + 1].max() > 0.1 for k in range(STEADY)])
    assert stalled.sum() <= STEADY // 4, (per_beat, late.max())
    kept = per_beat[~stalled]
    assert np.all((kept > 0.5 / 1.08 - 1e-3) & (kept < 0.5 / 0.92 + 1e-3)), per_beat
    # the tempo the clock followed: the median scheduled beat after the phase settled (the
    # send times would carry the machine's stalls — a loaded run once moved a line through
    # them by more than 1 BPM — and the mean of the intervals only the two end beats decide)
    assert 60.0 / np.median(kept) == pytest.approx(120.0, abs=1.0), per_beat
    # at the receiver, the median beat (a starved rig cycle delays a beat or two, not the most)
    arrived = np.array([t for t, m in rx.of("clock")])[SETTLE * PPQN::PPQN][:STEADY + 1]
    assert 60.0 / np.median(np.diff(arrived)) == pytest.approx(120.0, abs=1.0), np.diff(arrived)
    assert health.state == "ok" and health.errors == 0
    assert clock.jitter_ms()["ticks"] >= (SETTLE + STEADY) * PPQN


def test_notes_on_beats_and_cc_for_level(midi_system):
    _, port, rx, _ = run_demo_out(
        midi_system, MidiNotes, "sonolux notes", lambda rx: len([m for _, m in rx.of("note_on") if m.note == 37]) >= 6,
        20, "6 beat notes")
    wait_until(lambda: len(rx.of("note_off")) >= len(rx.of("note_on")), 2,
               lambda: f"every note released ({len(rx.of('note_off'))} note_off for {len(rx.of('note_on'))} "
                       f"note_on; {tails(rx, port)}{jackd_said()})")
    rx.close()
    # from the moment the receiver was connected, every message the engine sent arrived, in order, once
    got = [m.bytes() for _, m in rx.got]
    assert got and got == [m.bytes() for _, m in port.sent][-len(got):]
    beats = np.array([t for t, m in rx.of("note_on") if m.note == 37 and m.channel == 9])
    assert np.median(np.diff(beats)) == pytest.approx(0.5, abs=0.05)
    kicks = [m for _, m in rx.of("note_on") if m.note == 36]
    assert kicks and all(m.velocity == 100 for m in kicks)
    levels = [m.value for _, m in rx.of("control_change") if m.control == 20]
    assert len(levels) > 10 and max(levels) > 60 and len(set(levels)) > 5


class FakePort:
    name = "fake"

    def __init__(self):
        self.sent = []

    def send(self, m):
        self.sent.append(m)

    def close(self):
        pass


def test_start_stop_continue_with_the_tracker_lock():
    layout = Analyzer(StreamSpec()).layout
    box = Mailbox(layout)
    clock = MidiClock(box, FakePort(), stop_after_s=1.0)

    def publish(bpm, phase, now):
        f = box.begin()
        f.values[layout.scalars["bpm"]], f.values[layout.scalars["beat_phase"]] = bpm, phase
        box.publish(f)
        f.wall_time = now

    t = 100.0
    publish(0.0, 0.0, t)
    clock.poll_once(t)
    assert clock.port.sent == []  # not locked: silent
    publish(120.0, 0.5, t)  # locked, half-way to the next beat
    clock.poll_once(t)
    assert [m.type for m in clock.port.sent] == ["songpos", "start"]
    first = clock._next
    assert first == pytest.approx(t + 0.25)  # the first tick on the next beat
    for k in range(48):  # two beats, stepping exactly on each deadline
        clock.poll_once(clock._next)
    assert [m.type for m in clock.port.sent].count("clock") == 48
    assert clock._next - first == pytest.approx(2 * 0.5, rel=0.02)
    now = clock._next
    publish(0.0, 0.0, now)  # the tracker loses the tempo …
    while clock.clock_running:
        clock.poll_once(now)
        now += 0.01
    assert clock.port.sent[-1].type == "stop" and now - clock._next < 1.2
    publish(120.0, 0.0, now)  # … and finds it again
    clock.poll_once(now)
    assert [m.type for m in clock.port.sent[-2:]] == ["songpos", "continue"]
    assert clock.port.sent[-2].pos >= 48 // 6


def test_unknown_port_is_one_clear_error(midi_system):
    with pytest.raises(DeviceError, match=r"no MIDI output port matches 'Volca Beats'; available: .*virtual:Volca Beats"):
        open_midi_output("Volca Beats")


def test_notes_and_cc_by_frame_and_blackout():
    layout = Analyzer(StreamSpec()).layout
    box = Mailbox(layout)
    notes = MidiNotes(box, FakePort())
    s = layout.scalars

    def publish(**values):
        f = box.begin()
        for k, v in values.items():
            f.values[s[k]] = v
        box.publish(f)

    publish(beat_count=0, onset_kick_count=0, level=0.5)
    notes.poll_once(1.0)
    assert [(m.type, m.control, m.value) for m in notes.port.sent if m.type == "control_change" and m.control == 20] \
        == [("control_change", 20, 64)]
    publish(beat_count=1, onset_kick_count=1, level=0.5, valence=0.8)
    notes.poll_once(1.1)
    on = [(m.note, m.channel) for m in notes.port.sent if m.type == "note_on"]
    assert on == [(37, 9), (36, 9)]  # beat and kick on the GM drum channel
    notes.poll_once(1.1 + 0.06)  # hold_ms 50: both released
    assert sorted(m.note for m in notes.port.sent if m.type == "note_off") == [36, 37]
    notes.blackout = True
    publish(beat_count=2, onset_kick_count=2, level=0.9)
    sent = len(notes.port.sent)
    notes.poll_once(1.3)
    new = notes.port.sent[sent:]
    assert not [m for m in new if m.type == "note_on"]  # blackout holds notes back …
    cc = {m.control: m.value for m in new if m.type == "control_change"}
    assert cc[20] == 0 and cc[24] == 64  # … the level CC goes to 0, valence to neutral


def test_a_midi_map_from_toml(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[[note]]\nfield = "onset_snare"\nnote = 40\nchannel = 2\nvelocity = 90\n'
                    '[[cc]]\nfield = "band_high"\ncontrol = 74\nrange = [0, 0.5]\n')
    notes, ccs = load_midi_map(str(path))
    layout = Analyzer(StreamSpec()).layout
    box = Mailbox(layout)
    out = MidiNotes(box, FakePort(), notes=notes, ccs=ccs)
    f = box.begin()
    f.values[layout.scalars["band_high"]] = 0.25
    box.publish(f)
    out.poll_once(1.0)
    f = box.begin()
    f.values[layout.scalars["onset_snare_count"]] = 1
    f.values[layout.scalars["band_high"]] = 0.25
    box.publish(f)
    out.poll_once(1.1)
    sent = [(m.type, getattr(m, "note", getattr(m, "control", None)), m.channel) for m in out.port.sent]
    assert sent == [("control_change", 74, 0), ("note_on", 40, 1)]
    assert out.port.sent[0].value == 64 and out.port.sent[1].velocity == 90


@pytest.mark.parametrize("text, msg", [
    ('[[note]]\nfield = "beat"\nnote = 200\n', "note[0].note: 200 is outside 0..127"),
    ('[[cc]]\nfield = "level"\ncontrol = 1\nchannel = 17\n', "cc[0].channel: 17 is outside 1..16"),
    ('[[cc]]\nfield = "level"\nctrl = 1\n', "cc[0].ctrl: unknown key"),
    ('[[note]]\nfield = "beat"\n', "note[0].note: is required"),
])
def test_bad_midi_map_is_one_clear_error(tmp_path, text, msg):
    (path := tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {msg}")):
        load_midi_map(str(path))


def test_a_midi_map_field_that_is_no_event_is_refused():
    from sonolux.outputs.midi import NoteMap

    box = Mailbox(Analyzer(StreamSpec()).layout)
    with pytest.raises(ParameterError, match="'level' is not an event field"):
        MidiNotes(box, FakePort(), notes=(NoteMap("level", 36),), ccs=())
