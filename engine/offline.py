"""Offline analysis: a file or an array through the live analysis chain (in bulk, as fast as
possible), summarised as the JSON document in docs/architecture.md (the ``analyze``
contract; the same document ``sonolux analyze FILE --json`` prints)::

    import numpy as np, sonolux
    sr = 48000
    t = np.arange(4 * sr) / sr
    clicks = (np.sin(2 * np.pi * 1000 * t) * (t % 0.5 < 0.01)).astype(np.float32)  # 120 BPM
    doc = sonolux.analyze(clicks, sr, models=None)
    doc["tempo"]["bpm"], len(doc["onsets"])

Long files run in constant memory: the audio is read and resampled in chunks
(:func:`sonolux.sources.file.audio_chunks`), the chain runs over blocks of hops, and
:class:`Summary` keeps only what the document needs (event times, the tempo columns) plus a
decimated table and waveform envelope for ``--plot``. Mood and tags come from the same
inference stage and worker as live, stepped in lockstep with the hops (a live run that keeps
up computes the very same windows). Without models, ``emotion`` is null and ``tags`` /
``timeline`` are empty, so consumers can rely on the shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import AnalysisConfig, FrameTable
from .config import number
from .errors import ParameterError
from .features.base import HopBlock
from .features.regions import RegionStage
from .features.sections import SectionStage
from .inference.mood import confidence, quadrant_of, va_from_probs
from .segment import Segmenter
from .sources.file import audio_chunks
from .spec import StreamSpec

#: seconds of audio read (and resampled) at a time
CHUNK_S = 10.0
#: at most this many frames / envelope points are kept for the plot
PLOT_POINTS = 4_000
#: inputs longer than this get a progress bar (when the caller asks for one)
PROGRESS_MIN_S = 10.0


class Summary:
    """What the ``analyze`` document and plot need from a run, gathered block by block (the
    ``sink`` of :meth:`~sonolux.analysis.Analyzer.analyze_stream`): beat and onset times, the
    tempo columns, and every ``step``-th frame (a decimated :class:`FrameTable`)."""

    def __init__(self, layout, sample_rate: int, expected_hops: int, *, plot_points: int = PLOT_POINTS):
        self.layout, self.sample_rate = layout, sample_rate
        self.step = max(1, -(-expected_hops // plot_points))
        self.n = 0
        self._events = {k: [] for k in ("beat", "onset") if k in layout.scalars}
        self._tempo_cols = [layout.scalars[k] for k in ("bpm", "bpm_confidence") if k in layout.scalars]
        self._tempo = np.zeros((max(expected_hops, 1), len(self._tempo_cols)))
        self._rows = []

    def __call__(self, first: int, block: HopBlock) -> None:
        n = block.n
        t = block.sample_end[:n] / self.sample_rate
        for name, out in self._events.items():
            out.append(t[block.values[:n, self.layout.scalars[name]] > 0.5])
        if self._tempo_cols:
            if first + n > self._tempo.shape[0]:  # longer than announced: grow
                self._tempo = np.concatenate([self._tempo, np.zeros_like(self._tempo)])
            self._tempo[first:first + n] = block.values[:n][:, self._tempo_cols]
        keep = np.arange((-first) % self.step, n, self.step)
        if keep.size:
            self._rows.append((t[keep], block.values[keep].copy(),
                               {k: v[keep].copy() for k, v in block.vectors.items()}))
        self.n = first + n

    def events(self, name: str) -> list[float]:
        """Times (s, 4 decimals) of the hops where the event field ``name`` fired."""
        parts = self._events.get(name)
        if not parts:
            return []
        return [round(float(t), 4) for t in np.concatenate(parts)]

    def tempo(self) -> dict:
        """Clip tempo: the median BPM over the second half of the run (the tracker has locked
        by then), with the median confidence there."""
        if len(self._tempo_cols) < 2 or self.n == 0:
            return {"bpm": 0.0, "confidence": 0.0}
        half = self._tempo[self.n // 2:self.n]
        bpm, conf = half[:, 0], half[:, 1]
        valid = (bpm > 0) & (conf > 0)  # a tempo without any confidence is no tempo
        if not np.any(valid):
            return {"bpm": 0.0, "confidence": 0.0}
        return {"bpm": round(float(np.median(bpm[valid])), 2),
                "confidence": round(float(np.median(conf[valid])), 3)}

    def table(self) -> FrameTable:
        """Every ``step``-th frame of the run (all of them when ``step`` is 1)."""
        if not self._rows:
            return FrameTable.empty(self.layout, 0)
        ts, vals, vecs = zip(*self._rows)
        return FrameTable(self.layout, np.concatenate(ts), np.concatenate(vals),
                          {k: np.concatenate([v[k] for v in vecs]) for k in self.layout.vectors})


class Envelope:
    """Peak envelope of the input for the plot's waveform lane: the largest |sample| of every
    ``step`` samples, gathered chunk by chunk."""

    def __init__(self, expected_samples: int, *, points: int = 4000):
        self.step = max(1, expected_samples // points)
        self._peaks, self._carry = [], np.zeros(0, np.float32)

    def add(self, x: np.ndarray) -> None:
        x = np.concatenate([self._carry, x]) if self._carry.size else x
        n = x.shape[0] // self.step * self.step
        if n:
            self._peaks.append(np.abs(x[:n]).reshape(-1, self.step).max(axis=1))
        self._carry = x[n:].copy()

    def values(self) -> np.ndarray:
        return np.concatenate(self._peaks) if self._peaks else np.zeros(0, np.float32)


@dataclass
class Analysis:
    """A file's analysis: the JSON document plus what a plot needs (a decimated frame table,
    the input's peak envelope sampled every ``envelope_step`` samples)."""

    doc: dict
    table: FrameTable
    envelope: np.ndarray
    envelope_step: int
    segmenter: Segmenter


def _source_chunks(source, sample_rate: int | None, spec: StreamSpec, chunk_s: float):
    """(length in samples at the spec's rate, iterator of mono float32 chunks, the document's
    ``file`` name) of a path (read in chunks) or an array (already in memory)."""
    if isinstance(source, (str, Path)):
        n, chunks = audio_chunks(source, spec.sample_rate, chunk_s=chunk_s)
        return n, chunks, str(source)
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
    x = np.ascontiguousarray(x, dtype=np.float32)
    step = max(1, int(chunk_s * spec.sample_rate))
    return x.shape[0], (x[i:i + step] for i in range(0, x.shape[0], step)), "<array>"


def run_analysis(source, sample_rate: int | None = None, *, spec: StreamSpec | None = None,
                 config: AnalysisConfig | None = None, models: dict | None = None, inference=None,
                 segmenter: Segmenter | None = None, progress=None, on_first_block=None,
                 chunk_s: float = CHUNK_S) -> Analysis:
    """:func:`analyze`, returning the decimated frames, the waveform envelope and the
    segmenter too (for plots).

    ``progress``: None (quiet), True (a tqdm bar on stderr for inputs longer than
    ``PROGRESS_MIN_S``) or a callable ``progress(samples_done, samples_total)``.
    ``on_first_block()``: called once, when the first block is analysed — start-up (loading,
    on a first run compiling, the kernels) is over then; the CLI ends its start-up notice there.
    """
    from .analysis import Analyzer
    from .inference.runtime import InferenceConfig, make_inference

    spec = spec or StreamSpec()
    n_samples, chunks, name = _source_chunks(source, sample_rate, spec, chunk_s)
    stage = worker = None
    if models:
        stage, worker = make_inference(models, inference or InferenceConfig(), keep_results=True)
    segmenter = segmenter or Segmenter()
    analyzer = Analyzer(spec, config, inference_stage=stage, segmenter=segmenter)
    summary = Summary(analyzer.layout, spec.sample_rate, n_samples // spec.hop)
    envelope = Envelope(n_samples)
    results = ModelResults(models or {})
    total = [0]

    def read():
        for x in chunks:
            envelope.add(x)
            total[0] += x.shape[0]
            yield x

    def after_hop(i):
        if worker.poll():
            results.take(worker)

    with _progress_bar(progress, n_samples, spec.sample_rate, on_first_block) as tick:
        analyzer.analyze_stream(read(), summary, progress=tick,
                                after_hop=after_hop if worker else None)
    doc = document(summary, file=name, sample_rate=spec.sample_rate,
                   duration_s=total[0] / spec.sample_rate)
    if worker is not None:
        results.take(worker)
        doc.update(results.summary())
    regions = analyzer.find(RegionStage)
    doc["regions"] = regions.finish(doc["duration_s"])
    doc["region_settings"] = region_settings(regions)
    sections = analyzer.find(SectionStage)
    doc["sections"] = list(sections.events) if sections is not None else []
    return Analysis(doc, summary.table(), envelope.values(), envelope.step, segmenter)


def region_settings(stage) -> dict:
    """How the document's regions were cut, so a reader can tell a judged cut from a fixed
    one: the method, the operator's knobs, whether the learned judge decided and, when it
    was asked for but could not (no tags, a bad judge file), why; whether the learned placer
    moved the cuts (``join_net``: with its join net, which places gradual joins; ``place_choice``:
    with the learned choice among each cut's candidate times) and, when its file could not be
    used, why."""
    c = stage.config
    judged = stage.cues is not None and stage.cues.judge_on
    return {"method": c.region_method, "sensitivity": c.region_sensitivity, "min_s": c.region_min_s,
            "cues": list(c.region_cues), "judge": bool(judged),
            "judge_note": stage.judge_note if c.region_judge and not judged else None,
            "placer": bool(stage.placer_on), "placer_note": stage.placer_note if c.region_placer else None,
            "join_net": bool(stage.placer_on and stage.join_placing and stage.fade_radius_s > 0),
            "place_choice": bool(stage.placer_on and stage.choosing)}


def analyze(source, sample_rate: int | None = None, *, models="default", **kw) -> dict:
    """The ``analyze`` document of an audio file path, or of an array with its sample rate.

    ``models``: "default" loads the installed models (mood and tags; missing ones are left
    out), None or {} runs without, or a dict task → OnnxModel. Other keywords (``spec``,
    ``config``, ``inference``, ``segmenter``, ``progress``) as in :func:`run_analysis`.

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


class _progress_bar:
    """Context manager giving ``tick(samples)`` for :func:`analyze`'s ``progress`` option.
    The bar appears at the first block, once start-up is over, so its time and estimate are
    the analysis's own (a first run compiles the kernels before that block)."""

    def __init__(self, progress, total: int, sample_rate: int, on_first_block=None):
        self.progress, self.total, self.sr = progress, total, sample_rate
        self.first = on_first_block
        self.done, self.bar = 0, None
        self.want_bar = progress is True and total / sample_rate > PROGRESS_MIN_S

    def __enter__(self):
        return self.tick if (self.want_bar or callable(self.progress) or self.first) else None

    def _open_bar(self):
        import sys

        from tqdm import tqdm

        return tqdm(total=round(self.total / self.sr, 1), unit="s", unit_scale=False,
                    desc="analyze", file=sys.stderr, leave=False,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                               "[{elapsed}<{remaining}]")

    def tick(self, samples: int) -> None:
        if self.first is not None:
            first, self.first = self.first, None
            first()
        self.done += samples
        if self.want_bar:
            if self.bar is None:
                self.bar = self._open_bar()
            self.bar.n = round(min(self.done, self.total) / self.sr, 1)
            self.bar.refresh()
        elif callable(self.progress):
            self.progress(self.done, self.total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


def write_document(doc: dict, out) -> None:
    """The document as indented JSON into the file ``out`` (a path) or a text stream, written
    piece by piece (``json.dump``), with a final newline."""
    if isinstance(out, (str, Path)):
        with open(out, "w") as fp:
            json.dump(doc, fp, indent=2)
            fp.write("\n")
    else:
        json.dump(doc, out, indent=2)
        out.write("\n")


QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
TIMELINE_TOP_TAGS = 5


class ModelResults:
    """The models' per-window results, kept compact as they come (the worker's ``results``
    are drained after each poll): the raw outputs the clip means need, in arrays, and each
    window's timeline entry. :meth:`summary` gives ``emotion``, ``tags`` and ``timeline``."""

    RAW = (("emotion", "va"), ("emotion", "quadrant_probs"), ("tags", "tags"))

    def __init__(self, models: dict):
        from .inference.runtime import tag_labels

        self.models = models
        self.labels = tag_labels(models)  # the tagger's, or the emotion model's trunk's
        self.n = 0
        self._raw: dict = {}
        self.timeline: list[dict] = []

    def take(self, worker) -> None:
        """Move the worker's new results in (keeps its list from growing)."""
        for r in worker.results:
            self.add(r)
        worker.results.clear()

    def add(self, r: dict) -> None:
        for task, key in self.RAW:
            if task in r["raw"]:
                self._append(key, np.asarray(r["raw"][task][key]))
        self._append("fill", np.asarray(r["prediction"].fill))  # the share of real audio
        self.n += 1
        self.timeline.append(self._entry(r))

    def _append(self, key: str, x: np.ndarray) -> None:
        buf = self._raw.get(key)
        if buf is None or self.n == buf.shape[0]:  # grow by doubling
            new = np.empty((max(64, 2 * self.n), *x.shape), dtype=x.dtype)
            if buf is not None:
                new[:self.n] = buf[:self.n]
            self._raw[key] = buf = new
        buf[self.n] = x

    def _entry(self, r: dict) -> dict:
        p = r["prediction"]
        entry = {"t": round(r["t"], 4)}
        if "emotion" in self.models:
            entry.update(valence=round(p.valence, 4), arousal=round(p.arousal, 4),
                         quadrant=QUADRANTS[p.quadrant - 1] if p.quadrant else None,
                         confidence=round(p.confidence, 4), fill=round(p.fill, 4))
        if p.tags is not None:
            top = np.argsort(p.tags)[::-1][:TIMELINE_TOP_TAGS]
            entry["tags"] = {self.labels[i]: round(float(p.tags[i]), 4) for i in top}
        if p.latent is not None:
            entry["latent"] = [round(float(x), 4) for x in p.latent]
        return entry

    def summary(self) -> dict:
        """``emotion`` and ``tags`` (clip aggregates: means of the raw window outputs) and the
        ``timeline`` (per window, the smoothed values a live run shows)."""
        out = {}
        if not self.n:
            return out
        mean = {k: np.mean(v[:self.n], axis=0) for k, v in self._raw.items() if k != "fill"}
        if "emotion" in self.models:  # the live rule (inference/mood.py): V/A from P, quadrant
            # from their signs; windows weigh by their share of real audio (the first are padding)
            fills = self._raw["fill"][:self.n]
            weights = fills if fills.sum() > 0 else np.ones_like(fills)
            probs = np.average(self._raw["quadrant_probs"][:self.n], axis=0, weights=weights)
            va = np.clip(va_from_probs(probs), -1, 1)
            quadrant = quadrant_of(va)
            fill = float(fills.max())
            out["emotion"] = {"valence": round(float(va[0]), 4), "arousal": round(float(va[1]), 4),
                              "quadrant": QUADRANTS[quadrant - 1],
                              "probs": {q: round(float(p), 4) for q, p in zip(QUADRANTS, probs)},
                              "confidence": round(confidence(probs, quadrant, fill), 4),
                              "fill": round(fill, 4)}
        if self.labels:
            out["tags"] = {lab: round(float(p), 4) for lab, p in zip(self.labels, mean["tags"])}
        out["timeline"] = self.timeline
        return out


def model_summary(results: list[dict], models: dict) -> dict:
    """:meth:`ModelResults.summary` of a list of the worker's results."""
    acc = ModelResults(models)
    for r in results:
        acc.add(r)
    return acc.summary()


def document(summary: Summary, *, file: str, sample_rate: int, duration_s: float) -> dict:
    """The contract document from a run's summary (event times are frame times)."""
    return {
        "file": file,
        "sample_rate": sample_rate,
        "duration_s": round(duration_s, 4),
        "tempo": summary.tempo(),
        "beats": summary.events("beat"),
        "onsets": summary.events("onset"),
        "emotion": None,
        "tags": {},
        "timeline": [],
        "regions": [],
        "region_settings": None,
        "sections": [],
        "frames": summary.n,
        "name": Path(file).name,
    }
