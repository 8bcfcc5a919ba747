"""The shipped emotion model on the VGMIDI piano renders (cross-domain check), alone.

    python -m export.evaluate_vgmidi [--data ../shared/data] [--models models_onnx] [--smoke]

The same measurement as the VGMIDI row of ``python -m export.evaluate`` (FluidSynth renders
of the 204 labelled phrases, every window the live engine would analyse through its own
FeatureStream and model, clip = mean of its windows), without re-running the rest of that
evaluation. Clip figures for the argmax quadrant and for the quadrant of the V/A signs (what
the v2 engine publishes). Writes ``export/results/emotion_vgmidi.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from . import data as D
from .evaluate import vgmidi_eval

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--models", default=str(REPO / "models_onnx"), help="folder with emotion.onnx")
    p.add_argument("--smoke", action="store_true", help="the first 8 phrases only")
    a = p.parse_args(argv)
    t0 = time.time()
    res = vgmidi_eval(D.data_root(a.data), Path(a.models), a.smoke)
    res["wall_s"] = time.time() - t0
    if not a.smoke:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "emotion_vgmidi.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("clip", "clip_signs_rule", "clip_pred_counts")}))
    return res


if __name__ == "__main__":
    main()
