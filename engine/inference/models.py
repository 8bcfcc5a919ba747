"""Load ONNX encoders and check their contract before anything streams.

Each model carries its contract (``sonolux_contract`` JSON in ``metadata_props``, written by
``export/onnx_export.py``): task, feature parameters, input names and shapes, labels. A
model that does not match this engine's feature definition (``sonolux.modelinput``) or is
not a readable ONNX file raises ModelError at load time, naming the file and the field.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import resources
from ..errors import ModelError, ParameterError
from ..modelinput import FEATURE_CONTRACT

TASKS = {  # task → (input names, output names)
    "emotion": (("mel", "wavelet"), ("va", "quadrant_probs")),
    "tags": (("mel", "wave"), ("tags",)),
    "latent": (("mel",), ("code", "controls")),
    # the imagery music encoder (engine/imagery): the emotion window → joint embedding; not
    # one of the shipped encoders find_models() loads for the inference worker
    "music_embedding": (("mel", "wavelet"), ("embedding", "quadrant_probs")),
}
# outputs a model may add after the required ones: an emotion model on a tagging trunk
# (models_onnx emotion v2) also gives the 50 tags, which then replace the tagger's
OPTIONAL_OUTPUTS = {"emotion": ("tags",)}
WINDOW_KIND = {"emotion": "emotion", "tags": "tagger", "latent": "latent", "music_embedding": "emotion"}
DEVICES = ("auto", "cpu", "cuda")
# the feature numbers a model must agree on with the engine
CHECKED_FEATURES = ("version", "sample_rate", "n_fft", "hop", "window", "n_mels", "fmin", "fmax",
                    "mel_scale", "wavelet", "wavelet_level", "wavelet_mode", "wavelet_window")


def default_model_dir() -> Path:
    """``$SONOLUX_MODELS``, else the models shipped in the package (``sonolux.models``)."""
    env = os.environ.get("SONOLUX_MODELS")
    return Path(env) if env else resources.models_dir()


def providers_for(device: str) -> list[str]:
    """Providers to ask for: TensorRT (only where its library exists) and CUDA first, CPU
    last; ``cpu`` forces the CPU."""
    import ctypes.util

    import onnxruntime as ort

    if device not in DEVICES:
        raise ParameterError(f"device={device!r} must be one of {', '.join(DEVICES)}")
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    gpu = []
    if "TensorrtExecutionProvider" in available and ctypes.util.find_library("nvinfer"):
        gpu.append("TensorrtExecutionProvider")
    if "CUDAExecutionProvider" in available:
        gpu.append("CUDAExecutionProvider")
    if device == "cuda" and not gpu:
        raise ParameterError("device=cuda, but onnxruntime has no CUDA provider here "
                             f"(available: {', '.join(available)})")
    return gpu + ["CPUExecutionProvider"]


def _create_session(path: Path, opts, providers: list[str]):
    """An InferenceSession; onnxruntime's own complaints about missing GPU libraries are
    silenced (the fallback to CPU is reported by ``sonolux models`` and the status line)."""
    import contextlib
    import io

    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


@dataclass
class SessionModel:
    """An open ONNX session with its checked sonolux contract: what every loaded model has
    (the encoders here, the imagery models in :mod:`sonolux.imagery.models`)."""

    path: Path
    task: str
    contract: dict
    session: object

    @property
    def name(self) -> str:
        return self.contract.get("name", self.path.stem)

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def run(self, inputs: dict) -> dict:
        """Output name → array for one call (inputs: name → batched float32 array)."""
        outs = self.session.run(None, inputs)
        return {o.name: v for o, v in zip(self.session.get_outputs(), outs)}


@dataclass
class OnnxModel(SessionModel):
    """An audio encoder: its inputs are windows of the engine's model features."""

    input_shapes: dict  # name → shape without the batch axis
    labels: list
    tag_labels: list = field(default_factory=list)  # an emotion model's optional tags output

    @property
    def window_frames(self) -> int:
        return int(self.contract["window_frames"])

    def infer(self, stream) -> dict:
        """Outputs (batch axis 1) for the newest window of ``stream`` (a FeatureStream)."""
        return self.run(stream.window(WINDOW_KIND[self.task]))


def _fail(path, msg) -> ModelError:
    return ModelError(f"{path}: {msg}")


def open_session(path, *, device: str = "auto", threads: int = 1):
    """(InferenceSession, contract dict) of a sonolux ONNX file, or ModelError naming the
    file: missing, unreadable, or without a readable ``sonolux_contract``."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such model file")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    # more than one thread (offline): idle threads sleep instead of spinning, so a busy
    # machine (other jobs, batch workers) does not lose a core to a thread waiting for work
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 4
    opts.enable_mem_pattern = False  # measured: ~20 MB less peak memory with emotion v2, same results
    try:
        session = _create_session(path, opts, providers_for(device))
    except ParameterError:
        raise
    except Exception as e:  # onnxruntime raises its own Fail / InvalidProtobuf / RuntimeError
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _fail(path, f"not a readable ONNX model ({first[:200]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if "sonolux_contract" not in meta:
        raise _fail(path, "metadata_props has no 'sonolux_contract' (not exported by sonolux's export/)")
    try:
        contract = json.loads(meta["sonolux_contract"])
    except json.JSONDecodeError as e:
        raise _fail(path, f"sonolux_contract is not valid JSON ({e})") from None
    return session, contract


def check_io_names(session, path, task: str, inputs: tuple, outputs: tuple) -> None:
    """ModelError unless the session's input and output names are exactly those of ``task``."""
    got_in = [i.name for i in session.get_inputs()]
    got_out = [o.name for o in session.get_outputs()]
    if tuple(got_in) != tuple(inputs):
        raise _fail(path, f"inputs are {got_in}, a {task} model must take {list(inputs)}")
    if tuple(got_out) != tuple(outputs):
        raise _fail(path, f"outputs are {got_out}, a {task} model must give {list(outputs)}")


def contract_int(contract: dict, key: str, path) -> int:
    """The integer ``contract[key]``, or ModelError naming the file and the key."""
    try:
        return int(contract[key])
    except (KeyError, TypeError, ValueError):
        raise _fail(path, f"contract has no integer {key}") from None


def load_model(path, *, device: str = "auto", threads: int = 1, expect_task: str | None = None):
    """Open ``path`` with onnxruntime and validate its contract (see module docstring): an
    OnnxModel, or a StreamingModel for an emotion model with a ``stream`` table."""
    session, contract = open_session(path, device=device, threads=threads)
    path = Path(path)
    task = contract.get("task")
    if task not in TASKS:
        raise _fail(path, f"task={task!r} is not one of {', '.join(TASKS)}")
    if expect_task and task != expect_task:
        raise _fail(path, f"task={task!r}, expected {expect_task!r}")
    features = contract.get("features", {})
    for key in CHECKED_FEATURES:
        want, got = FEATURE_CONTRACT.get(key), features.get(key)
        if got != want and not (isinstance(want, float) and isinstance(got, (int, float)) and float(got) == want):
            raise _fail(path, f"feature contract mismatch: {key}={got!r}, the engine computes {key}={want!r}")
    if device == "cuda" and session.get_providers()[0] == "CPUExecutionProvider":
        raise _fail(path, "device=cuda, but the CUDA provider could not start here (CUDA/cuDNN libraries missing?)")
    if task == "emotion" and "stream" in contract:
        return _load_stream_model(path, contract, session)
    if "input_normalisation" in contract:  # its running level is stream state (inference.stream)
        raise _fail(path, "contract input_normalisation is only supported for a streaming emotion model "
                          "(one with a 'stream' table)")
    in_names, out_names = TASKS[task]
    sess_inputs = {i.name: i.shape for i in session.get_inputs()}
    if tuple(sess_inputs) != in_names:
        raise _fail(path, f"inputs are {list(sess_inputs)}, a {task} model must take {list(in_names)}")
    sess_outputs = [o.name for o in session.get_outputs()]
    extra = tuple(sess_outputs[len(out_names):])
    if tuple(sess_outputs[:len(out_names)]) != out_names or not set(extra) <= set(OPTIONAL_OUTPUTS.get(task, ())):
        optional = OPTIONAL_OUTPUTS.get(task)
        raise _fail(path, f"outputs are {sess_outputs}, a {task} model must give {list(out_names)}"
                          + (f" (optionally followed by {list(optional)})" if optional else ""))
    frames = contract_int(contract, "window_frames", path)
    want_frames = FEATURE_CONTRACT[f"{WINDOW_KIND[task]}_frames"]
    if frames != want_frames:
        raise _fail(path, f"window_frames={frames}, the engine's {task} window is {want_frames} frames")
    expected = {"mel": (frames, FEATURE_CONTRACT["n_mels"]),
                "wavelet": (frames, FEATURE_CONTRACT["wavelet_level"] + 1),
                "wave": (frames * FEATURE_CONTRACT["hop"],)}
    shapes = {}
    for name, shape in sess_inputs.items():
        dims = tuple(shape[1:])
        if len(dims) != len(expected[name]) or any(isinstance(d, int) and d != e for d, e in zip(dims, expected[name])):
            raise _fail(path, f"input {name!r} has shape {list(shape)}, expected [batch, {', '.join(map(str, expected[name]))}]")
        shapes[name] = expected[name]
    labels = list(contract.get("labels", []))
    tag_labels = list(contract.get("tag_labels", [])) if "tags" in extra else []
    model = OnnxModel(path, task, contract, session, shapes, labels, tag_labels)
    try:
        out = model.run({n: np.zeros((1, *s), np.float32) for n, s in shapes.items()})
    except Exception as e:
        raise _fail(path, f"fails on a test input ({str(e).splitlines()[0][:200]})") from None
    first = out[out_names[0]]
    if task == "tags" and first.shape[-1] != len(labels):
        raise _fail(path, f"gives {first.shape[-1]} tags but its contract lists {len(labels)} labels")
    _check_outputs(path, task, out, tag_labels)
    return model


def _check_outputs(path, task: str, out: dict, tag_labels: list) -> None:
    if task == "emotion" and (out["va"].shape[-1] != 2 or out["quadrant_probs"].shape[-1] != 4):
        raise _fail(path, "emotion outputs must be va (2) and quadrant_probs (4)")
    if task == "emotion" and "tags" in out and out["tags"].shape[-1] != len(tag_labels):
        raise _fail(path, f"gives {out['tags'].shape[-1]} tags but its contract lists {len(tag_labels)} tag_labels")


def _load_stream_model(path: Path, contract: dict, session):
    """A streaming emotion model (``sonolux.inference.stream``), primed and checked."""
    from .stream import StreamingModel, check_stream_model

    outputs = [o.name for o in session.get_outputs()]
    tag_labels = list(contract.get("tag_labels", [])) if "tags" in outputs else []
    try:
        model = StreamingModel(path, "emotion", contract, session, list(contract.get("labels", [])),
                               tag_labels)
    except ModelError:
        raise
    except Exception as e:  # onnxruntime's complaint about the priming call
        raise _fail(path, f"fails on a test input ({str(e).splitlines()[0][:200]})") from None
    check_stream_model(model, path, outputs, TASKS["emotion"][1])
    _check_outputs(path, "emotion", model.silence_outputs(), tag_labels)
    return model


def find_models(model_dir=None) -> dict[str, Path]:
    """task → model file in ``model_dir`` (the shipped names emotion/tagger/latent.onnx)."""
    d = Path(model_dir) if model_dir else default_model_dir()
    names = {"emotion": "emotion.onnx", "tags": "tagger.onnx", "latent": "latent.onnx"}
    return {task: d / n for task, n in names.items() if (d / n).is_file()}
