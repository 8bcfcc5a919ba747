"""Playlists: which presets go with which moods, and the follower that switches presets when
the music's quadrant or emotion region changes.

``presets/playlist.json``::

    {"playlist": 1,
     "trigger": "region",                # "quadrant" | "region" | "both" | "off"
     "quadrants": {"Q1": ["kaleidoscope", "particles"], "Q2": [...], "Q3": [...], "Q4": [...]},
     "regions": {"fierce": [...], "cheerful": [...], "gentle": [...], "low": [...]},
     "min_hold_s": 6.0,                  # a new quadrant must last this long (audio time)
     "min_confidence": 0.4,              # ... with the model this sure of it (emotion_confidence)
     "crossfade_s": 2.0,
     "start": "spectrum_bars"}

Each mood's list is played round-robin: every switch into that mood takes the next preset.

The quadrant trigger counts a frame's quadrant only while ``emotion_confidence`` (the
probability of the published quadrant times the share of the model's window that held real
audio) is at least ``min_confidence``: in the first seconds of a stream, and for music the
model is unsure of, the quadrant is close to a guess — on held-out clips the quadrants
published with a confidence near 0.3 were right 0.30 of the time, those near 0.5 0.52 (the
emotion model card's reliability table) — and a guess should not switch the visuals. A
low-confidence frame also restarts the hold. The operator's override publishes confidence 1;
frames without the field (no emotion model) are not held back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .fields import QUADRANTS, REGION_LABELS

TRIGGERS = ("quadrant", "region", "both", "off")
_KEYS = {"playlist", "trigger", "quadrants", "regions", "min_hold_s", "min_confidence", "crossfade_s", "start",
         "description"}


@dataclass
class Playlist:
    quadrants: dict = field(default_factory=dict)
    regions: dict = field(default_factory=dict)
    trigger: str = "both"
    min_hold_s: float = 6.0
    min_confidence: float = 0.4
    crossfade_s: float = 2.0
    start: str | None = None
    path: Path | None = None


def parse_playlist(doc, path=None, known=None) -> Playlist:
    where = str(path) if path else "<playlist>"

    def fail(key, msg):
        raise ConfigError(f"{where}: {key}: {msg}")

    if not isinstance(doc, dict):
        fail("(top level)", "must be a JSON object")
    for k in doc:
        if k not in _KEYS:
            fail(k, "unknown key")
    trig = doc.get("trigger", "both")
    if trig not in TRIGGERS:
        fail("trigger", f"{trig!r} must be one of {', '.join(TRIGGERS)}")

    def names_map(key, labels):
        m = doc.get(key, {})
        if not isinstance(m, dict):
            fail(key, f"{m!r} must be an object")
        out = {}
        for lab, lst in m.items():
            if lab not in labels:
                fail(f"{key}.{lab}", f"unknown mood; use {', '.join(labels)}")
            if not isinstance(lst, list) or not lst or not all(isinstance(n, str) for n in lst):
                fail(f"{key}.{lab}", f"{lst!r} must be a non-empty list of preset names")
            for n in lst:
                if known is not None and n not in known:
                    fail(f"{key}.{lab}", f"{n!r} is not a known preset ({', '.join(sorted(known))})")
            out[lab] = list(lst)
        return out

    def num(key, default):
        v = doc.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            fail(key, f"{v!r} must be a number ≥ 0")
        return float(v)

    min_conf = num("min_confidence", 0.4)
    if min_conf > 1:
        fail("min_confidence", f"{min_conf!r} must be within 0..1")
    start = doc.get("start")
    if start is not None and (not isinstance(start, str) or (known is not None and start not in known)):
        fail("start", f"{start!r} is not a known preset")
    return Playlist(quadrants=names_map("quadrants", QUADRANTS), regions=names_map("regions", REGION_LABELS),
                    trigger=trig, min_hold_s=num("min_hold_s", 6.0), min_confidence=min_conf,
                    crossfade_s=num("crossfade_s", 2.0),
                    start=start, path=Path(path) if path else None)


def load_playlist(path, known=None) -> Playlist:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror or e})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    return parse_playlist(doc, p, known)


def frame_quadrant(frame) -> str | None:
    """The frame's quadrant label: the ``quadrant`` field, else the argmax of q1..q4."""
    if frame is None:
        return None
    if "quadrant" in frame:
        q = int(round(frame["quadrant"]))
        return QUADRANTS[q - 1] if 1 <= q <= 4 else None
    if all(n in frame for n in ("q1", "q2", "q3", "q4")):
        ps = [frame[n] for n in ("q1", "q2", "q3", "q4")]
        if max(ps) <= 0:
            return None
        return QUADRANTS[ps.index(max(ps))]
    return None


class PlaylistFollower:
    """Feed it every shown frame; it returns a preset name when the mood calls for a switch."""

    def __init__(self, playlist: Playlist):
        self.pl = playlist
        self._rr: dict[str, int] = {}
        self._quadrant = None  # the quadrant we switched for
        self._candidate = None
        self._candidate_since = 0.0
        self._region_count = None

    def _next(self, mood_map, mood) -> str | None:
        lst = mood_map.get(mood)
        if not lst:
            return None
        i = self._rr.get(mood, 0)
        self._rr[mood] = i + 1
        return lst[i % len(lst)]

    def update(self, frame, t: float) -> str | None:
        pl = self.pl
        if pl.trigger == "off" or frame is None:
            return None
        if pl.trigger in ("region", "both") and "region_change_count" in frame and "region_label" in frame:
            c = frame["region_change_count"]
            prev, self._region_count = self._region_count, c
            if prev is not None and c > prev:
                lab = int(round(frame["region_label"]))
                if 1 <= lab <= 4:
                    name = self._next(pl.regions, REGION_LABELS[lab - 1])
                    if name:
                        return name
        if pl.trigger in ("quadrant", "both"):
            q = frame_quadrant(frame)
            if q is None:
                return None
            if "emotion_confidence" in frame and frame["emotion_confidence"] < pl.min_confidence:
                self._candidate = None  # a guess: the hold starts again once the model is sure
                return None
            if q != self._candidate:
                self._candidate, self._candidate_since = q, t
            if q != self._quadrant and t - self._candidate_since >= pl.min_hold_s:
                self._quadrant = q
                name = self._next(pl.quadrants, q)
                if name:
                    return name
        return None
