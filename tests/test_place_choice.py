"""The learned place choice: its file's validation, the candidate it picks (never one without a
time), the feature rows it reads, the stage publishing the chosen candidate, a stage that cannot
use its file placing by the hand rule and saying why, and the switches that turn it off."""
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig
from sonolux.features.cutplacer import FEATURES as PLACER_FEATURES
from sonolux.features.placechoice import (CANDIDATES, FEATURES, FORMAT, FORMAT_VERSION, HARD_SNAP_S,
                                          PlaceChoiceFileError, candidate_rows, check_place_choice, load_place_choice,
                                          shipped_place_choice)
from sonolux.features.regions import RegionStage
from sonolux.segment import Segmenter

from test_region_cues import SPEC, feed_hops, frames_of, run_region_stage, stage_layout
from test_region_judge import stump
from test_region_placement import crossfaded_textures
from test_region_placer import write

X = {name: i for i, name in enumerate(FEATURES)}
K = {name: i for i, name in enumerate(CANDIDATES)}
CUES = ("contrast", "novelty")


def choice_doc(trees, baseline=0.0) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "candidates": list(CANDIDATES),
            "features": list(FEATURES), "baseline": baseline, "learning_rate": 0.05, "trees": trees}


def prefer(name: str) -> dict:
    """Trees that score one candidate above every other (by its ``candidate`` feature)."""
    k = K[name]
    return choice_doc([stump(X["candidate"], k - 0.5, 0.0, 1.0), stump(X["candidate"], k + 0.5, 1.0, 0.0)])


# ---- the file ------------------------------------------------------------------------------
def test_the_shipped_file_loads_and_was_trained_on_development_medleys_with_a_held_out_test():
    choice = load_place_choice()
    assert choice.path == str(shipped_place_choice())
    assert choice.doc["trained_on"]["medleys"]["folds"] == [0, 1]  # development folds only
    held = choice.doc["held_out"]
    assert not set(held["seeds"]) & set(choice.doc["trained_on"]["medleys"]["seeds"])
    assert AnalysisConfig().region_place_choice  # on by default


@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("trees"), "key 'trees' is missing"),
    (lambda d: d.update(format="sonolux-cut-placer"), "format='sonolux-cut-placer' is not"),
    (lambda d: d.update(format_version=2), "format_version=2 is not 1"),
    (lambda d: d.update(candidates=list(CANDIDATES[::-1])), "candidates="),
    (lambda d: d.update(features=list(FEATURES[:-1])), "features="),
    (lambda d: d.update(features=5), "features=5 are not this engine's"),
    (lambda d: d.update(baseline=float("nan")), "baseline=nan must be a finite number"),
    (lambda d: d["trees"][0].update(feature=[len(FEATURES), 0, 0]), r"trees\[0\].feature="),
])
def test_a_bad_choice_file_is_a_one_line_error_naming_file_and_key(tmp_path, change, match):
    doc = prefer("ramp")
    change(doc)
    path = write(tmp_path, doc)
    with pytest.raises(PlaceChoiceFileError, match=match) as e:
        load_place_choice(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


# ---- the pick ------------------------------------------------------------------------------
def test_the_best_scored_candidate_with_a_time_wins_and_none_without_one(tmp_path):
    choice = load_place_choice(write(tmp_path, prefer("net_peak")))
    rows = np.zeros((len(CANDIDATES), len(FEATURES)))
    rows[:, X["candidate"]] = np.arange(len(CANDIDATES))
    times = np.arange(len(CANDIDATES)) + 10.0
    assert choice.best(times, rows) == K["net_peak"]
    times[K["net_peak"]] = np.nan  # the net has no output there: another candidate (the first of equal scores)
    assert choice.best(times, rows) == 0
    assert choice.best(np.full(len(CANDIDATES), np.nan), rows) == -1


def test_candidate_rows_hold_the_placer_features_the_offsets_and_the_nets_outputs():
    times = np.array([10.0, 10.4, 9.8, 10.5, 9.9, np.nan])  # cue, step, ramp, hard path, gradual path, net peak
    placer_rows = np.arange(len(CANDIDATES) * len(PLACER_FEATURES), dtype=float).reshape(len(CANDIDATES), -1)
    net_at, net_near = np.array([0.1, 0.2, 0.6, 0.2, 0.8, np.nan]), np.full(len(CANDIDATES), 0.5)
    rows = np.zeros((len(CANDIDATES), len(FEATURES)))
    candidate_rows(times, placer_rows, True, net_at, net_near, 0.2, 0.8, True, rows)
    ramp = rows[K["ramp"]]
    assert list(ramp[:len(PLACER_FEATURES)]) == list(placer_rows[K["ramp"]])
    assert ramp[X["candidate"]] == K["ramp"] and ramp[X["minus_step"]] == pytest.approx(-0.6)
    assert ramp[X["minus_cue"]] == pytest.approx(-0.2) and ramp[X["minus_gradual_path"]] == pytest.approx(-0.1)
    assert ramp[X["net_at_over_peak"]] == pytest.approx(0.75) and ramp[X["step_rule_gradual"]] == 1.0
    assert np.isnan(rows[K["net_peak"], X["net_at_over_peak"]])
    candidate_rows(times, placer_rows, False, net_at, net_near, 0.2, 0.0, False, rows)  # ring without both songs
    assert np.all(np.isnan(rows[:, :len(PLACER_FEATURES)])) and np.all(np.isnan(rows[:, X["net_at_over_peak"]]))
    assert np.all(rows[:, X["step_rule_gradual"]] == 0.0)


# ---- the stage -----------------------------------------------------------------------------
def watched_stage(table, **config):
    """A prepared stage (fused cues, as ``run_region_stage``) whose choices are recorded in ``stage.chosen``."""
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(**{"region_min_s": 4.0, "region_cues": CUES, **config}))
    stage.prepare(SPEC, layout, None)
    stage.chosen = []
    original = stage.choose_place

    def watched(t, t_step, rule_placed):
        placed = original(t, t_step, rule_placed)
        stage.chosen.append((placed, stage.choice_times.copy()))
        return placed
    stage.choose_place = watched
    return stage, names, idx, layout


def feed(stage, table, names, idx, layout) -> list[dict]:
    feed_hops(stage, table, names, idx, layout)
    return stage.finish(len(table.t) * SPEC.hop_seconds)


@pytest.mark.parametrize("name", ["step", "ramp", "cue"])
def test_the_stage_publishes_the_candidate_the_trees_prefer(tmp_path, rng, name):
    table = frames_of(crossfaded_textures(rng, 1.5)[0])
    stage, *rest = watched_stage(table, region_place_choice_file=str(write(tmp_path, prefer(name))))
    assert stage.choosing and stage.placer_note is None
    regions = feed(stage, table, *rest)
    assert len(regions) == 2 and len(stage.chosen) == 1
    placed, times = stage.chosen[0]
    assert placed == times[K[name]]
    assert regions[1]["start"] == pytest.approx(placed, abs=1e-3)


@pytest.mark.parametrize("rule_placed, net_peak, published", [
    (10.0, 10.0 + HARD_SNAP_S, 10.0),         # hard verdict, the pick near the step: the step
    (10.0, 10.0 - HARD_SNAP_S, 10.0),
    (10.0, 10.0 + HARD_SNAP_S + 0.05, 10.0 + HARD_SNAP_S + 0.05),  # farther: the pick
    (9.5, 10.1, 10.1),                        # gradual verdict (the ramp at 9.5): the pick, however near
])
def test_a_hard_join_keeps_its_step_when_the_choice_lands_near_it(tmp_path, rule_placed, net_peak, published):
    """The sharpest step of a join the hand rule calls hard is exact to a few ms; the candidates
    near it (the placer's nudge, the net's peak) are not: the chosen time goes to the step."""
    table = frames_of(np.zeros(48000, dtype=np.float32))
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(region_place_choice_file=str(write(tmp_path, prefer("net_peak")))))
    stage.prepare(SPEC, layout, None)

    def candidates(t, t_step, rule):
        stage.choice_times[:] = [t, t_step, 9.5, t_step, 9.6, net_peak]
        stage.choice_rows[:, X["candidate"]] = np.arange(len(CANDIDATES))
    stage.place_candidates = candidates
    assert stage.choose_place(10.3, 10.0, rule_placed) == pytest.approx(published)


def test_a_stage_that_cannot_use_its_choice_file_places_by_the_hand_rule_and_says_why(tmp_path, rng):
    path = tmp_path / "choice.json"
    path.write_text('{"format": "sonolux-place-ch')
    table = frames_of(crossfaded_textures(rng, 1.5)[0])
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(region_place_choice_file=str(path)))
    stage.prepare(SPEC, layout, None)
    assert not stage.choosing and str(path) in stage.placer_note and "hand rule" in stage.placer_note
    assert stage.placer_on  # the learned placer itself still runs
    broken, _ = run_region_stage(table, region_cues=CUES, region_place_choice_file=str(path))
    off, _ = run_region_stage(table, region_cues=CUES, region_place_choice=False)
    assert len(off) == 2 and [r["start"] for r in broken] == [r["start"] for r in off]


@pytest.mark.parametrize("config", [{"region_place_choice": False}, {"region_placer": False},
                                    {"region_join_net": False}])
def test_the_choice_runs_only_with_the_placer_and_the_join_net(config):
    table = frames_of(np.zeros(48000, dtype=np.float32))
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(**config))
    stage.prepare(SPEC, layout, None)
    on = stage.choosing and stage.placer_on
    assert not on


def test_the_shipped_choice_keeps_a_constructed_crossfade_within_the_tolerance(rng):
    y, middle = crossfaded_textures(rng, 1.5)
    regions, _ = run_region_stage(frames_of(y), region_cues=CUES)
    assert len(regions) == 2 and abs(regions[1]["start"] - middle) < 0.5, (regions, middle)


def test_a_run_whose_choice_file_is_corrupt_says_so_once_at_start(tmp_path, capsys):
    """`run` prints the stage's placer note once at start: the hand rule places, the placer still runs."""
    import argparse

    from sonolux import Engine
    from sonolux.app.options import region_judge_notice
    from sonolux.sources import SynthSource

    path = write(tmp_path, {"format": FORMAT})
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size),
                    config=AnalysisConfig(region_place_choice_file=str(path)))
    stage = engine.analyzer.find(RegionStage)
    assert stage.placer is not None and not stage.choosing
    region_judge_notice(engine, argparse.Namespace(region_judge=None))
    err = capsys.readouterr().err
    assert str(path) in err and "key 'format_version' is missing" in err and "hand rule" in err
    assert err.count("\n") == 1 and "Traceback" not in err


# ---- the trainer ---------------------------------------------------------------------------
def bench_module(name: str):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    pytest.importorskip("_regionsdata")
    return importlib.import_module(name)


def test_the_evaluator_gives_scikit_learns_scores():
    sklearn = pytest.importorskip("sklearn.ensemble")
    train = bench_module("train_cut_judge")
    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(600, len(FEATURES)))
    X_[rng.random(X_.shape) < 0.05] = np.nan
    y = np.nan_to_num(X_[:, X["net_at"]]) - 0.5 * np.abs(np.nan_to_num(X_[:, X["minus_step"]])) > 0
    model = sklearn.HistGradientBoostingClassifier(max_depth=2, max_iter=40, random_state=0).fit(X_, y)
    choice = check_place_choice(json.loads(json.dumps(choice_doc([]) | train.export_trees(model))))
    Xt = rng.normal(scale=2.0, size=(300, len(FEATURES)))
    Xt[rng.random(Xt.shape) < 0.1] = np.nan
    np.testing.assert_allclose([choice.trees.raw(x) for x in Xt], model.decision_function(Xt), rtol=0, atol=1e-12)


def test_the_trainer_records_candidates_through_the_live_stage_without_reading_a_file():
    """benchmarks/train_place_choice.py's recording stage runs the stage's own candidate
    features with a stand-in choice (no file read) and publishes where the hand rule puts the cut."""
    train = bench_module("train_place_choice")
    table = frames_of(crossfaded_textures(np.random.default_rng(3), 1.5)[0])
    names, idx, layout = stage_layout(table)
    stage = train.RecordingStage(Segmenter(), AnalysisConfig(region_min_s=4.0, region_cues=CUES),
                                 place_choice=train.HandRule())
    stage.log = []
    stage.prepare(SPEC, layout, None)
    assert stage.choosing and stage.log == []
    regions = feed(stage, table, names, idx, layout)
    hand, _ = run_region_stage(table, region_cues=CUES, region_place_choice=False)
    assert [r["start"] for r in regions] == [r["start"] for r in hand]
    (t, times, rows), = stage.log
    assert rows.shape == (len(CANDIDATES), len(FEATURES)) and np.isfinite(times[:5]).all()
    assert regions[1]["start"] == pytest.approx(train.hand_rule(None, times, rows), abs=1e-3)


def test_the_choice_kernels_allocate_nothing(tmp_path):
    """The rows and the pick run on the analysis thread when a cut is decided, in the stage's
    buffers (Numba's allocator counts no array beyond what passing the arguments counts)."""
    from conftest import numba_allocations
    from sonolux.features.placechoice import _best_row

    k = len(CANDIDATES)
    times = np.array([10.0, 10.4, 9.8, 10.5, 9.9, np.nan])
    rows = np.zeros((k, len(FEATURES)))
    args = (times, np.ones((k, len(PLACER_FEATURES))), True, np.full(k, 0.3), np.full(k, 0.4), 0.2, 0.8, True, rows)
    calling, passing = numba_allocations(candidate_rows, *args)
    assert calling == passing
    tr = load_place_choice().trees
    args = (times, rows, tr.baseline, tr.roots, tr.feature, tr.threshold, tr.left, tr.right, tr.value, tr.leaf,
            tr.missing_left)
    assert 0 <= _best_row(*args) < k - 1  # the net's peak has no time
    calling, passing = numba_allocations(_best_row, *args)
    assert calling == passing


def test_the_cost_benchmark_times_both_placements_and_publishes_the_choice():
    """benchmarks/place_cost.py's stage places every decided cut both ways ``repeat`` times and
    publishes where the choice puts it, so the show it times is the default one."""
    cost = bench_module("place_cost")
    table = frames_of(crossfaded_textures(np.random.default_rng(3), 1.5)[0])
    names, idx, layout = stage_layout(table)
    cost.TimedStage.repeat = 3
    stage = cost.TimedStage(Segmenter(), AnalysisConfig(region_min_s=4.0, region_cues=CUES))
    stage.log = []
    stage.prepare(SPEC, layout, None)
    regions = feed(stage, table, names, idx, layout)
    default, _ = run_region_stage(table, region_cues=CUES)
    assert [r["start"] for r in regions] == [r["start"] for r in default] and len(regions) == 2
    assert sorted(c for c, _ in stage.log) == [False] * 3 + [True] * 3 and all(dt > 0 for _, dt in stage.log)
