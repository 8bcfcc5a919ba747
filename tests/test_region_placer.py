"""The learned cut placer: its file's validation, its features on a constructed crossfade,
the move it makes (clipped), a stage that cannot use its file placing as before, its
evaluator against scikit-learn's regressor, and no allocation when it runs."""
import copy
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig
from sonolux.features.cutplacer import (FEATURES, FORMAT, FORMAT_VERSION, GAP_S, WINDOW_S, PlacerFileError,
                                        check_placer, cut_context, load_placer, placed_features,
                                        placement_features, shipped_placer)
from sonolux.features.regions import RegionStage
from sonolux.segment import Segmenter

from test_region_cues import SPEC, frames_of, run_region_stage, stage_layout
from test_region_judge import leaf, stump
from test_region_placement import crossfaded_textures

HOP_S = SPEC.hop_seconds
X = {name: i for i, name in enumerate(FEATURES)}
MIN_ROWS = int(0.5 * WINDOW_S / HOP_S)  # as the stage asks: half a window of hops of each song


def placer_doc(trees, *, baseline=0.0, max_shift_s=1.0) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "features": list(FEATURES),
            "baseline": baseline, "learning_rate": 0.05, "max_shift_s": max_shift_s, "trees": trees}


def write(tmp_path, doc, name="placer.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


# ---- the file ------------------------------------------------------------------------------
def test_the_shipped_placer_file_loads_and_was_trained_on_development_medleys():
    placer = load_placer()
    assert placer.path == str(shipped_placer())
    assert 0 < placer.max_shift_s <= 2.0 and len(placer.trees.roots) > 10
    assert placer.doc["trained_on"]["medleys"]["folds"] == [0, 1]  # development folds only
    assert AnalysisConfig().region_placer  # on by default


@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("max_shift_s"), "key 'max_shift_s' is missing"),
    (lambda d: d.update(format="sonolux-cut-judge"), "format='sonolux-cut-judge' is not"),
    (lambda d: d.update(format_version=2), "format_version=2 is not 1"),
    (lambda d: d.update(features=list(FEATURES[:-1])), "features="),
    (lambda d: d.update(max_shift_s=0), "max_shift_s=0 must be above 0"),
    (lambda d: d.update(baseline="0.1"), "baseline='0.1' must be a finite number"),
    (lambda d: d["trees"][0].update(right=[0, 0, 0]), r"trees\[0\].right="),
    (lambda d: d["trees"][0].update(feature=[len(FEATURES), 0, 0]), r"trees\[0\].feature="),
])
def test_a_bad_placer_file_is_a_one_line_error_naming_file_and_key(tmp_path, change, match):
    doc = placer_doc([stump(0, 0.0, -0.1, 0.1)])
    change(doc)
    path = write(tmp_path, doc)
    with pytest.raises(PlacerFileError, match=match) as e:
        load_placer(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_stage_that_cannot_use_its_placer_file_places_as_without_one_and_says_why(tmp_path, rng):
    path = tmp_path / "placer.json"
    path.write_text('{"format": "sonolux-cut-pl')
    table = frames_of(crossfaded_textures(rng, 1.5)[0])
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(region_placer_file=str(path)))
    stage.prepare(SPEC, layout, None)
    assert stage.placer is None and str(path) in stage.placer_note and "without the learned placer" in stage.placer_note
    broken, _ = run_region_stage(table, region_cues=("contrast", "novelty"), region_placer_file=str(path))
    off, _ = run_region_stage(table, region_cues=("contrast", "novelty"), region_placer=False)
    assert len(off) == 2 and [r["start"] for r in broken] == [r["start"] for r in off]


# ---- the move ------------------------------------------------------------------------------
@pytest.mark.parametrize("value, max_shift, moved", [(0.12, 1.0, 0.12), (-0.3, 1.0, -0.3), (5.0, 0.2, 0.2)])
def test_the_cut_moves_by_the_trees_offset_clipped_to_max_shift(tmp_path, rng, value, max_shift, moved):
    table = frames_of(crossfaded_textures(rng, 1.5)[0])
    path = write(tmp_path, placer_doc([leaf(value)], max_shift_s=max_shift))
    # the hand rule's path (the learned place choice off: it would pick among candidates instead)
    placed, decided = run_region_stage(table, region_cues=("contrast", "novelty"), region_placer_file=str(path),
                                       region_place_choice=False)
    unmoved, decided_off = run_region_stage(table, region_cues=("contrast", "novelty"), region_placer=False)
    assert len(placed) == len(unmoved) == 2
    assert placed[1]["start"] == pytest.approx(unmoved[1]["start"] + moved, abs=1e-9)
    assert [d for _, d in decided] == [d for _, d in decided_off]  # decided on the same hop


def test_the_shipped_placer_keeps_a_constructed_crossfade_within_the_tolerance(rng):
    y, middle = crossfaded_textures(rng, 1.5)
    regions, _ = run_region_stage(frames_of(y), region_cues=("contrast", "novelty"))
    assert len(regions) == 2 and abs(regions[1]["start"] - middle) < 0.5, (regions, middle)


# ---- the features --------------------------------------------------------------------------
def ramp_ring(rng, middle=10.0, fade=1.6, level_step=6.0, seconds=17.0, n_mels=16):
    """A stage's ring (hop times, log-mel, level) holding a linear log-mel ramp from one
    spectrum to another (``fade`` s around ``middle``) and a level that steps by ``level_step`` dB."""
    t = np.arange(int(seconds / HOP_S)) * HOP_S
    r = np.clip((t - middle) / fade + 0.5, 0.0, 1.0)[:, None]
    mel = (1 - r) * np.zeros(n_mels) + r * np.linspace(-10, 10, n_mels) + rng.normal(0, 0.5, (len(t), n_mels))
    level = -20.0 + level_step * r[:, 0]
    return t, mel, level


def features_of(t, mel, level, cue, step, placed):
    n, n_mels = len(t), mel.shape[1]
    x = np.full(len(FEATURES), np.nan)
    ok = placement_features(t, n, np.array([0.0, 0.0]), mel, level[:, None], cue, step, placed, MIN_ROWS,
                            np.zeros(n, np.int64), np.zeros(n), np.zeros(n), np.zeros((5, n_mels)),
                            np.zeros((2, 1)), np.zeros(3), x)
    return ok, x


def test_placement_features_on_a_constructed_ramp(rng):
    t, mel, level = ramp_ring(rng)
    ok, x = features_of(t, mel, level, cue=10.3, step=10.8, placed=10.0)
    assert ok
    assert x[X["placed_minus_cue"]] == pytest.approx(-0.3) and x[X["step_minus_cue"]] == pytest.approx(0.5)
    assert x[X["level_change_db"]] == pytest.approx(6.0, abs=0.05)  # the songs' level difference
    assert x[X["placed_position_0.25"]] == pytest.approx(0.5, abs=0.05)  # the middle: halfway between the songs
    # over 0.25 s either side of the middle the ramp rises by 0.25 / 1.6 of the whole change
    assert x[X["placed_position_step_0.25"]] == pytest.approx(0.25 / 1.6, abs=0.03)
    assert x[X["placed_level_step_0.25"]] == pytest.approx(6.0 * 0.25 / 1.6, abs=0.05)
    assert x[X["step_position_0.25"]] > 0.75  # the step lies near the fade's end
    assert x[X["hard_ratio"]] < 0.5  # a gradual join: no step as large as the change
    assert np.all(np.isfinite(x))


def test_placement_features_need_both_songs_in_the_ring(rng):
    t, mel, level = ramp_ring(rng, seconds=12.0)  # less than GAP_S + WINDOW_S after the cue
    assert 10.0 + GAP_S + WINDOW_S > t[-1]
    ok, x = features_of(t, mel, level, cue=10.0, step=10.5, placed=10.0)
    assert not ok and np.all(np.isnan(x))  # untouched: the stage keeps the fit's time
    t, _, level = ramp_ring(rng)
    assert not features_of(t, np.zeros((len(t), 16)), level, 10.0, 10.5, 10.0)[0]  # the songs do not differ


def test_placement_features_allocate_nothing(rng):
    """The features run on the analysis thread when a cut is decided, in the stage's buffers
    (Numba's allocator counts no array beyond what passing the arguments counts)."""
    from conftest import numba_allocations

    t, mel, level = ramp_ring(rng)
    n = len(t)
    args = (t, n, np.array([0.0, 0.0]), mel, level[:, None], 10.3, 10.8, 10.0, MIN_ROWS, np.zeros(n, np.int64),
            np.zeros(n), np.zeros(n), np.zeros((5, 16)), np.zeros((2, 1)), np.zeros(3), np.zeros(len(FEATURES)))
    assert placement_features(*args)  # the whole path runs
    calling, passing = numba_allocations(placement_features, *args)
    assert calling == passing
    # the place choice's per-candidate part, after the cut's context (args[9:] are the buffers)
    placed_args = (mel, level[:, None], 10.3, 10.0, *args[9:])
    calling, passing = numba_allocations(placed_features, *placed_args)
    assert calling == passing


def test_one_context_then_each_placed_time_gives_the_whole_features(rng):
    """The place choice orders the ring and measures the songs once per cut (cut_context), then
    completes the features for each candidate time (placed_features): bit for bit what
    placement_features computes for that time alone."""
    t, mel, level = ramp_ring(rng)
    n = len(t)
    buffers = (np.zeros(n, np.int64), np.zeros(n), np.zeros(n), np.zeros((5, 16)), np.zeros((2, 1)), np.zeros(3))
    x = np.zeros(len(FEATURES))
    assert cut_context(t, n, np.array([0.0, 0.0]), mel, level[:, None], 10.3, 10.8, MIN_ROWS, *buffers, x)
    for placed in (10.0, 10.8, 9.2, 11.5, 16.9):  # the last: its windows run past the ring's end
        placed_features(mel, level[:, None], 10.3, placed, *buffers, x)
        ok, whole = features_of(t, mel, level, cue=10.3, step=10.8, placed=placed)
        assert ok and list(x) == list(whole)


# ---- the evaluator -------------------------------------------------------------------------
def test_evaluator_gives_scikit_learns_regression():
    sklearn = pytest.importorskip("sklearn.ensemble")
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(bench))
    pytest.importorskip("_regionsdata")
    spec = importlib.util.spec_from_file_location("train_cut_judge", bench / "train_cut_judge.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(500, len(FEATURES)))
    X_[rng.random(X_.shape) < 0.05] = np.nan
    y = np.clip(0.3 * np.nan_to_num(X_[:, 0]) - 0.2 * np.nan_to_num(X_[:, 7]) + rng.normal(0, 0.1, 500), -1, 1)
    model = sklearn.HistGradientBoostingRegressor(loss="absolute_error", max_depth=2, max_iter=40,
                                                  random_state=0).fit(X_, y)
    placer = check_placer(json.loads(json.dumps(placer_doc([]) | train.export_trees(model))))
    Xt = rng.normal(scale=2.0, size=(300, len(FEATURES)))
    Xt[rng.random(Xt.shape) < 0.1] = np.nan
    np.testing.assert_allclose([placer.trees.raw(x) for x in Xt], model.predict(Xt), rtol=0, atol=1e-12)


def test_a_copy_of_the_shipped_file_with_its_trees_removed_is_refused(tmp_path):
    doc = copy.deepcopy(load_placer().doc)
    doc["trees"] = []
    with pytest.raises(PlacerFileError, match="trees=.* must be a non-empty list"):
        load_placer(write(tmp_path, doc))


def test_a_run_whose_placer_file_is_corrupt_says_so_once_at_start(tmp_path, capsys):
    """`run` prints the stage's placer note once at start (no models needed: the placer runs without them)."""
    import argparse

    from sonolux import Engine
    from sonolux.app.options import region_judge_notice
    from sonolux.sources import SynthSource

    path = write(tmp_path, {"format": FORMAT})
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size),
                    config=AnalysisConfig(region_placer_file=str(path)))
    assert engine.analyzer.find(RegionStage).placer is None
    region_judge_notice(engine, argparse.Namespace(region_judge=None))
    err = capsys.readouterr().err
    assert str(path) in err and "key 'format_version' is missing" in err and "without the learned placer" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_trainer_records_placements_through_the_live_stage():
    """benchmarks/train_cut_placer.py's recording stage gets a stand-in placer (no file read,
    nothing moved): the stage must prepare with it (it warms the placer's trees at start)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import train_cut_placer as train

    from sonolux.frame import FrameLayout

    layout = FrameLayout()
    for name in ("level_db", "quadrant", "prediction_id", "q1", "q2", "q3", "q4"):
        layout.add_scalar(name)
    layout.add_vector("mel_db", 64)
    stage = train.RecordingStage(Segmenter(), AnalysisConfig(), placer=train.NoMove())
    stage.log = []
    stage.prepare(SPEC, layout, None)
    assert stage.placer_on and stage.placer.offset(stage.placer_x) == 0.0 and stage.log == []
