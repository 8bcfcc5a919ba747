"""One command for the whole training: feature caches, emotion (5-fold CV + ablation + shipped
model), tagger (5-fold CV + ablations + shipped model), latent autoencoder.

    python -m export.train_all [--data ../shared/data] [--smoke]

Wall times per stage go to export/work/runs/train_all.json (the model cards quote them).
Evaluation is a separate command: ``python -m export.evaluate``.
"""
from __future__ import annotations

import argparse

from tqdm import tqdm

from . import data as D
from .training import Timer, out_dirs, write_json


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)
    common = ["--data", a.data] + (["--smoke"] if a.smoke else [])
    total = Timer()
    walls = {}

    t = Timer()
    if not a.smoke:
        D.main(["--data", a.data])
    walls["features_s"] = t.s

    from . import train_emotion, train_latent, train_tagger
    for name, mod, extra in (("emotion", train_emotion, ["--cv"]),
                             ("tagger", train_tagger, ["--cv"]),
                             ("latent", train_latent, [])):
        t = Timer()
        mod.run(common + extra)
        walls[f"{name}_s"] = t.s
        tqdm.write(f"== {name} finished in {t.s:.0f} s")
    walls["total_s"] = total.s
    work, _ = out_dirs(a.smoke, None)
    write_json(work / "train_all.json", walls)
    tqdm.write(f"train_all: {walls}")
    return walls


if __name__ == "__main__":
    main()
