"""The FeatureFrame fields a preset's JSON or an OSC profile may map from (docs/architecture.md's
field table), with the input range each one is normalised from unless the JSON gives ``"in"``.
A test checks that every field the full analysis chain produces is listed here."""
from __future__ import annotations

#: the 50 MagnaTagATune tags in musicnn's order (the order of the ``tags`` vector)
TAG_NAMES = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)

_UNIT = (0.0, 1.0)
_DB = (-60.0, 0.0)
_BIPOLAR = (-1.0, 1.0)
_COUNT = (0.0, 1.0)  # counters are mapped per update as "how many new events" (mode delta)

#: scalar fields: name -> default input range
SCALARS: dict[str, tuple[float, float]] = {
    "t": (0.0, 60.0),
    "level_db": _DB, "peak_db": _DB, "level": _UNIT, "peak": _UNIT,
    "band_bass": _UNIT, "band_mid": _UNIT, "band_high": _UNIT,
    "band_bass_db": _DB, "band_mid_db": _DB, "band_high_db": _DB,
    "onset": _UNIT, "onset_count": _COUNT, "onset_strength": (0.0, 4.0),
    "onset_kick": _UNIT, "onset_snare": _UNIT, "onset_hihat": _UNIT,
    "onset_kick_count": _COUNT, "onset_snare_count": _COUNT, "onset_hihat_count": _COUNT,
    "onset_kick_strength": (0.0, 1.0), "onset_snare_strength": (0.0, 1.0),
    "onset_hihat_strength": (0.0, 1.0),
    "energy": (0.0, 1.0), "energy_z": (0.0, 2.0), "tempo_z": (0.0, 2.0),
    "beat": _UNIT, "beat_count": _COUNT, "bpm": (60.0, 180.0), "beat_phase": _UNIT,
    "bpm_confidence": _UNIT, "tap_lock": _UNIT,
    "valence": _BIPOLAR, "arousal": _BIPOLAR, "quadrant": (1.0, 4.0),
    "q1": _UNIT, "q2": _UNIT, "q3": _UNIT, "q4": _UNIT, "prediction_age": (0.0, 10.0),
    "emotion_confidence": _UNIT, "emotion_fill": _UNIT,
    "region_index": (0.0, 16.0), "region_label": (1.0, 4.0),
    "region_change": _UNIT, "region_change_count": _COUNT,
    "region_boundary": _UNIT, "region_start": (0.0, 600.0),
    "region_cue_t": (0.0, 600.0), "region_novelty": (0.0, 2.0), "region_energy_cue": (0.0, 4.0),
    "region_mood_cue": _UNIT, "region_contrast_cue": (0.0, 4.0), "region_score": (0.0, 2.0), "region_threshold": (0.0, 2.0),
    "section_change": _UNIT, "section_change_count": _COUNT, "section_label": (0.0, 3.0),
    "section_time": (0.0, 600.0),
    "energy_same": _UNIT, "tempo_same": _UNIT,
    "emotion_override": (0.0, 4.0), "prediction_id": (0.0, 1e6),
    "silence": _UNIT, "silence_s": (0.0, 60.0),
}

#: vector fields: name -> (default input range, nominal size)
VECTORS: dict[str, tuple[tuple[float, float], int]] = {
    "mel_db": ((-70.0, 10.0), 64),
    "wavelet_energy": ((0.0, 1.0), 7),
    "tags": (_UNIT, 50),
    "latent": (_BIPOLAR, 10),
}

#: counters: a parameter mapping one of these defaults to mode "delta" (new events per update)
COUNTERS = frozenset(n for n in SCALARS if n.endswith("_count"))

#: quadrant / region labels as used by playlists
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
REGION_LABELS = ("fierce", "cheerful", "gentle", "low")


def all_field_names() -> list[str]:
    return list(SCALARS) + list(VECTORS)
