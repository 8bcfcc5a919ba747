"""Spectrum: the real FFT, the short-time Fourier transform one hop at a time, and the
``Spectrum`` processor that publishes ``ctx.power`` for later stages.

Framing convention (streaming and offline alike): frame ``i`` is the ``n_fft`` samples that
end at sample ``(i + 1) * hop``; samples before the start of the stream are zeros. This is
``librosa.stft(np.pad(y, (n_fft - hop, 0)), center=False)`` — causal, so a live frame never
waits for future audio.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..spec import is_power_of_two
from .base import Processor
from .checks import positive_int

# ---- real FFT --------------------------------------------------------------------------------
# An iterative radix-2 complex FFT of half size plus the standard split step, so an N-point
# real frame costs one N/2-point complex transform. ``RealFFTPlan`` precomputes bit-reversal
# and twiddle tables once; the kernels then run without allocating.


@njit(cache=True)
def _fft_inplace(re, im, bitrev, tw_re, tw_im):
    """Radix-2 decimation-in-time complex FFT of len(re) points, in place."""
    n = re.shape[0]
    for i in range(n):
        j = bitrev[i]
        if j > i:
            t = re[i]; re[i] = re[j]; re[j] = t
            t = im[i]; im[i] = im[j]; im[j] = t
    size = 2
    while size <= n:
        half = size >> 1
        step = n // size
        for start in range(0, n, size):
            k = 0
            for j in range(start, start + half):
                wr = tw_re[k]
                wi = tw_im[k]
                l = j + half
                xr = re[l] * wr - im[l] * wi
                xi = re[l] * wi + im[l] * wr
                re[l] = re[j] - xr
                im[l] = im[j] - xi
                re[j] += xr
                im[j] += xi
                k += step
        size <<= 1


@njit(cache=True)
def rfft_inplace(frame, bitrev, tw_re, tw_im, sp_re, sp_im, z_re, z_im, out_re, out_im):
    """Spectrum of the real ``frame`` (length N) into ``out_re/out_im`` (length N/2+1).

    ``z_re/z_im`` are N/2 work arrays; ``sp_re/sp_im`` are the split twiddles
    exp(-2πik/N) for k < N/2.
    """
    m = z_re.shape[0]
    for i in range(m):
        z_re[i] = frame[2 * i]
        z_im[i] = frame[2 * i + 1]
    _fft_inplace(z_re, z_im, bitrev, tw_re, tw_im)
    # X[k] = (Z[k] + conj Z[m-k]) / 2 - i/2 * W^k (Z[k] - conj Z[m-k])
    for k in range(m + 1):
        a = k % m
        b = (m - k) % m
        zr = z_re[a]; zi = z_im[a]
        cr = z_re[b]; ci = -z_im[b]
        er = 0.5 * (zr + cr); ei = 0.5 * (zi + ci)
        dr = 0.5 * (zr - cr); di = 0.5 * (zi - ci)
        if k < m:
            wr = sp_re[k]; wi = sp_im[k]
        else:
            wr = -1.0; wi = 0.0
        # (-i) * W * D
        pr = wr * dr - wi * di
        pi = wr * di + wi * dr
        out_re[k] = er + pi
        out_im[k] = ei - pr


@njit(cache=True)
def power_from_complex(re, im, out):
    for k in range(out.shape[0]):
        out[k] = re[k] * re[k] + im[k] * im[k]


class RealFFTPlan:
    """Tables and work buffers for an ``n``-point real FFT (``n`` a power of two ≥ 4)."""

    def __init__(self, n: int):
        if not is_power_of_two(n) or n < 4:
            raise ParameterError(f"n_fft={n} must be a power of two of at least 4")
        self.n = n
        m = n // 2
        bits = m.bit_length() - 1
        idx = np.arange(m)
        rev = np.zeros(m, dtype=np.int64)
        for b in range(bits):
            rev |= ((idx >> b) & 1) << (bits - 1 - b)
        self.bitrev = rev
        k = np.arange(max(m // 2, 1))
        self.tw_re = np.cos(-2.0 * np.pi * k / m)
        self.tw_im = np.sin(-2.0 * np.pi * k / m)
        k = np.arange(m)
        self.sp_re = np.cos(-2.0 * np.pi * k / n)
        self.sp_im = np.sin(-2.0 * np.pi * k / n)
        self.z_re = np.zeros(m)
        self.z_im = np.zeros(m)
        self.re = np.zeros(m + 1)
        self.im = np.zeros(m + 1)


# ---- STFT ------------------------------------------------------------------------------------

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
        positive_int("n_fft", n_fft)
        positive_int("hop", hop)
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
    if y.ndim != 1:
        raise ParameterError(f"y must be mono (1-D), got shape {y.shape}")
    n_frames = y.shape[0] // hop
    out = np.empty((n_frames, n_fft // 2 + 1))
    for i in range(n_frames):
        out[i] = state.push(y[i * hop:(i + 1) * hop])
    return out


class Spectrum(Processor):
    """Power spectrum |X|² of the last n_fft samples, every hop, into ``ctx.power`` (no frame
    fields); publishes the analysis window as ``facts.window``."""

    def __init__(self, config):
        self.window_name = config.window
        make_window(self.window_name, 16)  # an unknown window fails at build time

    def prepare(self, spec, layout, facts):
        self.stft = StftState(spec.n_fft, spec.hop, self.window_name)
        facts.window = self.stft.window

    def process(self, ctx, frame):
        ctx.power = self.stft.push(ctx.samples)

    def reset(self):
        self.stft.reset()
