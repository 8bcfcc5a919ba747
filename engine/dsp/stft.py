"""Short-time Fourier transform, one hop at a time.

Framing convention (streaming and offline alike): frame ``i`` is the ``n_fft`` samples that
end at sample ``(i + 1) * hop``; samples before the start of the stream are zeros. This is
``librosa.stft(np.pad(y, (n_fft - hop, 0)), center=False)`` — causal, so a live frame never
waits for future audio.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from .fft import RealFFTPlan, power_from_complex, rfft_inplace

WINDOWS = ("hann", "hamming", "blackman", "rect")


def make_window(name: str, n: int) -> np.ndarray:
    """Periodic (FFT) window of length ``n``, as ``scipy.signal.get_window(name, n)``."""
    k = np.arange(n)
    if name == "hann":
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(2.0 * np.pi * k / n)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(2.0 * np.pi * k / n) + 0.08 * np.cos(4.0 * np.pi * k / n)
    if name == "rect":
        return np.ones(n)
    raise ParameterError(f"window={name!r} is unknown; choose one of {', '.join(WINDOWS)}")


@njit(cache=True)
def shift_in(history, hop_samples):
    """Slide ``history`` left by len(hop_samples) and append them at the end."""
    n = history.shape[0]
    h = hop_samples.shape[0]
    for i in range(n - h):
        history[i] = history[i + h]
    for i in range(h):
        history[n - h + i] = hop_samples[i]


@njit(cache=True)
def apply_window(history, window, out):
    for i in range(out.shape[0]):
        out[i] = history[i] * window[i]


@njit(cache=True)
def stft_power_hop(hop_samples, history, window, frame, bitrev, tw_re, tw_im, sp_re, sp_im,
                   z_re, z_im, re, im, power):
    """One hop in one call (``StftState.push``; fused loops pass ``*StftState.kernel_args``):
    slide the hop in, window, real FFT, |X|² into ``power``."""
    shift_in(history, hop_samples)
    apply_window(history, window, frame)
    rfft_inplace(frame, bitrev, tw_re, tw_im, sp_re, sp_im, z_re, z_im, re, im)
    power_from_complex(re, im, power)


class StftState:
    """History buffer, window and FFT plan for one stream; ``push(hop)`` updates ``power``.

    ``power`` (|X|², length n_fft/2+1) is owned by this object and valid until the next push.
    """

    def __init__(self, n_fft: int, hop: int, window: str = "hann"):
        if hop > n_fft:
            raise ParameterError(f"hop={hop} must not exceed n_fft={n_fft}")
        self.n_fft = n_fft
        self.hop = hop
        self.window = make_window(window, n_fft)
        self.plan = RealFFTPlan(n_fft)
        self.history = np.zeros(n_fft)
        self.frame = np.zeros(n_fft)
        self.power = np.zeros(n_fft // 2 + 1)
        p = self.plan
        #: the state arrays in ``stft_power_hop``'s order, for kernels that fuse several steps
        self.kernel_args = (self.history, self.window, self.frame, p.bitrev, p.tw_re, p.tw_im,
                            p.sp_re, p.sp_im, p.z_re, p.z_im, p.re, p.im, self.power)

    def push(self, hop_samples: np.ndarray) -> np.ndarray:
        if hop_samples.shape[0] != self.hop:
            raise ParameterError(f"block has {hop_samples.shape[0]} samples, expected hop={self.hop}")
        stft_power_hop(hop_samples, *self.kernel_args)
        return self.power

    def reset(self) -> None:
        self.history[:] = 0.0
        self.power[:] = 0.0


def stft_power_frames(y: np.ndarray, *, n_fft: int, hop: int, window: str = "hann") -> np.ndarray:
    """Power spectrogram (n_frames, n_fft/2+1) of a whole signal, computed by the same
    per-hop path as the live engine; trailing samples that do not fill a hop are ignored."""
    state = StftState(n_fft, hop, window)
    y = np.asarray(y, dtype=np.float64)
    n_frames = y.shape[0] // hop
    out = np.empty((n_frames, n_fft // 2 + 1))
    for i in range(n_frames):
        out[i] = state.push(y[i * hop:(i + 1) * hop])
    return out
