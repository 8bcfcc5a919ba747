"""POP909 helpers for the beat and onset benchmarks: their options, the fixed song subset,
FluidSynth rendering (cached), reference beats and MIDI note onsets (a minimal SMF reader, so
the benchmarks need no MIDI package)."""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np

from _common import DATA, RESULTS

POP909 = DATA / "pop909"
SOUNDFONT = Path(os.environ.get("SONOLUX_SF2", "/usr/share/sounds/sf2/TimGM6mb.sf2"))
CACHE = Path(os.environ.get("SONOLUX_RENDER_CACHE", "/tmp/sonolux_pop909_renders"))


def song_args(doc: str, name: str) -> argparse.ArgumentParser:
    """The options every POP909 benchmark takes: ``--step``, ``--limit``, ``--sr``, ``--out``
    (default ``benchmarks/results/<name>.json``)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, default=16, help="take every STEP-th song id (default 16)")
    ap.add_argument("--limit", type=int, default=None, help="at most N songs")
    ap.add_argument("--sr", type=int, default=48000)
    ap.add_argument("--out", default=str(RESULTS / f"{name}.json"))
    return ap


def unavailable() -> bool:
    """True (after saying why) when the POP909 benchmarks cannot run on this machine."""
    why = available()
    if why:
        print(f"skipped: {why}")
    return why is not None


def new_timing() -> dict:
    """Seconds spent rendering, in sonolux, in librosa, and of audio (filled by the run)."""
    return {"render_s": 0.0, "sonolux_s": 0.0, "librosa_s": 0.0, "audio_s": 0.0}


def renders(songs: list[str], sr: int, timing: dict):
    """Yield ``(song, audio, duration_s)`` for each song, adding the render time and the audio
    duration to ``timing["render_s"]`` and ``timing["audio_s"]``; when the loop is done,
    ``timing["total_s"]`` is the wall time of the whole loop (renders and the caller's work)."""
    t_all = time.perf_counter()
    for song in songs:
        t0 = time.perf_counter()
        y = render(song, sr)
        timing["render_s"] += time.perf_counter() - t0
        dur = len(y) / sr
        timing["audio_s"] += dur
        yield song, y, dur
    timing["total_s"] = time.perf_counter() - t_all


def wall_line(n_songs: int, timing: dict, sonolux_note: str = "") -> str:
    """The closing line of a POP909 benchmark: songs, audio minutes and where the time went."""
    return (f"\n{n_songs} songs, {timing['audio_s'] / 60:.1f} min of audio; wall "
            f"{timing['total_s']:.0f} s (render {timing['render_s']:.0f} s, sonolux "
            f"{timing['sonolux_s']:.0f} s{sonolux_note}, librosa {timing['librosa_s']:.0f} s)")


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
            d2 = data[j + 1]  # the velocity (data[j] is the key)
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
