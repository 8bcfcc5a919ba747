"""musicnn (Pons & Serra 2019, ISC licence) rebuilt in PyTorch from its TF checkpoints.

The network is the package's ``build_musicnn``: a batch-normalised log-mel input; a
"timbral" front end (vertical filters 7×38 and 7×67, 204 each, max-pooled over frequency)
and a "temporal" one (1-D filters of 128/64/32 frames, 51 each, max-pooled over frequency);
a mid end of three 7-frame convolutions (64 filters, residual); a back end of max + mean
pooling over time of the densely connected features (753 × 2) → BN → dense 200 (ReLU, BN:
``penultimate``) → 50 logits. TF layouts are converted once here (channels-last kernels to
PyTorch's, the interleaved [max, mean] flatten order of the pooled features).

Input: the engine's log-mel in dB (``sonolux.modelinput``: 16 kHz, n_fft 512, hop 256, 96
Slaney bands, 10·log10(power)) is turned into musicnn's own input inside the graph,
``log10(1 + 10000·power)`` with ``power = 10^(dB/10)``, so an exported model takes the same
``mel`` window as every other sonolux model.

Example::

    net = Musicnn.from_npz("export/work/musicnn/MSD_musicnn.npz").eval()
    out = net(torch.zeros(1, 250, 96) - 100.0)      # dB input
    out["penultimate"].shape                        # (1, 200)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "work" / "musicnn"
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default
N_MELS = 96
#: input frames a front-end feature needs before / after its centre (the 128-frame filter)
FRONT_BEFORE, FRONT_AFTER = 63, 64
#: front-end centres each side of a mid-end feature (three 7-frame convolutions)
MID_SIDE = 9
#: input frames a densely connected feature needs before / after its centre: a feature is
#: final ``LOOKAHEAD`` frames after its centre, which is the streaming trunk's decision delay
LOOKBEHIND, LOOKAHEAD = FRONT_BEFORE + MID_SIDE, FRONT_AFTER + MID_SIDE  # 72, 73


def db_to_musicnn(mel_db: torch.Tensor) -> torch.Tensor:
    """Engine log-mel (dB of power) → musicnn's input ``log10(1 + 10000·power)``."""
    return torch.log10(1.0 + 10000.0 * torch.pow(10.0, mel_db / 10.0))


class _BN(nn.Module):
    """Inference-only batch norm with TF's variables (gamma, beta, moving mean/var)."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("scale", torch.ones(n))
        self.register_buffer("shift", torch.zeros(n))

    def load(self, w: dict, name: str) -> None:
        g, b = w[f"{name}/gamma"], w[f"{name}/beta"]
        m, v = w[f"{name}/moving_mean"], w[f"{name}/moving_variance"]
        scale = g / np.sqrt(v + BN_EPS)
        self.scale.copy_(torch.from_numpy(scale.astype(np.float32)))
        self.shift.copy_(torch.from_numpy((b - m * scale).astype(np.float32)))

    def forward(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[dim] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


def _same_pad(k: int) -> tuple[int, int]:
    """TF 'same' padding of a stride-1 kernel of length k: (before, after)."""
    return (k - 1) // 2, k // 2


class Musicnn(nn.Module):
    """The musicnn network (``MTT_musicnn`` / ``MSD_musicnn`` sizes: mid end 64, back end 200)."""

    def __init__(self, *, n_mels: int = N_MELS, midend: int = 64, backend: int = 200,
                 n_classes: int = 50):
        super().__init__()
        self.bn_in = _BN(1)
        self.timbral = nn.ModuleList([nn.Conv2d(1, 204, (7, int(0.4 * n_mels))),
                                      nn.Conv2d(1, 204, (7, int(0.7 * n_mels)))])
        self.bn_timbral = nn.ModuleList([_BN(204), _BN(204)])
        self.temporal_k = (128, 64, 32)
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in self.temporal_k])
        self.bn_temporal = nn.ModuleList([_BN(51) for _ in self.temporal_k])
        n_front = 2 * 204 + 3 * 51
        self.mid = nn.ModuleList([nn.Conv1d(n_front, midend, 7), nn.Conv1d(midend, midend, 7),
                                  nn.Conv1d(midend, midend, 7)])
        self.bn_mid = nn.ModuleList([_BN(midend) for _ in range(3)])
        self.n_features = n_front + 3 * midend  # 753
        self.bn_pool = _BN(2 * self.n_features)
        self.dense = nn.Linear(2 * self.n_features, backend)
        self.bn_dense = _BN(backend)
        self.out = nn.Linear(backend, n_classes)

    # -- weights -------------------------------------------------------------------------
    @classmethod
    def from_npz(cls, path: str | Path) -> "Musicnn":
        """Build from the arrays ``export/musicnn_tf.py weights`` wrote."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `python export/musicnn_tf.py weights` "
                                    "in the TensorFlow export venv (see export/musicnn_tf.py)")
        with np.load(path) as z:
            w = {k: z[k] for k in z.files}
        net = cls(midend=w["conv2d_6/bias"].shape[0], backend=w["dense/bias"].shape[0],
                  n_classes=w["dense_1/bias"].shape[0])
        net.load_tf(w)
        return net.eval()

    @torch.no_grad()
    def load_tf(self, w: dict) -> None:
        def conv2d(layer, name):  # TF (kh, kw, in, out) → torch (out, in, kh, kw)
            layer.weight.copy_(torch.from_numpy(w[f"{name}/kernel"].transpose(3, 2, 0, 1).copy()))
            layer.bias.copy_(torch.from_numpy(w[f"{name}/bias"]))

        def conv1d(layer, name):  # TF (7, width, 1, out) → torch (out, width, 7)
            k = w[f"{name}/kernel"][:, :, 0, :]
            layer.weight.copy_(torch.from_numpy(k.transpose(2, 1, 0).copy()))
            layer.bias.copy_(torch.from_numpy(w[f"{name}/bias"]))

        self.bn_in.load(w, "batch_normalization")
        for i in range(2):
            conv2d(self.timbral[i], f"conv2d{'' if i == 0 else '_1'}")
            self.bn_timbral[i].load(w, f"batch_normalization_{i + 1}")
        for i in range(3):
            conv2d(self.temporal[i], f"conv2d_{i + 2}")
            self.bn_temporal[i].load(w, f"batch_normalization_{i + 3}")
        for i in range(3):
            conv1d(self.mid[i], f"conv2d_{i + 5}")
            self.bn_mid[i].load(w, f"batch_normalization_{i + 6}")
        # TF flattens the pooled (753, 2) map as [max_0, mean_0, max_1, mean_1, ...]; this
        # port concatenates [max (753), mean (753)]: permute the BN and dense inputs to match
        n = self.n_features
        order = np.concatenate([np.arange(n) * 2, np.arange(n) * 2 + 1])
        self.bn_pool.load({k.replace("batch_normalization_9", "p"): v[order]
                           for k, v in w.items() if k.startswith("batch_normalization_9/")}, "p")
        self.dense.weight.copy_(torch.from_numpy(w["dense/kernel"][order].T.copy()))
        self.dense.bias.copy_(torch.from_numpy(w["dense/bias"]))
        self.bn_dense.load(w, "batch_normalization_10")
        self.out.weight.copy_(torch.from_numpy(w["dense_1/kernel"].T.copy()))
        self.out.bias.copy_(torch.from_numpy(w["dense_1/bias"]))

    # -- forward -------------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """musicnn input (B, T, 96) → densely connected features (B, 753, T)."""
        h = self.bn_in(x.unsqueeze(1), 1)  # (B, 1, T, F)
        front = []
        padded = F.pad(h, (0, 0, 3, 3))
        for conv, bn in zip(self.timbral, self.bn_timbral):
            y = bn(F.relu(conv(padded)), 1)
            front.append(y.amax(dim=3))  # (B, 204, T)
        for k, conv, bn in zip(self.temporal_k, self.temporal, self.bn_temporal):
            y = bn(F.relu(conv(F.pad(h, (0, 0, *_same_pad(k))))), 1)
            front.append(y.amax(dim=3))  # (B, 51, T)
        f = torch.cat(front, dim=1)  # (B, 561, T)
        m1 = self.bn_mid[0](F.relu(self.mid[0](F.pad(f, (3, 3)))), 1)
        m2 = self.bn_mid[1](F.relu(self.mid[1](F.pad(m1, (3, 3)))), 1) + m1
        m3 = self.bn_mid[2](F.relu(self.mid[2](F.pad(m2, (3, 3)))), 1) + m2
        return torch.cat([f, m1, m2, m3], dim=1)

    # -- the same network over a stream: "valid" in time, no padding ---------------------
    # Away from a window's edges ``features`` above equals these; a stream has no edges, so a
    # feature is computed once, when its whole context has arrived, and pooled by every
    # window that holds it (engine/inference/stream.py, export/musicnn_embed.py).
    def front_valid(self, x: torch.Tensor) -> torch.Tensor:
        """musicnn input (B, T, 96) → front-end features (B, 561, T - 127) of the centres
        ``63 .. T - 65``."""
        h = self.bn_in(x.unsqueeze(1), 1)
        t = h.shape[2]
        front = []
        for conv, bn in zip(self.timbral, self.bn_timbral):
            y = bn(F.relu(conv(h[:, :, FRONT_BEFORE - 3:t - FRONT_AFTER + 3])), 1)
            front.append(y.amax(dim=3))
        for k, conv, bn in zip(self.temporal_k, self.temporal, self.bn_temporal):
            before, after = _same_pad(k)
            y = bn(F.relu(conv(h[:, :, FRONT_BEFORE - before:t - FRONT_AFTER + after])), 1)
            front.append(y.amax(dim=3))
        return torch.cat(front, dim=1)

    def mid_valid(self, f: torch.Tensor) -> torch.Tensor:
        """Front-end features (B, 561, N) → densely connected features (B, 753, N - 18) of
        the centres ``9 .. N - 10``."""
        m1 = self.bn_mid[0](F.relu(self.mid[0](f)), 1)
        m2 = self.bn_mid[1](F.relu(self.mid[1](m1)), 1) + m1[:, :, 3:-3]
        m3 = self.bn_mid[2](F.relu(self.mid[2](m2)), 1) + m2[:, :, 3:-3]
        return torch.cat([f[:, :, MID_SIDE:-MID_SIDE], m1[:, :, 6:-6], m2[:, :, 3:-3], m3], dim=1)

    def pool_head(self, feats: torch.Tensor) -> dict:
        """Densely connected features (B, 753, P) → taggram, penultimate, mean/max pool."""
        max_pool, mean_pool = feats.amax(dim=2), feats.mean(dim=2)
        pooled = self.bn_pool(torch.cat([max_pool, mean_pool], dim=1), 1)
        pen = self.bn_dense(F.relu(self.dense(pooled)), 1)
        return {"taggram": torch.sigmoid(self.out(pen)), "penultimate": pen,
                "mean_pool": mean_pool, "max_pool": max_pool}

    def forward(self, mel_db: torch.Tensor) -> dict:
        """Engine log-mel dB (B, T, 96) → taggram (sigmoid), penultimate, mean/max pool."""
        return self.forward_musicnn(db_to_musicnn(mel_db))

    def forward_musicnn(self, x: torch.Tensor) -> dict:
        return self.pool_head(self.features(x))
