"""Tiny ONNX encoders built in the tests (no training): they honour the real models' contract
(inputs, outputs, window sizes, metadata) and react to loudness and brightness, so the
runtime can be tested without the shipped models."""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from sonolux.modelinput import FEATURE_CONTRACT as FC

TAGS = ["guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
        "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
        "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal",
        "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance",
        "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal",
        "female voice", "choral"]


def _contract(task, frames, labels, features=None, **extra):
    return {"name": f"tiny-{task}", "version": "0.0.1", "task": task, "window_frames": frames,
            "labels": labels, "features": features or dict(FC), **extra}


def _save(graph, path, contract, opset=17):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    for k, v in {"sonolux_contract": json.dumps(contract), "task": contract["task"]}.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _input(name, *dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *dims])


def _mean_over_time(src, dst):
    return helper.make_node("ReduceMean", [src], [dst], axes=[1], keepdims=0)


def _zero_of(src, dst):
    """0 × mean(src): keeps an input connected without changing the result."""
    return [helper.make_node("ReduceMean", [src], [dst + "_m"], axes=[1], keepdims=1),
            helper.make_node("Mul", [dst + "_m", "zero"], [dst])]


def emotion_model(path, *, n_mels=FC["n_mels"], frames=FC["emotion_frames"], features=None, with_tags=False):
    """valence ← brightness (high mels − low mels), arousal ← loudness; probs from the signs.
    ``with_tags``: also a ``tags`` output (50, as emotion v2's trunk head), labels in the contract."""
    w = np.zeros((n_mels, 2), np.float32)
    w[:, 0] = np.linspace(-1, 1, n_mels) / n_mels * 0.5  # brightness
    w[:, 1] = 1.0 / n_mels / 15.0  # loudness in dB / 15
    b = np.array([0.0, 40.0 / 15.0], np.float32)  # −40 dB mean → arousal 0
    wq = 3 * np.array([[1, -1, -1, 1], [1, 1, -1, -1]], np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(wq, "wq"), numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    nodes = [_mean_over_time("mel", "m"), helper.make_node("MatMul", ["m", "w"], ["lin0"]),
             helper.make_node("Add", ["lin0", "b"], ["lin1"]),
             *_zero_of("wavelet", "wz"), helper.make_node("ReduceMean", ["wz"], ["wz2"], axes=[2], keepdims=0),
             helper.make_node("Add", ["lin1", "wz2"], ["lin"]),
             helper.make_node("Tanh", ["lin"], ["va"]), helper.make_node("MatMul", ["va", "wq"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["quadrant_probs"], axis=-1)]
    outputs = [_input("va", 2), _input("quadrant_probs", 4)]
    extra = {}
    if with_tags:
        wt = (np.random.default_rng(2).standard_normal((n_mels, 50)) / 200).astype(np.float32)
        inits.append(numpy_helper.from_array(wt, "wt"))
        nodes += [helper.make_node("MatMul", ["m", "wt"], ["tl"]), helper.make_node("Sigmoid", ["tl"], ["tags"])]
        outputs.append(_input("tags", 50))
        extra["tag_labels"] = TAGS
    g = helper.make_graph(nodes, "tiny_emotion",
                          [_input("mel", frames, n_mels), _input("wavelet", frames, FC["wavelet_level"] + 1)],
                          outputs, inits)
    return _save(g, path, _contract("emotion", frames, ["Q1", "Q2", "Q3", "Q4"], features, **extra))


def tagger_model(path):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((FC["n_mels"], 50)) / 200).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    nodes = [_mean_over_time("mel", "m"), helper.make_node("MatMul", ["m", "w"], ["lin0"]),
             helper.make_node("ReduceMean", ["wave"], ["wm"], axes=[1], keepdims=1),
             helper.make_node("Mul", ["wm", "zero"], ["wz"]), helper.make_node("Add", ["lin0", "wz"], ["lin"]),
             helper.make_node("Sigmoid", ["lin"], ["tags"])]
    g = helper.make_graph(nodes, "tiny_tagger",
                          [_input("mel", FC["tagger_frames"], FC["n_mels"]), _input("wave", FC["tagger_samples"])],
                          [_input("tags", 50)], inits)
    return _save(g, path, _contract("tags", FC["tagger_frames"], TAGS))


def latent_model(path):
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((FC["n_mels"], 10)) / 300).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    nodes = [_mean_over_time("mel", "m"), helper.make_node("MatMul", ["m", "w"], ["code"]),
             helper.make_node("Sigmoid", ["code"], ["controls"])]
    g = helper.make_graph(nodes, "tiny_latent", [_input("mel", FC["latent_frames"], FC["n_mels"])],
                          [_input("code", 10), _input("controls", 10)], inits)
    return _save(g, path, _contract("latent", FC["latent_frames"], [f"latent{i}" for i in range(10)]))


def model_dir(tmp_path):
    """A folder with all three tiny models under their shipped names."""
    emotion_model(tmp_path / "emotion.onnx")
    tagger_model(tmp_path / "tagger.onnx")
    latent_model(tmp_path / "latent.onnx")
    return tmp_path
