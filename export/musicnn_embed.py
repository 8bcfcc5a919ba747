"""Cache the streaming musicnn embeddings of every emotion window of the 4Q clips: exactly what
the live engine's streaming emotion model pools (``sonolux.inference.stream``).

    python -m export.musicnn_embed [--data ../shared/data] [--model MSD_musicnn] [--stride 128]
                                   [--input-normalisation running_level|none]

The trunk runs "valid" in time over the whole clip, preceded by the silence a stream starts
from (``musicnn_torch.Musicnn.front_valid`` / ``mid_valid``, through onnxruntime): each
centre's 753 densely connected features are computed once, with all their context. The
window ending at frame ``e`` (frames ``< e`` heard) pools the ``P`` newest final centres,
``e - 74 - P + 1 .. e - 74`` (a centre is final ``LOOKAHEAD`` = 73 frames after it), so it
covers ``P + 145`` frames of input. For each pool length in ``POOLS`` this writes
``export/work/musicnn/emb_<model>_p<P>_s<stride>.npz``: per window ``penultimate`` (200),
``mean_pool`` / ``max_pool`` (753), ``taggram`` (50), plus ``song``, ``q``, ``fold``,
``end`` (end frame). Windows start once the first span is full and come every ``stride``
frames. Needs the feature cache of ``export.data`` and the weights of
``export/musicnn_tf.py weights``.

``--input-normalisation running_level`` (the default, emotion v2.2) puts the engine's causal
level normaliser (``sonolux.inference.level``, settings from ``export.input_level``) between
the log-mel and the trunk, as the live stream does, and writes
``export/work/mood6/emb_<model>_running_level_p<P>_s<stride>.npz``; ``none`` gives the raw
log-mel windows of emotion v2.1 (the files above).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from tqdm import tqdm

from sonolux import modelinput as mi

from . import data as D
from .input_level import CACHE, CHOICES, contract_entry, normalise
from .musicnn_torch import LOOKAHEAD, LOOKBEHIND, WEIGHTS, Musicnn, db_to_musicnn

KEYS = ("penultimate", "mean_pool", "max_pool", "taggram")
POOLS = (105, 187, 250)  # pooled centres: 4.0 s, 5.3 s, 6.3 s of input per window
CONTEXT = LOOKBEHIND + LOOKAHEAD + 1  # 146 input frames around one final centre


def span(pool: int) -> int:
    """Input frames one window covers: ``pool`` centres and their context."""
    return pool + CONTEXT - 1


class _Trunk(torch.nn.Module):
    """Engine dB log-mel (1, T, 96) → densely connected features (1, 753, T - 145)."""

    def __init__(self, net: Musicnn):
        super().__init__()
        self.net = net

    def forward(self, mel):
        return self.net.mid_valid(self.net.front_valid(db_to_musicnn(mel)))


class _PoolHead(torch.nn.Module):
    def __init__(self, net: Musicnn):
        super().__init__()
        self.net = net

    def forward(self, feats):
        out = self.net.pool_head(feats)
        return tuple(out[k] for k in KEYS)


def cpu_session(module: torch.nn.Module, path, output: str, threads: int):
    """``module`` (dB log-mel (1, T, 96) → (1, C, T')) exported to ``path`` and opened on the
    CPU: onnxruntime runs the trunk several times faster than eager PyTorch."""
    import onnxruntime as ort

    torch.onnx.export(module.eval(), (torch.full((1, 400, mi.N_MELS), -50.0),), str(path),
                      input_names=["mel"], output_names=[output], opset_version=17,
                      dynamic_axes={"mel": {1: "frames"}, output: {2: "centres"}}, dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def trunk_session(net: Musicnn, path, threads: int = 2):
    return cpu_session(_Trunk(net), path, "features", threads)


def clip_centres(session, mel: np.ndarray, pad: int) -> np.ndarray:
    """(753, n) final features of a clip preceded by ``pad`` frames of silence; column ``j``
    is the centre at clip frame ``j + LOOKBEHIND - pad``."""
    sil = mi.silence_features()["mel"]
    x = np.concatenate([np.repeat(sil[None], pad, 0), mel]).astype(np.float32)[None]
    return session.run(None, {"mel": x})[0][0]


def window_ends(n_frames: int, pool: int, stride: int) -> np.ndarray:
    return mi.frame_windows(n_frames, window=span(pool), stride=stride)


def pooled_windows(feats: np.ndarray, ends: np.ndarray, pool: int, pad: int) -> np.ndarray:
    """(n_windows, 753, pool): the centres each window ending at ``ends`` pools."""
    last = ends - LOOKAHEAD - 1 - LOOKBEHIND + pad  # column of the newest final centre
    return np.stack([feats[:, j - pool + 1:j + 1] for j in last])


def embed_clips(session, head: torch.nn.Module, clips: list[dict], feats: dict, stride: int,
                level: dict | None = None) -> dict:
    """Per pool length, the windows of every clip; ``level``: the contract's
    ``input_normalisation`` entry applied to each clip's log-mel first (None: raw)."""
    pad = span(max(POOLS))
    out = {p: {k: [] for k in KEYS} for p in POOLS}
    meta = {p: {"song": [], "q": [], "fold": [], "end": []} for p in POOLS}
    for c in tqdm(clips, desc="musicnn stream", unit="clip", mininterval=5):
        mel = normalise(feats[c["song"]]["mel"], level)
        centres = clip_centres(session, mel, pad)
        for p in POOLS:
            ends = window_ends(len(mel), p, stride)
            with torch.no_grad():
                res = head(torch.from_numpy(pooled_windows(centres, ends, p, pad)))
            for k, r in zip(KEYS, res):
                out[p][k].append(r.numpy())
            meta[p]["song"] += [c["song"]] * len(ends)
            meta[p]["q"] += [c["q"]] * len(ends)
            meta[p]["fold"] += [c["fold"]] * len(ends)
            meta[p]["end"] += list(ends)
    return {p: {**{k: np.concatenate(v).astype(np.float32) for k, v in out[p].items()},
                **{k: np.array(v) for k, v in meta[p].items()}} for p in POOLS}


def embedding_path(model: str, pool: int, stride: int, normalisation: str = "none"):
    """The embedding cache: raw log-mel windows beside the weights, normalised ones in
    ``export/work/mood6``."""
    if normalisation == "none":
        return WEIGHTS / f"emb_{model}_p{pool}_s{stride}.npz"
    return CACHE / f"emb_{model}_{normalisation}_p{pool}_s{stride}.npz"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("--model", default="MSD_musicnn", choices=("MSD_musicnn", "MTT_musicnn"))
    p.add_argument("--stride", type=int, default=128, help="frames between window ends")
    p.add_argument("--input-normalisation", choices=CHOICES, default="running_level",
                   help="level normaliser in front of the trunk (default running_level: emotion v2.2; "
                        "none: the raw log-mel of v2.1)")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    root = D.data_root(a.data)
    clips = D.load_clips(root)
    feats = D.load_cache(D.emotion4q_cache(root, clips), [c["song"] for c in clips])
    net = Musicnn.from_npz(WEIGHTS / f"{a.model}.npz")
    CACHE.mkdir(parents=True, exist_ok=True)
    session = trunk_session(net, CACHE / f"{a.model}_trunk.onnx")
    level = contract_entry(root, clips) if a.input_normalisation != "none" else None
    for pool, res in embed_clips(session, _PoolHead(net).eval(), clips, feats, a.stride, level).items():
        dst = embedding_path(a.model, pool, a.stride, a.input_normalisation)
        np.savez(dst, **res)
        print(f"pool {pool}: {len(res['song'])} windows -> {dst}")


if __name__ == "__main__":
    main()
