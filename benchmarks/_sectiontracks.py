"""Generated dance tracks with known builds, drops and breakdowns (for the section benchmark
and tests).

A track is a list of 8-bar sections at one tempo, synthesised from a seeded rng:

* ``full``: kick on every beat, snare on 2 and 4, 8th-note hats, an 8th-note bass line, a pad;
* ``breakdown``: the pad and a quiet bass note per bar, no drums;
* ``build``: a noise riser whose band sweeps up (a one-pole low-pass opening from 200 Hz to
  8 kHz) and grows from -30 dB to -6 dB, a snare roll doubling its rate every two bars
  (quarters → 32nds), the pad under an opening filter; after ``full`` the kick carries on
  for the first half.

The true events: ``breakdown`` at the start of a breakdown, ``build`` at the start of a build,
``drop`` where ``full`` follows a build or a breakdown.

Example
-------
>>> y, events = track(("full", "breakdown", "full"), bpm=128, sr=16000, seed=0)
>>> [(e, round(t, 2)) for e, t in events]
[('breakdown', 15.0), ('drop', 30.0)]
"""
from __future__ import annotations

import numpy as np

PLANS = (
    ("full", "breakdown", "build", "full", "breakdown", "full"),
    ("full", "build", "full", "breakdown", "build", "full"),
)
TEMPI = (90.0, 110.0, 124.0, 128.0, 140.0, 174.0)
HELD_OUT_TEMPI = (100.0, 118.0, 132.0, 150.0)
HELD_OUT_PLANS = (("full", "full", "build", "full", "breakdown", "build", "full"),)
BARS = 8


def _env(n: int, sr: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay_s * sr))


def _lowpass(x: np.ndarray, fc: np.ndarray, sr: int) -> np.ndarray:
    """One-pole low-pass with a per-sample cutoff (the filter sweep)."""
    a = 1.0 - np.exp(-2 * np.pi * fc / sr)
    y = np.empty_like(x)
    s = 0.0
    for i in range(x.shape[0]):
        s += a[i] * (x[i] - s)
        y[i] = s
    return y


def _add(out: np.ndarray, at: int, sound: np.ndarray, gain: float = 1.0) -> None:
    n = min(sound.shape[0], out.shape[0] - at)
    if n > 0:
        out[at:at + n] += gain * sound[:n]


class Kit:
    def __init__(self, sr: int, rng):
        t = np.arange(int(0.35 * sr)) / sr
        self.kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-t / 0.04)) / sr) * _env(len(t), sr, 0.12)
        n = int(0.2 * sr)
        self.snare = (0.6 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * 190 * np.arange(n) / sr)) \
            * _env(n, sr, 0.06)
        n = int(0.05 * sr)
        self.hat = np.diff(rng.standard_normal(n + 1)) * _env(n, sr, 0.012) * 0.3
        self.sr = sr


def track(plan=PLANS[0], *, bpm: float, sr: int = 48000, seed: int = 0):
    """(signal float32, [(event, time s), ...]) for the sections in ``plan`` at ``bpm``."""
    rng = np.random.default_rng(seed)
    kit = Kit(sr, rng)
    beat = 60.0 / bpm
    sec_len = BARS * 4 * beat
    n = int(len(plan) * sec_len * sr) + sr
    out = np.zeros(n)
    roots = 55.0 * 2 ** (rng.choice([0, 3, 5, 7, 10], size=4) / 12)
    events = []
    for s_i, kind in enumerate(plan):
        t0 = s_i * sec_len
        prev = plan[s_i - 1] if s_i else None
        if kind == "breakdown":
            events.append(("breakdown", t0))
        elif kind == "build":
            events.append(("build", t0))
        elif kind == "full" and prev in ("build", "breakdown"):
            events.append(("drop", t0))
        i0, i1 = int(t0 * sr), int((t0 + sec_len) * sr)
        t = np.arange(i1 - i0) / sr
        frac = t / sec_len
        root = roots[s_i % len(roots)]
        pad = sum(np.sin(2 * np.pi * root * 4 * r * t) for r in (1.0, 1.26, 1.5)) * 0.04
        if kind == "build":
            pad = _lowpass(pad, 300 + 6000 * frac ** 2, sr)
            noise = rng.standard_normal(len(t))
            riser = _lowpass(noise, 200 + 7800 * frac ** 2, sr) * 10 ** ((-30 + 24 * frac) / 20)
            out[i0:i1] += pad + 0.8 * riser
        else:
            out[i0:i1] += pad
        for b in range(BARS * 4):
            tb = t0 + b * beat
            at = int(tb * sr)
            bar = b // 4
            if kind == "full":
                _add(out, at, kit.kick, 0.9)
                if b % 2 == 1:
                    _add(out, at, kit.snare, 0.5)
                for h in range(2):
                    _add(out, at + int(h * beat / 2 * sr), kit.hat, 0.6)
                for h in range(2):
                    f = root * (1 if h == 0 else 1.5)
                    m = int(beat / 2 * sr)
                    note = np.sin(2 * np.pi * f * np.arange(m) / sr) * _env(m, sr, 0.15) * 0.35
                    _add(out, at + h * m, note)
            elif kind == "breakdown" and b % 4 == 0:
                m = int(4 * beat * sr)
                _add(out, at, np.sin(2 * np.pi * root * np.arange(m) / sr) * _env(m, sr, 1.5) * 0.08)
            elif kind == "build":
                if prev == "full" and bar < BARS // 2:
                    _add(out, at, kit.kick, 0.7)
                per_beat = 2 ** min(3, bar // 2)  # quarters, 8ths, 16ths, 32nds
                for r in range(per_beat):
                    _add(out, at + int(r * beat / per_beat * sr), kit.snare, 0.15 + 0.35 * bar / BARS)
    peak = np.abs(out).max()
    return (0.5 * out / peak).astype(np.float32), events


def tracks(sr: int = 48000, *, held_out: bool = False):
    """The benchmark's set: every plan at every tempo (seeded by their position). The
    ``held_out`` set was not looked at while the section detector was tuned: other tempi,
    other seeds, and a third plan (two builds, one straight out of ``full``)."""
    tempi, plans, seed0 = (HELD_OUT_TEMPI, PLANS + HELD_OUT_PLANS, 500) if held_out else (TEMPI, PLANS, 0)
    for i, bpm in enumerate(tempi):
        for j, plan in enumerate(plans):
            y, ev = track(plan, bpm=bpm, sr=sr, seed=seed0 + 10 * i + j)
            yield f"{'abc'[j]}@{bpm:g}", y, ev
