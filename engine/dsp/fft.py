"""Real FFT in Numba: an iterative radix-2 complex FFT of half size plus the standard
split step, so an N-point real frame costs one N/2-point complex transform.

``RealFFTPlan`` precomputes bit-reversal and twiddle tables once (``prepare``); the kernel
``rfft_power`` then runs without allocating. Numba has no FFT of its own, and numpy's would
allocate its output on every hop.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..spec import is_power_of_two


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
