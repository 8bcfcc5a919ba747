"""``sonolux analyze FILE``: run a file through the live analysis path (as fast as possible)
and summarise it as the JSON document in docs/architecture.md (the ``analyze`` contract).

Mood and tags come from the same inference stage and worker as live, stepped in lockstep
with the hops (a live run that keeps up computes the very same windows). Without models,
``emotion`` is null and ``tags`` / ``timeline`` are empty, so consumers can rely on the shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import AnalysisConfig, FrameTable
from .inference.mood import confidence, quadrant_of, va_from_probs
from .processors.regions import RegionStage
from .segment import Segmenter
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
    valid = (bpm > 0) & (conf > 0)  # a tempo without any confidence is no tempo
    if not np.any(valid):
        return {"bpm": 0.0, "confidence": 0.0}
    return {"bpm": round(float(np.median(bpm[valid])), 2), "confidence": round(float(np.median(conf[valid])), 3)}


def events(table: FrameTable, name: str) -> list[float]:
    if name not in table.layout.scalars:
        return []
    return [round(float(t), 4) for t in table.event_times(name)]


@dataclass
class Analysis:
    """A file's analysis: the JSON document plus what a plot needs."""

    doc: dict
    table: FrameTable
    signal: np.ndarray
    segmenter: Segmenter


def analyze(path, *, spec: StreamSpec | None = None, config: AnalysisConfig | None = None,
            models: dict | None = None, inference=None, segmenter: Segmenter | None = None) -> Analysis:
    from .engine import make_analyzer
    from .inference.runtime import InferenceConfig, make_inference

    spec = spec or StreamSpec()
    signal = load_audio(path, spec.sample_rate)
    stage = worker = None
    if models:
        stage, worker = make_inference(models, inference or InferenceConfig(), keep_results=True)
    segmenter = segmenter or Segmenter()
    analyzer = make_analyzer(spec, config, None, stage, segmenter)
    table = analyzer.analyze(signal, after_hop=worker.poll if worker else None)
    doc = summarize(table, file=str(path), sample_rate=spec.sample_rate,
                    duration_s=signal.shape[0] / spec.sample_rate)
    if worker is not None:
        doc.update(model_summary(worker.results, models))
    doc["regions"] = analyzer.find(RegionStage).finish(doc["duration_s"])
    return Analysis(doc, table, signal, segmenter)


def analyze_file(path, **kw) -> dict:
    """The ``analyze`` JSON document of ``path`` (see :func:`analyze` for the options)."""
    return analyze(path, **kw).doc


QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
TIMELINE_TOP_TAGS = 5


def model_summary(results: list[dict], models: dict) -> dict:
    """``emotion`` and ``tags`` (clip aggregates: means of the raw window outputs) and the
    ``timeline`` (per window, the smoothed values a live run shows)."""
    out = {}
    if not results:
        return out
    if "emotion" in models:  # the live rule (inference/mood.py): V/A from P, quadrant from signs;
        # windows weigh by their share of real audio (the first ones are mostly padding)
        fills = np.array([r["prediction"].fill for r in results])
        weights = fills if fills.sum() > 0 else np.ones_like(fills)
        probs = np.average([r["raw"]["emotion"]["quadrant_probs"] for r in results], axis=0, weights=weights)
        va = np.clip(va_from_probs(probs), -1, 1)
        quadrant = quadrant_of(va)
        fill = float(fills.max())
        out["emotion"] = {"valence": round(float(va[0]), 4), "arousal": round(float(va[1]), 4),
                          "quadrant": QUADRANTS[quadrant - 1],
                          "probs": {q: round(float(p), 4) for q, p in zip(QUADRANTS, probs)},
                          "confidence": round(confidence(probs, quadrant, fill), 4),
                          "fill": round(fill, 4)}
    from .inference.runtime import tag_labels

    labels = tag_labels(models)
    if labels:
        mean = np.mean([r["raw"]["tags"]["tags"] for r in results], axis=0)
        out["tags"] = {lab: round(float(p), 4) for lab, p in zip(labels, mean)}
    timeline = []
    for r in results:
        p = r["prediction"]
        entry = {"t": round(r["t"], 4)}
        if "emotion" in models:
            entry.update(valence=round(p.valence, 4), arousal=round(p.arousal, 4),
                         quadrant=QUADRANTS[p.quadrant - 1] if p.quadrant else None,
                         confidence=round(p.confidence, 4), fill=round(p.fill, 4))
        if p.tags is not None:
            top = np.argsort(p.tags)[::-1][:TIMELINE_TOP_TAGS]
            entry["tags"] = {labels[i]: round(float(p.tags[i]), 4) for i in top}
        if p.latent is not None:
            entry["latent"] = [round(float(x), 4) for x in p.latent]
        timeline.append(entry)
    out["timeline"] = timeline
    return out


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
