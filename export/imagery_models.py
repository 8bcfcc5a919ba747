"""The imagery networks: a music encoder over the emotion window's model features, an image
encoder (small CNN on 64×64 RGB), both into one joint space (L2-normalised), each with a
quadrant head for the emotion-classification loss; and a conditional DCGAN generator /
discriminator (64×64) conditioned on the joint-space embedding.

The music encoder starts with a fixed summary of its window (per-band mean and standard
deviation of the log-mel and wavelet energies and per-band-group spectral flux): the same
numbers :func:`summary_np` computes in numpy for the training cache, computed inside the
exported ONNX graph so the engine feeds the raw contract windows.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import Standardize

N_MELS = 96
N_WL = 6
FLUX_GROUPS = 16
SUMMARY_DIM = 2 * N_MELS + 2 * N_WL + FLUX_GROUPS  # 220
EMBED_DIM = 32
COND_DIM = EMBED_DIM
Z_DIM = 32


def summary_np(mel: np.ndarray, wavelet: np.ndarray) -> np.ndarray:
    """(T, 96) mel dB + (T, 6) wavelet dB → (220,) summary (see module docstring)."""
    mel = mel.astype(np.float32)
    wl = wavelet.astype(np.float32)
    flux = np.abs(np.diff(mel, axis=0)).mean(axis=0)
    flux = flux.reshape(FLUX_GROUPS, -1).mean(axis=1)
    return np.concatenate([mel.mean(0), mel.std(0), wl.mean(0), wl.std(0), flux]).astype(np.float32)


class Summary(nn.Module):
    def forward(self, mel, wavelet):  # (B, T, 96), (B, T, 6)
        flux = (mel[:, 1:] - mel[:, :-1]).abs().mean(dim=1)
        flux = flux.reshape(flux.shape[0], FLUX_GROUPS, -1).mean(dim=2)
        mstd = ((mel - mel.mean(dim=1, keepdim=True)) ** 2).mean(dim=1).sqrt()
        wstd = ((wavelet - wavelet.mean(dim=1, keepdim=True)) ** 2).mean(dim=1).sqrt()
        return torch.cat([mel.mean(dim=1), mstd, wavelet.mean(dim=1), wstd, flux], dim=1)


class MusicHead(nn.Module):
    """Summary (220) → joint embedding (32, unit norm) + quadrant logits."""

    def __init__(self, mean=None, std=None, hidden=128, dim=EMBED_DIM):
        super().__init__()
        self.register_buffer("mean", torch.zeros(SUMMARY_DIM) if mean is None else torch.as_tensor(mean))
        self.register_buffer("std", torch.ones(SUMMARY_DIM) if std is None else torch.as_tensor(std))
        self.net = nn.Sequential(nn.Linear(SUMMARY_DIM, hidden), nn.ReLU(), nn.Dropout(0.3),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.cls = nn.Linear(dim, 4)

    def forward(self, x):
        e = F.normalize(self.net((x - self.mean) / self.std), dim=1)
        return e, self.cls(e)


class MusicEncoder(nn.Module):
    """Exported: (mel, wavelet) windows → (embedding, quadrant_probs)."""

    def __init__(self, head: MusicHead):
        super().__init__()
        self.summary = Summary()
        self.head = head

    def forward(self, mel, wavelet):
        e, logits = self.head(self.summary(mel, wavelet))
        return e, torch.softmax(logits, dim=1)


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class ImageEncoder(nn.Module):
    """(B, 3, 64, 64) RGB 0..1 → (embedding (32, unit norm), quadrant logits). Besides the conv
    stack it sees the global colour moments (per-channel mean/std), which a small CNN trained
    on a few thousand crops would otherwise have to rediscover."""

    def __init__(self, dim=EMBED_DIM, width=12):
        super().__init__()
        self.norm = Standardize(0.45, 0.25)
        # 2×2 average pooling first: 32×32 is enough for a colour/texture embedding and keeps
        # training on 2 shared CPU cores affordable
        self.conv = nn.Sequential(nn.AvgPool2d(2), _block(3, width), _block(width, 2 * width),
                                  _block(2 * width, 4 * width), _block(4 * width, 4 * width))  # 64 → 2
        self.fc = nn.Sequential(nn.Linear(4 * width + 6, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, dim))
        self.cls = nn.Linear(dim, 4)

    def embed(self, img):
        h = self.conv(self.norm(img)).mean(dim=(2, 3))
        mom = torch.cat([img.mean(dim=(2, 3)), ((img - img.mean(dim=(2, 3), keepdim=True)) ** 2).mean(dim=(2, 3)).sqrt()], 1)
        e = F.normalize(self.fc(torch.cat([h, (mom - 0.4) * 4.0], 1)), dim=1)
        return e, self.cls(e)

    def forward(self, img):
        e, logits = self.embed(img)
        return e, torch.softmax(logits, dim=1)


class Generator(nn.Module):
    """Conditional DCGAN generator: [z (32), cond (32)] → (B, 3, 64, 64) RGB in 0..1."""

    def __init__(self, ngf=32, z_dim=Z_DIM, cond_dim=COND_DIM):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim + cond_dim, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z, cond):
        x = torch.cat([z, cond], dim=1)[:, :, None, None]
        return 0.5 * (self.net(x) + 1.0)


def down_stack(ch: int) -> nn.Sequential:
    """The DCGAN down-sampling stack, (B, 3, 64, 64) in -1..1 → (B, 8·ch, 4, 4); shared by
    the discriminator and the VAE-GAN encoder, which read images the same way."""
    return nn.Sequential(
        nn.Conv2d(3, ch, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ch * 2, ch * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 4), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ch * 4, ch * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 8), nn.LeakyReLU(0.2, True))


class Discriminator(nn.Module):
    """DCGAN discriminator with a projection term for the condition (Miyato & Koyama 2018)."""

    def __init__(self, ndf=32, cond_dim=COND_DIM):
        super().__init__()
        self.net = down_stack(ndf)
        self.out = nn.Linear(ndf * 8 * 16, 1)
        self.proj = nn.Linear(cond_dim, ndf * 8 * 16, bias=False)

    def forward(self, img, cond):
        h = self.net(img * 2 - 1).flatten(1)
        return self.out(h).squeeze(1) + (self.proj(cond) * h).sum(dim=1)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


class VAEEncoder(nn.Module):
    """VAE-GAN encoder (training only): (B, 3, 64, 64) → (mu, logvar) of z."""

    def __init__(self, nef=16, z_dim=Z_DIM):
        super().__init__()
        self.net = down_stack(nef)
        self.mu = nn.Linear(nef * 8 * 16, z_dim)
        self.logvar = nn.Linear(nef * 8 * 16, z_dim)

    def forward(self, img):
        h = self.net(img * 2 - 1).flatten(1)
        return self.mu(h), self.logvar(h).clamp(-8, 4)


def colour_moments(img):
    """Per-channel mean and standard deviation of (B, 3, H, W) images."""
    m = img.mean(dim=(2, 3))
    s = ((img - m[:, :, None, None]) ** 2).mean(dim=(2, 3)).clamp(min=1e-6).sqrt()
    return torch.cat([m, s], dim=1)
