"""The shipped emotion model on the VGMIDI piano renders (cross-domain check), alone, and the
operator's per-show calibration where the model misreads a whole kind of music.

    python -m export.evaluate_vgmidi [--data ../shared/data] [--models models_onnx] [--smoke]

The same measurement as the VGMIDI row of ``python -m export.evaluate`` (FluidSynth renders
of the 204 labelled phrases, every window the live engine would analyse through its own
FeatureStream and model, clip = mean of its windows), without re-running the rest of that
evaluation. Clip figures for the argmax quadrant and for the quadrant of the V/A signs (what
the v2 engine publishes). Writes ``export/results/emotion_vgmidi.json``.

**Calibration in a misread domain** (``calibration_simulation``). The model calls nearly every
piano phrase calm (Q4): a show of such music is where an operator would correct the mood.
The simulation asks whether the engine's per-show calibration (a bias on the quadrant
log-probabilities, ``sonolux.inference.calibration.QuadrantCalibration`` with the strength of
the model's contract) learns that from a few corrections. Fixed before the run: for k = 1, 3,
5, 10 and 50 random draws each (seed 0), the operator corrects k phrases drawn from those the
model gets wrong (the quadrant of the V/A signs, what the engine shows); every window of a
corrected phrase becomes an example with its true quadrant, weighing the 1.024 s it stands for
as the live worker's examples do (``sonolux.inference.calibration.example_weight``: the
strength was chosen with one example per 2.048 s). Scored on the phrases not corrected: clip
macro-F1 and accuracy of the signs rule with the calibrated windows (clip = mean of them)
against the same phrases uncalibrated; mean, std and 5th / 95th percentiles over the draws.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sonolux import modelinput as mi
from sonolux.inference.calibration import QuadrantCalibration, example_weight

from . import data as D
from .evaluate import VGMIDI_STRIDE, clip_aggregate, macro_f1, quadrant_of_signs, vgmidi_eval, vgmidi_windows
from .onnx_export import read_contract

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
CORRECTIONS = (1, 3, 5, 10)
DRAWS = 50
WINDOW_S = VGMIDI_STRIDE * mi.HOP / mi.SR  # vgmidi_windows' window spacing (1.024 s)


def clip_signs(owner: np.ndarray, qp: np.ndarray) -> np.ndarray:
    """Per phrase the published quadrant (0..3): the signs of V/A of its mean window."""
    from sonolux.inference.mood import QUADRANT_SIGNS

    _, (cqp,) = clip_aggregate(owner, qp)
    return quadrant_of_signs(cqp @ QUADRANT_SIGNS)


def simulate_calibration(w: dict, l2: float, corrections=CORRECTIONS, draws: int = DRAWS, seed: int = 0) -> dict:
    """The operator loop of the module docstring on the windows ``w`` (:func:`vgmidi_windows`)."""
    q, qp, owner = w["q"], w["qp"], w["owner"]
    before = clip_signs(owner, qp)
    wrong = np.flatnonzero(before != q)
    rng = np.random.default_rng(seed)
    out = {"l2": l2, "phrases_wrong": int(wrong.size), "draws": draws}
    for k in corrections:
        f1_b, f1_a, acc_b, acc_a, counts = [], [], [], [], []
        for _ in range(draws):
            fixed = rng.choice(wrong, size=min(k, wrong.size), replace=False)
            cal = QuadrantCalibration(l2=l2, max_examples=10 ** 6)
            for i in fixed:
                for p in qp[owner == i]:
                    cal.add(p, int(q[i]) + 1, example_weight(WINDOW_S))
            cal.fit()
            after = clip_signs(owner, cal.apply(qp))
            rest = np.setdiff1d(np.arange(q.size), fixed)
            f1_b.append(macro_f1(q[rest], before[rest])), f1_a.append(macro_f1(q[rest], after[rest]))
            acc_b.append(np.mean(before[rest] == q[rest])), acc_a.append(np.mean(after[rest] == q[rest]))
            counts.append(np.bincount(after[rest], minlength=4))
        d = np.array(f1_a) - np.array(f1_b)
        out[str(k)] = {"f1_before": float(np.mean(f1_b)), "f1_after": float(np.mean(f1_a)),
                       "f1_change": float(d.mean()), "f1_change_std": float(d.std()),
                       "f1_change_p5_p95": [float(np.percentile(d, 5)), float(np.percentile(d, 95))],
                       "accuracy_before": float(np.mean(acc_b)), "accuracy_after": float(np.mean(acc_a)),
                       "predicted_counts_after": {f"Q{c + 1}": float(x) for c, x in enumerate(np.mean(counts, 0))}}
        print(f"k={k}: macro-F1 {np.mean(f1_b):.3f} -> {np.mean(f1_a):.3f} ({d.mean():+.3f} ± {d.std():.3f}), "
              f"accuracy {np.mean(acc_b):.3f} -> {np.mean(acc_a):.3f}", flush=True)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--models", default=str(REPO / "models_onnx"), help="folder with emotion.onnx")
    p.add_argument("--smoke", action="store_true", help="the first 8 phrases only")
    a = p.parse_args(argv)
    t0 = time.time()
    root, model_dir = D.data_root(a.data), Path(a.models)
    windows = vgmidi_windows(root, model_dir, a.smoke)
    res = vgmidi_eval(root, model_dir, a.smoke, windows)
    l2 = float(read_contract(model_dir / "emotion.onnx").get("calibration_l2", 1.0))
    res["calibration_simulation"] = simulate_calibration(windows, l2, corrections=(1, 3) if a.smoke else CORRECTIONS,
                                                         draws=5 if a.smoke else DRAWS)
    res["wall_s"] = time.time() - t0
    if not a.smoke:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "emotion_vgmidi.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("clip", "clip_signs_rule", "clip_pred_counts")}))
    return res


if __name__ == "__main__":
    main()
