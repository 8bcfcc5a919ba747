"""Inference settings and model loading for a run: which models, where, on which device.

Missing models are not an error: the engine runs without them (levels, onsets and beats
never depend on ML) and says so in one line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from .calibration import CalibrationError, QuadrantCalibration
from .models import default_model_dir, find_models, load_model
from .stage import InferenceStage
from .worker import InferenceWorker


@dataclass(frozen=True)
class InferenceConfig:
    model_dir: Path | None = None
    device: str = "auto"  # auto (the GPU where onnxruntime has one, else the CPU) | cpu | cuda
    threads: int = 1  # onnxruntime intra-op threads: 1 leaves a core to the analysis on 2 cores
    every_s: float = 0.5  # one window per this much audio
    smoothing: str = "ema"  # ema | one-euro | none
    tau_s: float = 2.0  # EMA time constant
    margin: float = 0.1  # quadrant hysteresis: probability lead needed to switch
    hold_s: float = 1.0  # … held for this long
    calibration: Path | None = None  # per-show mood calibration (JSON): loaded, taught, saved at stop


def load_models(cfg: InferenceConfig, *, skip_broken: bool = False) -> tuple[dict, list[str]]:
    """(task → OnnxModel, warnings). A corrupt or mismatched model raises ModelError, or, with
    ``skip_broken`` (a live run), is a warning and the run goes on without it. An emotion
    model whose trunk gives tags replaces the tagger (which is then not loaded)."""
    model_dir = Path(cfg.model_dir) if cfg.model_dir else default_model_dir()
    found = find_models(model_dir)
    warnings = []
    missing = [t for t in ("emotion", "tags", "latent") if t not in found]
    if missing:
        warnings.append(f"no {', '.join(missing)} model in {model_dir} "
                        f"({'mood' if 'emotion' in missing else ''}"
                        f"{'/' if 'emotion' in missing and len(missing) > 1 else ''}"
                        f"{'tags/latent' if set(missing) - {'emotion'} else ''} outputs are off; "
                        "see models_onnx/README.md)")

    def load(task, path):
        try:
            return load_model(path, device=cfg.device, threads=cfg.threads, expect_task=task)
        except ModelError as e:
            if not skip_broken:
                raise
            warnings.append(f"{e}; running without the {task} model")
            return None

    models = {}
    if "emotion" in found:
        emotion = load("emotion", found.pop("emotion"))
        if emotion is not None:
            models["emotion"] = emotion
            if emotion.tag_labels:  # tags from the emotion model's trunk replace the tagger
                found.pop("tags", None)
    for task, path in found.items():
        model = load(task, path)
        if model is not None:
            models[task] = model
    return models, warnings


def calibration_model(emotion) -> dict:
    """``QuadrantCalibration.load`` arguments for the loaded emotion model: its name and
    version, and whether a file from before model records fits it (only a model that reads
    the raw log-mel, as those did)."""
    return {"model": {"name": emotion.name, "version": str(emotion.contract.get("version"))},
            "unstamped_ok": "input_normalisation" not in emotion.contract}


def tag_labels(models: dict) -> list[str]:
    """The tag names of whichever model gives tags (the tagger, or the emotion model's trunk)."""
    if "tags" in models:
        return models["tags"].labels
    emotion = models.get("emotion")
    return list(emotion.tag_labels) if emotion is not None else []


def load_calibration(path, l2: float = 1.0, emotion=None) -> tuple[QuadrantCalibration, str | None]:
    """(calibration, warning): a new file starts empty (strength ``l2``); a corrupt one, or
    one fitted with another model than ``emotion`` (the loaded emotion model), is reported
    and the model runs uncalibrated (the file is left alone until the next save). The
    calibration returned records ``emotion``, so a save names the model it corrects."""
    check = calibration_model(emotion) if emotion is not None else {}
    fresh = QuadrantCalibration(l2=l2)
    fresh.model = check.get("model")
    if path is None or not Path(path).exists():
        return fresh, None
    try:
        return QuadrantCalibration.load(path, **check), None
    except CalibrationError as e:
        return fresh, f"{e}; the mood runs uncalibrated"


def make_inference(models: dict, cfg: InferenceConfig, *, keep_results: bool = False):
    """(stage for the analysis chain, worker) for the loaded ``models``; a calibration file
    that cannot be read leaves ``worker.calibration_warning`` set."""
    labels = tag_labels(models)
    tasks = set(models) | ({"tags"} if labels else set())
    emotion = models.get("emotion")
    stage = InferenceStage(tasks, every_s=cfg.every_s, tag_labels=labels or None,
                           emotion_version=None if emotion is None else str(emotion.contract.get("version")))
    # the emotion model's card's simulation chose the calibration strength
    l2 = float(emotion.contract.get("calibration_l2", 1.0)) if emotion is not None else 1.0
    calibration, warning = load_calibration(cfg.calibration, l2, emotion)
    worker = InferenceWorker(stage, models, smoothing=cfg.smoothing, tau_s=cfg.tau_s,
                             margin=cfg.margin, hold_s=cfg.hold_s, keep_results=keep_results,
                             calibration=calibration)
    worker.calibration_warning = warning
    return stage, worker
