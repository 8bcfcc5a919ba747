"""List the ONNX models sonolux would load — the audio encoders (mood, tags, latent) with
their contract (task, window, inputs, labels) and the imagery models (music and image
embeddings, generator) — and the execution provider each runs on. A model that does not match
the engine is reported with the reason (exit status 1)."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list installed models, their contract and device", description=__doc__)
    p.add_argument("--models", default=None, metavar="DIR", help="model folder (default: the shipped models)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: the GPU (CUDA) where onnxruntime has one, else the CPU; cuda forces "
                        "the GPU (an error if it cannot start); cpu forces the CPU (default auto)")


def run(args) -> int:
    from ...errors import ModelError
    from ...imagery.models import FILES as IMAGERY_FILES
    from ...imagery.models import load_image_model, load_music_model
    from ...inference.models import default_model_dir, find_models, load_model

    model_dir = args.models or default_model_dir()
    found = find_models(model_dir)
    imagery = {task: Path(model_dir) / name for task, name in IMAGERY_FILES.items()
               if (Path(model_dir) / name).is_file()}
    if not found and not imagery:
        print(f"no models in {model_dir} (expected emotion.onnx, tagger.onnx, latent.onnx)")
        return 1
    bad = 0
    for task, path in found.items():
        try:
            m = load_model(path, device=args.device, expect_task=task)
        except ModelError as e:
            print(f"{task:<15} ERROR  {e}")
            bad += 1
            continue
        c = m.contract
        f = c["features"]
        inputs = ", ".join(f"{n}{list(s)}" for n, s in m.input_shapes.items())
        print(f"{task:<15} {m.name} {c.get('version', '?')}  {path}")
        print(f"                provider {m.provider}; window {m.window_frames * f['hop'] / f['sample_rate']:.2f} s "
              f"({m.window_frames} frames @ {f['sample_rate']} Hz, hop {f['hop']}, "
              f"{f['n_mels']} mels); inputs {inputs}; {len(m.labels)} labels")
        if m.tag_labels:
            print(f"                also {len(m.tag_labels)} tags from its trunk: a tagger.onnx beside it is not loaded")
    for task, path in imagery.items():
        try:
            if task == "music_embedding":
                m = load_music_model(path, device=args.device)
            else:
                m = load_image_model(path, task, device=args.device)
        except ModelError as e:
            print(f"{task:<15} ERROR  {e}")
            bad += 1
            continue
        print(f"{task:<15} {m.name} {m.contract.get('version', '?')}  {path}")
        print(f"                provider {m.provider}; imagery model (see docs/imagery.md)")
    return 1 if bad else 0
