"""Recordings for the region benchmark, analysed once through the live chain and cached.

* Medleys of 4Q clips: 3–5 excerpts of 15–30 s of different songs, each of another quadrant
  than its neighbour, joined hard (even medleys) or with a linear crossfade of 1–2 s (odd
  ones); true boundaries are the joins (a crossfade's midpoint).
* Single 4Q clips played alone, and POP909 songs rendered with FluidSynth and played alone
  (no boundary inside: every cut is false).

A recording's frames (all scalar fields but the region ones, and ``mel_db``) are cached as
``.npz`` under the cache folder, keyed by what the recording is made of, so reruns replay
the region stage without decoding or analysing audio again.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sonolux import StreamSpec
from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.inference.runtime import InferenceConfig, make_inference
from sonolux.sources.file import load_audio

SR = 48000
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
#: hard joins are micro-crossfades this long (ms), as a DAW or a DJ mixer makes a cut: a plain splice
#: clicks in the 4Q clips' empty bands above 8 kHz, a tell no full-band recording gives (:func:`join`)
SPLICE_MS = 5.0
CACHE_VERSION = 4  # 4: mood from emotion v2.2 (level-normalised input); 3: v2.1; 1: v2.0; 2 was an earlier, abandoned key
# the emotion model whose mood the frames of CACHE_VERSION hold: a run with another model stops
# (Analysed) instead of reading its frames — bump both together when the shipped model changes
CACHE_EMOTION_VERSION = "2.2.0"


@dataclass
class Recording:
    """What to play: a name (cache key), how to make the audio, and the truth."""

    key: str
    make: object  # () -> float32 signal at SR
    bounds: list = field(default_factory=list)  # true boundary times (s)
    spans: list = field(default_factory=list)  # (start, end) per part
    quadrants: list = field(default_factory=list)  # per part
    kind: str = "medley"
    meta: dict = field(default_factory=dict)


@dataclass
class Frames:
    """A cached run: scalar columns by name, the mel_db vectors, the hop count."""

    names: list
    values: np.ndarray  # (n, len(names)) float64
    mel: np.ndarray  # (n, n_mels) float32

    def column(self, name):
        return self.values[:, self.names.index(name)]


def add_data_args(ap, cache_help: str) -> None:
    """The options every region script shares: the data folder, the frame cache, the number
    of development medleys."""
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
                    help="the shared data folder (emotion4q/)")
    ap.add_argument("--cache", default="/work/cache/regions", help=cache_help)
    ap.add_argument("--dev-medleys", type=int, default=24, help="development medleys (folds 0-1)")


def data_folder(args) -> Path:
    """``args.data`` as a Path; exits with a clear message when the 4Q clips are not there."""
    data = Path(args.data)
    if not (data / "emotion4q" / "clips.csv").exists():
        sys.exit(f"{data}/emotion4q not found: pass --data")
    return data


def clips(data: Path, folds) -> list[dict]:
    return [c for c in csv.DictReader(open(data / "emotion4q" / "clips.csv")) if int(c["fold"]) in folds]


class AudioCache:
    def __init__(self, data: Path):
        self.data = data
        self._y: dict = {}

    def clip(self, c: dict) -> np.ndarray:
        if c["song"] not in self._y:
            self._y[c["song"]] = load_audio(self.data / "emotion4q" / c["path"], SR)
        return self._y[c["song"]]


def join(parts, xfade_s: list[float], splice_s: float = 0.0):
    """Concatenate parts; ``xfade_s[i]`` > 0 crossfades part i+1 in linearly. Returns the
    signal, the boundaries (a crossfade's midpoint) and each part's (start, end).

    ``splice_s`` > 0: a hard join (``xfade_s[i]`` = 0) becomes a micro-crossfade that long, as
    a DAW or a DJ mixer makes a cut. A plain splice of two excerpts is a step in the waveform:
    a click that fills every band for a moment — in the 4Q clips, 16 kHz recordings, also the
    mel bands above 8 kHz that hold nothing else, a tell no full-band recording gives
    (``benchmarks/hard_join_placement.py``, "The clips' bandwidth")."""
    signal = parts[0].astype(np.float32)
    ends = []
    for p, xf in zip(parts[1:], xfade_s):
        n = int((xf or splice_s) * SR)
        if n == 0:
            ends.append(len(signal) / SR)
            signal = np.concatenate([signal, p])
            continue
        ramp = np.linspace(0, 1, n, dtype=np.float32)
        ends.append((len(signal) - n / 2) / SR)
        head = signal[-n:] * (1 - ramp) + p[:n] * ramp
        signal = np.concatenate([signal[:-n], head, p[n:]])
    ends.append(len(signal) / SR)
    starts = [0.0] + ends[:-1]
    return signal.astype(np.float32), ends[:-1], list(zip(starts, ends))


def medleys(data: Path, audio: AudioCache, n: int, *, folds, seed: int,
            splice_s: float = SPLICE_MS / 1000) -> list[Recording]:
    """``n`` medleys of 3–5 excerpts (15–30 s) of the clips of ``folds``, every other one with
    1–2 s crossfades; ``splice_s``: the hard joins' micro-crossfade (:func:`join`; 0: a plain
    splice, as every result committed before the judge of 2026-12-04's evening — the region
    screens' JSONs — and ``segmentation.py --splice-fade-ms 0``)."""
    pool = clips(data, folds)
    by_q = {q: [c for c in pool if c["quadrant"] == q] for q in QUADRANTS}
    rng = np.random.default_rng(seed)
    out = []
    for m in range(n):
        k = int(rng.integers(3, 6))
        picked, prev_q, songs = [], None, set()
        while len(picked) < k:
            q = str(rng.choice([q for q in QUADRANTS if q != prev_q]))
            c = by_q[q][int(rng.integers(0, len(by_q[q])))]
            if c["song"] in songs:
                continue
            songs.add(c["song"])
            picked.append((c, float(rng.uniform(15, 30)), float(rng.uniform(0, 1))))
            prev_q = q
        xf = [0.0 if m % 2 == 0 else round(float(rng.uniform(1, 2)), 2) for _ in range(k - 1)]
        desc = repr([(c["song"], round(d, 3), round(s, 3)) for c, d, s in picked] + xf
                    + ([f"splice {splice_s:g} s"] if splice_s > 0 else []))
        key = "medley-" + hashlib.sha1(desc.encode()).hexdigest()[:16]

        def make(picked=picked, xf=xf):
            parts = []
            for c, dur, pos in picked:
                y = audio.clip(c)
                n_s = min(len(y), int(dur * SR))
                start = int(pos * (len(y) - n_s))
                parts.append(y[start:start + n_s])
            return join(parts, xf, splice_s)[0]

        # the truth needs the real lengths: computed from the clip lengths without decoding twice
        rec = Recording(key, make, quadrants=[c["quadrant"] for c, _, _ in picked], kind="medley",
                        meta={"songs": [c["song"] for c, _, _ in picked], "crossfade_s": xf, "splice_s": splice_s,
                              "folds": sorted({int(c["fold"]) for c, _, _ in picked})})
        rec.meta["_picked"] = picked
        out.append(rec)
    return out


def seed_medleys(data: Path, audio: AudioCache, seeds, n: int, song_disjoint: bool = True):
    """Each seed's ``n`` development medleys, as (seed, half, folds, recordings): seed i of the list
    is cross-fit half i % 2, and with ``song_disjoint`` its medleys are of dev fold i % 2's clips
    alone (the halves share no song: what the region trainers' cross-fits and screens need),
    else of both dev folds."""
    for i, seed in enumerate(seeds):
        folds = (i % 2,) if song_disjoint else (0, 1)
        yield seed, i % 2, folds, medleys(data, audio, n, folds=folds, seed=seed)


def medley_truth(rec: Recording, audio: AudioCache) -> None:
    """Fill ``bounds`` and ``spans`` (needs the clips' lengths)."""
    lengths = []
    for c, dur, _ in rec.meta["_picked"]:
        lengths.append(min(len(audio.clip(c)), int(dur * SR)))
    parts = [np.zeros(n, dtype=np.float32) for n in lengths]
    _, rec.bounds, rec.spans = join(parts, rec.meta["crossfade_s"], rec.meta.get("splice_s", 0.0))


def analysed(recs, an: "Analysed", audio: AudioCache, what: str):
    """(recording, frames) for each of ``recs`` — a medley with its truth filled in — with a
    progress bar named ``what`` on stderr (the region scripts' common loading loop)."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        def tqdm(x, **_):
            return x
    for rec in tqdm(recs, desc=what, file=sys.stderr):
        if rec.kind == "medley":
            medley_truth(rec, audio)
        yield rec, an.frames(rec)


def single_clips(data: Path, audio: AudioCache, folds) -> list[Recording]:
    return [Recording(f"clip-{c['song']}", (lambda c=c: audio.clip(c)), quadrants=[c["quadrant"]], kind="clip",
                      meta={"song": c["song"], "folds": [int(c["fold"])]}) for c in clips(data, folds)]


def pop909_songs(data: Path, cache: Path, n: int, start: int = 1) -> list[Recording]:
    """The first ``n`` songs of the POP909 subset from id ``start`` (every 16th id:
    ``_pop909.subset``; 1 — 001, 017, … — is the beat benchmarks' set and the reporting songs
    here; the cut judge's development songs start at :data:`POP909_DEV_START`), rendered
    (cached) when played; [] (after saying why) when POP909 cannot be rendered here."""
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _pop909  # noqa: E402

    _pop909.POP909 = data / "pop909"  # this run's data folder (the module's default is $SONOLUX_DATA)
    if "SONOLUX_RENDER_CACHE" not in os.environ:
        _pop909.CACHE = cache / "pop909"

    if _pop909.available():
        print("POP909:", _pop909.available(), file=sys.stderr)
        return []
    return [Recording(f"pop909-{s}", (lambda s=s: _pop909.render(s, SR)), kind="pop909", meta={"song": s})
            for s in _pop909.subset(start=start, limit=n)]


#: the first POP909 id of the cut judge's development songs (009, 025, 041, …): none of them is
#: in the beat benchmarks' subset or the reporting songs (both from 001)
POP909_DEV_START = 9

#: the first POP909 ids of the join net's extra training songs (005, 021, … and 013, 029, …):
#: in neither the reporting subset (from 001) nor the cut judge's development songs (from 009)
POP909_NET_STARTS = (5, 13)


def pop909_net_songs(data: Path, cache: Path, n: int) -> list[Recording]:
    """The join net's extra training songs: the first ``n`` of each of
    :data:`POP909_NET_STARTS`' subsets (:func:`pop909_songs`)."""
    recs = []
    for start in POP909_NET_STARTS:
        got = pop909_songs(data, cache, n, start=start)
        if not got:  # POP909 cannot be rendered here (said once)
            return []
        recs += got
    return recs


class Analysed:
    """Runs recordings through the live chain (with the emotion model) or loads the cache."""

    def __init__(self, cache: Path, models: dict, spec: StreamSpec, config: AnalysisConfig):
        emotion = models.get("emotion") if models else None
        version = str(emotion.contract.get("version")) if emotion is not None else None
        if version is not None and version != CACHE_EMOTION_VERSION:
            sys.exit(f"the frame cache's key v{CACHE_VERSION} holds the mood of emotion model {CACHE_EMOTION_VERSION}; "
                     f"the shipped model is {version}: bump CACHE_VERSION and CACHE_EMOTION_VERSION in "
                     f"benchmarks/_regionsdata.py (the old frames stay, under their own key)")
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self.models, self.spec, self.config = models, spec, config

    def frames(self, rec: Recording) -> Frames:
        path = self.cache / f"v{CACHE_VERSION}-{rec.key}-{'m' if self.models else 'nm'}.npz"
        if path.exists():
            z = np.load(path, allow_pickle=False)
            return Frames(list(z["names"]), z["values"].astype(np.float64), z["mel"])
        signal = rec.make()
        stage = worker = None
        if self.models:
            stage, worker = make_inference(self.models, InferenceConfig())
        an = Analyzer(self.spec, self.config, inference_stage=stage)
        table = an.analyze(signal, after_hop=worker.poll if worker else None)
        names = [n for n in table.layout.scalars if not n.startswith("region_")]
        idx = [table.layout.scalars[n] for n in names]
        fr = Frames(names, table.values[:, idx], table.vectors["mel_db"].astype(np.float32))
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, names=np.array(names), values=fr.values.astype(np.float32), mel=fr.mel)
        tmp.rename(path)
        fr.values = fr.values.astype(np.float32).astype(np.float64)  # same numbers as a cached run
        return fr


TAGS_VERSION = 1  # the tag sidecar's own key (the frame cache has no tag vectors)


def mark_predictions(signal: np.ndarray, models: dict, spec: StreamSpec) -> dict:
    """The emotion model's output at every 0.5 s mark of ``signal``, computed by the live
    engine's own inference stage and worker (``InferenceStage`` marks, ``InferenceWorker``
    resampling, ``FeatureStream`` and the streaming model, smoothing), hop by hop and in step
    as ``Analyzer.analyze`` runs them offline — without the rest of the analysis chain. Returns
    arrays per mark: ``t`` (s), ``raw_tags`` / ``tags`` (raw and smoothed, (n, 50)), ``probs``
    (smoothed quadrant probabilities, (n, 4)), ``confidence``, ``fill``."""
    from sonolux.features.base import HopContext
    from sonolux.frame import FrameLayout

    stage, worker = make_inference(models, InferenceConfig(), keep_results=True)
    layout = FrameLayout()
    stage.prepare(spec, layout, None)
    frame, ctx = layout.new_frame(), HopContext(spec)
    hop = spec.hop
    for i in range(signal.shape[0] // hop):
        stage.ring.write(signal[i * hop:(i + 1) * hop], ctx.samples)
        ctx.sample_end = (i + 1) * hop
        stage.process(ctx, frame)
        worker.poll()
    res = worker.results
    out = {"t": np.array([r["t"] for r in res]),
           "raw_tags": np.array([r["raw"]["tags"]["tags"] for r in res], dtype=np.float32),
           "tags": np.array([r["prediction"].tags for r in res], dtype=np.float32),
           "probs": np.array([r["prediction"].probs for r in res]),
           "confidence": np.array([r["prediction"].confidence for r in res]),
           "fill": np.array([r["prediction"].fill for r in res])}
    return out


class MarkTags:
    """The per-mark predictions of a recording (:func:`mark_predictions`), cached as a
    sidecar ``tags/v{TAGS_VERSION}-emotion{version}-{key}.npz`` beside the frame cache: keyed
    by the emotion model's contract version, so a new model never reads an old one's tags."""

    def __init__(self, cache: Path, models: dict, spec: StreamSpec):
        self.folder = Path(cache) / "tags"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.models, self.spec = models, spec
        if "emotion" not in models:
            raise SystemExit("per-mark tags need the emotion model (models_onnx/emotion.onnx or $SONOLUX_MODELS)")
        self.model_key = f"emotion{models['emotion'].contract.get('version')}"

    def of(self, rec: Recording) -> dict:
        path = self.folder / f"v{TAGS_VERSION}-{self.model_key}-{rec.key}.npz"
        if path.exists():
            z = np.load(path, allow_pickle=False)
            return {k: z[k] for k in z.files}
        out = mark_predictions(rec.make(), self.models, self.spec)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.rename(path)
        return out


def emotion_caches(args, spec: StreamSpec, config: AnalysisConfig):
    """(models, frames, tags) for the region screens: the shipped emotion model alone (on the
    CPU; the screens need its tags: a clear exit without them), the analysed-frame cache and
    the per-mark tag sidecar under ``--cache``."""
    from sonolux.inference.runtime import load_models

    models = {k: m for k, m in load_models(InferenceConfig(device="cpu"))[0].items() if k == "emotion"}
    if "emotion" not in models or not models["emotion"].tag_labels:
        sys.exit("the shipped emotion model with tags is needed (models_onnx/emotion.onnx)")
    cache = Path(args.cache)
    return models, Analysed(cache / "frames", models, spec, config), MarkTags(cache, models, spec)


FRAMES_AND_TAGS = "analysed frames (frames/) and the per-mark tags (tags/)"


def holds_fold_nets(folder) -> bool:
    """Whether ``folder`` holds the join nets of each dev fold's clips alone (``fold0.json``,
    ``fold1.json``: ``train_join_net.py --folds F``), as the song-disjoint screens read them."""
    return bool(folder) and all((Path(folder) / f"fold{f}.json").is_file() for f in (0, 1))


def net_not_heard(folder, fold: int) -> str:
    """The join net of ``folder`` (:func:`holds_fold_nets`) that never heard dev fold ``fold``'s songs."""
    return str(Path(folder) / f"fold{1 - fold}.json")


def seed_list(text: str) -> list[int]:
    """``--seeds 7,8,9`` → [7, 8, 9] (an argparse ``type``)."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated integers") from None


def screen_parser(doc: str, name: str | None = None, seeds: str | None = None,
                  seeds_help: str = "dev medley seeds (folds 0-1)") -> argparse.ArgumentParser:
    """The command line a region screen starts from: its docstring as the help, the data
    arguments (:func:`add_data_args`, the cache holding frames and tags), with ``seeds`` a
    ``--seeds`` list (that default) and, with ``name``, ``--out`` (default
    ``benchmarks/results/NAME.json``)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(ap, FRAMES_AND_TAGS)
    if seeds is not None:
        ap.add_argument("--seeds", type=seed_list, default=seeds, help=seeds_help)
    if name:
        ap.add_argument("--out", default=None, help=f"result JSON (default benchmarks/results/{name}.json)")
    return ap


class Bench(NamedTuple):
    """What a region screen starts from (:func:`setup`); unpack it in one line."""
    data: Path
    spec: StreamSpec
    config: AnalysisConfig
    audio: AudioCache
    models: dict
    frames: Analysed
    tags: MarkTags
    t0: float


def setup(args) -> Bench:
    """The data folder of ``args`` (:func:`add_data_args`), the default StreamSpec and
    AnalysisConfig, the audio cache and the emotion caches (:func:`emotion_caches`); the
    wall clock (``t0``) starts here."""
    data = data_folder(args)
    t0 = time.perf_counter()
    spec, config = StreamSpec(), AnalysisConfig()
    audio = AudioCache(data)
    models, frames, tags = emotion_caches(args, spec, config)
    return Bench(data, spec, config, audio, models, frames, tags, t0)


def log(msg: str) -> None:
    """A progress line on stderr (stdout and the JSON carry the results)."""
    print(msg, file=sys.stderr, flush=True)
