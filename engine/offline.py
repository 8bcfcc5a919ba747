"""Offline analysis: a file or an array through the live analysis path (as fast as possible),
summarised as the JSON document in docs/architecture.md (the ``analyze`` contract; the same
document ``sonolux analyze FILE --json`` prints)::

    import numpy as np, sonolux
    sr = 48000
    t = np.arange(4 * sr) / sr
    clicks = (np.sin(2 * np.pi * 1000 * t) * (t % 0.5 < 0.01)).astype(np.float32)  # 120 BPM
    doc = sonolux.analyze(clicks, sr, models=None)
    doc["tempo"]["bpm"], len(doc["onsets"])

Mood and tags come from the same inference stage and worker as live, stepped in lockstep
with the hops (a live run that keeps up computes the very same windows). Without models,
``emotion`` is null and ``tags`` / ``timeline`` are empty, so consumers can rely on the shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import AnalysisConfig, FrameTable
from .config import number
from .errors import ParameterError
from .features.regions import RegionStage
from .features.sections import SectionStage
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


def _signal(source, sample_rate: int | None, spec: StreamSpec) -> tuple[np.ndarray, str]:
    """(mono float32 at the spec's rate, the document's ``file`` name) of a path or an array."""
    if isinstance(source, (str, Path)):
        return load_audio(source, spec.sample_rate), str(source)
    if sample_rate is None:
        raise ParameterError("analyze(array) needs its sample_rate, e.g. analyze(x, 48000)")
    number(sample_rate, "sample_rate", integer=True, positive=True)
    x = np.asarray(source, dtype=np.float32)
    if x.ndim == 2:  # (frames, channels), like soundfile
        x = x.mean(axis=1)
    if x.ndim != 1 or x.shape[0] == 0:
        raise ParameterError(f"analyze(array): shape {x.shape} must be (samples,) or (samples, channels)")
    if not np.all(np.isfinite(x)):
        raise ParameterError("analyze(array): the signal holds NaN or infinite samples")
    if sample_rate != spec.sample_rate:
        import soxr

        x = soxr.resample(x, sample_rate, spec.sample_rate, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32), "<array>"


def run_analysis(source, sample_rate: int | None = None, *, spec: StreamSpec | None = None,
                 config: AnalysisConfig | None = None, models: dict | None = None, inference=None,
                 segmenter: Segmenter | None = None) -> Analysis:
    """:func:`analyze`, returning the frames, the signal and the segmenter too (for plots)."""
    from .analysis import Analyzer
    from .inference.runtime import InferenceConfig, make_inference

    spec = spec or StreamSpec()
    signal, name = _signal(source, sample_rate, spec)
    stage = worker = None
    if models:
        stage, worker = make_inference(models, inference or InferenceConfig(), keep_results=True)
    segmenter = segmenter or Segmenter()
    analyzer = Analyzer(spec, config, inference_stage=stage, segmenter=segmenter)
    table = analyzer.analyze(signal, after_hop=worker.poll if worker else None)
    doc = summarize(table, file=name, sample_rate=spec.sample_rate,
                    duration_s=signal.shape[0] / spec.sample_rate)
    if worker is not None:
        doc.update(model_summary(worker.results, models))
    doc["regions"] = analyzer.find(RegionStage).finish(doc["duration_s"])
    sections = analyzer.find(SectionStage)
    doc["sections"] = list(sections.events) if sections is not None else []
    return Analysis(doc, table, signal, segmenter)


def analyze(source, sample_rate: int | None = None, *, models="default", **kw) -> dict:
    """The ``analyze`` document of an audio file path, or of an array with its sample rate.

    ``models``: "default" loads the installed models (mood and tags; missing ones are left
    out), None or {} runs without, or a dict task → OnnxModel. Other keywords (``spec``,
    ``config``, ``inference``, ``segmenter``) as in :func:`run_analysis`.

    >>> doc = sonolux.analyze("song.wav")                      # doctest: +SKIP
    >>> doc = sonolux.analyze(x, 44100, models=None)            # doctest: +SKIP
    >>> doc["tempo"], doc["beats"][:4], doc["emotion"]          # doctest: +SKIP
    """
    if isinstance(models, str) and models == "default":
        from .inference.runtime import InferenceConfig, load_models

        models, _warnings = load_models(kw.get("inference") or InferenceConfig())
    return run_analysis(source, sample_rate, models=models, **kw).doc


def analyze_file(path, **kw) -> dict:
    """The ``analyze`` document of ``path`` with only the models given in ``models=``
    (none by default; see :func:`run_analysis` for the options)."""
    return run_analysis(path, **kw).doc


QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
TIMELINE_TOP_TAGS = 5


def model_summary(results: list[dict], models: dict) -> dict:
    """``emotion`` and ``tags`` (clip aggregates: means of the raw window outputs) and the
    ``timeline`` (per window, the smoothed values a live run shows)."""
    out = {}
    if not results:
        return out
    if "emotion" in models:
        va = np.mean([r["raw"]["emotion"]["va"] for r in results], axis=0)
        probs = np.mean([r["raw"]["emotion"]["quadrant_probs"] for r in results], axis=0)
        out["emotion"] = {"valence": round(float(np.clip(va[0], -1, 1)), 4),
                          "arousal": round(float(np.clip(va[1], -1, 1)), 4),
                          "quadrant": QUADRANTS[int(np.argmax(probs))],
                          "probs": {q: round(float(p), 4) for q, p in zip(QUADRANTS, probs)}}
    labels = models["tags"].labels if "tags" in models else []
    if labels:
        mean = np.mean([r["raw"]["tags"]["tags"] for r in results], axis=0)
        out["tags"] = {lab: round(float(p), 4) for lab, p in zip(labels, mean)}
    timeline = []
    for r in results:
        p = r["prediction"]
        entry = {"t": round(r["t"], 4)}
        if "emotion" in models:
            entry.update(valence=round(p.valence, 4), arousal=round(p.arousal, 4),
                         quadrant=QUADRANTS[p.quadrant - 1] if p.quadrant else None)
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
        "sections": [],
        "frames": len(table),
        "name": Path(file).name,
    }
