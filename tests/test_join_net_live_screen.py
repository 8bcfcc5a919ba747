"""benchmarks/join_net_live_screen: its Score matches cuts to joins as benchmarks/segmentation
does — one-to-one, so one cut between two joins counts once, and a join matched only within
``segmentation.LOOSE_S`` is placed off, not found — and an ``--arm`` names its nets, judge and
settings, or is refused in one line."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

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


def test_an_arm_names_its_nets_judge_and_settings(tmp_path):
    nets = tmp_path / "nets"
    nets.mkdir()
    for f in (0, 1):
        (nets / f"fold{f}.json").write_text("{}")
    judge = tmp_path / "judge.json"
    judge.write_text("{}")
    assert J.parse_arm(f"a={nets}") == ("a", nets, "", {})
    assert J.parse_arm(f"b={nets},{judge},region_fade_after_s=0.75,region_join_net=false") == (
        "b", nets, str(judge), {"region_fade_after_s": 0.75, "region_join_net": False})
    assert J.parse_arm(f"c={nets},,region_refine_s=0")[2:] == ("", {"region_refine_s": 0})
    for bad in (f"d={tmp_path}", f"e={nets},{tmp_path / 'none.json'}", f"f={nets},{judge},{judge}"):
        with pytest.raises(SystemExit, match="--arm"):
            J.parse_arm(bad)
    with pytest.raises(SystemExit, match="no_such_setting"):
        J.parse_arm(f"g={nets},no_such_setting=1")
