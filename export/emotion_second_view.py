"""Issue #16 lever: a second pretrained view, musicnn's ``MSD_vgg`` (ISC licence), next to the
shipped MSD-musicnn trunk. Screened on the dev folds only; nothing here is shipped.

    python -m export.emotion_second_view cost                 # VGG forward, one 3 s patch, 1 thread
    python -m export.emotion_second_view patches              # the package's input patches, cached
    /work/venvs/tf/bin/python export/musicnn_tf.py vgg export/work/mood4/vgg_patches.npz
    python -m export.emotion_second_view dev                  # clip-level heads, dev folds 0-2
    python -m export.emotion_second_view five_fold --view "MSD_vgg pool5"   # frozen dev choice, 5 folds

``cost`` runs the VGG network of ``musicnn.models.vgg`` (BN input, five 3×3 convolutions of
128 filters with BN and max-pooling, pool5 = 2×1×128 for a 187-frame patch) on one 3 s patch
(187 × 96) with onnxruntime and with PyTorch, one thread, batch 1: the cost of one more trunk
per 0.5 s mark if it ran on the newest 3 s (its max-pooling strides do not allow the musicnn
trunk's streaming of new frames only). Weights do not change the cost; random ones are used.
The shipped streaming emotion model's call per 0.5 s mark is timed in the same run, so the
two figures share the machine's load.

``patches`` reproduces the package's ``extractor.batch_data`` (librosa 16 kHz, n_fft 512,
hop 256, 96 bands, float16, log10(1 + 10000·power), non-overlapping 187-frame patches, the
defaults of ``musicnn.extractor.extractor(model='MSD_vgg')``) for the 600 clips, with one
fix: the log is taken in float32 (the package's float16 arithmetic turns loud bins into
inf, and the network's outputs into NaN, for nearly every patch of these clips); so the
TensorFlow side only runs the package's own graph and checkpoint (``export/musicnn_tf.py
vgg``), which writes pool5 per patch.

``dev`` scores clip-level linear heads (standardised logistic regression, the shipped
``Head``) on clip means of the features, train on two dev folds, test on the third, clip
macro-F1 of the "signs" rule: MSD_vgg pool5 alone, the musicnn penultimate (clip mean of the
cached streaming windows: the like-for-like baseline), and their concatenation. Each is put
next to the shipped window head (dev 0.747) and the concatenation next to the musicnn-only
clip head, with paired-bootstrap 95 % intervals over the dev clips. Writes
``export/results/emotion_second_view.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import data as D
from .emotion_clip_heads import add_five_fold_args, lever_step, update_results
from .workspace import WORK

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = WORK / "mood4"
PATCHES = CACHE / "vgg_patches.npz"
VGG_FEATURES = CACHE / "vgg_patches.MSD_vgg.npz"
SR, HOP, N_FFT, N_MELS, PATCH = 16000, 256, 512, 96, 187  # musicnn.configuration; 3 s patches
N_FILTERS = 128  # models.define_model: MSD_vgg = vgg(x, ..., 128)
SHIPPED_EMOTION = Path(__file__).resolve().parents[1] / "models_onnx" / "emotion.onnx"
NEW_FRAMES, MEL_CONTEXT = 31, 127  # frames per 0.5 s mark; the streaming trunk's mel context


# ------------------------------------------------------------------------------ cost

def vgg_torch():
    """``musicnn.models.vgg`` in PyTorch (inference; BN as affine layers), random weights."""
    from torch import nn

    def block(cin, pool, stride):
        return [nn.Conv2d(cin, N_FILTERS, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(N_FILTERS),
                nn.MaxPool2d(pool, stride)]

    layers = [nn.BatchNorm2d(1)]
    layers += block(1, (4, 1), (2, 2)) + block(N_FILTERS, 2, 2) + block(N_FILTERS, 2, 2) + block(N_FILTERS, 2, 2)
    layers += block(N_FILTERS, 4, 4) + [nn.Flatten()]
    return nn.Sequential(*layers).eval()


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()),
            "runs": len(a)}


def time_ms(call, runs: int, warm_up: int = 10) -> list[float]:
    """Wall ms of each of ``runs`` calls after ``warm_up`` untimed ones."""
    for _ in range(warm_up):
        call()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        ms.append(1e3 * (time.perf_counter() - t0))
    return ms


def cost(runs: int = 300) -> dict:
    """ms per forward of one 187 × 96 patch, batch 1, one thread (torch and onnxruntime)."""
    import onnxruntime as ort
    import torch

    torch.set_num_threads(1)
    net = vgg_torch()
    x = torch.randn(1, 1, PATCH, N_MELS)
    with torch.no_grad():
        dim = net(x).shape[1]
        t_torch = time_ms(lambda: net(x), runs)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "MSD_vgg_cost.onnx"
    torch.onnx.export(net, x, str(path), input_names=["x"], output_names=["pool5"], opset_version=17, dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    t_ort = time_ms(lambda: sess.run(None, feed), runs)
    shipped = shipped_emotion_per_mark(opts, runs)
    macs = 0
    t, f, c = PATCH, N_MELS, 1
    for pool, stride in (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))):
        macs += t * f * c * N_FILTERS * 9
        c = N_FILTERS
        t, f = (t - pool[0]) // stride[0] + 1, (f - pool[1]) // stride[1] + 1
    params = sum(p.numel() for p in net.parameters())
    out = {"input": f"1 x 1 x {PATCH} x {N_MELS} (3 s)", "pool5_dim": int(dim), "params": int(params),
           "size_mb_float32": params * 4 / 1e6, "mmac": macs / 1e6, "torch_1_thread": percentiles(t_torch),
           "onnxruntime_1_thread": percentiles(t_ort),
           "shipped_emotion_per_mark_onnxruntime_1_thread_same_run": shipped}
    print(json.dumps(out, indent=1))
    return out


def shipped_emotion_per_mark(opts, runs: int) -> dict:
    """ms of the shipped streaming emotion model's call per 0.5 s mark (31 new frames + its
    127-frame mel context, the state carried in), same session options: the reference for
    the VGG figure under the same machine load."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(SHIPPED_EMOTION), opts, providers=["CPUExecutionProvider"])
    dims = {i.name: i.shape for i in sess.get_inputs()}
    rng = np.random.default_rng(0)
    feed = {"mel": rng.uniform(-80, 0, (1, NEW_FRAMES + MEL_CONTEXT, N_MELS)).astype(np.float32),
            "front_past": np.zeros((1, *dims["front_past"][1:]), np.float32),
            "features_past": np.zeros((1, *dims["features_past"][1:]), np.float32)}
    return percentiles(time_ms(lambda: sess.run(None, feed), runs))


# ------------------------------------------------------------------------------ patches

def package_patches(path: str) -> np.ndarray:
    """``musicnn.extractor.batch_data(path, 187, 187)`` without TensorFlow: (patches, 187, 96)."""
    import librosa

    audio, sr = librosa.load(path, sr=SR)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    # the package stores the mel in float16 and takes the log there: 10000·x stays float16 and
    # overflows to inf for mel power > 6.55 (most patches of loud music); the log in float32
    rep = np.log10(10000 * rep.astype(np.float16).astype(np.float32) + 1)
    starts = range(0, rep.shape[0] - PATCH + 1, PATCH)
    return np.stack([rep[s:s + PATCH] for s in starts]).astype(np.float32)


def patches(clips: list[dict]) -> None:
    from tqdm import tqdm

    xs, song = [], []
    for c in tqdm(clips, desc="MSD_vgg patches"):
        x = package_patches(c["audio"])
        if not np.isfinite(x).all():
            raise ValueError(f"{c['audio']}: non-finite musicnn input")
        xs.append(x)
        song += [c["song"]] * len(x)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(PATCHES, x=np.concatenate(xs), song=np.array(song))
    print(f"{len(song)} patches of {len(clips)} clips -> {PATCHES}")


# ------------------------------------------------------------------------------ dev screen

def clip_means(song: np.ndarray, X: np.ndarray, order: list[str]) -> np.ndarray:
    """Mean of ``X``'s rows per song, in the order of ``order``."""
    return np.stack([X[song == s].mean(0) for s in order])


def views(clips: list[dict]) -> dict[str, np.ndarray]:
    """Clip means of MSD_vgg's pool5 and MSD taggram, rows in ``clips`` order."""
    if not VGG_FEATURES.is_file():
        raise D.DataMissing(f"{VGG_FEATURES} is missing: run the `patches` step and export/musicnn_tf.py vgg first")
    f = np.load(VGG_FEATURES)
    order = [c["song"] for c in clips]
    return {"MSD_vgg pool5": clip_means(f["song"], f["pool5"], order),
            "MSD_vgg taggram": clip_means(f["song"], f["taggram"], order)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("step", choices=("cost", "patches", "dev", "five_fold"))
    add_five_fold_args(p)
    a = p.parse_args(argv)
    path = RESULTS / "emotion_second_view.json"
    if a.step == "cost":
        return update_results(path, "cost", lambda rep: cost())
    clips = D.load_clips(D.data_root(a.data))
    if a.step == "patches":
        return patches(clips)
    lever_step(p, a.step, a.view, path, clips, views)

if __name__ == "__main__":
    try:
        main()
    except D.DataMissing as err:  # a missing cache or data folder: say which, no traceback
        raise SystemExit(f"error: {err}")
