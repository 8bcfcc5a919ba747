"""Ranking off the GUI thread: a small worker that reads the newest music features, ranks the
index and prepares the next image (decoded and scaled), handing it over by swapping one
reference. The GUI thread only uploads the prepared pixels to a texture.

Query, in order of preference: the music encoder's embedding of the newest window (context),
the frame's quadrant probabilities ``q1..q4`` against the images' quadrant probabilities, and
the non-learned colour matching (arousal / level → saturation, valence → brightness).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from .colour import ImageReadError, load_rgb

log = logging.getLogger("sonolux.imagery")


@dataclass(frozen=True)
class Choice:
    seq: int
    index: int
    path: str
    score: float
    mode: str  # "embedding" | "emotion" | "colour"
    rgb: np.ndarray  # (H, W, 3) uint8, ready to upload


@dataclass(frozen=True)
class FrameSnapshot:
    """What the GUI thread hands the matcher from the frame it shows (a small immutable copy)."""

    t: float
    probs: tuple | None  # q1..q4 when the emotion model runs
    valence: float
    arousal: float
    level: float


def snapshot(frame, t: float) -> FrameSnapshot:
    get = getattr(frame, "get", None)

    def val(name, default):
        if get is None:
            return default
        try:
            v = get(name, None)
        except Exception:  # noqa: BLE001 - an absent field
            return default
        return default if v is None else float(v)

    probs = None
    age = val("prediction_age", -1.0)
    q = [val(f"q{i}", None) for i in range(1, 5)]
    if age >= 0 and all(v is not None for v in q) and sum(q) > 0:
        probs = tuple(q)
    return FrameSnapshot(t, probs, val("valence", 0.0), val("arousal", 0.0), val("level", 0.5))


def choose(index, scores, k, recent, *, keep=None):
    """The best of the top ``k`` not among ``recent``; ``keep`` stays chosen while it is in
    the top ``k`` (no needless switching)."""
    top = index.rank(k=k, scores=scores)
    if keep is not None and keep in top.tolist():
        return keep
    for i in top:
        if int(i) not in recent:
            return int(i)
    return int(top[0])


class ImageMatcher:
    """Worker thread: ``update(snapshot)`` (GUI thread, cheap) → ``next`` (a Choice, swapped)."""

    def __init__(self, index, context=None, *, k: int = 5, every_s: float = 0.25,
                 max_side: int = 1280, avoid: int = 3):
        self.index = index
        self.context = context
        self.k = int(k)
        self.every_s = float(every_s)
        self.max_side = int(max_side)
        self.avoid = int(avoid)
        self.next: Choice | None = None  # written by the worker only
        self._snap: FrameSnapshot | None = None  # written by the GUI thread only
        self._shown: list[int] = []  # appended by the GUI thread (atomic under the GIL)
        self._seq = 0
        self._cache: dict[int, np.ndarray] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-imagematch", daemon=True)
        self.errors = 0
        self.last_error = ""

    def start(self) -> "ImageMatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    # GUI thread ---------------------------------------------------------------------------
    def update(self, snap: FrameSnapshot) -> None:
        self._snap = snap

    def shown(self, index: int) -> None:
        """The GUI thread shows ``index`` now: prepare a different next one."""
        self._shown.append(int(index))
        self._wake.set()

    # worker -------------------------------------------------------------------------------
    def scores(self, snap: FrameSnapshot | None):
        idx = self.index
        if self.context is not None and idx.embedding is not None:
            try:
                q = self.context.music_query(None if self.context.timeline is None else (snap.t if snap else 0.0))
            except Exception as e:  # noqa: BLE001 - a failing model degrades to the fallbacks
                q = None
                self.last_error = f"music query: {e}"
            if q is not None:
                return idx.scores(q[0]), "embedding"
        if snap is not None and snap.probs is not None and idx.probs is not None:
            return idx.emotion_scores(snap.probs), "emotion"
        v = 0.5 if snap is None else 0.5 + 0.5 * snap.valence
        a = 0.5 if snap is None else 0.5 + 0.5 * snap.arousal
        return idx.colour_scores(v, a), "colour"

    def _decode(self, i: int) -> np.ndarray:
        rgb = self._cache.get(i)
        if rgb is None:
            rgb = load_rgb(self.index.abspath(i), max_side=self.max_side)
            if len(self._cache) > 16:
                self._cache.pop(next(iter(self._cache)))
            self._cache[i] = rgb
        return rgb

    def step(self) -> Choice | None:
        """One ranking pass (also callable directly, e.g. in tests)."""
        if len(self.index) == 0:
            return None
        snap = self._snap
        scores, mode = self.scores(snap)
        recent = set(self._shown[-self.avoid:]) if self.avoid else set()
        cur = self.next
        keep = cur.index if cur is not None and cur.index not in recent else None
        i = choose(self.index, scores, self.k, recent, keep=keep)
        if cur is not None and cur.index == i:
            return cur
        for _ in range(len(self.index)):
            try:
                rgb = self._decode(i)
                break
            except ImageReadError as e:  # vanished or damaged since indexing: try another
                self.errors += 1
                self.last_error = str(e)
                scores = np.asarray(scores, np.float64).copy()
                scores[i] = -np.inf
                i = choose(self.index, scores, self.k, recent)
        else:
            return None
        self._seq += 1
        ch = Choice(self._seq, i, self.index.paths[i], float(np.asarray(scores)[i]), mode, rgb)
        self.next = ch  # the hand-over: one reference swap
        return ch

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as e:  # noqa: BLE001 - never take the show down
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                log.exception("image matcher")
            self._wake.wait(self.every_s)
            self._wake.clear()
            time.sleep(0)
