"""MIDI out through real ports: a private JACK server (``jackd -d dummy``) carries sonolux's
virtual ports to a mido input in the test — the ALSA sequencer is used instead where the
kernel offers one. Clock: 24 ppqn at the tracked 120 BPM (mean tick interval and jitter
from the received stream), Song Position + Start, Stop on shutdown. Notes on the beat and
the kick, CC for the level. Start / stop / continue and an unknown port without ports."""
import os
import re
import shutil
import subprocess
import time

import numpy as np
import pytest

from conftest import wait_until
from sonolux import Engine, StreamSpec
from sonolux.analysis import Analyzer
from sonolux.errors import DeviceError
from sonolux.frame import Mailbox
from sonolux.errors import ConfigError, ParameterError
from sonolux.outputs.midi import PPQN, MidiClock, MidiNotes, load_midi_map, open_midi_output
from sonolux.sources import SynthSource

mido = pytest.importorskip("mido")
JACK_SERVER = "sonolux-test"


@pytest.fixture(scope="module")
def midi_system():
    """The MIDI system the ports go through: ALSA if /dev/snd/seq exists, else private JACK."""
    if os.path.exists("/dev/snd/seq"):
        mido.set_backend("mido.backends.rtmidi/LINUX_ALSA")
        yield "alsa"
        return
    if shutil.which("jackd") is None:
        pytest.skip("no ALSA sequencer (/dev/snd/seq missing) and no JACK server (apt-get install jackd2)")
    os.environ["JACK_DEFAULT_SERVER"] = JACK_SERVER
    proc = subprocess.Popen(["jackd", "-n", JACK_SERVER, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "64"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")

    def up():
        try:
            mido.open_output("probe", virtual=True).close()
            return True
        except Exception:
            return proc.poll() is not None  # died: fall through to the assert
    wait_until(up, 10, "jackd")
    assert proc.poll() is None, "jackd exited"
    yield "jack"
    proc.terminate()
    proc.wait(5)
    mido.set_backend("mido.backends.rtmidi")
    os.environ.pop("JACK_DEFAULT_SERVER", None)


class Receiver:
    """A mido input connected to sonolux's port; keeps (arrival time, message)."""

    def __init__(self, port_name: str):
        name = wait_until(lambda: next((n for n in mido.get_input_names() if port_name in n), None), 5,
                          f"port {port_name!r} to appear")
        self.got = []
        self.port = mido.open_input(name, callback=lambda m: self.got.append((time.perf_counter(), m)))

    def of(self, *types):
        return [(t, m) for t, m in self.got if m.type in types]

    def close(self):
        self.port.close()


def demo_engine():
    spec = StreamSpec()
    return Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))  # 120 BPM demo


def test_clock_follows_the_tracked_tempo(midi_system):
    engine = demo_engine()
    engine.add_output(MidiClock(engine.mailbox, open_midi_output("virtual:sonolux clock")))
    with engine:
        rx = Receiver("sonolux clock")
        wait_until(lambda: len(rx.of("clock")) >= 8 * PPQN, 20, "8 beats of MIDI clock")
        clock = engine.extra_outputs[0]
        health = clock.health()
    wait_until(lambda: rx.got and rx.got[-1][1].type == "stop", 2, "Stop after the engine stops")
    rx.close()
    kinds = [m.type for _, m in rx.got]
    assert kinds[:3] == ["songpos", "start", "clock"] and rx.got[0][1].pos == 0
    ticks = np.array([t for t, _ in rx.of("clock")])
    steady = np.diff(ticks[2 * PPQN:])  # after the first two beats of phase settling
    assert len(steady) >= 4 * PPQN
    bpm = 60.0 / (PPQN * steady.mean())
    assert bpm == pytest.approx(120.0, abs=1.0), bpm
    per_beat = np.diff(ticks[2 * PPQN::PPQN])  # 24 ticks = one beat = 0.5 s
    assert np.all(np.abs(per_beat - 0.5) < 0.05), per_beat
    assert health.state == "ok" and health.errors == 0
    assert clock.jitter_ms()["ticks"] >= 8 * PPQN


def test_notes_on_beats_and_cc_for_level(midi_system):
    engine = demo_engine()
    engine.add_output(MidiNotes(engine.mailbox, open_midi_output("virtual:sonolux notes")))
    with engine:
        rx = Receiver("sonolux notes")
        wait_until(lambda: len([m for _, m in rx.of("note_on") if m.note == 37]) >= 6, 20, "6 beat notes")
    wait_until(lambda: len(rx.of("note_off")) >= len(rx.of("note_on")), 2,
               lambda: f"every note released ({len(rx.of('note_off'))} note_off for {len(rx.of('note_on'))} "
                       f"note_on; the last: {[m for _, m in rx.got[-4:]]})")
    rx.close()
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
