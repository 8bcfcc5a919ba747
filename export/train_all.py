"""One command for the whole training: feature caches, emotion (5-fold CV + ablation + shipped
model), tagger (5-fold CV + ablations + shipped model), latent autoencoder.

    python -m export.train_all [--data ../shared/data] [--smoke]

On a busy shared CPU the shipped run used the reduced tagger plan (one CV fold, whose model is
shipped, and its ablations):

    python -m export.train_all --tagger-folds 1 --ablation-folds 1 --tagger-ship-fold0

Wall times per stage go to export/work/runs/train_all.json (the model cards quote them).
Evaluation is a separate command: ``python -m export.evaluate``.

The shipped emotion model is v2 (musicnn trunk, streaming): after the v1 emotion stage (its
CV is the comparison the cards quote) the ``emotion_v2`` stage embeds the clips with the
converted musicnn weights and exports v2 over v1's ``emotion.onnx``. The weights come from
TensorFlow checkpoints in a separate venv (``export/musicnn_tf.py weights``); without them
the stage stops with that instruction rather than leave v1 shipped silently.
"""
from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from . import data as D
from . import train_emotion, train_latent, train_tagger
from .training import Timer, out_dirs, write_json


STAGES = ("emotion", "emotion_v2", "tagger", "latent")


def emotion_v2(data: str) -> None:
    """Streaming musicnn embeddings, then the v2 head's protocol and export (emotion.onnx)."""
    from . import musicnn_embed, train_emotion_musicnn
    from .musicnn_torch import WEIGHTS

    if not (WEIGHTS / "MSD_musicnn.npz").is_file():
        sys.exit(f"{WEIGHTS / 'MSD_musicnn.npz'} is missing: run `python export/musicnn_tf.py weights` "
                 "in the TensorFlow export venv (see export/musicnn_tf.py), then "
                 "`python -m export.train_all --only emotion_v2`; models_onnx/emotion.onnx is v1 until then")
    musicnn_embed.main(["--data", data])
    train_emotion_musicnn.main(["--data", data])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--only", default=",".join(STAGES),
                   help="comma list of stages to run (default: all; emotion_v2 needs the "
                        "converted musicnn weights, see export/musicnn_tf.py)")
    train_tagger.add_plan_args(p, prefix="tagger-")
    a = p.parse_args(argv)
    only = set(a.only.split(","))
    common = ["--data", a.data] + (["--smoke"] if a.smoke else [])
    total = Timer()
    walls = {}

    t = Timer()
    if not a.smoke and "emotion" in only:
        D.main(["--data", a.data])
    walls["features_s"] = t.s

    for name, mod, extra in (("emotion", train_emotion, ["--cv"]),
                             ("emotion_v2", emotion_v2, None),
                             ("tagger", train_tagger,
                              ["--cv", "--folds", str(a.tagger_folds), "--ablation-folds",
                               str(a.ablation_folds)] + (["--ship-fold0"] if a.tagger_ship_fold0 else [])),
                             ("latent", train_latent, [])):
        if name not in only:
            continue
        if name == "emotion_v2" and a.smoke:
            continue  # v2 needs the converted musicnn weights and the full feature cache
        t = Timer()
        mod(a.data) if name == "emotion_v2" else mod.run(common + extra)
        walls[f"{name}_s"] = t.s
        tqdm.write(f"== {name} finished in {t.s:.0f} s")
    walls["total_s"] = total.s
    walls["args"] = " ".join(argv if argv is not None else sys.argv[1:])
    work, _ = out_dirs(a.smoke, None)
    path = work / "train_all.json"
    if only != set(STAGES):  # a partial re-run: merge the other stages
        old = json.loads(path.read_text()) if path.is_file() else {}
        for name in set(STAGES) - only:
            done = work / f"{name}_train.json"
            if f"{name}_s" not in old and done.is_file():
                old[f"{name}_s"] = json.loads(done.read_text())["wall_s"]
        walls = {**old, **{k: v for k, v in walls.items() if k not in ("total_s", "features_s")}}
        walls["total_s"] = sum(v for k, v in walls.items() if k.endswith("_s") and k != "total_s")
        walls["args"] = (f"--tagger-folds {a.tagger_folds} --ablation-folds {a.ablation_folds}"
                         + (" --tagger-ship-fold0" if a.tagger_ship_fold0 else ""))  # equivalent
        walls["note"] = f"stages run separately: {sorted(only)} in this run, the rest before"
    write_json(path, walls)
    tqdm.write(f"train_all: {walls}")
    return walls


if __name__ == "__main__":
    main()
