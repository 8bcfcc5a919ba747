"""The streaming emotion model (sonolux.inference.stream): the shipped emotion.onnx runs its
trunk once per frame, so how the stream is cut into calls must not change what it says, and
a broken stream table is a clear load error."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sonolux.errors import ModelError
from sonolux.inference.models import default_model_dir, load_model
from sonolux.modelinput import SR, FeatureStream

SHIPPED = default_model_dir() / "emotion.onnx"


@pytest.fixture(scope="module")
def model():
    if not SHIPPED.is_file():
        pytest.skip("no shipped emotion model")
    m = load_model(SHIPPED, device="cpu")
    if not hasattr(m, "infer") or "stream" not in m.contract:
        pytest.skip("the shipped emotion model is a window model")
    return m


def _music(seconds: float, seed: int = 0) -> np.ndarray:
    """Chords with a pulse and a little noise: enough structure to move the trunk."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    for k, f in enumerate((220.0, 277.2, 329.6, 440.0)):
        y += np.sin(2 * np.pi * f * (1 + 0.5 * (t // 2 % 2)) * t + k) / (k + 2)
    y *= 0.5 + 0.5 * (np.sin(2 * np.pi * 2.0 * t) > 0)
    return (0.3 * y + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _stream_through(model, y: np.ndarray, chunk_frames: int) -> list[dict]:
    """Outputs after every ``chunk_frames`` frames (and at the end) of a new stream."""
    stream = FeatureStream(model.history_frames)
    hop = 256
    outs = []
    for start in range(0, len(y), chunk_frames * hop):
        stream.push(y[start:start + chunk_frames * hop])
        outs.append((stream.n_frames, {k: v.copy() for k, v in model.infer(stream).items()}))
    return outs


def test_how_the_stream_is_cut_into_calls_does_not_change_the_answer(model):
    y = _music(12.0)
    every_mark = _stream_through(model, y, 31)  # one call per 0.5 s mark
    one_by_one = dict(_stream_through(model, y, 1))
    assert len(every_mark) > 20
    for n, out in every_mark:
        ref = one_by_one[n]
        for k in out:
            np.testing.assert_allclose(out[k], ref[k], atol=2e-4, err_msg=f"{k} after {n} frames")
    late = _stream_through(model, y, 200)  # a worker that fell behind: one call per 3.2 s
    final = dict(every_mark)[late[-1][0]]
    for k, v in late[-1][1].items():
        np.testing.assert_allclose(v, final[k], atol=2e-4, err_msg=k)


def test_a_fresh_stream_is_the_silence_it_starts_from_and_music_moves_it(model):
    silent = model.silence_outputs()
    stream = FeatureStream(model.history_frames)
    stream.push(np.zeros(SR * 2, np.float32))
    for k, v in model.infer(stream).items():
        np.testing.assert_allclose(v, silent[k], atol=1e-5, err_msg=k)
    stream.push(_music(6.0))
    moved = model.infer(stream)
    assert np.abs(moved["quadrant_probs"] - silent["quadrant_probs"]).max() > 1e-3
    p = moved["quadrant_probs"][0]
    assert p.shape == (4,) and abs(p.sum() - 1) < 1e-4
    np.testing.assert_allclose(moved["va"][0], p @ np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]),
                               atol=1e-5)


def test_a_stream_reset_resets_the_model(model):
    stream = FeatureStream(model.history_frames)
    stream.push(_music(3.0, seed=1))
    model.infer(stream)
    stream.reset()  # then more frames than before: the reset is seen all the same
    stream.push(_music(5.0))
    after_reset = {k: v.copy() for k, v in model.infer(stream).items()}
    fresh = _stream_through(model, _music(5.0), 10_000)[-1][1]
    for k in fresh:
        np.testing.assert_allclose(after_reset[k], fresh[k], atol=2e-4, err_msg=k)


def test_two_streams_on_one_model_do_not_share_a_past(model):
    """An offline analysis and a live run may share one loaded model."""
    a, b = FeatureStream(model.history_frames), FeatureStream(model.history_frames)
    a.push(_music(6.0, seed=2))
    model.infer(a)
    b.push(_music(2.0))  # fewer frames than a has seen
    fresh = _stream_through(model, _music(2.0), 10_000)[-1][1]
    for k, v in model.infer(b).items():
        np.testing.assert_allclose(v, fresh[k], atol=2e-4, err_msg=k)


def _one_call(model, mel: np.ndarray) -> dict:
    """The graph run once over a whole clip's (already normalised) log-mel from the primed
    silence state, as the export embeds a clip: silence context, then every frame."""
    from sonolux.modelinput import silence_features

    ctx = model.layout["mel_context"]
    sil = np.repeat(silence_features()["mel"][None], ctx, 0)
    front, features, _ = model._primed
    return model.run({"mel": np.concatenate([sil, mel])[None].astype(np.float32),
                      "front_past": front, "features_past": features})


def test_the_stream_with_its_running_level_equals_one_call_over_the_exports_normalised_clip(model):
    """Each frame the graph re-reads as context carries the shift it got when it was new:
    streamed in chunks == the whole clip through the export's normaliser in one call."""
    from export.input_level import normalise
    from sonolux.modelinput import clip_features

    entry = model.contract.get("input_normalisation")
    if entry is None:
        pytest.skip("the shipped emotion model reads the raw log-mel (older than v2.2)")
    y = 0.25 * _music(10.0, seed=3)  # 12 dB under the other tests' level: the shift matters
    mel = clip_features(y)["mel"]
    whole = _one_call(model, normalise(mel, entry))
    raw = _one_call(model, mel)
    for chunk in (31, 7, 200):
        n, out = _stream_through(model, y, chunk)[-1]
        assert n == len(mel)
        for k in ("va", "quadrant_probs", "tags"):
            np.testing.assert_allclose(out[k], whole[k], atol=2e-4, err_msg=f"{k}, chunks of {chunk}")
    assert np.abs(raw["quadrant_probs"] - whole["quadrant_probs"]).max() > 1e-3  # the normaliser acts


def test_a_model_without_the_level_entry_reads_the_raw_log_mel(model, tmp_path):
    """Older set-ups (emotion v2.1) keep working, unnormalised."""
    from sonolux.modelinput import clip_features

    if "input_normalisation" not in model.contract:
        pytest.skip("the shipped emotion model already reads the raw log-mel")
    raw_model = load_model(_with_contract(tmp_path, lambda c: c.pop("input_normalisation")), device="cpu")
    assert raw_model.level is None and model.level is not None
    y = 0.25 * _music(6.0, seed=4)
    n, out = _stream_through(raw_model, y, 31)[-1]
    want = _one_call(raw_model, clip_features(y)["mel"])
    np.testing.assert_allclose(out["quadrant_probs"], want["quadrant_probs"], atol=2e-4)


def _with_contract(tmp_path, edit) -> object:
    import onnx

    proto = onnx.load(str(SHIPPED))
    for e in proto.metadata_props:
        if e.key == "sonolux_contract":
            c = json.loads(e.value)
            edit(c)
            e.value = json.dumps(c)
    path = tmp_path / "emotion.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.pop("stream"), None),  # without the table it is checked as a window model
    (lambda c: c["stream"].update(pool="many"), "stream.pool must be an integer"),
    (lambda c: c["stream"].update(front_dim=7), "fails on a test input"),
    (lambda c: c.update(window_frames=250 if c["window_frames"] != 250 else 251), "window_frames="),
    (lambda c: c.update(input_normalisation={"kind": "running_level", "tau_s": 0, "reference_db": -2.3,
                                             "gate_db": -80}), "input_normalisation.tau_s=0.0 must be > 0"),
    (lambda c: c.update(input_normalisation={"kind": "loudness"}), "input_normalisation.kind='loudness'"),
])
def test_a_broken_stream_table_is_a_clear_load_error(model, tmp_path, edit, words):
    path = _with_contract(tmp_path, edit)
    with pytest.raises(ModelError) as e:
        load_model(path, device="cpu")
    assert str(path) in str(e.value)
    if words:
        assert words in str(e.value)
    assert "Traceback" not in str(e.value)


def test_the_model_folder_copy_with_the_stream_model_loads(model, tmp_path):
    shutil.copy(SHIPPED, tmp_path / "emotion.onnx")
    m = load_model(tmp_path / "emotion.onnx", device="cpu")
    assert m.window_frames == model.window_frames and m.tag_labels == model.tag_labels


def test_one_session_per_input_length_gives_the_same_answers(model):
    """On a GPU the streaming model keeps a session per ``mel`` length (cuDNN's algorithm
    is cached for the last shape only); forced on here on the CPU: the same outputs, one
    session per length up to the limit, longer tails on the model's own session."""
    from sonolux.inference.models import load_model as load

    assert model.shape_sessions == 0  # the CPU provider needs none
    split = load(SHIPPED, device="cpu")
    split.shape_sessions, split._by_length = 2, {}
    y = _music(6.0, seed=3)
    cuts = [31, 32, 31, 32, 7, 31, 32, 40]  # two lengths in turn, then lengths past the limit
    models = (model, split)
    streams = [FeatureStream(m.history_frames) for m in models]
    outs = ([], [])
    pos = 0
    for n in cuts:
        for m, stream, out in zip(models, streams, outs):
            stream.push(y[pos * 256:(pos + n) * 256])
            out.append({k: v.copy() for k, v in m.infer(stream).items()})
        pos += n
    for a, b in zip(*outs):
        for k in a:
            np.testing.assert_allclose(b[k], a[k], atol=1e-5, err_msg=k)
    ctx = split.layout["mel_context"]
    assert sorted(split._by_length) == [ctx + 31, ctx + 32]
    assert len({id(s) for s in split._by_length.values()} | {id(split.session)}) == 3
