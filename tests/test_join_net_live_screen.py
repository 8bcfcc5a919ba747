"""benchmarks/join_net_live_screen.Score matches cuts to joins as benchmarks/segmentation does:
one-to-one, so one cut between two joins counts once, and a join matched only within
``segmentation.LOOSE_S`` is placed off, not found."""
from __future__ import annotations

import sys
from types import SimpleNamespace

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import join_net_live_screen as J  # noqa: E402


def _medley(bounds, crossfade: bool):
    return SimpleNamespace(bounds=bounds, spans=[(0.0, 60.0)], meta={"crossfade_s": [1.5 if crossfade else 0.0]})


def test_one_cut_near_two_joins_is_matched_once_and_the_other_join_is_not_placed_off():
    score = J.Score()
    score.add(_medley([20.0, 20.8], crossfade=False), [20.3])
    score.add(_medley([40.0, 41.0], crossfade=False), [40.0])
    hard = score.result()["hard"]
    assert (hard["found"], hard["placed_off"], hard["cuts"]) == (2, 0, 2)
    assert hard["matched_median_error_ms"] == 150.0  # 300 and 0 ms: the cut counted for its nearer join only


def test_a_cut_within_the_loose_window_only_is_placed_off_and_errors_are_per_kind():
    score = J.Score()
    score.add(_medley([10.0, 30.0], crossfade=True), [11.0, 30.1])
    score.add(_medley([15.0], crossfade=False), [15.02, 40.0])
    r = score.result()
    assert (r["crossfade"]["found"], r["crossfade"]["placed_off"]) == (1, 1)
    assert r["crossfade"]["matched_median_error_ms"] == 100.0
    assert (r["hard"]["found"], r["hard"]["placed_off"], r["hard"]["cuts"]) == (1, 0, 2)
    assert r["hard"]["matched_median_error_ms"] == 20.0
    assert (r["all"]["found"], r["all"]["joins"], r["all"]["cuts"]) == (2, 3, 4)


def test_a_kind_without_matches_reports_no_median():
    score = J.Score()
    score.add(_medley([10.0], crossfade=True), [12.0])
    assert score.result()["crossfade"]["matched_median_error_ms"] is None
