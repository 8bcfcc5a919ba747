"""Streaming inference: contract checks, the worker's scheduling and skipping, smoothing and
hysteresis, analyze == live, OSC out, and running without models. Uses tiny ONNX models
built here (tests/tiny_models.py); the shipped models have their own test below."""
import shutil
import time

import numpy as np
import pytest
import soundfile as sf

import tiny_models
from conftest import ROOT, run_sonolux, wait_until
from sonolux import Engine, ModelError, ParameterError, StreamSpec
from sonolux.offline import analyze_file
from sonolux.analysis import Analyzer
from sonolux.inference.models import load_model
from sonolux.inference.runtime import InferenceConfig, load_models, make_inference
from sonolux.inference.smoothing import Ema, OneEuro
from sonolux.inference.stage import EMOTION_FIELDS
from sonolux.modelinput import FEATURE_CONTRACT
from sonolux.outputs.osc import build_targets
from sonolux.sources import ArraySource, SynthSource
from sonolux.sources.synth import demo_track

SPEC = StreamSpec()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_models.model_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def models(tiny):
    loaded, warnings = load_models(InferenceConfig(model_dir=tiny, device="cpu"))
    assert warnings == [] and set(loaded) == {"emotion", "tags", "latent"}
    return loaded


# -- contract checks --------------------------------------------------------------------

def test_corrupt_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "emotion.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelError, match=r"emotion.onnx: not a readable ONNX model"):
        load_model(bad)


def test_missing_contract_is_rejected(tmp_path):
    import onnx

    p = tiny_models.latent_model(tmp_path / "latent.onnx")
    m = onnx.load(str(p))
    del m.metadata_props[:]
    onnx.save(m, str(p))
    with pytest.raises(ModelError, match="no 'sonolux_contract'"):
        load_model(p)


def test_feature_mismatch_names_the_field(tmp_path):
    features = dict(FEATURE_CONTRACT, n_mels=64)
    p = tiny_models.emotion_model(tmp_path / "emotion.onnx", n_mels=64, features=features)
    with pytest.raises(ModelError, match=r"feature contract mismatch: n_mels=64, the engine computes n_mels=96"):
        load_model(p)


def test_window_mismatch_is_rejected(tmp_path):
    p = tiny_models.emotion_model(tmp_path / "emotion.onnx", frames=100)
    with pytest.raises(ModelError, match=r"window_frames=100, the engine's emotion window is 250"):
        load_model(p)


def test_wrong_task_for_file_name(tmp_path):
    p = tiny_models.latent_model(tmp_path / "emotion.onnx")
    with pytest.raises(ModelError, match=r"task='latent', expected 'emotion'"):
        load_model(p, expect_task="emotion")


def test_corrupt_model_is_a_warning_and_the_run_goes_on(tmp_path, tiny):
    d = tmp_path / "m"
    d.mkdir()
    (d / "tagger.onnx").write_bytes(b"not onnx")
    shutil.copy(tiny / "emotion.onnx", d / "emotion.onnx")
    res = run_sonolux("run", "--input", "synth", "--models", str(d), "--duration", "1", timeout=60)
    assert res.returncode == 0, res.stderr
    warn = [line for line in res.stderr.splitlines() if "warning" in line and "tagger.onnx" in line]
    assert len(warn) == 1 and "not a readable ONNX model" in warn[0] and "running without the tags model" in warn[0]
    assert "Traceback" not in res.stderr and "frames" in res.stderr
    listing = run_sonolux("models", "--models", str(d))
    assert listing.returncode == 1 and "tags" in listing.stdout and "ERROR" in listing.stdout
    ok = run_sonolux("models", "--models", str(tiny))
    assert ok.returncode == 0 and ok.stdout.count("CPUExecutionProvider") == 3


def test_runs_with_a_warning_when_models_are_missing(tmp_path):
    res = run_sonolux("run", "--input", "synth", "--models", str(tmp_path), "--duration", "1", timeout=60)
    assert res.returncode == 0, res.stderr
    warn = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warn) == 1 and "no emotion, tags, latent model" in warn[0]
    quiet = run_sonolux("run", "--input", "synth", "--no-models", "--duration", "1", timeout=60)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr


def test_the_device_reaches_the_providers(tiny, monkeypatch):
    """``--device`` goes to onnxruntime's provider choice as given: ``auto`` asks for the GPU
    first where there is one (measured faster than the CPU once the streaming model keeps a
    session per input length, benchmarks/results/gpu/), then the CPU; here, the CPU."""
    import sonolux.inference.models as models_mod

    asked = []
    real = models_mod.providers_for
    monkeypatch.setattr(models_mod, "providers_for", lambda device: asked.append(device) or real(device))
    loaded, _ = load_models(InferenceConfig(model_dir=tiny, device="auto"))
    assert set(loaded) == {"emotion", "tags", "latent"} and set(asked) == {"auto"}
    assert models_mod.providers_for("auto")[-1] == "CPUExecutionProvider"
    asked.clear()
    load_models(InferenceConfig(model_dir=tiny, device="cpu"))
    assert set(asked) == {"cpu"}


# -- the worker ---------------------------------------------------------------------------

def run_hops(analyzer, signal):
    frame = analyzer.layout.new_frame()
    hop = SPEC.hop
    for i in range(len(signal) // hop):
        analyzer.process_hop(signal[i * hop:(i + 1) * hop], frame)
    return frame


def test_marks_every_half_second_and_newest_window_wins(models):
    stage, worker = make_inference(models, InferenceConfig(every_s=0.5), keep_results=True)
    analyzer = Analyzer(SPEC, inference_stage=stage)
    run_hops(analyzer, demo_track(48000, bars=2)[:48000 * 3])  # 3 s, the worker never ran
    every = stage.every
    assert every == round(0.5 * SPEC.frame_rate)
    assert stage.mark_seq + 1 == (48000 * 3 // SPEC.hop) // every
    assert worker.poll() and not worker.poll()  # runs once: only the newest mark
    assert worker.skipped == stage.mark_seq and worker.windows == 1
    # all audio up to the mark went through the resampler into the features, nothing was dropped
    consumed, produced = worker.resampler.state
    assert consumed == stage.mark_pos[stage.mark_seq % 64]
    assert worker.features.n_frames == produced // FEATURE_CONTRACT["hop"]
    assert worker.results[0]["t"] == pytest.approx(stage.mark_t[stage.mark_seq % 64])


def test_a_worker_lapped_by_the_history_starts_again_from_the_newest_audio(models):
    """The history ring never refuses the analysis a hop: a worker so late that the audio it
    needed was overwritten resets its features, counts it, and goes on from the newest audio."""
    stage, worker = make_inference(models, InferenceConfig(every_s=0.5))
    stage.buffer_s = 2.0  # a short history: 3 s without the worker laps it
    analyzer = Analyzer(SPEC, inference_stage=stage)
    sig = demo_track(48000, bars=3)
    run_hops(analyzer, sig[:48000 * 3])
    assert stage.ring.lapped()
    assert worker.poll() and worker.resets == 1 and worker.features.n_frames == 0
    hop = SPEC.hop
    for i in range(48000 * 3 // hop, len(sig) // hop):  # keeping up again
        analyzer.process_hop(sig[i * hop:(i + 1) * hop], analyzer.layout.new_frame())
        worker.poll()
    assert worker.resets == 1 and worker.windows > 5
    produced = worker.resampler.state[1]  # 16 kHz samples since the reset
    assert worker.features.n_frames == produced // FEATURE_CONTRACT["hop"] > 0


def test_warm_up_runs_each_model_once_on_its_own_stream_and_leaves_no_trace(models, monkeypatch):
    """The engine warms the worker before the stream opens (a first run after an install
    compiles the model-input kernels then, not while audio flows): every model runs once, on a
    throwaway stream; the worker's own stream, state and results are as if it had not."""
    def run(warm):
        stage, worker = make_inference(models, InferenceConfig(every_s=0.5), keep_results=True)
        analyzer = Analyzer(SPEC, inference_stage=stage)
        if warm:
            calls = []
            for task, model in models.items():
                monkeypatch.setattr(model, "infer", lambda stream, m=model, task=task:
                                    calls.append((task, stream, stream.n_frames)) or type(m).infer(m, stream))
            worker.warm_up()
            monkeypatch.undo()
            assert sorted(c[0] for c in calls) == sorted(models)
            assert all(stream is not worker.features and n > 0 for _, stream, n in calls)
            assert worker.features.n_frames == 0 and worker.resampler is None and worker.windows == 0
        sig = demo_track(48000, bars=2)
        hop = SPEC.hop
        for i in range(len(sig) // hop):
            analyzer.process_hop(sig[i * hop:(i + 1) * hop], analyzer.layout.new_frame())
            worker.poll()
        return worker.results

    cold, warmed = run(False), run(True)
    assert len(cold) == len(warmed) > 3
    for a, b in zip(cold, warmed):
        for task in a["raw"]:
            for k in a["raw"][task]:
                np.testing.assert_array_equal(a["raw"][task][k], b["raw"][task][k])


def test_engine_warms_the_models_before_the_source_starts(models, monkeypatch):
    order = []
    source = ArraySource(demo_track(48000, bars=1), 48000, SPEC.block_size)
    engine = Engine(SPEC, source, models=models)
    monkeypatch.setattr(engine.inference, "warm_up", lambda: order.append("models"))
    real_start = source.start
    monkeypatch.setattr(source, "start", lambda ring: order.append("source") or real_start(ring))
    with engine:
        wait_until(lambda: engine.finished, 30, "the end of the clip")
    assert order == ["models", "source"]


def test_frames_carry_prediction_and_age(models):
    stage, worker = make_inference(models, InferenceConfig())
    analyzer = Analyzer(SPEC, inference_stage=stage)
    frame = analyzer.layout.new_frame()
    sig = demo_track(48000, bars=2)
    hop = SPEC.hop
    for i in range(len(sig) // hop):
        analyzer.process_hop(sig[i * hop:(i + 1) * hop], frame)
        worker.poll()
    assert frame["prediction_age"] >= 0 and frame["prediction_age"] < 0.5 + 1e-9
    assert 1 <= frame["quadrant"] <= 4
    assert abs(sum(frame[f"q{k}"] for k in range(1, 5)) - 1) < 1e-5
    assert frame["tags"].shape == (50,) and frame["latent"].shape == (10,)
    assert np.all((frame["latent"] > 0) & (frame["latent"] < 1))


def test_every_mailbox_slot_follows_predictions_and_the_override(models):
    """A slot is rewritten only when it holds another prediction (``prediction_id``): each
    new prediction still reaches every slot, and when the operator lets go of an override
    the slots show the models' mood again, not the override's."""
    from sonolux.operator_state import ControlState
    from sonolux.frame import Mailbox

    stage, worker = make_inference(models, InferenceConfig())
    control = ControlState()
    analyzer = Analyzer(SPEC, override_state=control, inference_stage=stage)
    mailbox = Mailbox(analyzer.layout)
    sig = demo_track(48000, bars=2)
    hop, n = SPEC.hop, len(sig) // SPEC.hop
    mood = list(EMOTION_FIELDS)  # valence … q4, emotion_confidence, emotion_fill

    def hops(k, start, poll=True):
        for i in range(start, start + k):
            frame = mailbox.begin()
            analyzer.process_hop(sig[(i % n) * hop:(i % n + 1) * hop], frame)
            mailbox.publish(frame)
            if poll:
                worker.poll()
        return start + k

    def check_slots():  # every slot shows the newest prediction
        p = stage.latest
        for frame in mailbox._slots:
            assert frame["prediction_id"] == p.id and frame["emotion_override"] == 0
            assert [frame[f] for f in mood] == pytest.approx(list(p.scalars))
            np.testing.assert_array_equal(frame["tags"], p.tags)
            np.testing.assert_array_equal(frame["latent"], p.latent)

    slots = len(mailbox._slots)
    i = hops(150, 0)
    first = stage.latest.id
    i = hops(slots, i, poll=False)
    check_slots()
    control.emotion_override = 3  # Q3: sad
    i = hops(200, i)  # two predictions arrive meanwhile
    for frame in mailbox._slots:
        assert frame["quadrant"] == 3 and frame["q3"] == 1.0 and frame["prediction_id"] == -1
    control.emotion_override = 0
    i = hops(slots, i, poll=False)
    check_slots()
    assert stage.latest.id > first


def test_hop_of_the_wrong_size_is_a_clear_error():
    analyzer = Analyzer(SPEC)
    with pytest.raises(ParameterError, match=r"hop has 100 samples, expected hop=256"):
        analyzer.process_hop(np.zeros(100, np.float32), analyzer.layout.new_frame())


def test_slow_model_windows_are_skipped_not_queued(models, monkeypatch):
    """A model slower than the window rate: the worker jumps to the newest window, the
    analysis keeps real time and no audio block is dropped."""
    slow = dict(models)
    real_run = slow["emotion"].run

    def sluggish(inputs):
        time.sleep(0.35)
        return real_run(inputs)

    monkeypatch.setattr(slow["emotion"], "run", sluggish)
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size), models=slow,
                    inference=InferenceConfig(every_s=0.1))
    with engine:
        t0 = time.monotonic()
        wait_until(lambda: engine.inference.skipped > 5, 30, "more than 5 windows skipped")
        wait_until(lambda: engine.stats().t >= 3.0, 30, "3 s of audio analysed")
        elapsed = time.monotonic() - t0
        stats = engine.stats()
    # one window per 0.35 s at most: the newest is taken, none queued (+ the one in flight and
    # the last window, drained at stop)
    assert engine.inference.windows <= elapsed / 0.35 + 2, (engine.inference.windows, elapsed)
    assert stats.dropped_blocks == 0  # the analysis kept pace with the real-time source


# -- smoothing ----------------------------------------------------------------------------

def test_ema_follows_a_step_with_its_time_constant():
    ema = Ema(tau_s=2.0)
    ema(np.array([0.0]), 0.0)
    v = ema(np.array([1.0]), 2.0)
    assert v[0] == pytest.approx(1 - np.exp(-1))


def test_one_euro_is_smooth_when_steady_and_fast_on_jumps():
    f = OneEuro()
    rng = np.random.default_rng(0)
    out = [f(np.array([0.5 + 0.05 * rng.standard_normal()]), 0.5 * i)[0] for i in range(40)]
    assert np.std(out[10:]) < 0.03
    jump = [f(np.array([1.0]), 20 + 0.5 * i)[0] for i in range(6)]
    assert jump[-1] > 0.9


# -- analyze == live -------------------------------------------------------------------------

def test_analyze_equals_a_live_run(models, tmp_path):
    sig = demo_track(48000, bars=3)  # 6 s
    wav = tmp_path / "demo.wav"
    sf.write(wav, sig, 48000, subtype="FLOAT")
    doc = analyze_file(wav, spec=SPEC, models=models)
    engine = Engine(SPEC, ArraySource(sig, 48000, 256, realtime=True), models=models)
    engine.inference.keep_results = True
    with engine:
        assert engine.wait(30)
    live = engine.inference.results
    assert engine.inference.skipped == 0
    offline_t = [e["t"] for e in doc["timeline"]]
    assert [round(r["t"], 4) for r in live] == offline_t
    for r, e in zip(live, doc["timeline"]):
        assert r["prediction"].valence == pytest.approx(e["valence"], abs=1e-4)
        assert r["prediction"].arousal == pytest.approx(e["arousal"], abs=1e-4)
        assert f"Q{r['prediction'].quadrant}" == e["quadrant"]
    assert set(doc["emotion"]) >= {"valence", "arousal", "quadrant", "probs"}
    assert len(doc["tags"]) == 50 and doc["emotion"]["quadrant"] in ("Q1", "Q2", "Q3", "Q4")


def test_analyze_json_from_the_cli(tiny, tmp_path):
    import json

    wav = tmp_path / "demo.wav"
    sf.write(wav, demo_track(48000, bars=2), 48000)
    res = run_sonolux("analyze", str(wav), "--json", "--models", str(tiny), timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    for key in ("file", "sample_rate", "duration_s", "tempo", "beats", "onsets", "emotion", "tags",
                "timeline", "regions"):
        assert key in doc
    assert doc["timeline"] and {"t", "valence", "arousal", "quadrant", "tags"} <= set(doc["timeline"][0])


# -- OSC --------------------------------------------------------------------------------------

def test_emotion_tags_latent_reach_oscdump(models, oscdump):
    dump = oscdump()
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size), models=models,
                    osc_targets=build_targets([f"127.0.0.1:{dump.port}"]))
    wanted = {"/sonolux/emotion/valence", "/sonolux/emotion/arousal", "/sonolux/emotion/q1",
              "/sonolux/emotion/q4", "/sonolux/latent/0", "/sonolux/latent/9"}

    def arrived(m):
        addrs = {a for _, a, _, _ in m}
        quad = [v[0] for _, a, _, v in m if a == "/sonolux/emotion/quadrant"]
        return wanted <= addrs and len({a for a in addrs if a.startswith("/sonolux/tags/")}) >= 5 \
            and quad and quad[-1] >= 1

    with engine:
        dump.wait_for(arrived, 30, "mood, latent and tag messages")
    msgs = dump.stop()
    assert msgs
    addrs = {a for _, a, _, _ in msgs}
    for a in ("/sonolux/emotion/valence", "/sonolux/emotion/arousal", "/sonolux/emotion/quadrant",
              "/sonolux/emotion/q1", "/sonolux/emotion/q4", "/sonolux/emotion/confidence",
              "/sonolux/latent/0", "/sonolux/latent/9"):
        assert a in addrs, (a, sorted(addrs))
    tag_addrs = {a for a in addrs if a.startswith("/sonolux/tags/")}
    assert 5 <= len(tag_addrs) <= 15 and all(" " not in a for a in tag_addrs)
    quad = [v for _, a, t, v in msgs if a == "/sonolux/emotion/quadrant"]
    assert all(t == "is" for _, a, t, _ in msgs if a == "/sonolux/emotion/quadrant")
    assert all(0 <= q[0] <= 4 for q in quad) and 1 <= quad[-1][0] <= 4  # 0 "unknown" before the first window
    conf = [v[0] for _, a, _, v in msgs if a == "/sonolux/emotion/confidence"]
    assert conf and all(0.0 <= c <= 1.0 for c in conf)


# -- the shipped models -------------------------------------------------------------------------

SHIPPED = ROOT / "models_onnx"


@pytest.mark.skipif(not (SHIPPED / "emotion.onnx").exists(), reason="no shipped models in models_onnx/ yet")
def test_shipped_models_separate_bright_fast_major_from_slow_soft_minor(tmp_path):
    from render_fixtures import render_mood_pair

    happy, sad = render_mood_pair(tmp_path)
    loaded, _ = load_models(InferenceConfig(model_dir=SHIPPED, device="cpu"))
    a = analyze_file(happy, models=loaded)["emotion"]
    b = analyze_file(sad, models=loaded)["emotion"]
    assert a["quadrant"] != b["quadrant"], (a, b)
    assert a["arousal"] > b["arousal"]
