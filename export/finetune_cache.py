"""Cache the musicnn (MSD) front-end outputs of every 4Q clip, for fine-tuning what lies
above them (``export/finetune_emotion.py``).

    python -m export.finetune_cache [--data ../shared/data] [--model MSD_musicnn]

The front end (``Musicnn.front_valid``) is the costly part of the trunk (≈ 96 % of its
multiply-adds) and stays frozen, so it runs once per clip, "valid" in time over the clip's
own frames: column ``j`` of a clip is the front-end feature centred at clip frame
``j + FRONT_BEFORE``. Every window the streaming model pools (``export.musicnn_embed``) lies
inside the clip, so these columns are exactly what the engine computes for it. Written as
float16 (561 × (T − 127) per clip) to ``export/work/mood/front_<model>.npz``.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from tqdm import tqdm

from . import data as D
from .musicnn_embed import cpu_session
from .musicnn_torch import WEIGHTS, Musicnn, db_to_musicnn
from .workspace import WORK

OUT = WORK / "mood"


class _Front(torch.nn.Module):
    def __init__(self, net: Musicnn):
        super().__init__()
        self.net = net

    def forward(self, mel):
        return self.net.front_valid(db_to_musicnn(mel))


def front_path(model: str = "MSD_musicnn"):
    return OUT / f"front_{model}.npz"




def load_front(model: str = "MSD_musicnn") -> dict[str, np.ndarray]:
    path = front_path(model)
    if not path.is_file():
        raise D.DataMissing(f"{path} is missing: run `python -m export.finetune_cache` first")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--model", default="MSD_musicnn", choices=("MSD_musicnn", "MTT_musicnn"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    root = D.data_root(a.data)
    clips = D.load_clips(root)
    OUT.mkdir(parents=True, exist_ok=True)
    net = Musicnn.from_npz(WEIGHTS / f"{a.model}.npz")
    session = cpu_session(_Front(net), OUT / f"{a.model}_front.onnx", "front", threads=1)
    cache = D.emotion4q_cache(root, clips)
    out = {}
    with np.load(cache) as z:
        for c in tqdm(clips, desc="front end", unit="clip", mininterval=10):
            mel = z[f"{c['song']}__mel"].astype(np.float32)[None]
            out[c["song"]] = session.run(None, {"mel": mel})[0][0].astype(np.float16)
    np.savez(front_path(a.model), **out)
    print(f"{len(out)} clips -> {front_path(a.model)}")


if __name__ == "__main__":
    main()
