"""The false-cut diagnosis (benchmarks/region_false_cuts.py): each cut's kind against the
joins (found / placed off / second cut / far off / in the song), and the beat-grid
continuity measure on constructed onset trains (a grid carried across a tempo / phase
change no longer lands on the onsets)."""
from __future__ import annotations

import math
import sys

import numpy as np

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import _regionsdata as D  # noqa: E402
import region_false_cuts as RF  # noqa: E402


def _kinds(cuts, bounds):
    rec = D.Recording("m", None, bounds=bounds)
    return [k for _, k, _ in RF.classify(rec, cuts)]


def test_each_cut_is_classified_against_the_joins():
    # join 20 found (20.2); join 40 cut 0.8 s late; join 60 missed, a cut 3 s before it; a
    # cut mid-song at 80 (no join within 6 s); a second cut 1 s after the found join 20
    assert _kinds([20.2, 21.2, 40.8, 57.0, 80.0], [20.0, 40.0, 60.0]) == [
        "found", "double", "placed_off", "far_off", "in_song"]
    assert _kinds([5.0], []) == ["in_song"]


def _onsets(hop_s, n, beats):
    x = np.zeros(n)
    for b in beats:
        h = int(round(b / hop_s))
        if h < n:
            x[h] = 1.0
    return x


def test_the_grid_carried_across_a_cut_lands_on_the_same_songs_beats_only():
    hop_s, n = 0.01, 3000
    same = np.arange(0.0, 30.0, 0.5)  # 120 BPM throughout
    other = np.concatenate([np.arange(0.0, 15.0, 0.5), np.arange(15.23, 30.0, 0.41)])  # another tempo and phase
    for beats, aligned in ((same, True), (other, False)):
        onset = _onsets(hop_s, n, beats)
        g = RF.grid_alignment(onset, beats, hop_s, 14.5, 15.5, 21.0)
        assert (g > 30.0) if aligned else (g < 10.0), g  # 50: every carried beat on an onset
    # no grid without 4 beats before the cut
    assert math.isnan(RF.grid_alignment(np.ones(n), np.array([1.0, 2.0]), hop_s, 14.5, 15.5, 21.0))
