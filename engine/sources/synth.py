"""Synthetic signals: the built-in demo track (no sound card or file needed) and test tones.

``synth`` is the demo: 120 BPM, kick on every beat, snare on 2 and 4, off-beat hi-hats, a
bass line and a chord pad, with a quiet breakdown and a drop so levels, bands, onsets and
mood all move. ``synth:sine:FREQ``, ``synth:noise`` and ``synth:clicks:BPM`` are plain test
signals.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .array import ArraySource

DEMO_BPM = 120.0


def _env(n, sr, attack=0.002, decay=0.2):
    t = np.arange(n) / sr
    return np.minimum(t / attack, 1.0) * np.exp(-t / decay)


def demo_track(sample_rate: int, bars: int = 16, bpm: float = DEMO_BPM, seed: int = 7) -> np.ndarray:
    """A deterministic drum-and-synth loop of ``bars`` bars (4/4)."""
    rng = np.random.default_rng(seed)
    sr = sample_rate
    beat = 60.0 / bpm
    n = int(round(bars * 4 * beat * sr))
    out = np.zeros(n)

    def add(sig, start_s, gain=1.0):
        i = int(round(start_s * sr))
        if i >= n:
            return
        m = min(len(sig), n - i)
        out[i:i + m] += gain * sig[:m]

    kl = int(0.35 * sr)
    tk = np.arange(kl) / sr
    kick = np.sin(2 * np.pi * (45 * tk + 60 * 0.04 * (1 - np.exp(-tk / 0.04)))) * _env(kl, sr, 0.001, 0.12)
    sl = int(0.2 * sr)
    snare = (rng.standard_normal(sl) * 0.6 + np.sin(2 * np.pi * 190 * np.arange(sl) / sr)) * _env(sl, sr, 0.001, 0.06)
    hl = int(0.05 * sr)
    hat = np.diff(rng.standard_normal(hl + 1)) * _env(hl, sr, 0.0005, 0.012)
    roots = [110.0, 87.31, 130.81, 98.0]  # A2 F2 C3 G2: Am F C G
    chords = [(220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (261.63, 329.63, 392.0), (196.0, 246.94, 293.66)]
    bar_len = 4 * beat
    for bar in range(bars):
        breakdown = bars >= 8 and bar in (8, 9, 10, 11)
        t_bar = bar * bar_len
        root = roots[bar % 4]
        for b in range(4):
            t = t_bar + b * beat
            if not breakdown:
                add(kick, t, 0.9)
                if b in (1, 3):
                    add(snare, t, 0.45)
                add(hat, t + beat / 2, 0.25)
            bl = int(beat * 0.9 * sr)
            tb = np.arange(bl) / sr
            saw = 2 * ((tb * root) % 1.0) - 1
            add(saw * _env(bl, sr, 0.005, 0.25), t, 0.12 if breakdown else 0.25)
        pl = int(bar_len * sr)
        tp = np.arange(pl) / sr
        pad = sum(np.sin(2 * np.pi * f * tp) for f in chords[bar % 4]) / 3
        add(pad * np.minimum(tp / 0.3, 1.0) * np.minimum((bar_len - tp) / 0.3, 1.0), t_bar,
            0.3 if breakdown else 0.15)
    peak = np.max(np.abs(out))
    return (0.8 * out / peak).astype(np.float32)


def test_signal(kind: str, sample_rate: int, duration_s: float = 10.0) -> np.ndarray:
    """``sine:FREQ[:AMP]``, ``noise[:AMP]``, ``clicks:BPM`` or ``demo``."""
    parts = kind.split(":")
    name, args = parts[0], parts[1:]
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    try:
        if name in ("demo", ""):
            return demo_track(sample_rate)
        if name == "sine":
            freq = float(args[0]) if args else 440.0
            amp = float(args[1]) if len(args) > 1 else 0.5
            return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        if name == "noise":
            amp = float(args[0]) if args else 0.3
            return (amp * np.random.default_rng(0).standard_normal(n)).clip(-1, 1).astype(np.float32)
        if name == "clicks":
            bpm = float(args[0]) if args else 120.0
            return click_track(sample_rate, bpm, duration_s)
    except (ValueError, IndexError):
        pass
    raise ParameterError(
        f"synthetic input {kind!r} is not understood; use synth, synth:sine:FREQ[:AMP], "
        "synth:noise[:AMP] or synth:clicks:BPM")


def click_track(sample_rate: int, bpm: float, duration_s: float, amp: float = 0.8) -> np.ndarray:
    """Short 1 kHz-ish clicks on every beat, first click at t=0."""
    n = int(duration_s * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    cl = int(0.01 * sample_rate)
    click = (amp * np.sin(2 * np.pi * 1500 * np.arange(cl) / sample_rate) * _env(cl, sample_rate, 0.0005, 0.003)).astype(np.float32)
    t = 0.0
    while t < duration_s:
        i = int(round(t * sample_rate))
        m = min(cl, n - i)
        out[i:i + m] += click[:m]
        t += 60.0 / bpm
    return out


class SynthSource(ArraySource):
    def __init__(self, kind: str, sample_rate: int, block_size: int, *, realtime: bool = True,
                 loop: bool = True, duration_s: float = 10.0):
        sig = test_signal(kind, sample_rate, duration_s)
        super().__init__(sig, sample_rate, block_size, realtime=realtime, loop=loop,
                         name=f"synth:{kind}" if kind else "synth")
