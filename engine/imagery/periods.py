"""The music video's cut list (the seed's synthesis steps): mark periods with timestamps —
the emotion regions, beat-aligned phrases, or both — compute each period's duration, choose
its image from the music of that period, and hand the list, in timestamp order, to the
renderer (``sonolux render --preset image_bank --images DIR``), which shows period ``p`` on
exactly the video frames ``k`` with ``start_p ≤ k/fps < end_p``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError

MODES = ("regions", "phrases", "both")


@dataclass(frozen=True)
class Period:
    start: float
    end: float
    source: str  # what opened it: "start", "region", "phrase"
    image: int = -1  # index into the ImageIndex
    path: str = ""
    score: float = 0.0
    quadrant: str = ""  # of the music in this period (music encoder), "" when unknown

    @property
    def duration(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict:
        d = asdict(self)
        d["duration"] = self.duration
        return d


def boundaries(duration: float, *, region_times=(), beat_times=(), mode: str = "both",
               phrase_beats: int = 16, min_s: float = 2.0, fallback_s: float = 8.0) -> list[tuple[float, str]]:
    """Period starts [(t, source)], the first at 0. Region changes and every
    ``phrase_beats``-th beat (beat-aligned phrases; without beats every ``fallback_s``
    seconds); a start closer than ``min_s`` to the previous one is dropped (a region change
    wins over a phrase mark at the same place)."""
    if mode not in MODES:
        raise ParameterError(f"periods={mode!r} must be one of {', '.join(MODES)}")
    if phrase_beats < 1:
        raise ParameterError(f"phrase_beats={phrase_beats} must be at least 1")
    marks = []
    if mode in ("regions", "both"):
        marks += [(float(t), "region") for t in region_times if 0 < t < duration]
    if mode in ("phrases", "both"):
        beats = np.asarray(beat_times, np.float64)
        if beats.size >= phrase_beats:
            marks += [(float(t), "phrase") for t in beats[phrase_beats::phrase_beats] if 0 < t < duration]
        elif mode == "phrases" or not marks:
            marks += [(float(t), "phrase") for t in np.arange(fallback_s, duration, fallback_s)]
    prio = {"region": 0, "phrase": 1}
    marks.sort(key=lambda m: (m[0], prio[m[1]]))
    out = [(0.0, "start")]
    for t, src in marks:
        if duration - t < min_s * 0.5:
            continue  # too close to the end
        if t - out[-1][0] >= min_s:
            out.append((t, src))
        elif src == "region" and out[-1][1] == "phrase" and len(out) > 1 and t - out[-2][0] >= min_s:
            out[-1] = (t, src)  # a region change replaces a nearby phrase mark
    return out


def make_periods(duration: float, starts) -> list[Period]:
    starts = list(starts)
    return [Period(t, starts[i + 1][0] if i + 1 < len(starts) else float(duration), src)
            for i, (t, src) in enumerate(starts)]


def choose_images(periods, index, *, window_t=None, window_emb=None, window_probs=None,
                  k: int = 5, avoid: int = 3, colour=None) -> list[Period]:
    """Give each period its image: the mean music embedding of the windows ending inside it
    (the nearest window when none does) ranked against the index; the best of the top ``k``
    not used by the previous ``avoid`` periods. ``colour``: per-period (brightness, saturation)
    targets for the non-learned matching (used when there are no embeddings)."""
    out = []
    recent: list[int] = []
    for p_i, p in enumerate(periods):
        quadrant = ""
        if window_emb is not None and index.embedding is not None and len(window_t):
            wt = np.asarray(window_t)
            sel = np.flatnonzero((wt > p.start) & (wt <= p.end))
            if sel.size == 0:
                sel = np.array([int(np.argmin(np.abs(wt - 0.5 * (p.start + p.end))))])
            q = np.asarray(window_emb)[sel].mean(axis=0)
            scores = index.scores(q)
            if window_probs is not None:
                quadrant = f"Q{int(np.asarray(window_probs)[sel].mean(axis=0).argmax()) + 1}"
        elif colour is not None:
            b, s = colour[p_i]
            scores = index.colour_scores(b, s)
        else:
            scores = -np.arange(len(index), dtype=np.float64)  # no information: in folder order
        top = index.rank(k=k, scores=scores, exclude=recent[-avoid:] if avoid else ())
        i = int(top[0])
        recent.append(i)
        out.append(Period(p.start, p.end, p.source, i, index.paths[i], float(scores[i]), quadrant))
    return out


def period_at(periods, t: float) -> int:
    """Index of the period with ``start ≤ t < end`` (the last one at or after the end)."""
    starts = np.array([p.start for p in periods])
    return int(max(np.searchsorted(starts, t + 1e-9, side="right") - 1, 0))
