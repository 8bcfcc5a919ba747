"""The learned cut placer: a few boosted trees that move a decided cut to where the join lies.

Why: a crossfade has no sharp step at its truth (the fade's midpoint); the live stage places it
at the middle of a ramp fitted to the hops' position between the two songs
(``RegionStage.place_fade``) — right within ±0.5 s for about four crossfades in five on the
development medleys, off where a louder song, a drum entry at one end of the fade or a song
that keeps changing bends the ramp. Hand-made variants of the fit (power unmixing, cube-root
power, recentred windows, variance-weighted directions, fixed offsets: ``fade_screen.py`` and
the session notes) did not place more. The trees learn the correction from what the fit
leaves behind: how sharp the mel and level steps are at the placed cut and at the sharpest
step (over 0.25 and 1 s), how far along the songs' line the sound is there, how loud the
change is. They predict ``truth − placed`` (seconds, clipped to ``max_shift_s``), and the cut
moves by that. Causal: they read hops already heard when the cut is decided (the cues decide
``region_future_s`` after the cut), at most ``GAP_S + WINDOW_S`` after it.

The trees were trained by ``benchmarks/train_cut_placer.py`` on DEVELOPMENT medleys only
(folds 0–1) with scikit-learn's ``HistGradientBoostingRegressor`` (absolute error); the file
holds them as flat arrays (:mod:`sonolux.features.trees`).

Placer file (JSON), format version 1 — the contract :func:`load_placer` checks:
``format`` ("sonolux-cut-placer"), ``format_version`` (1), ``features`` (the names in order,
equal to :data:`FEATURES`), ``baseline`` (the offset before the trees, s), ``max_shift_s``
(> 0: the largest move), ``trees`` (:mod:`sonolux.features.trees`). A corrupt file is a
:class:`PlacerFileError` naming the file, key and value; the region stage then places cuts
without it and says so (``RegionStage.placer_note``).

>>> placer = load_placer()  # the shipped file
>>> placer.max_shift_s > 0 and len(placer.doc["features"]) == len(FEATURES)
True
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from ..config import read_json_file
from ..errors import ParameterError
from .hopring import mel_order, ring_order, song_direction, window_mean
from .trees import TreeEnsemble, bad_value, check_finite, check_header, check_trees

FORMAT = "sonolux-cut-placer"
FORMAT_VERSION = 1
PLACER_FILE = "cut_placer.json"  # shipped in sonolux.profiles
# the windows the features are measured over. Fixed here, not read from the stage's settings
# (regions.FADE_GAP_S / FADE_WINDOW_S, region_step_window_s have today the same values): the
# trees were trained on these, and a change of the stage's settings must not change what they read
GAP_S, WINDOW_S = 1.5, 3.0  # the songs either side of the cue's cut
HARD_S = 0.25  # the sharpest step's sharpness: mean log-mel this long after vs. before it
WIDTHS_S = (0.25, 1.0)  # the steps at the placed cut and at the sharpest step
ANCHORS = ("placed", "step")
ANCHOR_WIDTH = 3 * len(WIDTHS_S) + 1  # each anchor's features: three steps per width, one position


def _anchor_features(anchor: str) -> tuple:
    steps = tuple(f"{anchor}_{kind}_{w:g}" for w in WIDTHS_S for kind in ("mel_step", "level_step", "position_step"))
    return steps + (f"{anchor}_position_{WIDTHS_S[0]:g}",)


FEATURES = (("placed_minus_cue", "step_minus_cue", "log_change_db", "level_change_db", "hard_ratio")
            + _anchor_features(ANCHORS[0]) + _anchor_features(ANCHORS[1]))


class PlacerFileError(ParameterError):
    """A placer file that cannot be used (one line: file, key, value)."""


def shipped_placer() -> Path:
    from ..resources import profiles_dir

    return profiles_dir() / PLACER_FILE


class CutPlacer:
    """A placer file's trees and its largest move; :meth:`offset` is the clipped correction."""

    def __init__(self, doc: dict, path: str = "<placer>"):
        self.path = str(path)
        self.doc = doc
        self.max_shift_s = float(doc["max_shift_s"])
        self.trees = TreeEnsemble(doc["trees"], doc["baseline"])

    def offset(self, x: np.ndarray) -> float:
        """How far (s) to move a cut whose :data:`FEATURES` are ``x``."""
        return min(max(self.trees.raw(x), -self.max_shift_s), self.max_shift_s)


def check_placer(doc, path="<placer>") -> CutPlacer:
    """Validate a placer file's contents (module doc); a :class:`PlacerFileError` names the first bad key."""
    check_header(doc, path, PlacerFileError, "cut placer", FORMAT, FORMAT_VERSION,
                 ("format", "format_version", "features", "baseline", "max_shift_s", "trees"), FEATURES)
    check_finite(doc, path, PlacerFileError, (("baseline", -math.inf, math.inf), ("max_shift_s", 0.0, 10.0)))
    if doc["max_shift_s"] <= 0:
        raise bad_value(PlacerFileError, path, "max_shift_s", doc["max_shift_s"], "must be above 0")
    check_trees(doc["trees"], len(FEATURES), path, PlacerFileError)
    return CutPlacer(doc, path)


def load_placer(path=None) -> CutPlacer:
    """Read and validate a placer file (default: the shipped one); :class:`PlacerFileError`
    (one line naming file, key, value) when it cannot be used."""
    path = Path(path) if path is not None else shipped_placer()
    return check_placer(read_json_file(path, "cut placer", PlacerFileError), path)


@njit(cache=True)
def _rms_diff(a, b):
    acc = 0.0
    for j in range(a.shape[0]):
        acc += (a[j] - b[j]) * (a[j] - b[j])
    return math.sqrt(acc / a.shape[0])


@njit(cache=True)
def _along(m, base, d, dd):
    """How far the log-mel row ``m`` lies from ``base`` along ``d`` (0 at base, 1 at base + d)."""
    acc = 0.0
    for j in range(m.shape[0]):
        acc += (m[j] - base[j]) * d[j]
    return acc / dd


@njit(cache=True)
def cut_context(level_t, level_pos, mel_shift_s, mel_hist, level_db, t, t_step, min_rows, order,
                mel_ts, lvl_ts, rows, lvl, ctx, x):
    """The part of a cut's :data:`FEATURES` that does not depend on where it is placed — the
    cue ``t``, the sharpest step ``t_step`` and its anchor block — into ``x`` (all but
    ``placed_minus_cue`` and the placed anchor's block), and what :func:`placed_features` needs
    into ``ctx`` (3,): the ring's row count, the songs' squared difference and its rms. The ring
    (``level_t``, ``level_pos``, ``mel_shift_s`` (hop, half an FFT: a log-mel window's centre
    lies half an FFT before its hop's end), ``mel_hist``, ``level_db`` (ring, 1)) is ordered
    once here into the work buffers ``order``, ``mel_ts``, ``lvl_ts`` (ring length), and the
    songs either side go into ``rows`` (5, n_mels; ``lvl`` (2, 1)): the learned place choice
    scores six candidate times of one cut, so this runs once per cut, not once per candidate.
    Returns False (``x`` untouched) when the ring holds fewer than ``min_rows`` hops of either
    song (``RegionStage.place_fade``'s rule) or they do not differ. No allocation."""
    n = mel_order(level_t, level_pos, mel_shift_s, order, mel_ts)
    ring_order(level_t, level_pos, order, lvl_ts)
    before, after, a, b = rows[0], rows[1], rows[2], rows[3]
    dd = song_direction(mel_ts, mel_hist, order, n, t, GAP_S, WINDOW_S, min_rows, before, after)
    if not dd > 0.0:  # too little of either song heard, or they do not differ
        return False
    change = math.sqrt(dd / after.shape[0])
    window_mean(lvl_ts, level_db, order, n, t - GAP_S - WINDOW_S, t - GAP_S, lvl[0])
    window_mean(lvl_ts, level_db, order, n, t + GAP_S, t + GAP_S + WINDOW_S, lvl[1])
    x[1] = t_step - t
    x[2] = math.log(change + 0.1)
    x[3] = lvl[1, 0] - lvl[0, 0]
    hard = 0.0
    if (window_mean(mel_ts, mel_hist, order, n, t_step - HARD_S, t_step, a) > 0
            and window_mean(mel_ts, mel_hist, order, n, t_step, t_step + HARD_S, b) > 0):
        hard = _rms_diff(b, a) / change
    x[4] = hard
    ctx[0], ctx[1], ctx[2] = n, dd, change
    _anchor_block(mel_hist, level_db, t_step, order, mel_ts, lvl_ts, rows, lvl, ctx, x, 5 + ANCHOR_WIDTH)
    return True


@njit(cache=True)
def placed_features(mel_hist, level_db, t, placed, order, mel_ts, lvl_ts, rows, lvl, ctx, x):
    """``placed_minus_cue`` and the placed anchor's block of :data:`FEATURES` into ``x``, for a
    cut at ``placed`` whose :func:`cut_context` (cue ``t``) filled ``x``, ``ctx`` and the work
    buffers (untouched since). No allocation."""
    x[0] = placed - t
    _anchor_block(mel_hist, level_db, placed, order, mel_ts, lvl_ts, rows, lvl, ctx, x, 5)


@njit(cache=True)
def _anchor_block(mel_hist, level_db, anchor, order, mel_ts, lvl_ts, rows, lvl, ctx, x, k):
    """One anchor's steps (mel, level, position along the songs' line, over each of
    :data:`WIDTHS_S`) and its position between the songs, into ``x[k:k + ANCHOR_WIDTH]``."""
    n, dd, change = int(ctx[0]), ctx[1], ctx[2]
    before, after, a, b, mid = rows[0], rows[1], rows[2], rows[3], rows[4]
    pos = 0.5  # the sound's position between the songs around the anchor (0.5: not heard)
    for wi in range(len(WIDTHS_S)):
        w = WIDTHS_S[wi]
        got = (window_mean(mel_ts, mel_hist, order, n, anchor - w, anchor, a) > 0
               and window_mean(mel_ts, mel_hist, order, n, anchor, anchor + w, b) > 0)
        if got:
            window_mean(lvl_ts, level_db, order, n, anchor - w, anchor, lvl[0])
            window_mean(lvl_ts, level_db, order, n, anchor, anchor + w, lvl[1])
            x[k] = _rms_diff(b, a) / change
            x[k + 1] = lvl[1, 0] - lvl[0, 0]
            x[k + 2] = _along(b, a, after, dd)
        else:
            x[k] = x[k + 1] = x[k + 2] = 0.0
        if wi == 0 and got:
            for j in range(b.shape[0]):
                mid[j] = 0.5 * (a[j] + b[j])
            pos = _along(mid, before, after, dd)
        k += 3
    x[k] = pos


@njit(cache=True)
def placement_features(level_t, level_pos, mel_shift_s, mel_hist, level_db, t, t_step, placed, min_rows, order,
                       mel_ts, lvl_ts, rows, lvl, ctx, x):
    """The :data:`FEATURES` of a cut the cues decided at ``t`` (sharpest step ``t_step``, placed
    at ``placed``) into ``x``: :func:`cut_context` then :func:`placed_features` (arguments and
    buffers as there). Returns False (``x`` untouched) when the ring does not hold both songs
    or they do not differ. No allocation."""
    if not cut_context(level_t, level_pos, mel_shift_s, mel_hist, level_db, t, t_step, min_rows, order,
                       mel_ts, lvl_ts, rows, lvl, ctx, x):
        return False
    placed_features(mel_hist, level_db, t, placed, order, mel_ts, lvl_ts, rows, lvl, ctx, x)
    return True
