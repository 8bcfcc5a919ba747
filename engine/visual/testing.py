"""Synthetic FeatureFrames with every field of the docs' field table, for tests, benchmarks
and screenshots (no audio, no models needed)."""
from __future__ import annotations

import math

import numpy as np

from ..frame import FeatureFrame, FrameLayout
from . import fields as F

QUADRANT_VA = {1: (0.7, 0.7), 2: (-0.7, 0.7), 3: (-0.7, -0.7), 4: (0.7, -0.7)}


def full_layout(n_mels: int = 64) -> FrameLayout:
    """A layout declaring all fields of docs/architecture.md's table."""
    lay = FrameLayout()
    for name in F.SCALARS:
        if name != "t":
            lay.add_scalar(name)
    for name, (_, size) in F.VECTORS.items():
        lay.add_vector(name, n_mels if name == "mel_db" else size)
    return lay


class SyntheticFrames:
    """Frames of a made-up song: ``frame(t, loudness=..., quadrant=...)``.

    ``loudness`` 0 is digital silence (levels at the floor, mel bands at −100 dB, no onsets);
    1 is a loud mix with a kick on every beat at ``bpm``. Counters accumulate across calls
    (as the analysis does), so presets that count events see them.
    """

    def __init__(self, layout: FrameLayout | None = None, *, seed: int = 3):
        self.layout = layout or full_layout()
        self.f = self.layout.new_frame()
        self.rng = np.random.default_rng(seed)
        self.n_mels = self.layout.vectors.get("mel_db", 64)
        self.counts = {n: 0 for n in F.COUNTERS}
        self.last_beat = -1
        self.region = 0
        self.region_label = 0
        self.seq = -1

    def _set(self, name, value):
        i = self.layout.scalars.get(name)
        if i is not None:
            self.f.values[i] = value

    def frame(self, t: float, *, loudness: float = 1.0, quadrant: int = 1, bpm: float = 120.0,
              valence: float | None = None, arousal: float | None = None) -> FeatureFrame:
        f, s = self.f, self._set
        self.seq += 1
        f.seq = self.seq
        f.t = float(t)
        loud = float(np.clip(loudness, 0.0, 1.0))
        beat_pos = t * bpm / 60.0
        phase = beat_pos % 1.0
        beat_idx = int(math.floor(beat_pos))
        on_beat = loud > 0 and beat_idx != self.last_beat
        if on_beat:
            self.last_beat = beat_idx
            for n in ("onset_count", "onset_kick_count", "beat_count"):
                self.counts[n] += 1
            if beat_idx % 2 == 1:
                self.counts["onset_snare_count"] += 1
        env = math.exp(-phase * 5.0) * loud
        level = loud * (0.6 + 0.3 * env)
        s("level", level)
        s("peak", min(1.0, level * 1.2))
        s("level_db", -60.0 + 60.0 * level if loud > 0 else -120.0)
        s("peak_db", -60.0 + 60.0 * min(1.0, level * 1.2) if loud > 0 else -120.0)
        for b, k in (("bass", 1.0), ("mid", 0.7), ("high", 0.5)):
            v = loud * k * (0.5 + 0.5 * (env if b == "bass" else 0.6))
            s(f"band_{b}", v)
            s(f"band_{b}_db", -60 + 60 * v if loud > 0 else -120.0)
        s("onset", 1.0 if on_beat else 0.0)
        s("onset_kick", 1.0 if on_beat else 0.0)
        s("onset_strength", 4.0 * env)
        s("onset_kick_strength", 2.0 * env)
        s("onset_snare_strength", 1.0 * env)
        s("onset_hihat_strength", 0.5 * loud)
        for n, c in self.counts.items():
            s(n, c)
        s("energy", 0.02 * loud)
        s("energy_z", 1.0 + 0.2 * env)
        s("tempo_z", 1.0)
        s("beat", 1.0 if on_beat else 0.0)
        s("bpm", bpm if loud > 0 else 0.0)
        s("beat_phase", phase if loud > 0 else 0.0)
        s("bpm_confidence", 0.8 * (loud > 0))
        va = QUADRANT_VA.get(int(quadrant), (0.0, 0.0))
        v = va[0] if valence is None else valence
        a = va[1] if arousal is None else arousal
        s("valence", v)
        s("arousal", a)
        s("quadrant", float(quadrant))
        for q in range(1, 5):
            s(f"q{q}", 0.7 if q == quadrant else 0.1)
        s("prediction_age", 0.5)
        s("emotion_fill", 1.0)  # a full window of audio behind the mood
        s("emotion_confidence", 0.7)
        label = {1: 2, 2: 1, 3: 4, 4: 3}.get(int(quadrant), 3)  # Q1 cheerful, Q2 fierce, Q3 low, Q4 gentle
        if label != self.region_label:
            self.region_label = label
            self.region += 1
            self.counts["region_change_count"] += 1
            s("region_change", 1.0)
        else:
            s("region_change", 0.0)
        s("region_index", self.region)
        s("region_label", label)
        s("region_change_count", self.counts["region_change_count"])
        if "mel_db" in f.vectors:
            m = f.vectors["mel_db"]
            if loud > 0:
                k = np.arange(m.shape[0])
                m[:] = (-10.0 - 35.0 * k / m.shape[0] + 20.0 * env * np.exp(-k / 6.0)
                        + 5.0 * np.sin(k * 0.7 + t * 3.0)) - 40.0 * (1.0 - loud)
            else:
                m[:] = -100.0
        if "wavelet_energy" in f.vectors:
            f.vectors["wavelet_energy"][:] = loud * np.linspace(1.0, 0.1, f.vectors["wavelet_energy"].shape[0])
        if "tags" in f.vectors:
            tg = f.vectors["tags"]
            tg[:] = 0.1
            tg[[3, 5, 6, 11]] = 0.3 + 0.6 * loud  # techno, drums, electronic, beat
        if "latent" in f.vectors:
            lat = f.vectors["latent"]
            lat[:] = np.sin(np.arange(lat.shape[0]) * 1.3 + quadrant) * (0.3 + 0.6 * loud)
        return f
