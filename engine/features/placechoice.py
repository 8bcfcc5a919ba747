"""The learned place choice: boosted trees that pick, among a decided cut's candidate times, the one
at the join.

Why: the region stage's hand rule (``RegionStage.place_fade``) calls a join hard when the
sharpest step of the sound is at least as large as the whole change between the songs, and
then keeps that step; otherwise it fits a ramp and the learned placer and the join net move the
cut from the ramp's middle. On the development medleys the rule named the kind of join right
for only about three cuts in four (a drum entry at the end of a crossfade makes a step as large
as the change; a hard join between similar songs fits a ramp), and each wrong call is a cut
0.5–1.5 s off: a false cut and a missed join at once, the largest kind of error left before
the choice (``benchmarks/region_misses.py --fold-nets``: 44 of 96 dev misses). Yet for 95–99 % of those cuts one of the
times the stage already computes lies within 0.5 s of the join. The trees score each
:data:`CANDIDATES` time by what the stage can measure there (the placer's
:data:`~sonolux.features.cutplacer.FEATURES` with the candidate as the placed time, the join
net's output at it, how far it lies from the others) and the cut goes to the best one.

The trees were trained by ``benchmarks/train_place_choice.py`` on DEVELOPMENT medleys only
(folds 0–1), with scikit-learn's ``HistGradientBoostingClassifier`` (target: the candidate
lies within 0.5 s of the join); the file holds them as flat arrays
(:mod:`sonolux.features.trees`). Causal: every feature reads hops already heard when the cut
is decided.

Choice file (JSON), format version 1 — the contract :func:`load_place_choice` checks:
``format`` ("sonolux-place-choice"), ``format_version`` (1), ``candidates`` (the names in order,
equal to :data:`CANDIDATES`), ``features`` (equal to :data:`FEATURES`), ``baseline``, ``trees``.
A corrupt file is a :class:`PlaceChoiceFileError` naming the file, key and value; the region
stage then places cuts by the hand rule and says so (``RegionStage.placer_note``).

>>> choice = load_place_choice()  # the shipped file
>>> times = np.array([10.0, 10.2, np.nan, 10.2, 10.9, 10.8])
>>> rows = np.zeros((len(CANDIDATES), len(FEATURES)))
>>> 0 <= choice.best(times, rows) < len(CANDIDATES)  # never a candidate without a time (NaN)
True
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from ..config import read_json_file
from ..errors import ParameterError
from .cutplacer import FEATURES as PLACER_FEATURES
from .trees import TreeEnsemble, bad_value, check_finite, check_header, check_trees, trees_raw

FORMAT = "sonolux-place-choice"
FORMAT_VERSION = 1
CHOICE_FILE = "place_choice.json"  # shipped in sonolux.profiles
# the times a decided cut could go to: the cue's peak, the sharpest step, the middle of the
# ramp fitted to the songs' positions, the hard path (the step moved by the learned placer), the
# gradual path (the ramp's middle moved by the placer, then to the join net's peak within
# joinnet.SEARCH_S), the join net's highest output within NET_RADIUS_S of the step
CANDIDATES = ("cue", "step", "ramp", "hard_path", "gradual_path", "net_peak")
NET_RADIUS_S = 1.0  # the net's peak is looked for this far either side of the sharpest step
NET_NEAR_S = 0.25  # ... and its output near a candidate within this
# a join the hand rule calls hard keeps its sharpest step when the chosen candidate lies this
# close to it: the step of a hard join is exact to a few ms, the placer's nudge and the net's
# peak are not (dev medleys with the fold nets, seeds 13-20 then fresh 45-56: matched hard
# joins' median error 23.5 -> 6.9 and 26.9 -> 7.3 ms, F -0.002 / -0.001, crossfades' median
# +9 ms; /work/notes plan24, the rule written before each run)
HARD_SNAP_S = 0.25
# per candidate: the placer's features with the candidate as the placed time, then these
OWN_FEATURES = ("candidate", "minus_step", "minus_cue", "minus_ramp", "minus_gradual_path", "minus_hard_path",
                "net_at", "net_near", "net_at_step", "net_peak_near_step", "net_at_over_peak", "step_rule_gradual")
FEATURES = PLACER_FEATURES + OWN_FEATURES


class PlaceChoiceFileError(ParameterError):
    """A place-choice file that cannot be used (one line: file, key, value)."""


def shipped_place_choice() -> Path:
    from ..resources import profiles_dir

    return profiles_dir() / CHOICE_FILE


class PlaceChoice:
    """A choice file's trees; :meth:`best` picks a candidate."""

    def __init__(self, doc: dict, path: str = "<place choice>"):
        self.path = str(path)
        self.doc = doc
        self.trees = TreeEnsemble(doc["trees"], doc["baseline"])

    def best(self, times: np.ndarray, rows: np.ndarray) -> int:
        """The index of the candidate (a time in ``times``, NaN: none) whose feature row in
        ``rows`` scores highest; −1 when no candidate has a time. No allocation."""
        tr = self.trees
        return int(_best_row(times, rows, tr.baseline, tr.roots, tr.feature, tr.threshold, tr.left, tr.right,
                             tr.value, tr.leaf, tr.missing_left))


@njit(cache=True)
def _best_row(times, rows, baseline, roots, feature, threshold, left, right, value, leaf, missing_left):
    best, best_z = -1, -math.inf
    for k in range(times.shape[0]):
        if times[k] != times[k]:
            continue
        z = trees_raw(rows[k], baseline, roots, feature, threshold, left, right, value, leaf, missing_left)
        if best < 0 or z > best_z:
            best, best_z = k, z
    return best


@njit(cache=True)
def candidate_rows(times, placer_rows, placer_ok, net_at, net_near, net_at_step, net_peak, rule_gradual, rows):
    """Fill ``rows`` (candidates × :data:`FEATURES`) from each candidate's time (``times``, in
    :data:`CANDIDATES` order, NaN: none), its placer features (``placer_rows``; NaN where
    ``placer_ok`` is False: the ring does not hold both songs) and the join net's outputs
    (NaN: none computed there). No allocation."""
    step, cue, ramp, hard, gradual = times[1], times[0], times[2], times[3], times[4]
    n_p = placer_rows.shape[1]
    for k in range(times.shape[0]):
        r = rows[k]
        for j in range(n_p):
            r[j] = placer_rows[k, j] if placer_ok else math.nan
        t = times[k]
        r[n_p] = k
        r[n_p + 1], r[n_p + 2], r[n_p + 3] = t - step, t - cue, t - ramp
        r[n_p + 4], r[n_p + 5] = t - gradual, t - hard
        r[n_p + 6], r[n_p + 7] = net_at[k], net_near[k]
        r[n_p + 8], r[n_p + 9] = net_at_step, net_peak
        r[n_p + 10] = net_at[k] / net_peak if (net_peak > 0.0 and net_at[k] == net_at[k]) else math.nan
        r[n_p + 11] = 1.0 if rule_gradual else 0.0


def check_place_choice(doc, path="<place choice>") -> PlaceChoice:
    """Validate a choice file's contents (module doc); a :class:`PlaceChoiceFileError` names the first bad key."""
    check_header(doc, path, PlaceChoiceFileError, "place-choice", FORMAT, FORMAT_VERSION,
                 ("format", "format_version", "candidates", "features", "baseline", "trees"), FEATURES)
    if doc["candidates"] != list(CANDIDATES):
        raise bad_value(PlaceChoiceFileError, path, "candidates", doc["candidates"],
                        f"are not this engine's {len(CANDIDATES)} candidates in order")
    check_finite(doc, path, PlaceChoiceFileError, (("baseline", -math.inf, math.inf),))
    check_trees(doc["trees"], len(FEATURES), path, PlaceChoiceFileError)
    return PlaceChoice(doc, path)


def load_place_choice(path=None) -> PlaceChoice:
    """Read and validate a choice file (default: the shipped one); :class:`PlaceChoiceFileError`
    (one line naming file, key, value) when it cannot be used."""
    path = Path(path) if path is not None else shipped_place_choice()
    return check_place_choice(read_json_file(path, "place choice", PlaceChoiceFileError), path)
