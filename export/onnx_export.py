"""ONNX export with the model's contract in ``metadata_props`` (+ an identical sidecar JSON),
and the parity check against PyTorch (random and real inputs, max abs diff <= 1e-4).

Contract keys (all strings in metadata_props; JSON values in the sidecar): ``sonolux_contract``
holds the whole contract as JSON, and the most used numbers are repeated as flat keys
(sample_rate, hop, n_mels, ...) so a quick ``onnx.load`` shows them.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from sonolux.modelinput import FEATURE_CONTRACT

OPSET = 17
MAX_BYTES = 5 * 1024 * 1024
PARITY_TOL = 1e-4


class ExportError(RuntimeError):
    pass


def export(model: torch.nn.Module, *, path: Path, inputs: dict[str, np.ndarray],
           outputs: list[str], contract: dict, dynamic: dict | None = None) -> dict:
    """Export ``model`` (eval mode) to ``path``; ``inputs`` maps input names to example arrays
    whose first axis is the (dynamic) batch; ``dynamic`` adds other dynamic axes (name →
    {axis: label}). Returns the full contract written."""
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(inputs)
    example = tuple(torch.from_numpy(inputs[n]) for n in names)
    dyn = {n: {0: "batch", **(dynamic or {}).get(n, {})} for n in names + outputs}
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, example, buf, input_names=names, output_names=outputs,
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False,
                          do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    full = {
        **contract,
        "features": FEATURE_CONTRACT,
        "sample_rate": FEATURE_CONTRACT["sample_rate"],
        "hop": FEATURE_CONTRACT["hop"],
        "n_fft": FEATURE_CONTRACT["n_fft"],
        "n_mels": FEATURE_CONTRACT["n_mels"],
        "opset": OPSET,
        "inputs": {n: {"shape": ["batch", *inputs[n].shape[1:]], "dtype": "float32"}
                   for n in names},
        "outputs": {o: {"shape": ["batch", *contract.get("output_shapes", {}).get(o, [])]}
                    for o in outputs},
    }
    full.pop("output_shapes", None)
    flat = {"sonolux_contract": json.dumps(full, default=float)}
    for k in ("name", "version", "sample_rate", "hop", "n_fft", "n_mels"):
        flat[k] = str(full[k])
    flat["window_frames"] = str(full.get("window_frames", ""))
    flat["input_names"] = ",".join(names)
    flat["output_names"] = ",".join(outputs)
    if "labels" in full:
        flat["labels"] = ",".join(full["labels"])
    del proto.metadata_props[:]
    for k, v in flat.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "sonolux-export"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ExportError(f"{path} is {size} bytes > {MAX_BYTES}")
    path.with_suffix(".json").write_text(json.dumps(full, indent=2, default=float) + "\n")
    return full


def session(path: Path, threads: int = 1) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def parity(model: torch.nn.Module, path: Path, inputs: dict[str, np.ndarray]) -> float:
    """Max abs difference over all outputs between PyTorch and onnxruntime on ``inputs``,
    each output's relative to its largest magnitude where that exceeds 1 (a streaming model's
    state outputs are features in the tens: float32 noise there is not a disagreement)."""
    model.eval()
    sess = session(path)
    with torch.no_grad():
        ref = model(*[torch.from_numpy(v) for v in inputs.values()])
    ref = ref if isinstance(ref, tuple) else (ref,)
    got = sess.run(None, dict(inputs))
    return max(float(np.max(np.abs(r.numpy() - g)) / max(1.0, float(np.max(np.abs(r.numpy())))))
               for r, g in zip(ref, got))


def check_parity(model, path, random_inputs, real_inputs) -> dict:
    """Parity on random and on real inputs; raises if either exceeds the tolerance."""
    res = {"random": parity(model, path, random_inputs), "real": parity(model, path, real_inputs)}
    if max(res.values()) > PARITY_TOL:
        raise ExportError(f"{path}: parity {res} exceeds {PARITY_TOL}")
    return res


def export_checked(model: torch.nn.Module, path: Path, *, real: dict[str, np.ndarray],
                   rand: dict[str, np.ndarray], outputs: list[str], contract: dict) -> dict:
    """:func:`export` on the real inputs, then :func:`check_parity` on random and real ones;
    returns the parity result (raises :class:`ExportError` beyond the tolerance)."""
    export(model, path=path, inputs=real, outputs=outputs, contract=contract)
    return check_parity(model, path, rand, real)


def add_metrics(path: Path, metrics: dict) -> None:
    """Write evaluation metrics into both the sidecar and metadata_props (after evaluation)."""
    path = Path(path)
    side = path.with_suffix(".json")
    full = json.loads(side.read_text())
    full["metrics"] = metrics
    side.write_text(json.dumps(full, indent=2, default=float) + "\n")
    proto = onnx.load(str(path))
    for e in proto.metadata_props:
        if e.key == "sonolux_contract":
            e.value = json.dumps(full, default=float)
    keys = [e.key for e in proto.metadata_props]
    if "metrics" in keys:
        proto.metadata_props[keys.index("metrics")].value = json.dumps(metrics, default=float)
    else:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "metrics", json.dumps(metrics, default=float)
    onnx.save(proto, str(path))


def read_contract(path: Path) -> dict:
    proto = onnx.load(str(path), load_external_data=False)
    meta = {e.key: e.value for e in proto.metadata_props}
    return json.loads(meta["sonolux_contract"])
