"""What the imagery presets get from the command that runs them.

Presets only receive FeatureFrames; the image folder, its index, the music encoder and (for
``render``) the precomputed music timeline and cut list come from the process-wide
:class:`ImageryContext` that ``sonolux render --images DIR`` / ``sonolux run --images DIR``
set up with :func:`configure` before the presets start (and :func:`clear` after).

Music queries: the music encoder (``music_embed.onnx``) runs on the emotion window of the
engine's model features (16 kHz log-mel + wavelet energies, ``sonolux.modelinput``), each
window shifted to a reference level first (``sonolux.imagery.level.normalise_window``: a
stateless rule, so the mixer's gain does not change the picture and live == offline):

* offline (render): :func:`music_timeline` computes the features of the whole file through the
  engine's resampler and kernels and embeds one window per ``every_s``, as a live run would;
* live: the window comes from the inference worker's :class:`~sonolux.modelinput.FeatureStream`
  (present when any mood/tag model runs), read off the GUI thread by the matcher. The read
  takes no lock: a copy made while the worker appends a hop can mix two adjacent hops of the
  4 s window, which is harmless for choosing a picture and never blocks the worker.

Without the music encoder the presets fall back to the frame's quadrant probabilities
(``q1..q4``), then to the non-learned colour matching.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import modelinput as mi
from ..errors import ModelError
from .level import normalise_window

log = logging.getLogger("sonolux.imagery")

IMAGERY_PRESETS = ("image_bank", "generative")


@dataclass
class MusicTimeline:
    t: np.ndarray  # end time (s) of each window
    embedding: np.ndarray  # (n, D)
    probs: np.ndarray  # (n, 4)

    def at(self, t: float) -> int:
        """The newest window ending at or before ``t`` (−1: none yet)."""
        return int(np.searchsorted(self.t, t + 1e-9, side="right") - 1)


@dataclass
class ImageryContext:
    images_dir: Path | None = None
    index: object | None = None  # ImageIndex
    periods: list | None = None  # offline cut list (Period)
    timeline: MusicTimeline | None = None  # offline music embeddings
    feature_source: object | None = None  # live: has .window("emotion")
    music_model: object | None = None
    model_dir: Path | None = None
    offline: bool = False
    k: int = 5
    notes: list = field(default_factory=list)

    def music_query(self, t: float | None = None):
        """(embedding, quadrant_probs) of the newest music window, or None."""
        if self.timeline is not None and t is not None:
            i = self.timeline.at(t)
            if i < 0:
                i = 0
            return self.timeline.embedding[i], self.timeline.probs[i]
        if self.feature_source is not None and self.music_model is not None:
            win = self.feature_source.window("emotion")  # a fresh copy: normalised in place
            normalise_window(win["mel"], win["wavelet"])
            out = self.music_model.run(win)
            return out["embedding"][0], out["quadrant_probs"][0]
        return None


_current: ImageryContext | None = None


def configure(ctx: ImageryContext | None) -> None:
    global _current
    _current = ctx


def current() -> ImageryContext | None:
    return _current


def clear() -> None:
    configure(None)


def load_music_encoder(model_dir=None):
    """The music encoder, or None (with a logged note) when it is not installed."""
    from .models import load_music_model, model_path

    p = model_path("music_embedding", model_dir)
    if not p.is_file():
        log.info("no music encoder at %s: imagery falls back to quadrant / colour matching", p)
        return None
    return load_music_model(p)


def model_features(signal: np.ndarray, sample_rate: int) -> dict:
    """The model features of a whole signal at the engine rate: resampled to 16 kHz with the
    live path's resampler (``sonolux.features.resample.StreamResampler``), then
    ``sonolux.modelinput.clip_features``."""
    y = np.asarray(signal, np.float64)
    if sample_rate != mi.SR:
        from ..features.resample import StreamResampler

        y = StreamResampler(sample_rate, mi.SR, 4096).process_all(y.astype(np.float64))
    return mi.clip_features(np.asarray(y, np.float64))


def music_timeline(signal, sample_rate, model, *, every_s: float = 0.5, batch: int = 32) -> MusicTimeline:
    """Embeddings of the emotion windows ending every ``every_s`` seconds (the first ones
    left-padded with silence features, as a live stream starts), each level-normalised as
    the live query is (``normalise_window``)."""
    f = model_features(signal, sample_rate)
    win = mi.FEATURE_CONTRACT["emotion_frames"]
    stride = max(1, int(round(every_s * mi.SR / mi.HOP)))
    n = len(f["mel"])
    ends = np.arange(stride, n + 1, stride) if n >= stride else np.array([max(n, 1)])
    sil = mi.silence_features()
    embs, probs = [], []
    for i in range(0, len(ends), batch):
        mel = np.stack([mi.window_at(f["mel"], int(e), win, sil["mel"]) for e in ends[i:i + batch]])
        wl = np.stack([mi.window_at(f["wavelet"], int(e), win, sil["wavelet"]) for e in ends[i:i + batch]])
        mel, wl = mel.astype(np.float32), wl.astype(np.float32)
        normalise_window(mel, wl)
        out = model.run({"mel": mel, "wavelet": wl})
        embs.append(out["embedding"]), probs.append(out["quadrant_probs"])
    return MusicTimeline(ends * mi.HOP / mi.SR, np.concatenate(embs), np.concatenate(probs))


def _build_quietly(images, model_dir, progress):
    """build_index with the per-file warnings left to the log (printed once, not twice)."""
    import warnings

    from .index import ImageIndexWarning, build_index

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageIndexWarning)
        return build_index(images, model_dir=model_dir, progress=progress)


def _column(table, name):
    try:
        return table.column(name)
    except KeyError:
        return None


def render_context(signal, sample_rate, table, *, images=None, periods: str = "both",
                   phrase_beats: int = 16, min_period_s: float = 2.0, model_dir=None, k: int = 5,
                   progress: bool = True) -> ImageryContext:
    """The context of an offline render: music timeline, index of ``images`` (brought up to
    date), and the music video's cut list (see ``sonolux.imagery.periods``)."""
    from .periods import boundaries, choose_images, make_periods

    ctx = ImageryContext(images_dir=Path(images) if images else None, offline=True, k=k,
                         model_dir=Path(model_dir) if model_dir else None)
    try:
        ctx.music_model = load_music_encoder(model_dir)
    except ModelError as e:
        log.warning("music encoder not usable (%s); falling back to colour matching", e)
    if ctx.music_model is not None:
        ctx.timeline = music_timeline(signal, sample_rate, ctx.music_model)
    if images is None:
        return ctx
    index, rep = _build_quietly(images, model_dir, progress)
    if rep.skipped and progress:
        print(f"sonolux: {len(rep.skipped)} unreadable image(s) skipped", file=sys.stderr)
    if len(index) == 0:
        from ..errors import ParameterError

        raise ParameterError(f"--images {images}: no readable images or videos in the folder")
    ctx.index = index
    duration = len(signal) / sample_rate
    rc = _column(table, "region_change")
    beat = _column(table, "beat")
    region_times = table.t[rc > 0.5] if rc is not None else []
    beat_times = table.t[beat > 0.5] if beat is not None else []
    plist = make_periods(duration, boundaries(duration, region_times=region_times, beat_times=beat_times,
                                              mode=periods, phrase_beats=phrase_beats, min_s=min_period_s))
    colour = None
    if ctx.timeline is None or index.embedding is None:
        colour = _colour_targets(table, plist)
        ctx.notes.append("images chosen by colour statistics (no music/image encoder)")
    tl = ctx.timeline if index.embedding is not None else None
    ctx.periods = choose_images(plist, index, window_t=tl.t if tl else None,
                                window_emb=tl.embedding if tl else None,
                                window_probs=tl.probs if tl else None, k=k, colour=colour)
    return ctx


def _colour_targets(table, plist) -> list[tuple[float, float]]:
    """The non-learned music side: per period, the rank (0..1, among the periods) of its mean
    high-band level as the target brightness and of its mean level as the target saturation."""
    hi = _column(table, "band_high")
    lv = _column(table, "level")
    feats = []
    for p in plist:
        sel = (table.t >= p.start) & (table.t < p.end)
        feats.append((float(hi[sel].mean()) if hi is not None and sel.any() else 0.5,
                      float(lv[sel].mean()) if lv is not None and sel.any() else 0.5))
    f = np.array(feats)
    if len(f) <= 1:
        return [(0.5, 0.5)] * len(f)
    r = np.argsort(np.argsort(f, axis=0), axis=0) / (len(f) - 1)
    return [tuple(x) for x in r]


def live_context(images, engine=None, *, model_dir=None, k: int = 5, progress: bool = True) -> ImageryContext:
    """The context of a live run: the folder's index (updated now), the music encoder and
    the inference worker's feature stream (when the engine runs models)."""
    ctx = ImageryContext(images_dir=Path(images) if images else None, k=k,
                         model_dir=Path(model_dir) if model_dir else None)
    try:
        ctx.music_model = load_music_encoder(model_dir)
    except ModelError as e:
        log.warning("music encoder not usable (%s)", e)
    worker = getattr(engine, "inference", None) if engine is not None else None
    ctx.feature_source = getattr(worker, "features", None)
    if images is not None:
        ctx.index = _build_quietly(images, model_dir, progress)[0]
    return ctx
