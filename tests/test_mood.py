"""One consistent mood answer and honest first seconds (issue 16): the published quadrant
always agrees with the signs of the published valence/arousal, and confidence stays low until
the emotion model's window holds real audio."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("onnxruntime")

import tiny_models  # noqa: E402
from sonolux.offline import analyze_file  # noqa: E402
from sonolux.analysis import Analyzer  # noqa: E402
from sonolux.errors import ParameterError  # noqa: E402
from sonolux.inference.mood import (HELD, AxisHysteresis, confidence, quadrant_of,  # noqa: E402
                                    va_from_probs)
from sonolux.inference.runtime import InferenceConfig, load_models, make_inference  # noqa: E402
from sonolux.modelinput import FEATURE_CONTRACT  # noqa: E402
from sonolux.sources.synth import demo_track  # noqa: E402
from sonolux.spec import StreamSpec  # noqa: E402

SPEC = StreamSpec()
SIGNS = {1: (1, 1), 2: (-1, 1), 3: (-1, -1), 4: (1, -1)}


def agrees(quadrant: int, valence: float, arousal: float) -> bool:
    sv, sa = SIGNS[quadrant]
    return (valence >= 0) == (sv > 0) and (arousal >= 0) == (sa > 0)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tiny_models.model_dir(tmp_path_factory.mktemp("models"))
    loaded, _ = load_models(InferenceConfig(model_dir=d, device="cpu"))
    return loaded


def test_va_is_derived_from_the_probabilities_and_the_quadrant_from_its_signs():
    rng = np.random.default_rng(0)
    for p in rng.dirichlet(np.ones(4), 500):
        va = va_from_probs(p)
        assert va[0] == pytest.approx(p[0] + p[3] - p[1] - p[2])
        assert va[1] == pytest.approx(p[0] + p[1] - p[2] - p[3])
        assert agrees(quadrant_of(va), *va)
    assert quadrant_of(va_from_probs(np.array([0.0, 0.0, 1.0, 0.0]))) == 3
    assert quadrant_of(va_from_probs(np.array([0.0, 1.0, 0.0, 0.0]))) == 2


def test_axis_hysteresis_holds_a_flip_and_keeps_the_published_signs_consistent():
    h = AxisHysteresis(margin=0.1, hold_s=1.0)
    assert h(np.array([0.4, 0.4]), 0.0).tolist() == [0.4, 0.4]
    held = h(np.array([-0.05, 0.4]), 0.5)  # inside the band: held, published on the + side
    assert held[0] == HELD and quadrant_of(held) == 1
    held = h(np.array([-0.3, 0.4]), 1.0)  # a real lead, but not for hold_s yet
    assert held[0] == HELD
    flipped = h(np.array([-0.3, 0.4]), 2.0)  # held for 1 s: flips
    assert flipped[0] == -0.3 and quadrant_of(flipped) == 2
    rng = np.random.default_rng(1)
    for t in np.arange(0, 50, 0.5):  # whatever arrives, the published quadrant matches the signs
        out = h(rng.uniform(-1, 1, 2), t)
        assert agrees(quadrant_of(out), *out)
    with pytest.raises(ParameterError, match="margin=1.5"):
        AxisHysteresis(margin=1.5)


def test_confidence_is_the_quadrant_probability_times_the_fill():
    p = np.array([0.7, 0.1, 0.1, 0.1])
    assert confidence(p, 1, 1.0) == pytest.approx(0.7)
    assert confidence(p, 1, 0.25) == pytest.approx(0.175)
    assert confidence(p, 2, 0.0) == 0.0


def test_confidence_is_low_until_the_window_is_full(models):
    stage, worker = make_inference(models, InferenceConfig(every_s=0.5), keep_results=True)
    analyzer = Analyzer(SPEC, inference_stage=stage)
    frame = analyzer.layout.new_frame()
    sig = demo_track(48000, bars=4)  # 8 s
    hop = SPEC.hop
    seen = []
    for i in range(len(sig) // hop):
        analyzer.process_hop(sig[i * hop:(i + 1) * hop], frame)
        if worker.poll():
            seen.append((frame["prediction_age"], frame["emotion_fill"], frame["emotion_confidence"]))
    preds = [r["prediction"] for r in worker.results]
    assert len(preds) >= 14
    window_s = FEATURE_CONTRACT["emotion_frames"] * FEATURE_CONTRACT["hop"] / FEATURE_CONTRACT["sample_rate"]
    for p in preds:
        want_fill = min(1.0, p.t / window_s)
        assert p.fill == pytest.approx(want_fill, abs=0.02)  # the window's share of real audio
        assert 0.0 <= p.confidence <= p.fill + 1e-9
        assert p.confidence == pytest.approx(p.probs[p.quadrant - 1] * p.fill)
        assert agrees(p.quadrant, p.valence, p.arousal)
    early = [p for p in preds if p.t < 1.01]
    assert early and all(p.confidence <= 0.26 for p in early)
    assert all(p.fill == 1.0 for p in preds if p.t >= window_s + 0.01)
    # the frames carry the newest prediction's fill and confidence
    assert frame["emotion_fill"] == preds[-1].fill and frame["emotion_confidence"] == pytest.approx(preds[-1].confidence)


def test_analyze_json_carries_confidence_and_a_consistent_timeline(models, tmp_path):
    wav = tmp_path / "demo.wav"
    sf.write(wav, demo_track(48000, bars=3), 48000, subtype="FLOAT")
    doc = analyze_file(wav, spec=SPEC, models=models)
    e = doc["emotion"]
    assert 0.0 <= e["confidence"] <= 1.0 and 0.0 < e["fill"] <= 1.0
    assert agrees(int(e["quadrant"][1]), e["valence"], e["arousal"])
    timeline = doc["timeline"]
    assert timeline
    agreement = np.mean([agrees(int(x["quadrant"][1]), x["valence"], x["arousal"]) for x in timeline])
    assert agreement == 1.0
    assert timeline[0]["confidence"] < timeline[-1]["fill"] and timeline[0]["fill"] < 0.2


def test_tags_from_the_emotion_trunk_replace_the_tagger(tmp_path):
    from sonolux.inference.runtime import tag_labels

    d = tiny_models.model_dir(tmp_path)
    tiny_models.emotion_model(d / "emotion.onnx", with_tags=True)
    loaded, warnings = load_models(InferenceConfig(model_dir=d, device="cpu"))
    assert warnings == [] and set(loaded) == {"emotion", "latent"}  # tagger.onnx not loaded
    assert tag_labels(loaded) == tiny_models.TAGS
    wav = tmp_path / "demo.wav"
    sf.write(wav, demo_track(48000, bars=2), 48000, subtype="FLOAT")
    doc = analyze_file(wav, spec=SPEC, models=loaded)
    assert list(doc["tags"]) == tiny_models.TAGS and all(0 < p < 1 for p in doc["tags"].values())
    assert doc["timeline"] and len(doc["timeline"][-1]["tags"]) == 5


def test_an_unknown_extra_output_is_rejected(tmp_path):
    import onnx

    from sonolux.errors import ModelError
    from sonolux.inference.models import load_model

    path = tiny_models.emotion_model(tmp_path / "emotion.onnx", with_tags=True)
    m = onnx.load(str(path))
    m.graph.output[2].name = "mystery"
    for n in m.graph.node:
        n.output[:] = ["mystery" if o == "tags" else o for o in n.output]
    onnx.save(m, str(path))
    with pytest.raises(ModelError, match="optionally followed by"):
        load_model(path, device="cpu")


def test_preset_mood_parameters_fade_in_with_the_window_fill():
    from sonolux.frame import FrameLayout
    from sonolux.visual.params import ParamMapper, validate_config

    cfg = validate_config({"preset": "mood_probe", "parameters": [
        {"name": "hue", "source": "valence", "in": [-1, 1], "min": 0.0, "max": 1.0, "default": 0.5},
        {"name": "gain", "source": "level", "min": 0.0, "max": 1.0}]}, "mem.json")
    layout = FrameLayout()
    for n in ("valence", "level", "emotion_fill", "emotion_override"):
        layout.add_scalar(n)
    frame = layout.new_frame()
    frame.values[layout.scalars["valence"]] = 1.0
    frame.values[layout.scalars["level"]] = 1.0
    values = []
    for k, fill in enumerate((0.0, 0.25, 1.0)):
        frame.values[layout.scalars["emotion_fill"]] = fill
        values.append(ParamMapper(cfg).update(frame, t=float(k)))
    assert [v.hue for v in values] == pytest.approx([0.5, 0.625, 1.0])  # default → the model's
    assert all(v.gain == pytest.approx(1.0) for v in values)  # other sources are not faded
    frame.values[layout.scalars["emotion_fill"]] = 0.0
    frame.values[layout.scalars["emotion_override"]] = 2  # the operator is sure
    assert ParamMapper(cfg).update(frame, t=5.0).hue == pytest.approx(1.0)
