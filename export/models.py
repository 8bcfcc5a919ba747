"""The three encoders, small enough for a CPU p99 < 10 ms per window (emotion + tags).

Inputs are the raw contract features (mel dB, wavelet dB, waveform); each model normalises
them internally with constants fixed at training time, so the engine feeds features as
``sonolux.modelinput`` computes them and nothing else.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class Standardize(nn.Module):
    """(x - mean) / std with constants stored in the model (exported with it)."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x):
        return (x - self.mean) / self.std


def conv2d_block(cin, cout, pool):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(pool))


def conv1d_block(cin, cout, pool, k=3):
    return nn.Sequential(nn.Conv1d(cin, cout, k, padding=k // 2, bias=False),
                         nn.BatchNorm1d(cout), nn.ReLU(inplace=True), nn.MaxPool1d(pool))


class MelFrontEnd(nn.Module):
    """2-D convolutions over (time, mel) -> sequence (B, C, T') after max over frequency."""

    def __init__(self, channels=(8, 16, 32, 64), pools=((2, 2), (2, 2), (2, 2), (1, 3)),
                 pre_pool=(1, 2)):
        super().__init__()
        # average pooling of the input first: the full 62.5 fps x 96-band grid is not needed
        # by the first layer and would dominate the CPU cost
        layers, cin = [nn.AvgPool2d(pre_pool)], 1
        for c, p in zip(channels, pools):
            layers.append(conv2d_block(cin, c, p))
            cin = c
        self.net = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, mel):                      # (B, T, F)
        x = self.net(mel.unsqueeze(1))           # (B, C, T', F')
        return x.amax(dim=3)                     # (B, C, T')


class EmotionCRNN(nn.Module):
    """Seed-paper CRNN: conv front end on log-mel, a wavelet-energy branch (1-D conv over the
    per-frame Mallat band energies) fused at the sequence level, a BiGRU, attention pooling,
    and two heads: valence/arousal in -1..1 and 4-quadrant probabilities.

    ``use_wavelet=False`` is the ablation: the branch is removed (the input is still accepted
    so both variants share one evaluation path).
    """

    def __init__(self, n_mels=96, n_wavelet=6, use_wavelet=True, mel_norm=(-40.0, 20.0),
                 wl_norm=(-20.0, 20.0), hidden=32):
        super().__init__()
        self.use_wavelet = use_wavelet
        self.mel_norm = Standardize(*mel_norm)
        self.wl_norm = Standardize(*wl_norm)
        self.front = MelFrontEnd(pre_pool=(2, 2))   # T: 250 -> 125 -> 15
        seq_in = self.front.out_channels
        if use_wavelet:
            self.wavelet = nn.Sequential(conv1d_block(n_wavelet, 16, 2), conv1d_block(16, 24, 2),
                                         conv1d_block(24, 24, 4))  # T: 250 -> 15
            seq_in += 24
        self.gru = nn.GRU(seq_in, hidden, batch_first=True, bidirectional=True)
        self.att = nn.Linear(2 * hidden, 1)
        self.drop = nn.Dropout(0.3)
        self.va_head = nn.Linear(2 * hidden, 2)
        self.q_head = nn.Linear(2 * hidden, 4)
        self.aux_head = nn.Linear(2 * hidden, 2)  # vibenet valence/energy (training only)

    def embed(self, mel, wavelet):
        x = self.front(self.mel_norm(mel))                       # (B, C, T')
        if self.use_wavelet:
            w = self.wavelet(self.wl_norm(wavelet).transpose(1, 2))
            t = min(x.shape[2], w.shape[2])
            x = torch.cat([x[:, :, :t], w[:, :, :t]], dim=1)
        h, _ = self.gru(x.transpose(1, 2))                       # (B, T', 2H)
        a = torch.softmax(self.att(h), dim=1)                    # (B, T', 1)
        return self.drop((a * h).sum(dim=1))

    def heads(self, mel, wavelet):
        e = self.embed(mel, wavelet)
        return self.va_head(e), self.q_head(e), self.aux_head(e)

    def forward(self, mel, wavelet):
        va_logit, q_logit, _ = self.heads(mel, wavelet)
        return torch.tanh(va_logit), torch.softmax(q_logit, dim=-1)


class StructuredSelfAttention(nn.Module):
    """Lin et al. 2017: A = softmax(W2 tanh(W1 X^T)) over time, M = A X (r heads)."""

    def __init__(self, dim, d_a=64, r=4):
        super().__init__()
        self.w1 = nn.Linear(dim, d_a, bias=False)
        self.w2 = nn.Linear(d_a, r, bias=False)
        self.r = r

    def forward(self, x):                                  # (B, T, D)
        a = torch.softmax(self.w2(torch.tanh(self.w1(x))), dim=1).transpose(1, 2)  # (B, r, T)
        return a @ x, a                                    # M: (B, r, D)

    @staticmethod
    def penalty(a):
        """||A A^T - I||_F^2, pushes the r heads to attend to different frames."""
        eye = torch.eye(a.shape[1], device=a.device)
        return ((a @ a.transpose(1, 2) - eye) ** 2).sum(dim=(1, 2)).mean()


class WaveFrontEnd(nn.Module):
    """1-D convolutions on the raw 16 kHz waveform -> (B, C, T') on the mel branch's grid."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(1, 32, 256, stride=128, bias=False),
                                  nn.BatchNorm1d(32), nn.ReLU(inplace=True))  # 48128 -> 375
        self.net = nn.Sequential(conv1d_block(32, 48, 2), conv1d_block(48, 64, 2),
                                 conv1d_block(64, 64, 4))                      # -> 23
        self.out_channels = 64

    def forward(self, wave):
        return self.net(self.stem(wave.unsqueeze(1)))


class Tagger(nn.Module):
    """Tagging-paper model: 2-D conv on mel + 1-D conv on waveform, fused, BiLSTM, structured
    self-attention pooling (r = 4), 50 sigmoid outputs. ``branches`` selects the ablations."""

    def __init__(self, n_tags=50, branches=("mel", "wave"), mel_norm=(-40.0, 20.0), hidden=48,
                 r=4):
        super().__init__()
        self.branches = tuple(branches)
        self.mel_norm = Standardize(*mel_norm)
        dim = 0
        if "mel" in self.branches:
            self.mel = MelFrontEnd(pre_pool=(1, 2))  # T: 188 -> 23, F: 96 -> 48 -> 2
            dim += self.mel.out_channels
        if "wave" in self.branches:
            self.wave = WaveFrontEnd()
            dim += self.wave.out_channels
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.att = StructuredSelfAttention(2 * hidden, d_a=64, r=r)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(r * 2 * hidden, 128),
                                  nn.ReLU(inplace=True), nn.Dropout(0.3), nn.Linear(128, n_tags))

    def logits(self, mel, wave):
        parts = []
        if "mel" in self.branches:
            parts.append(self.mel(self.mel_norm(mel)))
        if "wave" in self.branches:
            parts.append(self.wave(wave))
        t = min(p.shape[2] for p in parts)
        x = torch.cat([p[:, :, :t] for p in parts], dim=1).transpose(1, 2)   # (B, T', D)
        h, _ = self.lstm(x)
        m, a = self.att(h)
        return self.head(m.flatten(1)), a

    def forward(self, mel, wave):
        return torch.sigmoid(self.logits(mel, wave)[0])


class LatentAE(nn.Module):
    """Compact conv autoencoder on (64 frames x 96 mel) windows with a 10-d code.

    The exported encoder appends a whitening map (PCA of the training codes), so the 10 values
    are zero-mean, unit-variance, decorrelated and ordered by variance; ``controls`` squashes
    them to 0..1 for presets.
    """

    def __init__(self, n_mels=96, frames=64, code=10, mel_norm=(-40.0, 20.0)):
        super().__init__()
        self.mel_norm = Standardize(*mel_norm)
        self.enc = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(inplace=True),   # 32 x 48
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),  # 16 x 24
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),  # 8 x 12
        )
        self.shape = (32, frames // 8, n_mels // 8)
        flat = 32 * (frames // 8) * (n_mels // 8)
        self.to_code = nn.Linear(flat, code)
        self.from_code = nn.Linear(code, flat)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1),
        )
        self.register_buffer("white_mean", torch.zeros(code))
        self.register_buffer("white_mat", torch.eye(code))

    def encode(self, mel):
        x = self.enc(self.mel_norm(mel).unsqueeze(1))
        return self.to_code(x.flatten(1))

    def decode(self, z):
        x = self.from_code(z).view(-1, *self.shape)
        return self.dec(x).squeeze(1)

    def forward(self, mel):
        """Exported path: whitened code and 0..1 controls."""
        code = (self.encode(mel) - self.white_mean) @ self.white_mat
        return code, torch.sigmoid(1.6 * code)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
