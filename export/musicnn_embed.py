"""Cache musicnn outputs of every emotion window of the 4Q clips (PyTorch port, exact per
window, run through onnxruntime: the same 250-frame dB log-mel windows the live engine feeds the emotion model).

    python -m export.musicnn_embed [--data ../shared/data] [--model MSD_musicnn] [--stride 128]

Writes ``export/work/musicnn/emb_<model>_s<stride>.npz``: per window ``penultimate`` (200),
``mean_pool`` / ``max_pool`` (753), ``taggram`` (50), plus ``song``, ``q``, ``fold``,
``end`` (end frame). Needs the feature cache of ``export.data`` and the weights of
``export/musicnn_tf.py weights``. Resumable per clip is not needed: ~7 min per model on 2
threads.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from tqdm import tqdm

from sonolux import modelinput as mi

from . import data as D
from .musicnn_torch import WEIGHTS, Musicnn

WIN = mi.FEATURE_CONTRACT["emotion_frames"]
KEYS = ("penultimate", "mean_pool", "max_pool", "taggram")


def clip_windows(mel: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows (n, WIN, 96), end frames) of one clip, as the live engine cuts them."""
    sil = mi.silence_features()["mel"]
    ends = mi.frame_windows(len(mel), window=WIN, stride=stride)
    return np.stack([mi.window_at(mel, int(e), WIN, sil) for e in ends]), ends


class _Outputs(torch.nn.Module):
    def __init__(self, net: Musicnn):
        super().__init__()
        self.net = net

    def forward(self, mel):
        out = self.net(mel)
        return tuple(out[k] for k in KEYS)


def onnx_session(net: Musicnn, path, threads: int = 2):
    """onnxruntime runs this network ~5x faster than eager PyTorch on CPU: embed through it."""
    import onnxruntime as ort

    torch.onnx.export(_Outputs(net).eval(), (torch.full((1, WIN, mi.N_MELS), -50.0),), str(path),
                      input_names=["mel"], output_names=list(KEYS), opset_version=17,
                      dynamic_axes={"mel": {0: "batch"}}, dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def embed_clips(session, clips: list[dict], feats: dict, stride: int, batch: int = 8) -> dict:
    out = {k: [] for k in KEYS}
    meta = {"song": [], "q": [], "fold": [], "end": []}
    for c in tqdm(clips, desc="musicnn windows", unit="clip", mininterval=5):
        wins, ends = clip_windows(feats[c["song"]]["mel"], stride)
        for i in range(0, len(wins), batch):
            res = session.run(None, {"mel": wins[i:i + batch].astype(np.float32)})
            for k, r in zip(KEYS, res):
                out[k].append(r)
        meta["song"] += [c["song"]] * len(ends)
        meta["q"] += [c["q"]] * len(ends)
        meta["fold"] += [c["fold"]] * len(ends)
        meta["end"] += list(ends)
    return {**{k: np.concatenate(v).astype(np.float32) for k, v in out.items()},
            **{k: np.array(v) for k, v in meta.items()}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--model", default="MSD_musicnn", choices=("MSD_musicnn", "MTT_musicnn"))
    p.add_argument("--stride", type=int, default=128, help="frames between window ends")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    root = D.data_root(a.data)
    clips = D.load_clips(root)
    feats = D.load_cache(D.emotion4q_cache(root, clips), [c["song"] for c in clips])
    net = Musicnn.from_npz(WEIGHTS / f"{a.model}.npz")
    session = onnx_session(net, WEIGHTS / f"{a.model}_windows.onnx")
    res = embed_clips(session, clips, feats, a.stride)
    dst = WEIGHTS / f"emb_{a.model}_s{a.stride}.npz"
    np.savez(dst, **res)
    print(f"{len(res['song'])} windows -> {dst}")


if __name__ == "__main__":
    main()
