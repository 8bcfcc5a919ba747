"""``export.train_emotion_musicnn --train-folds``: the shipped recipe with heads fit on some
folds only, for benchmarks that must run on music the emotion model never heard. The
argument checks need nothing; the export itself needs torch, the converted musicnn weights
and the cached embeddings (git-ignored: it skips without them, saying which)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA  # $SONOLUX_DATA or ../shared/data

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "export" / "work" / "musicnn" / "MSD_musicnn.npz"

pytest.importorskip("torch", reason="torch is the export extra (pip install -e .[export])")


@pytest.mark.parametrize("argv, said", [
    (["--train-folds", "0,1"], "must not replace the shipped one"),  # --out defaults to models_onnx
    (["--train-folds", "0,7", "--out", "/tmp/x"], "out of 0-4"),
    (["--train-folds", "a", "--out", "/tmp/x"], "comma-separated folds"),
    (["--train-folds", ""], "comma-separated folds"),  # an empty list never means the full training
])
def test_train_folds_refuses_the_shipped_folder_and_bad_folds(argv, said):
    from export.train_emotion_musicnn import main

    with pytest.raises(SystemExit, match=said):
        main(argv)


def test_a_model_on_two_folds_has_seen_only_their_clips(tmp_path):
    from export.musicnn_embed import embedding_path

    if not WEIGHTS.is_file():
        pytest.skip("musicnn weights not converted (run export/musicnn_tf.py weights)")
    if not embedding_path("MSD_musicnn", 250, 128, "running_level").is_file():
        pytest.skip("embeddings not cached (python -m export.musicnn_embed --input-normalisation running_level)")
    from export.train_emotion_musicnn import main
    from sonolux.inference.models import load_model

    rep = main(["--data", str(DATA), "--train-folds", "1,0", "--out", str(tmp_path)])
    assert rep["train_folds"] == [0, 1] and rep["clips"] == 240  # 120 clips per fold
    shipped = json.loads((ROOT / "models_onnx" / "emotion_musicnn_metrics.json").read_text())
    assert rep["choice"] == shipped["choice"]  # the recipe is the shipped one, not chosen again
    model = load_model(tmp_path / "emotion.onnx", device="cpu", expect_task="emotion")
    assert model.contract["version"] == "2.2.0" and "folds 0, 1 only" in model.contract["training_data"]
    assert "240 clips" in model.contract["tags_head"] and model.contract["training_folds"] == [0, 1]


def test_all_five_folds_rebuild_the_shipped_model_exactly(tmp_path):
    """The recipe is the shipped one: fit on every fold it gives the shipped graph's outputs
    bit for bit, so a model on fewer folds differs from it by the clips it heard and nothing else."""
    import numpy as np
    import onnxruntime as ort

    from export.musicnn_embed import embedding_path

    if not WEIGHTS.is_file():
        pytest.skip("musicnn weights not converted (run export/musicnn_tf.py weights)")
    if not embedding_path("MSD_musicnn", 250, 128, "running_level").is_file():
        pytest.skip("embeddings not cached (python -m export.musicnn_embed --input-normalisation running_level)")
    from export.train_emotion_musicnn import main

    main(["--data", str(DATA), "--train-folds", "0,1,2,3,4", "--out", str(tmp_path)])
    shipped = ort.InferenceSession(str(ROOT / "models_onnx" / "emotion.onnx"), providers=["CPUExecutionProvider"])
    rebuilt = ort.InferenceSession(str(tmp_path / "emotion.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    feeds = {i.name: rng.normal(-30, 15, [d if isinstance(d, int) else 158 for d in i.shape]).astype(np.float32)
             for i in shipped.get_inputs()}
    for want, got in zip(shipped.run(None, feeds), rebuilt.run(None, feeds)):
        np.testing.assert_array_equal(got, want)


def test_the_region_benchmark_says_what_its_emotion_model_heard():
    """benchmarks/segmentation.py writes which clips the emotion model behind its cues was
    fit on: the shipped model's reporting-fold mood is in sample, a --train-folds one's is not."""
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from segmentation import emotion_caveat

    from sonolux.inference.models import load_model

    shipped = load_model(ROOT / "models_onnx" / "emotion.onnx", device="cpu", expect_task="emotion")
    assert "optimistic" in emotion_caveat({"emotion": shipped})
    part = SimpleNamespace(contract={"training_data": "emotion4q: 240 clips (folds 0, 1 only)",
                                     "training_folds": [0, 1]})
    said = emotion_caveat({"emotion": part})
    assert "out of sample" in said and "folds 0, 1 only" in said and "optimistic" not in said
    assert "no emotion model" in emotion_caveat({})
