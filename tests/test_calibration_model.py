"""A per-show calibration corrects one emotion model's probabilities: a file records the model
it was fitted with, and a file fitted with another model (emotion v2.1's, say, after the
upgrade to v2.2, which normalises its input level) is refused with a clear message while the
model runs uncalibrated; a file from before model records still works with a model that reads
the raw log-mel as those did."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from sonolux.inference.calibration import CalibrationModelMismatch, QuadrantCalibration
from sonolux.inference.runtime import calibration_model, load_calibration

LEVEL = {"kind": "running_level", "tau_s": 3.0, "reference_db": -2.32, "gate_db": -80.0}
V21 = SimpleNamespace(name="sonolux-emotion-musicnn-stream", contract={"version": "2.1.0"})
V22 = SimpleNamespace(name="sonolux-emotion-musicnn-stream",
                      contract={"version": "2.2.0", "input_normalisation": LEVEL})


def _taught(path, model=None):
    cal = QuadrantCalibration()
    cal.model = model
    for _ in range(3):
        cal.add(np.array([0.5, 0.1, 0.1, 0.3]), 4)
    cal.fit()
    cal.save(path)
    return cal


def test_a_saved_calibration_records_its_model_and_loads_with_it(tmp_path):
    path = tmp_path / "show.calibration.json"
    cal, warning = load_calibration(path, emotion=V22)  # a new show: empty, stamped
    assert warning is None and cal.model == {"name": V22.name, "version": "2.2.0"}
    taught = _taught(path, cal.model)
    assert json.loads(path.read_text())["model"] == {"name": V22.name, "version": "2.2.0"}
    back, warning = load_calibration(path, emotion=V22)
    assert warning is None
    np.testing.assert_allclose(back.bias, taught.bias)


@pytest.mark.parametrize("saved_with, loaded, words", [
    ({"name": V21.name, "version": "2.1.0"}, V22, "key 'model' = sonolux-emotion-musicnn-stream 2.1.0"),
    (None, V22, "saved without a model record (before emotion v2.2)"),
    ({"name": V22.name, "version": "2.2.0"}, V21, "fitted with another emotion model than the loaded "
                                                   "sonolux-emotion-musicnn-stream 2.1.0"),
])
def test_a_calibration_of_another_model_is_refused_and_the_mood_runs_uncalibrated(tmp_path, saved_with,
                                                                                 loaded, words):
    path = tmp_path / "show.calibration.json"
    _taught(path, saved_with)
    with pytest.raises(CalibrationModelMismatch) as e:
        QuadrantCalibration.load(path, **calibration_model(loaded))
    assert str(e.value).startswith(f"{path}: ") and words in str(e.value)
    assert "teach it again" in str(e.value)
    cal, warning = load_calibration(path, emotion=loaded)
    assert not cal.bias.any() and cal.n_examples == 0
    assert words in warning and warning.endswith("the mood runs uncalibrated")
    assert cal.model == {"name": loaded.name, "version": loaded.contract["version"]}  # the next save is right
    assert json.loads(path.read_text())["examples"]  # the file itself is left alone


def test_a_calibration_from_before_model_records_still_works_with_a_raw_input_model(tmp_path):
    path = tmp_path / "show.calibration.json"
    taught = _taught(path)  # no model record, as saved before v2.2
    assert "model" not in json.loads(path.read_text())
    back, warning = load_calibration(path, emotion=V21)
    assert warning is None
    np.testing.assert_allclose(back.bias, taught.bias)


def test_the_run_warns_once_at_start_when_the_calibration_belongs_to_another_model(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import tiny_models
    from sonolux.app.options import inference_setup
    from sonolux.inference.runtime import make_inference

    folder = tiny_models.model_dir(tmp_path)
    path = tmp_path / "show.calibration.json"
    _taught(path, {"name": "another-emotion-model", "version": "9.9"})
    args = SimpleNamespace(models=folder, device="cpu", model_threads=1, inference_every=0.5,
                           smoothing="ema", mood_calibration=path, no_models=False)
    models, cfg = inference_setup(args)
    warnings = capsys.readouterr().err.splitlines()
    assert [w for w in warnings if "another-emotion-model 9.9" in w and str(path) in w]
    _, worker = make_inference(models, cfg)
    assert not worker.calibration.bias.any() and "another-emotion-model" in worker.calibration_warning
