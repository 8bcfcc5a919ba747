"""List the ONNX encoders sonolux would load, with their contract (task, window, inputs,
labels) and the execution provider each runs on. A model that does not match the engine is
reported with the reason."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list installed models, their contract and device", description=__doc__)
    p.add_argument("--models", default=None, metavar="DIR", help="model folder (default: the shipped models)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def run(args) -> int:
    from ...errors import ModelError
    from ...inference.models import default_model_dir, find_models, load_model

    model_dir = args.models or default_model_dir()
    found = find_models(model_dir)
    if not found:
        print(f"no models in {model_dir} (expected emotion.onnx, tagger.onnx, latent.onnx)")
        return 1
    bad = 0
    for task, path in found.items():
        try:
            m = load_model(path, device=args.device, expect_task=task)
        except ModelError as e:
            print(f"{task:<8} ERROR  {e}")
            bad += 1
            continue
        c = m.contract
        f = c["features"]
        inputs = ", ".join(f"{n}{list(s)}" for n, s in m.input_shapes.items())
        print(f"{task:<8} {m.name} {c.get('version', '?')}  {path}")
        print(f"         provider {m.provider}; window {m.window_frames * f['hop'] / f['sample_rate']:.2f} s "
              f"({m.window_frames} frames @ {f['sample_rate']} Hz, hop {f['hop']}, "
              f"{f['n_mels']} mels); inputs {inputs}; {len(m.labels)} labels")
    return 1 if bad else 0
