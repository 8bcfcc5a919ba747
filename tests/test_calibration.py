"""Per-show mood calibration from operator overrides: fit, apply, save, reset, a corrupt file
(clear error, the model runs uncalibrated), and the live loop that teaches it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sonolux.inference.calibration import CalibrationError, QuadrantCalibration


def test_fit_moves_the_confused_quadrant_towards_the_operators_label():
    cal = QuadrantCalibration()
    confused = np.array([0.5, 0.1, 0.1, 0.3])  # model says Q1, operator says Q4
    assert cal.apply(confused).argmax() == 0  # uncalibrated: unchanged
    for k in range(5):
        cal.add(confused, 4)
    cal.fit()
    out = cal.apply(confused)
    assert out.argmax() == 3 and out.sum() == pytest.approx(1.0)
    assert cal.bias[3] > 0 > cal.bias[0]
    # one correction nudges less than five (the L2 pull towards no change)
    one = QuadrantCalibration()
    one.add(confused, 4)
    one.fit()
    assert 0 < one.apply(confused)[3] - confused[3] < out[3] - confused[3]


def test_apply_takes_a_batch_of_windows():
    """``apply`` on (n, 4) equals it window by window (the VGMIDI simulation calls it so)."""
    cal = QuadrantCalibration()
    cal.bias = np.array([0.7, -0.2, 0.1, -0.6])
    p = np.random.default_rng(1).dirichlet(np.ones(4), 6)
    np.testing.assert_allclose(cal.apply(p), np.stack([cal.apply(x) for x in p]))


def test_save_load_and_reset(tmp_path):
    cal = QuadrantCalibration()
    for p, q in ((np.array([0.6, 0.2, 0.1, 0.1]), 2), (np.array([0.3, 0.3, 0.2, 0.2]), 2)):
        cal.add(p, q)
    cal.fit()
    path = tmp_path / "show.calibration.json"
    cal.save(path)
    cal.save(path)  # the previous file is kept
    assert (tmp_path / "show.calibration.json.bak").is_file()
    back = QuadrantCalibration.load(path)
    np.testing.assert_allclose(back.bias, cal.bias)
    assert back.n_examples == 2 and back.labels == cal.labels
    back.reset()
    assert back.n_examples == 0 and not back.bias.any()
    p = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(back.apply(p), p)


def test_an_example_weighs_the_seconds_it_stands_for(tmp_path):
    """The strength was chosen with one example per 2.048 s: four examples a quarter of that
    each pull as hard as one full one, so the rate of the marks does not change the
    calibration; weights survive a save, and a file saved before them counts each once."""
    from sonolux.inference.calibration import example_weight

    p = np.array([0.5, 0.1, 0.1, 0.3])
    one, four = QuadrantCalibration(l2=10.0), QuadrantCalibration(l2=10.0)
    one.add(p, 4)
    for _ in range(4):
        four.add(p, 4, example_weight(0.512))
    np.testing.assert_allclose(four.fit(), one.fit(), atol=1e-9)
    unweighted = QuadrantCalibration(l2=10.0)
    for _ in range(4):
        unweighted.add(p, 4)
    assert unweighted.fit()[3] > one.bias[3] > 0  # as before the weights: four times the pull
    path = tmp_path / "cal.json"
    four.save(path)
    np.testing.assert_allclose(QuadrantCalibration.load(path).fit(), one.bias, atol=1e-9)
    path.write_text(json.dumps({"version": 1, "bias": [0, 0, 0, 0],
                                "examples": [{"probs": p.tolist(), "quadrant": 4}]}))
    assert QuadrantCalibration.load(path).weights == [1.0]
    with pytest.raises(ValueError, match="weight=0"):
        one.add(p, 4, 0)


@pytest.mark.parametrize("text, match", [
    ("{not json", "not a readable JSON calibration file"),
    ('{"version": 7, "bias": [0, 0, 0, 0]}', "version=7"),
    ('{"version": 1, "bias": [0, 0, "x"]}', "'bias' must be 4 finite numbers"),
    ('{"version": 1, "bias": [0, 0, 0, 0], "examples": [{"probs": [1, 0], "quadrant": 2}]}',
     r"examples\[0\]"),
    ('{"version": 1, "bias": [0, 0, 0, 0], "examples": [{"probs": [1, 0, 0, 0], "quadrant": 2, "weight": -1}]}',
     r"examples\[0\] must be .*'weight': a positive number"),
])
def test_a_corrupt_file_is_a_clear_error_and_the_engine_runs_uncalibrated(tmp_path, text, match):
    from sonolux.inference.runtime import load_calibration

    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=match) as e:
        QuadrantCalibration.load(path)
    assert str(path) in str(e.value)
    cal, warning = load_calibration(path)
    assert cal.n_examples == 0 and not cal.bias.any()
    assert str(path) in warning and "uncalibrated" in warning


def test_the_operators_override_teaches_the_live_worker(tmp_path):
    pytest.importorskip("onnxruntime")
    import tiny_models
    from sonolux.operator_state import ControlState
    from sonolux.analysis import Analyzer
    from sonolux.inference.runtime import InferenceConfig, load_models, make_inference
    from sonolux.sources.synth import demo_track
    from sonolux.spec import StreamSpec

    spec = StreamSpec()
    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    path = tmp_path / "show.calibration.json"
    stage, worker = make_inference(models, InferenceConfig(calibration=path), keep_results=True)
    control = ControlState()
    worker.override = lambda: control.emotion_override
    analyzer = Analyzer(spec, override_state=control, inference_stage=stage)
    frame = analyzer.layout.new_frame()
    sig = demo_track(48000, bars=4)
    hop = spec.hop
    first = None
    for i in range(len(sig) // hop):
        if i == len(sig) // hop // 2:
            first = worker.results[-1]["raw"]["emotion"]["quadrant_probs"].argmax() + 1
            control.emotion_override = 1 + first % 4  # the operator disagrees with the model
        analyzer.process_hop(sig[i * hop:(i + 1) * hop], frame)
        worker.poll()
    wanted = 1 + first % 4
    assert worker.calibration.n_examples > 3 and set(worker.calibration.labels) == {wanted - 1}
    assert worker.calibration.bias[wanted - 1] > 0
    # one example per mark, each weighing the seconds it stands for (0.5 s of 2.048 s)
    assert worker.calibration.weights == [pytest.approx(0.5 / 2.048)] * worker.calibration.n_examples
    worker.calibration.save(path)
    assert json.loads(path.read_text())["examples"][0]["quadrant"] == wanted
    assert json.loads(path.read_text())["examples"][0]["weight"] == pytest.approx(0.5 / 2.048)
    assert json.loads(path.read_text())["model"] == {"name": "tiny-emotion", "version": "0.0.1"}
    _, again = make_inference(models, InferenceConfig(calibration=path))
    np.testing.assert_allclose(again.calibration.bias, worker.calibration.bias)
    # the operator resets it: at the next window the model's own answer again
    control.emotion_override = 0
    control.calibration_resets += 1
    worker.calibration_resets = lambda: control.calibration_resets
    n = len(sig) // hop
    for i in range(n, n + 2 * stage.every):
        analyzer.process_hop(sig[(i % n) * hop:(i % n + 1) * hop], frame)
        worker.poll()
    assert worker.calibration.n_examples == 0 and not worker.calibration.bias.any()
    assert worker.calibration_was_reset


def test_a_reset_calibration_is_saved_empty_at_stop(tmp_path):
    """``/sonolux/emotion/calibration/reset`` on a running engine: the worker forgets what the
    overrides taught and the show's file holds an empty calibration after the stop (before, a
    reset that left no examples would not have been saved and the old file came back); with no
    model the address is a clear error."""
    pytest.importorskip("onnxruntime")
    import tiny_models
    from conftest import wait_until
    from sonolux import Engine, StreamSpec
    from sonolux.app.control import Controls, engine_controls
    from sonolux.app.panel import Panel
    from sonolux.inference.runtime import InferenceConfig, calibration_model, load_models
    from sonolux.sources import SynthSource

    spec = StreamSpec()
    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    path = tmp_path / "show.calibration.json"
    taught = QuadrantCalibration(l2=1.0)
    taught.model = calibration_model(models["emotion"])["model"]
    for _ in range(5):
        taught.add(np.array([0.5, 0.1, 0.1, 0.3]), 4)
    taught.fit()
    taught.save(path)
    engine = Engine(spec, SynthSource("clicks:120", spec.sample_rate, spec.block_size), models=models,
                    inference=InferenceConfig(calibration=path))
    controls = Controls(engine_controls(engine))
    panel = Panel(engine, controls)  # its state only (not started): what the page shows
    with engine:
        assert engine.inference.calibration.n_examples == 5
        assert panel.state()["engine"]["calibration_s"] == pytest.approx(5 * 2.048, abs=0.05)
        assert controls.apply("/sonolux/emotion/calibration/reset", []) is None
        wait_until(lambda: engine.inference.calibration_was_reset, 30, "the worker applied the reset")
        assert panel.state()["engine"]["calibration_s"] == 0
    doc = json.loads(path.read_text())
    assert doc["examples"] == [] and doc["bias"] == [0.0, 0.0, 0.0, 0.0]
    plain = Engine(spec, SynthSource("clicks:120", spec.sample_rate, spec.block_size))
    assert "no emotion model runs" in Controls(engine_controls(plain)).apply("/sonolux/emotion/calibration/reset", [])
