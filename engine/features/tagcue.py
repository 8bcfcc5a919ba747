"""The tag cue: how far the emotion model's 50 tags moved across a boundary (issue 17).

The shipped emotion model's trunk gives 50 MagnaTagATune tags at every 0.5 s mark. Songs
that look alike in the 64-band mel spectrum often differ in their tags, so the learned cut
judge (:mod:`sonolux.features.cutjudge`) reads a past-vs-future distance of the tags around
a candidate cut. Two distances, each over per-tag means and variances of the marks on
either side (the marks centred on the development clips' mean tag vector):

* ``cos`` on the raw tag probabilities (clipped to [1e-4, 1 − 1e-4]): cosine distance of
  the two sides' mean vectors;
* ``gauss`` on the tags' logits: the timbre contrast's two-window Gaussian test per tag —
  squared mean difference over the mean spread, plus a share of the mean spread over all
  tags, plus a floor — averaged over the tags.

One implementation: ``benchmarks/tag_screen.py`` (whole recordings, cumulative sums) and
the live :class:`TagHistory` (a ring of per-block cumulative sums) both call
:func:`tag_distance` on side statistics and :func:`tag_representation` on a mark.

Example
-------
>>> import numpy as np
>>> a, b = np.full(50, 0.1), np.full(50, 0.1)
>>> b[:5] = 0.9
>>> ma, mb = tag_representation(a, "raw"), tag_representation(b, "raw")
>>> round(tag_distance(0, ma, np.zeros(50), mb, np.zeros(50), TAG_FLOOR["raw"]), 3)  # 1 - 0.9 / 1.5
0.4
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

TAG_REPRS = ("raw", "logit")  # what the judge reads (tag_screen also screens the smoothed tags)
TAG_FLOOR = {"raw": 1e-4, "smooth": 1e-4, "logit": 1e-2}
SPREAD_SHARE = 0.2  # as the timbre contrast
TAG_KINDS = ("cos", "gauss")
P_CLIP = 1e-4


def tag_representation(p: np.ndarray, kind: str) -> np.ndarray:
    """A mark's (or marks') tag probabilities as the cue reads them: ``raw`` (clipped) or
    ``logit``."""
    q = np.clip(np.asarray(p, dtype=np.float64), P_CLIP, 1 - P_CLIP)
    return np.log(q / (1 - q)) if kind == "logit" else q


@njit(cache=True)
def tag_distance(kind: int, ma, va, mb, vb, floor: float) -> float:
    """The distance of two sides' per-tag means ``ma``/``mb`` and variances ``va``/``vb``:
    ``kind`` 0 cosine of the means, 1 the Gaussian test (module doc). No allocation."""
    n = ma.shape[0]
    if kind == 0:
        dot = na = nb = 0.0
        for i in range(n):
            dot += ma[i] * mb[i]
            na += ma[i] * ma[i]
            nb += mb[i] * mb[i]
        return 1.0 - dot / (math.sqrt(na) * math.sqrt(nb) + 1e-12)
    mean_spread = 0.0
    for i in range(n):
        mean_spread += 0.5 * (va[i] + vb[i])
    mean_spread /= n
    acc = 0.0
    for i in range(n):
        d = mb[i] - ma[i]
        acc += d * d / (0.5 * (va[i] + vb[i]) + floor + SPREAD_SHARE * mean_spread)
    return acc / n


@njit(cache=True)
def _side(ring, a, b, size, r, n_tags, mean, var):
    """Mean and variance of representation ``r`` over blocks [a, b) from the ring of
    cumulative sums (row ``x % size`` = the sums through block ``x``); False when no mark."""
    lo = (a - 1) % size
    hi = (b - 1) % size
    cnt = ring[hi, 0] - (ring[lo, 0] if a > 0 else 0.0)
    if cnt < 1.0:
        return False
    o1 = 1 + 2 * r * n_tags
    o2 = o1 + n_tags
    for i in range(n_tags):
        s1 = ring[hi, o1 + i] - (ring[lo, o1 + i] if a > 0 else 0.0)
        s2 = ring[hi, o2 + i] - (ring[lo, o2 + i] if a > 0 else 0.0)
        m = s1 / cnt
        mean[i] = m
        v = s2 / cnt - m * m
        var[i] = v if v > 0.0 else 0.0
    return True


@njit(cache=True)
def _add_mark(run, p, centre, n_tags):
    """One mark's tags into the running sums ``run`` = [count, then per representation
    (raw, logit) the sums and the sums of squares], centred on ``centre`` (2, n_tags)."""
    run[0] += 1.0
    for i in range(n_tags):
        q = min(max(p[i], P_CLIP), 1.0 - P_CLIP)
        for r in range(2):
            x = (q if r == 0 else math.log(q / (1.0 - q))) - centre[r, i]
            o1 = 1 + 2 * r * n_tags
            run[o1 + i] += x
            run[o1 + n_tags + i] += x * x


class TagHistory:
    """The marks' tags in the cues' blocks, live: a ring of cumulative sums per block, so a
    side's mean and variance over any recent blocks cost O(tags). ``mark`` adds a mark to
    the open block, ``close`` ends the block (in step with the region cues' blocks),
    ``value`` is the cue at a boundary. No allocation after construction."""

    def __init__(self, centre: np.ndarray, blocks: int):
        self.centre = np.ascontiguousarray(centre, dtype=np.float64)  # (2, n_tags): raw, logit
        self.n_tags = self.centre.shape[1]
        self.size = int(blocks)
        self.ring = np.zeros((self.size, 1 + 4 * self.n_tags))
        self.run = np.zeros(1 + 4 * self.n_tags)
        self._work = np.zeros((4, self.n_tags))
        self.reset()

    def reset(self) -> None:
        self.ring[:] = 0.0
        self.run[:] = 0.0
        self.blocks = 0  # blocks closed

    def mark(self, p: np.ndarray) -> None:
        _add_mark(self.run, p, self.centre, self.n_tags)

    def close(self) -> None:
        self.ring[self.blocks % self.size] = self.run
        self.blocks += 1

    def marks_since(self, first: int) -> float:
        """How many marks came in blocks ``first`` .. the newest closed one (as far back as
        the ring holds)."""
        if self.blocks == 0:
            return 0.0
        first = max(first, self.blocks - self.size + 1, 0)
        newest = self.ring[(self.blocks - 1) % self.size, 0]
        return float(newest - (self.ring[(first - 1) % self.size, 0] if first > 0 else 0.0))

    def value(self, repr_index: int, kind: int, floor: float, first: int, before: int, future: int,
              skip: int) -> float:
        """The cue at the boundary before block ``first``: ``before`` blocks before it against
        blocks ``first + skip .. first + future`` (NaN when those are not all closed and held,
        or a side has no mark)."""
        if before < 2 or first - before < max(0, self.blocks - self.size + 1) or first + future > self.blocks:
            return math.nan
        w = self._work
        if not (_side(self.ring, first - before, first, self.size, repr_index, self.n_tags, w[0], w[1])
                and _side(self.ring, first + skip, first + future, self.size, repr_index, self.n_tags, w[2], w[3])):
            return math.nan
        return float(tag_distance(kind, w[0], w[1], w[2], w[3], floor))
