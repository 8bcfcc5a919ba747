"""The learned cut judge: its evaluator against scikit-learn, the judge file's validation,
the live region stage with the judge (a cut kept, a cut dropped, a steady sound not cut),
bulk == hop by hop with the judge on, and the operator's switch (CLI, show file, OSC)."""
import copy
import json
import math

import numpy as np
import pytest

from sonolux import ParameterError
from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.features.cutjudge import (FEATURES, FORMAT, FORMAT_VERSION, JudgeFileError, check_judge,
                                       load_judge, shipped_judge)
from sonolux.features.regions import RegionStage
from sonolux.features.tagcue import TagHistory, tag_distance, tag_representation

from test_region_cues import SPEC, frames_of, stage_layout, textures  # noqa: E402

BODY = FEATURES.index("log_body_db")


def tree_doc(trees, *, low=0.5, p=0.5, version="0.0.1", baseline=0.0) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "features": list(FEATURES),
            "emotion_model_version": version, "low_threshold": low, "probability_threshold": p,
            "baseline": baseline, "learning_rate": 0.1,
            "tag_centre": {"raw": [0.1] * 50, "logit": [-2.0] * 50}, "trees": trees}


def stump(feature: int, threshold: float, below: float, above: float) -> dict:
    """One split: ``below`` when x[feature] <= threshold (and NaN), else ``above``."""
    return {"feature": [feature, 0, 0], "threshold": [threshold, 0.0, 0.0], "left": [1, 0, 0],
            "right": [2, 0, 0], "value": [0.0, below, above], "leaf": [0, 1, 1], "missing_left": [1, 0, 0]}


def leaf(value: float) -> dict:
    return {"feature": [0], "threshold": [0.0], "left": [0], "right": [0], "value": [value], "leaf": [1],
            "missing_left": [0]}


# a judge that keeps a candidate when the sound either side of it differs by more than 3 dB
KEEP_CHANGES = tree_doc([stump(BODY, math.log(3.0 + 0.1), -5.0, 5.0)])
DROP_ALL = tree_doc([leaf(-5.0)])


class ConstantTags:
    """A tag source as the inference stage is one (``raw_tags_of``), every prediction alike."""

    emotion_version = "0.0.1"

    def raw_tags_of(self, prediction_id, out):
        out[:] = 0.3
        return prediction_id > 0


# ---- the evaluator -------------------------------------------------------------------------
def test_evaluator_equals_sklearn_predict_proba():
    sklearn = pytest.importorskip("sklearn.ensemble")
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "train_cut_judge", Path(__file__).resolve().parents[1] / "benchmarks" / "train_cut_judge.py")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    pytest.importorskip("_regionsdata")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, len(FEATURES)))
    X[rng.random(X.shape) < 0.05] = np.nan  # NaN goes where each split learned
    y = ((np.nan_to_num(X[:, 0]) + X[:, 5] ** 2 > 1) ^ (rng.random(600) < 0.1)).astype(int)
    model = sklearn.HistGradientBoostingClassifier(max_depth=3, max_iter=60, learning_rate=0.05,
                                                   class_weight="balanced", random_state=0).fit(X, y)
    judge = check_judge(json.loads(json.dumps(tree_doc([], p=0.5) | train.export_trees(model))))
    Xt = rng.normal(scale=2.0, size=(400, len(FEATURES)))
    Xt[rng.random(Xt.shape) < 0.1] = np.nan
    ours = np.array([judge.probability(x) for x in Xt])
    np.testing.assert_allclose(ours, model.predict_proba(Xt)[:, 1], rtol=0, atol=1e-12)


def test_evaluator_allocates_nothing_per_call():
    import tracemalloc

    judge = check_judge(KEEP_CHANGES)
    x = np.zeros(len(FEATURES))
    judge.probability(x)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            judge.probability(x)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024, grown


# ---- the judge file ------------------------------------------------------------------------
def test_the_shipped_judge_file_loads():
    judge = load_judge()
    assert judge.path == str(shipped_judge())
    assert 0 < judge.probability_threshold < 1 and judge.low_threshold > 0 and len(judge.trees.roots) > 10
    assert judge.doc["trained_on"]["clips"]["folds"] == [0, 1]  # development data only


@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("trees"), "key 'trees' is missing"),
    (lambda d: d.update(format_version=2), "format_version=2 is not 1"),
    (lambda d: d.update(features=list(FEATURES[:-1])), "features="),
    (lambda d: d.update(probability_threshold=1.5), "probability_threshold=1.5"),
    (lambda d: d.update(low_threshold=0), "low_threshold=0"),
    (lambda d: d["tag_centre"].update(raw=[0.1] * 49), "tag_centre.raw="),
    (lambda d: d["trees"][0].update(left=[0, 0, 0]), r"trees\[0\].left="),
    (lambda d: d["trees"][0].update(feature=[99, 0, 0]), r"trees\[0\].feature="),
    (lambda d: d["trees"][0].update(value=[0.0, "x", 1.0]), r"trees\[0\]="),
])
def test_a_bad_judge_file_is_a_one_line_error_naming_file_and_key(tmp_path, change, match):
    doc = copy.deepcopy(KEEP_CHANGES)
    change(doc)
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(JudgeFileError, match=match) as e:
        load_judge(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_judge_of_another_emotion_model_or_a_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(KEEP_CHANGES))
    with pytest.raises(JudgeFileError, match="emotion_model_version='0.0.1' is not the running"):
        load_judge(path, emotion_version="2.2")
    path.write_text('{"format": "sonolux-cut-ju')
    with pytest.raises(JudgeFileError, match="not a readable JSON"):
        load_judge(path)
    with pytest.raises(JudgeFileError, match="no such cut judge file"):
        load_judge(tmp_path / "nope.json")


# ---- the tag cue ---------------------------------------------------------------------------
def test_live_tag_history_equals_the_whole_recording_formula():
    rng = np.random.default_rng(2)
    marks = rng.uniform(0.01, 0.99, size=(40, 50))
    centre = np.stack([tag_representation(marks, r).mean(0) for r in ("raw", "logit")])
    hist = TagHistory(centre, blocks=64)
    for m in marks:  # one mark per block
        hist.mark(m)
        hist.close()
    for r, name in enumerate(("raw", "logit")):
        v = tag_representation(marks, name) - centre[r]
        a, b = v[10:20], v[25:30]
        want = tag_distance(r, a.mean(0), a.var(0), b.mean(0), b.var(0), 1e-2)
        assert hist.value(r, r, 1e-2, 20, 10, 10, 5) == pytest.approx(want, rel=1e-9)
    assert math.isnan(hist.value(0, 0, 1e-4, 35, 10, 10, 5))  # its future is not there yet


# ---- the live stage --------------------------------------------------------------------------
class NoTagsInStep:
    """A tag source whose predictions never arrive in step (as with ``run --fast``)."""

    emotion_version = "0.0.1"

    def raw_tags_of(self, prediction_id, out):
        return False


def run_with_judge(table, doc, *, tags=True, **config):
    """The live region stage over an analysed table with the given judge on (``tags``: True
    for :class:`ConstantTags`, False for none, or a tag source)."""
    from sonolux.features.base import HopContext
    from sonolux.segment import Segmenter

    names, idx, layout = stage_layout(table)
    # a prediction every 0.5 s (even quadrant probabilities: no mood cue), as the inference
    # stage's fields carry them; the tag source answers for its ids
    mood = [layout.scalars[n] if n in layout.scalars else layout.add_scalar(n)
            for n in ("q1", "q2", "q3", "q4", "quadrant", "prediction_id")]
    stage = RegionStage(Segmenter(), AnalysisConfig(**{"region_min_s": 4.0, "region_judge": True, **config}),
                        judge=check_judge(doc),
                        tag_source=(ConstantTags() if tags else None) if isinstance(tags, bool) else tags)
    stage.prepare(SPEC, layout, None)
    frame, ctx = layout.new_frame(), HopContext(SPEC)
    for i in range(len(table.t)):
        frame.values[:len(names)] = table.values[i, idx]
        frame.values[mood] = (0.25, 0.25, 0.25, 0.25, 1.0, 1 + (i * SPEC.hop) // (SPEC.sample_rate // 2))
        frame.vectors["mel_db"][:] = table.vectors["mel_db"][i]
        ctx.sample_end = (i + 1) * SPEC.hop
        stage.process(ctx, frame)
    return stage.finish(len(table.t) * SPEC.hop_seconds), stage


def test_the_judge_keeps_a_change_of_sound_and_can_drop_it(rng):
    table = frames_of(textures(rng, 20.0, 10.0))
    regions, stage = run_with_judge(table, KEEP_CHANGES)
    judge = stage.cues.judge
    assert stage.cues.judge_on and judge.candidates >= 1 and judge.kept == 1
    assert [round(r["start"]) for r in regions] == [0, 20], regions
    assert judge.x[BODY] > math.log(3.1)  # the features of the kept candidate: the sound changed
    shown = stage.controls()  # what the panel shows of the judge's record
    assert (shown["judge_candidates"], shown["judge_kept"]) == (judge.candidates, 1)
    assert shown["judge_last_probability"] == pytest.approx(judge.last_probability)
    assert shown["judge_threshold"] == pytest.approx(judge.threshold)
    on, judged, kept, last, needed = stage.judge_record()  # ... and /sonolux/status carries
    assert (on, judged, kept) == (1, judge.candidates, 1)
    assert (last, needed) == (pytest.approx(judge.last_probability), pytest.approx(judge.threshold))
    regions, stage = run_with_judge(table, DROP_ALL)
    assert len(regions) == 1 and stage.cues.judge.candidates >= 1 and stage.cues.judge.kept == 0
    assert stage.cues.fusion.threshold == pytest.approx(DROP_ALL["low_threshold"])  # the judge's own


# a judge that gives every candidate probability 0.4: below its file's 0.5
HALF_SURE = tree_doc([leaf(math.log(0.4 / 0.6))], p=0.5)


@pytest.mark.parametrize("sensitivity, cut", [(0.5, False), (0.25, False), (0.75, True), (1.0, True)])
def test_sensitivity_moves_the_probability_a_candidate_needs(rng, sensitivity, cut):
    """With the judge on, the operator's sensitivity moves the judge's probability threshold
    (0.5: the file's 0.5; 0.75: sigmoid(-1) = 0.27, so a 0.4 candidate is kept), while the
    fusion keeps arming at the judge's low threshold — the candidates the trees were trained on."""
    regions, stage = run_with_judge(frames_of(textures(rng, 20.0, 10.0)), HALF_SURE,
                                    region_sensitivity=sensitivity)
    cues = stage.cues
    assert cues.judge_on and cues.judge.candidates >= 1
    assert cues.fusion.threshold == pytest.approx(HALF_SURE["low_threshold"])
    assert cues.judge.threshold == pytest.approx(1 / (1 + math.exp(-4.0 * (0.5 - sensitivity))))
    assert [round(r["start"]) for r in regions] == ([0, 20] if cut else [0]), regions


def test_live_sensitivity_reaches_the_judge_and_back_to_the_fusion(rng):
    """The knob live (OSC, panel): with the judge on it moves the judge's threshold only; with
    the judge switched off the fusion's threshold follows the same sensitivity."""
    from sonolux.features.cutjudge import SENSITIVITY_SLOPE

    _, stage = run_with_judge(frames_of(textures(rng, 12.0, 0.01)), HALF_SURE)
    cues = stage.cues
    cues.control(sensitivity=0.0)
    assert cues.judge.threshold == pytest.approx(1 / (1 + math.exp(-SENSITIVITY_SLOPE * 0.5)))
    assert cues.fusion.threshold == pytest.approx(HALF_SURE["low_threshold"])
    cues.control(judge=False)
    assert cues.fusion.threshold == pytest.approx(AnalysisConfig().region_threshold * math.e)
    cues.control(sensitivity=1.0)
    assert cues.fusion.threshold == pytest.approx(AnalysisConfig().region_threshold / math.e)
    cues.control(judge=True)
    assert cues.fusion.threshold == pytest.approx(HALF_SURE["low_threshold"])
    assert cues.judge.threshold == pytest.approx(1 / (1 + math.exp(SENSITIVITY_SLOPE * 0.5)))
    with pytest.raises(ParameterError, match="region_sensitivity=2"):
        cues.control(sensitivity=2)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_a_judge_threshold_of_0_or_1_ignores_the_sensitivity(p):
    from sonolux.features.cutjudge import LiveJudge

    judge = LiveJudge(check_judge(tree_doc([leaf(0.0)], p=p)), block_s=0.1, future_blocks=40, past_blocks=80,
                      min_past_blocks=20, hold_s=0.5)
    for s in (0.0, 0.5, 1.0):
        judge.set_sensitivity(s)
        assert judge.threshold == p


def test_a_dropped_candidate_re_arms_the_fusion(rng, monkeypatch):
    """Every candidate the judge drops goes back to the fusion (CutFusion.reject: the rest of
    its excursion is not spent, a higher score in it is judged); a kept one does not."""
    from sonolux.features.cutfusion import CutFusion

    calls = []
    reject = CutFusion.reject
    monkeypatch.setattr(CutFusion, "reject", lambda self: (calls.append(self.peak), reject(self)))
    table = frames_of(textures(rng, 20.0, 10.0))
    regions, stage = run_with_judge(table, DROP_ALL)
    assert len(regions) == 1 and len(calls) == stage.cues.judge.candidates >= 1
    calls.clear()
    regions, stage = run_with_judge(table, KEEP_CHANGES)
    assert [round(r["start"]) for r in regions] == [0, 20] and len(calls) == stage.cues.judge.candidates - 1


def test_without_tags_in_step_the_fixed_rule_decides_the_candidates(rng):
    """A judge that would drop every candidate, but no prediction's tags arrive: the trees do
    not judge what they never saw; the fixed fusion's threshold decides (the change is cut),
    and a steady sound still is not."""
    regions, stage = run_with_judge(frames_of(textures(rng, 20.0, 10.0)), DROP_ALL, tags=NoTagsInStep())
    judge = stage.cues.judge
    assert stage.cues.judge_on and judge.candidates >= 1 and judge.blind_candidates == judge.candidates
    assert [round(r["start"]) for r in regions] == [0, 20], regions
    regions, stage = run_with_judge(frames_of(textures(rng, 30.0, 0.01)), DROP_ALL, tags=NoTagsInStep())
    assert len(regions) == 1, regions


def test_the_judge_does_not_cut_a_steady_sound(rng):
    x = textures(rng, 30.0, 0.01)
    regions, stage = run_with_judge(frames_of(x), KEEP_CHANGES)
    assert len(regions) == 1, regions
    assert stage.cues.judge.kept == 0


def test_without_tags_the_fixed_fusion_cuts_and_says_so(rng):
    regions, stage = run_with_judge(frames_of(textures(rng, 20.0, 10.0)), DROP_ALL, tags=False)
    assert stage.cues.judge is None and not stage.cues.judge_on
    assert "tags" in stage.judge_note and "fixed fusion" in stage.judge_note
    assert [round(r["start"]) for r in regions] == [0, 20]  # DROP_ALL would have dropped it
    assert stage.cues.fusion.threshold == pytest.approx(AnalysisConfig().region_threshold)


def test_a_bad_judge_file_leaves_the_fixed_fusion(tmp_path):
    from sonolux.frame import FrameLayout
    from sonolux.segment import Segmenter

    path = tmp_path / "judge.json"
    path.write_text("{}")
    stage = RegionStage(Segmenter(), AnalysisConfig(region_judge=True, region_judge_file=str(path)),
                        tag_source=ConstantTags())
    layout = FrameLayout()
    layout.add_scalar("level_db")
    layout.add_vector("mel_db", 64)
    stage.prepare(SPEC, layout, None)
    assert stage.cues.judge is None and str(path) in stage.judge_note and "fixed fusion" in stage.judge_note


def test_the_judge_reads_the_join_nets_peak_near_each_candidate(rng, monkeypatch):
    """The ``join_net_peak`` feature of a live candidate is the highest output of the join
    net's offline outputs (what the judge was trained on) within ``JOIN_PEAK_S`` of the cut —
    the stage's clock and the net's frames agree."""
    from sonolux.features.cutjudge import JOIN_PEAK_S, LiveJudge
    from sonolux.features.joinnet import JoinNetStream, load_join_net

    table = frames_of(textures(rng, 20.0, 10.0))
    seen = []
    features = LiveJudge.features

    def spy(self, cut, *args):
        x = features(self, cut, *args)
        if self.join_peak is not None:  # not the warm-up before the stage attached the net
            seen.append((cut, x[FEATURES.index("join_net_peak")]))
        return x

    monkeypatch.setattr(LiveJudge, "features", spy)
    _, stage = run_with_judge(table, KEEP_CHANGES)
    assert stage.join_stream is not None and seen
    net = load_join_net()
    out = JoinNetStream(net).outputs(table.vectors["mel_db"].astype(np.float64))
    for cut, got in seen:
        lo, hi = math.ceil((cut - JOIN_PEAK_S) / net.frame_s), math.floor((cut + JOIN_PEAK_S) / net.frame_s)
        assert got == pytest.approx(out[max(lo, 0):hi + 1].max(), abs=1e-9), cut


def test_the_judge_reads_the_join_net_while_the_net_places_nothing(rng):
    """``region_join_net`` off: the net no longer moves cuts, the judge still reads it — and
    reading it per candidate allocates nothing that grows."""
    from conftest import call_growths

    _, stage = run_with_judge(frames_of(textures(rng, 20.0, 10.0)), KEEP_CHANGES, region_join_net=False)
    assert stage.join_stream is not None and not stage.join_placing and stage.cues.judge.join_peak is not None
    assert math.isfinite(stage.join_net_peak(20.0, 0.5))
    assert call_growths(lambda: stage.join_net_peak(20.0, 0.5), warm=20, n=500).max() < 1024


def test_a_bad_join_net_file_leaves_the_fixed_fusion_and_says_so(tmp_path, rng):
    bad = tmp_path / "net.json"
    bad.write_text("[]")
    regions, stage = run_with_judge(frames_of(textures(rng, 20.0, 10.0)), DROP_ALL, region_join_net_file=str(bad))
    assert stage.cues.judge is None and stage.join_stream is None
    assert str(bad) in stage.judge_note and "join net" in stage.judge_note and "fixed fusion" in stage.judge_note
    assert [round(r["start"]) for r in regions] == [0, 20]  # DROP_ALL would have dropped it


# ---- bulk == hop by hop, with the model's tags --------------------------------------------------
def test_bulk_analysis_equals_hop_by_hop_with_the_judge_on(tmp_path, rng):
    pytest.importorskip("onnxruntime")
    import tiny_models

    from sonolux.inference.runtime import InferenceConfig, load_models, make_inference

    d = tiny_models.model_dir(tmp_path)
    tiny_models.emotion_model(d / "emotion.onnx", with_tags=True)
    models, _ = load_models(InferenceConfig(model_dir=d, device="cpu"))
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(KEEP_CHANGES))
    config = AnalysisConfig(region_min_s=4.0, region_judge=True, region_judge_file=str(path))
    y = textures(rng, 20.0, 12.0)

    def run(block_hops):
        stage, worker = make_inference(models, InferenceConfig(device="cpu"))
        an = Analyzer(SPEC, config, inference_stage=stage)
        table = an.analyze(y, after_hop=worker.poll, block_hops=block_hops)
        region = an.find(RegionStage)
        return table, region

    bulk, stage_bulk = run(256)
    live, stage_live = run(1)
    judge = stage_bulk.cues.judge
    assert stage_bulk.cues.judge_on and judge.candidates >= 1 and judge.kept >= 1
    assert judge.tags.blocks > 0 and judge.tags.run[0] > 10  # the model's tags reached the judge
    cols = [i for n, i in bulk.layout.scalars.items() if n.startswith("region_")]
    np.testing.assert_array_equal(bulk.values[:, cols], live.values[:, cols])
    assert (judge.candidates, judge.kept) == (stage_live.cues.judge.candidates, stage_live.cues.judge.kept)
    np.testing.assert_array_equal(judge.x, stage_live.cues.judge.x)


# ---- the operator's switch -------------------------------------------------------------------
def test_analyzer_switches_the_judge_live_and_refuses_without_one(tmp_path):
    an = Analyzer(SPEC)  # no models: no tags
    with pytest.raises(ParameterError, match="tags"):
        an.set_region_controls(judge=True)
    an.set_region_controls(judge=False)  # off is always fine
    cues = an.find(RegionStage).cues
    assert not cues.judge_on


def test_the_judge_switch_through_osc_cli_and_show_file(tmp_path):
    from sonolux.app.show import LIVE_KEYS, SCHEMA

    assert SCHEMA["analysis"]["region_judge"][0] == "region_judge"
    assert LIVE_KEYS["/sonolux/region/judge"][2]([0]) is False
    assert LIVE_KEYS["/sonolux/region/judge"][2]([1]) is True


def test_region_judge_flag_in_help():
    import argparse

    from sonolux.app.options import add_show_options

    p = argparse.ArgumentParser()
    add_show_options(p)
    assert p.parse_args(["--region-judge"]).region_judge is True
    assert p.parse_args(["--no-region-judge"]).region_judge is False
    assert p.parse_args([]).region_judge is None
    assert "learned cut judge" in p.format_help()


def test_the_judge_allocates_nothing_per_hop(measured_alone):
    """Hops with the judge on — marks of the model's tags, cue blocks, candidates judged
    (DROP_ALL at a low threshold: every decided peak is one) — make no block-sized temporary."""
    from conftest import call_growths
    from sonolux.features.cutjudge import LiveJudge
    from sonolux.features.regioncues import RegionCues

    from test_region_cues import BLOCK_BYTES

    rng = np.random.default_rng(3)
    mels = rng.normal(-40, 3, size=(2, 64))
    mels[1, :32] += 12.0
    probs = np.array([0.4, 0.3, 0.2, 0.1])
    tags = rng.uniform(0.05, 0.95, size=50)
    config = AnalysisConfig(region_min_s=2.0)
    cues = RegionCues(config, n_mels=64, hop_s=SPEC.hop_seconds)
    live = LiveJudge(check_judge(tree_doc([leaf(-5.0)], low=0.05)), block_s=cues.block_s,
                     future_blocks=cues.contrast.future_blocks, past_blocks=cues.contrast.past_blocks,
                     min_past_blocks=20, hold_s=config.region_hold_s)
    live.warm()
    cues.attach_judge(live, True)
    state = {"i": 0}

    def one_hop():
        i = state["i"] = state["i"] + 1
        if i % 90 == 0:
            live.tags.mark(tags)
        cues.hop(i * SPEC.hop_seconds, mels[(i // 1500) % 2], 1e-3, probs if i % 90 == 0 else None, i % 90 == 0)

    growth = call_growths(one_hop, warm=300, n=6000)
    assert live.candidates >= 1, live.candidates  # candidates were judged inside the measured hops
    assert growth.max() < BLOCK_BYTES, (int(growth.max()), int(np.argmax(growth)))


def test_a_run_with_models_but_no_usable_judge_says_so_once(tmp_path, capsys):
    """The tiny tagged model is not the emotion model the shipped judge was trained on: the
    region stage refuses the judge file (version), the fixed fusion cuts, and the start-up
    notice names the file and the key."""
    pytest.importorskip("onnxruntime")
    import argparse

    import tiny_models

    from sonolux import Engine
    from sonolux.app.options import region_judge_notice
    from sonolux.inference.runtime import InferenceConfig, load_models
    from sonolux.sources import SynthSource

    d = tiny_models.model_dir(tmp_path)
    tiny_models.emotion_model(d / "emotion.onnx", with_tags=True)
    models, _ = load_models(InferenceConfig(model_dir=d, device="cpu"))
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size), models=models)
    stage = engine.analyzer.find(RegionStage)
    assert AnalysisConfig().region_judge and stage.cues.judge is None and not stage.cues.judge_on
    region_judge_notice(engine, argparse.Namespace(region_judge=None))
    err = capsys.readouterr().err
    assert "emotion_model_version" in err and "cut_judge.json" in err and "fixed fusion" in err
    assert err.count("\n") == 1
