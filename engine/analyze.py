"""``sonolux analyze FILE``: run a file through the live analysis path (as fast as possible)
and summarise it as the JSON document in docs/architecture.md (the ``analyze`` contract).

Keys whose producers are not part of this build yet (emotion, tags, timeline, regions) are
present and empty, so consumers can rely on the shape.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis import AnalysisConfig, FrameTable
from .sources.file import load_audio
from .spec import StreamSpec


def tempo_summary(table: FrameTable) -> dict:
    """Clip tempo: the median BPM over the second half of the run (the tracker has locked
    by then), with the median confidence there."""
    if "bpm" not in table.layout.scalars or len(table) == 0:
        return {"bpm": 0.0, "confidence": 0.0}
    half = len(table) // 2
    bpm = table.column("bpm")[half:]
    conf = table.column("bpm_confidence")[half:] if "bpm_confidence" in table.layout.scalars else np.zeros_like(bpm)
    valid = bpm > 0
    if not np.any(valid):
        return {"bpm": 0.0, "confidence": 0.0}
    return {"bpm": round(float(np.median(bpm[valid])), 2), "confidence": round(float(np.median(conf[valid])), 3)}


def events(table: FrameTable, name: str) -> list[float]:
    if name not in table.layout.scalars:
        return []
    return [round(float(t), 4) for t in table.event_times(name)]


def analyze_file(path, *, spec: StreamSpec | None = None, config: AnalysisConfig | None = None) -> dict:
    spec = spec or StreamSpec()
    signal = load_audio(path, spec.sample_rate)
    from .engine import make_analyzer

    table = make_analyzer(spec, config).analyze(signal)
    return summarize(table, file=str(path), sample_rate=spec.sample_rate,
                     duration_s=signal.shape[0] / spec.sample_rate)


def summarize(table: FrameTable, *, file: str, sample_rate: int, duration_s: float) -> dict:
    """The contract document from a run's frames (event times are frame times)."""
    return {
        "file": file,
        "sample_rate": sample_rate,
        "duration_s": round(duration_s, 4),
        "tempo": tempo_summary(table),
        "beats": events(table, "beat"),
        "onsets": events(table, "onset"),
        "emotion": None,
        "tags": {},
        "timeline": [],
        "regions": [],
        "frames": len(table),
        "name": Path(file).name,
    }
