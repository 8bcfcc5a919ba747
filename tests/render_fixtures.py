"""Music fixtures the tests write themselves: a minimal MIDI writer and FluidSynth renders of
a bright, fast, loud major-key piece and a slow, soft minor-key one."""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

SOUNDFONTS = ["/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2"]


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(path, notes, *, bpm: float, programs: dict, tpq: int = 480):
    """``notes``: (start_beat, length_beats, channel, pitch, velocity); ``programs``:
    channel → General MIDI program. Writes a type-0 standard MIDI file."""
    events = [(0, bytes([0xFF, 0x51, 0x03]) + struct.pack(">I", int(60e6 / bpm))[1:])]
    for ch, prog in programs.items():
        events.append((0, bytes([0xC0 | ch, prog])))
    for start, length, ch, pitch, vel in notes:
        on, off = int(start * tpq), int((start + length) * tpq)
        events.append((on, bytes([0x90 | ch, pitch, vel])))
        events.append((off, bytes([0x80 | ch, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
    track, now = b"", 0
    for t, data in events:
        track += _vlq(t - now) + data
        now = t
    track += _vlq(0) + b"\xFF\x2F\x00"
    Path(path).write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track)


def render(midi, wav, sample_rate: int = 48000):
    sf2 = next((p for p in SOUNDFONTS if Path(p).exists()), None)
    if shutil.which("fluidsynth") is None or sf2 is None:
        pytest.skip("fluidsynth and a General MIDI soundfont are needed (apt-get install fluidsynth timgm6mb-soundfont)")
    subprocess.run(["fluidsynth", "-ni", "-g", "1.0", "-F", str(wav), "-r", str(sample_rate), sf2, str(midi)],
                   check=True, capture_output=True, timeout=120)
    return wav


def happy_notes(bars=12):
    """C major, 150 BPM, bright piano arpeggios, brass stabs, driving drums."""
    chords = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67)]
    notes = []
    for bar in range(bars):
        chord = chords[bar % 4]
        for i in range(8):
            notes.append((bar * 4 + i * 0.5, 0.45, 0, chord[i % 3] + 12, 115))
        for b in range(4):
            notes.append((bar * 4 + b, 0.3, 1, chord[0], 110))
            notes.append((bar * 4 + b, 0.1, 9, 36, 120))  # kick
            notes.append((bar * 4 + b + 0.5, 0.1, 9, 42, 90))  # hat
            if b in (1, 3):
                notes.append((bar * 4 + b, 0.1, 9, 38, 115))  # snare
    return notes


def sad_notes(bars=6):
    """A minor, 60 BPM, soft sustained strings and a quiet low piano."""
    chords = [(57, 60, 64), (53, 57, 60), (50, 53, 57), (52, 56, 59)]
    notes = []
    for bar in range(bars):
        chord = chords[bar % 4]
        for p in chord:
            notes.append((bar * 4, 3.9, 0, p, 45))
        notes.append((bar * 4, 2.0, 1, chord[0] - 12, 40))
        notes.append((bar * 4 + 2, 2.0, 1, chord[2] - 12, 35))
    return notes


def render_mood_pair(tmp_path):
    """(happy.wav, sad.wav), each ~20–24 s."""
    tmp_path = Path(tmp_path)
    write_midi(tmp_path / "happy.mid", happy_notes(), bpm=150, programs={0: 0, 1: 61})
    write_midi(tmp_path / "sad.mid", sad_notes(), bpm=60, programs={0: 48, 1: 0})
    return (render(tmp_path / "happy.mid", tmp_path / "happy.wav"),
            render(tmp_path / "sad.mid", tmp_path / "sad.wav"))
