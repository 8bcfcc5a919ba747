"""Streaming rational resampler (polyphase FIR, Kaiser-windowed sinc) in Numba.

The engine runs at the sound card's rate; the encoders want 16 kHz. This converts hop by
hop, allocation-free, and gives the same output however the input is chunked — so a live
run and an offline ``analyze`` feed the models identical samples. The filter delays the
signal by ``delay_out`` output samples (half the filter length).
"""
from __future__ import annotations

from math import gcd

import numpy as np
from numba import njit

from ..errors import ParameterError
from .checks import positive_int


def design_polyphase(up: int, down: int, taps_per_phase: int = 32, beta: float = 8.0) -> np.ndarray:
    """(up, taps_per_phase) table: phase p, tap i = up·h[p + i·up] of a lowpass at 0.9 ×
    the lower Nyquist, in the up-sampled domain."""
    length = up * taps_per_phase
    cutoff = 0.9 * 0.5 / max(up, down)  # cycles per up-sampled sample
    n = np.arange(length) - (length - 1) / 2.0
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, beta)
    h *= up / h.sum()  # unity gain after zero-stuffing by `up`
    return np.ascontiguousarray(h.reshape(taps_per_phase, up).T)


@njit(cache=True)
def resample_into(x, hist, state, table, up, down, out):
    """Resample ``x`` given the last ``T-1`` inputs in ``hist``; write outputs to ``out``.

    ``state`` = [inputs consumed, outputs produced]. Returns the number of outputs written.
    """
    n_taps = table.shape[1]
    keep = n_taps - 1
    n_in0 = state[0]
    n_new = x.shape[0]
    n_in1 = n_in0 + n_new
    written = 0
    n_out = state[1]
    while True:
        m = n_out * down
        j = m // up  # newest input sample this output needs
        if j >= n_in1 or written >= out.shape[0]:
            break
        p = m - j * up
        acc = 0.0
        for i in range(n_taps):
            k = j - i  # absolute input index
            rel = k - n_in0  # index into x, negative → history
            if rel >= 0:
                v = x[rel]
            elif rel >= -keep:
                v = hist[keep + rel]
            else:
                v = 0.0
            acc += table[p, i] * v
        out[written] = acc
        written += 1
        n_out += 1
    # slide the history: the newest `keep` inputs
    if n_new >= keep:
        for i in range(keep):
            hist[i] = x[n_new - keep + i]
    else:
        for i in range(keep - n_new):
            hist[i] = hist[i + n_new]
        for i in range(n_new):
            hist[keep - n_new + i] = x[i]
    state[0] = n_in1
    state[1] = n_out
    return written


@njit(cache=True, nogil=True)
def resample_into_nogil(x, hist, state, table, up, down, out):
    """``resample_into`` releasing the GIL: for large chunks off the analysis thread."""
    return resample_into(x, hist, state, table, up, down, out)


class StreamResampler:
    """``process(x)`` returns a view of an internal buffer (valid until the next call)."""

    def __init__(self, sr_in: int, sr_out: int, max_block: int, taps_per_phase: int = 32,
                 *, release_gil: bool = False):
        """``release_gil``: for a worker thread resampling big chunks; the analysis thread's
        small blocks keep the GIL (see engine/features/__init__.py)."""
        positive_int("sr_in", sr_in)
        positive_int("sr_out", sr_out)
        positive_int("max_block", max_block)
        positive_int("taps_per_phase", taps_per_phase)
        g = gcd(sr_in, sr_out)
        self.up, self.down = sr_out // g, sr_in // g
        self.table = design_polyphase(self.up, self.down, taps_per_phase)
        self.hist = np.zeros(taps_per_phase - 1)
        self.state = np.zeros(2, dtype=np.int64)
        self.max_block = max_block
        self.out = np.zeros(max_block * self.up // self.down + 2, dtype=np.float32)
        self.delay_out = (self.up * taps_per_phase - 1) / 2.0 / self.down
        self._kernel = resample_into_nogil if release_gil else resample_into

    def process(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] > self.max_block:
            raise ParameterError(f"block has {x.shape[0]} samples, more than max_block={self.max_block}")
        n = self._kernel(x, self.hist, self.state, self.table, self.up, self.down, self.out)
        return self.out[:n]

    def reset(self) -> None:
        self.hist[:] = 0.0
        self.state[:] = 0

    def process_all(self, x: np.ndarray) -> np.ndarray:
        """A whole signal, in ``max_block`` pieces (same result as any other chunking)."""
        return np.concatenate([self.process(x[i:i + self.max_block]).copy()
                               for i in range(0, max(len(x), 1), self.max_block)])
