"""Spectrum: the real FFT, the short-time Fourier transform one hop at a time, and the
``Spectrum`` processor that publishes ``ctx.power`` for later stages.

Framing convention (streaming and offline alike): frame ``i`` is the ``n_fft`` samples that
end at sample ``(i + 1) * hop``; samples before the start of the stream are zeros. This is
``librosa.stft(np.pad(y, (n_fft - hop, 0)), center=False)`` — causal, so a live frame never
waits for future audio.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ..errors import ParameterError
from ..spec import is_power_of_two
from .base import Processor
from .checks import positive_int


def _import_r2c():
    """rocket-fft's ``r2c``, imported without the scipy.fft overloads its package would also
    register (importing scipy.fft costs ~0.45 s and ~14 MB at every start; we only need the
    low-level transform). Numba's extension hook finds the package already imported."""
    import sys

    blocked = "scipy.fft" not in sys.modules
    if blocked:
        sys.modules["scipy.fft"] = None  # makes rocket_fft's optional `import scipy.fft` fail
    try:
        from rocket_fft.lowlevel import r2c as transform
    finally:
        if blocked:
            del sys.modules["scipy.fft"]
    return transform


r2c = _import_r2c()

# ---- real FFT --------------------------------------------------------------------------------
# pocketfft (DUCC0, numpy's and scipy's FFT) through rocket-fft's low-level ``r2c``, callable
# inside @njit and writing into a caller-owned complex buffer: no array is made per hop.


@njit(cache=True)
def rfft_power(frame, spectrum, axes, power):
    """|X|² of the real ``frame`` into ``power`` (n/2+1); ``spectrum`` (complex128, n/2+1) is
    the work buffer, ``axes`` = [0] (int64)."""
    r2c(frame, spectrum, axes, True, 1.0, 1)
    for k in range(power.shape[0]):
        c = spectrum[k]
        power[k] = c.real * c.real + c.imag * c.imag


@njit(cache=True)
def rfft_power_rows(frames, n, spectrum, axes, power_rows):
    """|X|² of the first ``n`` rows of ``frames`` (n_fft wide) into ``power_rows[0:n]``, in
    one pocketfft call over all of them (``spectrum``: complex128 rows of n_fft/2+1, ``axes``
    = [1]).

    A row's transform does not depend on how many rows share the call (pocketfft runs rows
    through the same code, several at a time in SIMD lanes), so the live path, which calls
    it with one row, and the bulk path, with many, give the same bits; the batched call is
    about twice as fast per row as a 1-D call (plan look-up and copies shared)."""
    r2c(frames[:n], spectrum[:n], axes, True, 1.0, 1)
    for i in range(n):
        row = spectrum[i]
        out = power_rows[i]
        for k in range(uint64(out.shape[0])):
            c = row[k]
            out[k] = c.real * c.real + c.imag * c.imag


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
    for i in range(uint64(n - h)):  # unsigned: no negative-index wrap, a plain memmove
        history[i] = history[i + uint64(h)]
    for i in range(uint64(h)):
        history[uint64(n - h) + i] = hop_samples[i]


@njit(cache=True)
def apply_window(history, window, out):
    for i in range(uint64(out.shape[0])):
        out[i] = history[i] * window[i]


@njit(cache=True)
def stft_power_hop(hop_samples, history, window, frame, spectrum, axes, power):
    """One hop in one call (``StftState.push``; fused loops pass ``*StftState.kernel_args``):
    slide the hop in, window, real FFT, |X|² into ``power``. ``frame`` / ``spectrum`` are
    one-row 2-D buffers and ``axes`` = [1] (the layout of the bulk path's calls)."""
    shift_in(history, hop_samples)
    apply_window(history, window, frame[0])
    r2c(frame, spectrum, axes, True, 1.0, 1)
    row = spectrum[0]
    for k in range(uint64(power.shape[0])):
        c = row[k]
        power[k] = c.real * c.real + c.imag * c.imag


@njit(cache=True)
def stft_power_block(samples, n, history, window, frames, spectrum, axes, power_rows):
    """``stft_power_hop`` over the first ``n`` rows (consecutive hops, C-contiguous) of
    ``samples``, the power of hop ``i`` into ``power_rows[i]``: each frame is windowed
    straight from the block (the history only for the frames that reach back before it), the
    frames ``frames.shape[0]`` at a time transformed in one call each (``rfft_power_rows``);
    ``history`` ends as ``n`` pushes would leave it."""
    rows = frames.shape[0]
    hop = samples.shape[1]
    n_fft = history.shape[0]
    flat = samples.reshape(-1)
    i = 0
    while i < n:
        c = min(rows, n - i)
        for r in range(c):
            window_frame(history, flat, (i + r + 1) * hop - n_fft, window, frames[r])
        rfft_power_rows(frames, c, spectrum, axes, power_rows[i:i + c])
        i += c
    for r in range(max(0, n - n_fft // hop - 1), n):  # the history the last frame saw
        shift_in(history, samples[r])


@njit(cache=True)
def window_frame(history, flat, start, window, out):
    """``out = window · x[start : start + n_fft]`` where ``x`` is ``flat`` (the block's
    samples) and negative positions reach back into ``history`` (the n_fft samples before
    the block)."""
    n_fft = out.shape[0]
    split = -start if start < 0 else 0  # samples taken from the history
    if split > n_fft:
        split = n_fft
    for j in range(split):
        out[j] = history[n_fft + start + j] * window[j]
    base = uint64(start + split)
    for j in range(uint64(split), uint64(n_fft)):
        out[j] = flat[base + j - uint64(split)] * window[j]


class StftState:
    """History buffer, window and FFT buffer for one stream; ``push(hop)`` updates ``power``.

    ``power`` (|X|², length n_fft/2+1) is owned by this object and valid until the next push.
    """

    def __init__(self, n_fft: int, hop: int, window: str = "hann"):
        positive_int("n_fft", n_fft)
        positive_int("hop", hop)
        if hop > n_fft:
            raise ParameterError(f"hop={hop} must not exceed n_fft={n_fft}")
        if not is_power_of_two(n_fft) or n_fft < 4:
            raise ParameterError(f"n_fft={n_fft} must be a power of two of at least 4")
        self.n_fft = n_fft
        self.hop = hop
        self.window = make_window(window, n_fft)
        self.history = np.zeros(n_fft)
        self.frame = np.zeros((1, n_fft))  # one row: the bulk path's layout (rfft_power_rows)
        self.spectrum = np.zeros((1, n_fft // 2 + 1), dtype=np.complex128)
        self.power = np.zeros(n_fft // 2 + 1)
        self.axes = np.ones(1, dtype=np.int64)
        #: the state arrays in ``stft_power_hop``'s order, for kernels that fuse several steps
        #: (``power`` last)
        self.kernel_args = (self.history, self.window, self.frame, self.spectrum, self.axes,
                            self.power)

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

    #: frames windowed and transformed per FFT call in bulk runs (32 rows of 1024: 256 KB
    #: of frames and 260 KB of spectra, cache-sized)
    BLOCK_ROWS = 32

    def prepare(self, spec, layout, facts):
        self.stft = StftState(spec.n_fft, spec.hop, self.window_name)
        facts.window = self.stft.window
        self._frames = np.zeros((self.BLOCK_ROWS, spec.n_fft))
        self._spectra = np.zeros((self.BLOCK_ROWS, spec.n_fft // 2 + 1), dtype=np.complex128)

    def process(self, ctx, frame):
        ctx.power = self.stft.push(ctx.samples)

    blockwise = True

    def process_block(self, block):
        st = self.stft
        stft_power_block(block.samples, block.n, st.history, st.window, self._frames,
                         self._spectra, st.axes, block.power)

    def reset(self):
        self.stft.reset()
