"""POP909 helpers for the beat and onset benchmarks: the fixed song subset, FluidSynth
rendering (cached), reference beats and MIDI note onsets (a minimal SMF reader, so the
benchmarks need no MIDI package)."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SONOLUX_DATA", ROOT.parent / "shared" / "data"))
POP909 = DATA / "pop909"
SOUNDFONT = Path(os.environ.get("SONOLUX_SF2", "/usr/share/sounds/sf2/TimGM6mb.sf2"))
CACHE = Path(os.environ.get("SONOLUX_RENDER_CACHE", "/tmp/sonolux_pop909_renders"))


def subset(step: int = 16, start: int = 1, limit: int | None = None) -> list[str]:
    """The fixed subset: song ids start, start+step, … (001, 017, 033, … by default: 50 of
    the 909 ids spread over the whole set), those present on disk."""
    ids = [f"{i:03d}" for i in range(start, 910, step)]
    ids = [i for i in ids if (POP909 / i / f"{i}.mid").exists()]
    return ids[:limit] if limit else ids


def available() -> str | None:
    """None when the benchmark can run, else the reason it cannot."""
    if not POP909.is_dir():
        return f"POP909 not found at {POP909} (set SONOLUX_DATA)"
    if shutil.which("fluidsynth") is None:
        return "fluidsynth is not installed"
    if not SOUNDFONT.exists():
        return f"soundfont {SOUNDFONT} not found (set SONOLUX_SF2)"
    return None


def render(song: str, sr: int) -> np.ndarray:
    """Mono float32 render of POP909 song ``song`` at ``sr`` (cached as .npy)."""
    import soundfile as sf

    CACHE.mkdir(parents=True, exist_ok=True)
    npy = CACHE / f"{song}_{sr}.npy"
    if npy.exists():
        return np.load(npy)
    wav = CACHE / f"{song}_{sr}.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-F", str(wav), "-r", str(sr),
                    str(SOUNDFONT), str(POP909 / song / f"{song}.mid")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    y, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert file_sr == sr, (file_sr, sr)
    y = y.mean(axis=1).astype(np.float32)
    wav.unlink()
    np.save(npy, y)
    return y


def reference_beats(song: str) -> np.ndarray:
    """Beat times (s) from ``beat_midi.txt`` (first column)."""
    return np.loadtxt(POP909 / song / "beat_midi.txt", ndmin=2)[:, 0]


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    v = 0
    while True:
        b = data[i]
        i += 1
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, i


def midi_note_onsets(path: Path) -> np.ndarray:
    """Sorted note-on times (s) of all tracks of a standard MIDI file (tempo map applied)."""
    data = Path(path).read_bytes()
    if data[:4] != b"MThd":
        raise ValueError(f"{path} is not a standard MIDI file")
    _, ntrk, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000:
        raise ValueError("SMPTE time division is not supported")
    i = 8 + struct.unpack(">I", data[4:8])[0]
    tempos = [(0, 500000)]  # (tick, µs per quarter)
    notes = []  # ticks
    for _ in range(ntrk):
        assert data[i:i + 4] == b"MTrk"
        length = struct.unpack(">I", data[i + 4:i + 8])[0]
        j, end = i + 8, i + 8 + length
        tick, status = 0, 0
        while j < end:
            delta, j = _varlen(data, j)
            tick += delta
            b = data[j]
            if b == 0xFF:
                typ = data[j + 1]
                ln, j = _varlen(data, j + 2)
                if typ == 0x51:
                    tempos.append((tick, int.from_bytes(data[j:j + 3], "big")))
                j += ln
                continue
            if b in (0xF0, 0xF7):
                ln, j = _varlen(data, j + 1)
                j += ln
                continue
            if b & 0x80:
                status = b
                j += 1
            kind = status & 0xF0
            if kind in (0xC0, 0xD0):
                j += 1
                continue
            d1, d2 = data[j], data[j + 1]
            j += 2
            if kind == 0x90 and d2 > 0:
                notes.append(tick)
        i = end
    tempos.sort()
    # tick -> seconds through the tempo map
    t_ticks = np.array([t for t, _ in tempos], dtype=np.float64)
    uspq = np.array([u for _, u in tempos], dtype=np.float64)
    sec_at = np.concatenate([[0.0], np.cumsum(np.diff(t_ticks) * uspq[:-1] / division / 1e6)])
    ticks = np.sort(np.array(notes, dtype=np.float64))
    k = np.searchsorted(t_ticks, ticks, side="right") - 1
    return sec_at[k] + (ticks - t_ticks[k]) * uspq[k] / division / 1e6


def merge_onsets(times: np.ndarray, within: float = 0.03) -> np.ndarray:
    """Notes starting within ``within`` s of the previous kept onset count as one onset."""
    out = []
    for t in np.sort(times):
        if not out or t - out[-1] > within:
            out.append(t)
    return np.array(out)
