"""Mallat discrete wavelet transform (multi-level), as Numba kernels over preallocated buffers.

The seed paper's pyramid: from the approximation ``b_{m+1}`` of the finer level,

    b_m[n] = Σ_t l[t − 2n] b_{m+1}[t]     (approximation, low-pass ``l`` = ``dec_lo``)
    s_m[n] = Σ_t f[t − 2n] b_{m+1}[t]     (detail, high-pass ``f`` = ``dec_hi``)

written, as PyWavelets computes it, as a convolution followed by keeping every second sample:
``c[o] = Σ_j h[j] · x_ext[2o + s − j]`` with ``s = F // 2`` for ``mode="periodization"`` and
``s = 1`` for the other modes (``x_ext`` is the signal extended by the mode). Results equal
``pywt.wavedec(x, wavelet, mode=mode, level=level)`` (to float rounding).

Modes: ``"periodization"`` (the default: band sizes are exactly N/2, N/4, …, so buffers are
fixed and the transform is orthogonal; an odd-length level is extended by repeating its last
sample, as pywt does), ``"symmetric"``, ``"reflect"``, ``"zero"`` and ``"constant"``.

Filters come from ``pywt.Wavelet(name)`` at prepare time (pywt is a runtime dependency, only
off the real-time path); any discrete pywt wavelet works (``haar``, ``dbN``, ``symN``,
``coifN``, ``biorX.Y``, …).

Band order everywhere is pywt's: ``[cA_level, cD_level, …, cD_1]`` (coarse to fine).
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ..errors import ParameterError
from .base import Processor
from .checks import positive_int
from .sums import sum4

MODES = {"periodization": 0, "symmetric": 1, "reflect": 2, "zero": 3, "constant": 4}


@njit(cache=True, inline="always")
def _ext(x, n, k, mode):
    """x_ext[k] for a signal x[0:n] extended by ``mode`` (1..4, see ``MODES``)."""
    if 0 <= k < n:
        return x[k]
    if mode == 3:  # zero
        return 0.0
    if mode == 4:  # constant (edge value)
        return x[0] if k < 0 else x[n - 1]
    if mode == 1:  # symmetric: half-sample, period 2n
        p = 2 * n
        m = k % p
        if m < 0:
            m += p
        if m >= n:
            m = p - 1 - m
        return x[m]
    # reflect: whole-sample, period 2n - 2
    if n == 1:
        return x[0]
    p = 2 * n - 2
    m = k % p
    if m < 0:
        m += p
    if m >= n:
        m = p - m
    return x[m]


@njit(cache=True, inline="always")
def _interior_pair(x, base, dec_lo, dec_hi):
    """Σ_j (dec_lo[j], dec_hi[j]) · x[base − j], all indices inside ``x``."""
    acc_a = 0.0
    acc_d = 0.0
    for j in range(uint64(dec_lo.shape[0])):
        v = x[uint64(base) - j]  # unsigned: no negative-index wrap check per load
        acc_a += dec_lo[j] * v
        acc_d += dec_hi[j] * v
    return acc_a, acc_d


@njit(cache=True, inline="always")
def _coef_pair(x, n, dec_lo, dec_hi, base, mode):
    """(approximation, detail) = Σ_j (dec_lo[j], dec_hi[j]) · x_ext[base − j]: one output
    coefficient of a Mallat step of ``x[0:n]`` extended by ``mode`` (0: periodization, the
    period n rounded up to even with the last sample repeated, as pywt does)."""
    f = dec_lo.shape[0]
    if base - (f - 1) >= 0 and base < n:  # interior: no extension needed
        return _interior_pair(x, base, dec_lo, dec_hi)
    acc_a = 0.0
    acc_d = 0.0
    ne = n + (n & 1)
    for j in range(f):
        if mode == 0:
            k = base - j  # (base - j) mod ne, without an integer division per tap
            while k < 0:
                k += ne
            while k >= ne:
                k -= ne
            v = x[k] if k < n else x[n - 1]
        else:
            v = _ext(x, n, base - j, mode)
        acc_a += dec_lo[j] * v
        acc_d += dec_hi[j] * v
    return acc_a, acc_d


@njit(cache=True)
def dwt_run(x, n, dec_lo, dec_hi, shift, mode, o_lo, o_hi, out_a, out_d):
    """Coefficients ``o_lo..o_hi-1`` of a Mallat step of ``x[0:n]`` (output ``o`` is
    ``_coef_pair`` at ``2·o + shift``) into ``out_a[o]`` / ``out_d[o]``.

    The interior outputs (no extension needed) are computed four at a time: eight
    independent sums instead of two, so the CPU is not waiting on one add chain (about
    twice as fast as one output at a time). Each sum
    still adds ``h[j]·x[2o + shift − j]`` for j = 0, 1, … from 0.0, as ``_coef_pair`` does, so
    every coefficient has the same bits either way."""
    f = dec_lo.shape[0]
    # interior: 2o + shift − (f − 1) >= 0 and 2o + shift < n
    i_lo = max(o_lo, (f - shift) // 2)
    i_hi = min(o_hi, (n - 1 - shift) // 2 + 1)
    if i_hi < i_lo:
        i_hi = i_lo
    for o in range(o_lo, min(i_lo, o_hi)):
        out_a[o], out_d[o] = _coef_pair(x, n, dec_lo, dec_hi, 2 * o + shift, mode)
    o = i_lo
    while o + 4 <= i_hi:
        b = 2 * o + shift
        a0 = a1 = a2 = a3 = 0.0
        d0 = d1 = d2 = d3 = 0.0
        for j in range(f):
            hl = dec_lo[j]
            hh = dec_hi[j]
            k = uint64(b - j)  # >= 0 here: unsigned, so no negative-index wrap per load
            v0 = x[k]
            v1 = x[k + uint64(2)]
            v2 = x[k + uint64(4)]
            v3 = x[k + uint64(6)]
            a0 += hl * v0
            a1 += hl * v1
            a2 += hl * v2
            a3 += hl * v3
            d0 += hh * v0
            d1 += hh * v1
            d2 += hh * v2
            d3 += hh * v3
        out_a[o], out_a[o + 1], out_a[o + 2], out_a[o + 3] = a0, a1, a2, a3
        out_d[o], out_d[o + 1], out_d[o + 2], out_d[o + 3] = d0, d1, d2, d3
        o += 4
    for o in range(o, max(i_hi, o_lo), 1):
        out_a[o], out_d[o] = _interior_pair(x, 2 * o + shift, dec_lo, dec_hi)
    for o in range(max(i_hi, o_lo), o_hi):
        out_a[o], out_d[o] = _coef_pair(x, n, dec_lo, dec_hi, 2 * o + shift, mode)


@njit(cache=True)
def dwt_step(x, n, dec_lo, dec_hi, mode, out_a, out_d):
    """One Mallat step of ``x[0:n]`` into ``out_a`` / ``out_d`` (each of pywt's dwt_coeff_len);
    returns the output length."""
    f = dec_lo.shape[0]
    if mode == 0:  # periodization: N/2 outputs (odd length: the last sample repeats)
        m = (n + (n & 1)) // 2
        shift = f // 2
    else:
        m = (n + f - 1) // 2
        shift = 1
    dwt_run(x, n, dec_lo, dec_hi, shift, mode, 0, m, out_a, out_d)
    return m


@njit(cache=True)
def wavedec_into(x, dec_lo, dec_hi, level, mode, work_a, work_b, coeffs, offsets):
    """Multi-level decomposition of ``x`` into the flat ``coeffs`` buffer.

    Band ``b`` (pywt order: 0 = cA_level, 1 = cD_level, …, level = cD_1) occupies
    ``coeffs[offsets[b]:offsets[b + 1]]``. ``work_a`` / ``work_b`` hold at least len(x)/2 + F.
    """
    n = x.shape[0]
    last_in_a = True
    for lev in range(1, level + 1):
        band = level - lev + 1
        d = coeffs[offsets[band]:offsets[band + 1]]
        if lev == 1:
            n = dwt_step(x, n, dec_lo, dec_hi, mode, work_a, d)
            last_in_a = True
        elif last_in_a:
            n = dwt_step(work_a, n, dec_lo, dec_hi, mode, work_b, d)
            last_in_a = False
        else:
            n = dwt_step(work_b, n, dec_lo, dec_hi, mode, work_a, d)
            last_in_a = True
    for i in range(n):
        coeffs[offsets[0] + i] = work_a[i] if last_in_a else work_b[i]


@njit(cache=True)
def band_energies(coeffs, offsets, out):
    """Mean-square energy of each band: ``out[b] = mean(coeffs[offsets[b]:offsets[b+1]]²)``.

    The squares are summed in four partial sums (``sums.sum4``: the sum runs every hop over
    the whole window's coefficients), in an order fixed by the band length alone."""
    for b in range(offsets.shape[0] - 1):
        lo = offsets[b]
        hi = offsets[b + 1]
        out[b] = sum4(coeffs, lo, hi, 0.0, True) / (hi - lo) if hi > lo else 0.0


@njit(cache=True)
def push_history(history, samples):
    """Slide ``history`` left by len(samples) and append them (any len(samples))."""
    n = history.shape[0]
    h = samples.shape[0]
    if h >= n:
        for i in range(n):
            history[i] = samples[h - n + i]
        return
    for i in range(uint64(n - h)):  # unsigned: no negative-index wrap, a plain memmove
        history[i] = history[i + uint64(h)]
    for i in range(uint64(h)):
        history[uint64(n - h) + i] = samples[i]


@njit(cache=True)
def wavelet_hop(history, samples, dec_lo, dec_hi, level, mode, work_a, work_b, coeffs, offsets,
                energies):
    """One hop: push ``samples`` into the window, decompose it, mean-square band energies."""
    push_history(history, samples)
    wavedec_into(history, dec_lo, dec_hi, level, mode, work_a, work_b, coeffs, offsets)
    band_energies(coeffs, offsets, energies)


@njit(cache=True)
def wavedec_sliding(history, dec_lo, dec_hi, level, approx, a_off, coeffs, offsets, dirty,
                    dirty_off, shifts, full):
    """Periodization decomposition of the sliding window ``history`` (already advanced by one
    hop), reusing the previous hop's coefficients.

    When the window moves by ``hop`` samples, level-j coefficients move by ``hop / 2^j``: all
    but the ``dirty`` ones (those that depend on the new samples, directly or through the
    periodic wrap-around) are the previous hop's values shifted, so only those are computed
    (about a quarter of the work for hop = window / 4). ``approx`` keeps every level's
    approximation. The arithmetic of each coefficient is the same as a full decomposition's,
    so results are bit-identical to it. ``full``: recompute everything (after a reset or a
    block of another size).
    """
    half = dec_lo.shape[0] // 2
    for lev in range(1, level + 1):
        a0 = a_off[lev - 1]
        m = a_off[lev] - a0
        d0 = offsets[level - lev + 1]
        src = history if lev == 1 else approx[a_off[lev - 2]:a0]
        out_a = approx[a0:a0 + m]
        out_d = coeffs[d0:d0 + m]
        if full:
            dwt_run(src, src.shape[0], dec_lo, dec_hi, half, 0, 0, m, out_a, out_d)
            continue
        sh = uint64(shifts[lev - 1])
        for i in range(uint64(m) - sh):
            out_a[i] = out_a[i + sh]
            out_d[i] = out_d[i + sh]
        # the dirty indices (ascending) as runs of consecutive outputs, one dwt_run each
        q = dirty_off[lev - 1]
        q_end = dirty_off[lev]
        while q < q_end:
            start = dirty[q]
            stop = start + 1
            q += 1
            while q < q_end and dirty[q] == stop:
                stop += 1
                q += 1
            dwt_run(src, src.shape[0], dec_lo, dec_hi, half, 0, start, stop, out_a, out_d)
    a0 = a_off[level - 1]
    for i in range(offsets[1] - offsets[0]):
        coeffs[offsets[0] + i] = approx[a0 + i]


@njit(cache=True)
def wavelet_hop_sliding(history, samples, dec_lo, dec_hi, level, approx, a_off, coeffs,
                        offsets, dirty, dirty_off, shifts, full, energies):
    """One hop of the sliding decomposition: push, update coefficients, band energies."""
    push_history(history, samples)
    wavedec_sliding(history, dec_lo, dec_hi, level, approx, a_off, coeffs, offsets, dirty,
                    dirty_off, shifts, full)
    band_energies(coeffs, offsets, energies)


@njit(cache=True)
def wavelet_sliding_block(samples, n, history, dec_lo, dec_hi, level, approx, a_off, coeffs,
                          offsets, dirty, dirty_off, shifts, full, energies, out32):
    """``wavelet_hop_sliding`` over the first ``n`` rows (consecutive hops) of ``samples``;
    hop ``i``'s band energies into ``out32[i]`` (float32, the frame's field)."""
    for i in range(n):
        wavelet_hop_sliding(history, samples[i], dec_lo, dec_hi, level, approx, a_off, coeffs,
                            offsets, dirty, dirty_off, shifts, full and i == 0, energies)
        for b in range(energies.shape[0]):
            out32[i, b] = energies[b]


@njit(cache=True)
def wavelet_full_block(samples, n, history, dec_lo, dec_hi, level, mode, work_a, work_b, coeffs,
                       offsets, energies, out32):
    """``wavelet_hop`` over the first ``n`` rows of ``samples`` (modes without the sliding
    update); hop ``i``'s band energies into ``out32[i]``."""
    for i in range(n):
        wavelet_hop(history, samples[i], dec_lo, dec_hi, level, mode, work_a, work_b, coeffs,
                    offsets, energies)
        for b in range(energies.shape[0]):
            out32[i, b] = energies[b]


def _sliding_plan(n: int, hop: int, f: int, level: int):
    """Per-level dirty coefficient indices and shifts for periodization, or None when the
    sliding update does not apply (sizes not divisible by 2^level, hop >= n)."""
    step = 1 << level
    if hop <= 0 or hop >= n or n % step or hop % step:
        return None
    dirty_prev = np.zeros(n, dtype=bool)
    dirty_prev[n - hop:] = True
    n_prev = n
    dirty, offs, shifts = [], [0], []
    s = f // 2
    for lev in range(1, level + 1):
        m = n_prev // 2
        sh = hop >> lev
        o = np.arange(m)[:, None]
        idx = (2 * o + s - np.arange(f)[None, :]) % n_prev
        d = dirty_prev[idx].any(axis=1)
        d[m - sh:] = True
        dirty.append(np.flatnonzero(d))
        offs.append(offs[-1] + int(d.sum()))
        shifts.append(sh)
        dirty_prev, n_prev = d, m
    return (np.concatenate(dirty).astype(np.int64), np.array(offs, dtype=np.int64),
            np.array(shifts, dtype=np.int64))


def _wavelet(name: str):
    import pywt

    if not isinstance(name, str):
        raise ParameterError(f"wavelet={name!r} must be a wavelet name such as 'db4', 'sym5', 'haar'")
    try:
        w = pywt.Wavelet(name)
    except ValueError:
        discrete = pywt.wavelist(kind="discrete")
        raise ParameterError(
            f"wavelet={name!r} is unknown; use a discrete PyWavelets wavelet such as haar, "
            f"db1..db38, sym2..sym20, coif1..coif17 ({len(discrete)} available, "
            f"see pywt.wavelist(kind='discrete'))") from None
    return w


def max_level(window: int, wavelet: str = "db4") -> int:
    """Deepest level for a ``window``-sample signal (``pywt.dwt_max_level``)."""
    import pywt

    return int(pywt.dwt_max_level(int(window), _wavelet(wavelet).dec_len))


class WaveletPlan:
    """Filters, band layout and work buffers for decomposing ``n``-sample signals.

    ``coeffs`` (flat, pywt band order) and ``offsets`` (level + 2 entries) are owned by the
    plan and valid until the next transform.
    """

    def __init__(self, n: int, wavelet: str = "db4", level: int = 5, mode: str = "periodization"):
        import pywt

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ParameterError(f"window={n!r} must be a positive integer number of samples")
        if mode not in MODES:
            raise ParameterError(f"mode={mode!r} is unknown; choose one of {', '.join(MODES)}")
        w = _wavelet(wavelet)
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or level < 1:
            raise ParameterError(f"level={level!r} must be a positive integer")
        deepest = int(pywt.dwt_max_level(int(n), w.dec_len))
        if level > deepest:
            raise ParameterError(
                f"level={level} is too deep for a window of {n} samples with {wavelet!r} "
                f"(filter length {w.dec_len}): the maximum is {deepest}"
                + ("" if deepest > 0 else "; use a longer window"))
        self.n, self.level, self.wavelet, self.mode = int(n), int(level), wavelet, mode
        self.mode_id = MODES[mode]
        self.dec_lo = np.asarray(w.dec_lo, dtype=np.float64)
        self.dec_hi = np.asarray(w.dec_hi, dtype=np.float64)
        lengths = []
        m = self.n
        for _ in range(self.level):
            m = int(pywt.dwt_coeff_len(m, w.dec_len, mode))
            lengths.append(m)
        sizes = [lengths[-1]] + lengths[::-1]  # cA_L, cD_L, ..., cD_1
        self.lengths = np.array(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.coeffs = np.zeros(int(self.offsets[-1]))
        self.work_a = np.zeros(lengths[0] + w.dec_len)
        self.work_b = np.zeros(lengths[0] + w.dec_len)

    @property
    def n_bands(self) -> int:
        return self.level + 1

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Decompose float64 ``x`` (length n) into ``self.coeffs``; returns it."""
        if x.shape[0] != self.n:
            raise ParameterError(f"signal has {x.shape[0]} samples, the plan expects {self.n}")
        wavedec_into(x, self.dec_lo, self.dec_hi, self.level, self.mode_id, self.work_a,
                     self.work_b, self.coeffs, self.offsets)
        return self.coeffs

    def bands(self) -> list[np.ndarray]:
        """Views of ``coeffs`` per band, pywt order (as ``pywt.wavedec`` returns)."""
        return [self.coeffs[self.offsets[b]:self.offsets[b + 1]] for b in range(self.n_bands)]


def wavedec(x: np.ndarray, wavelet: str = "db4", *, level: int = 5,
            mode: str = "periodization") -> list[np.ndarray]:
    """Numba Mallat decomposition of a whole array, same output as ``pywt.wavedec`` (copies)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    plan = WaveletPlan(x.shape[0], wavelet, level, mode)
    plan.transform(x)
    return [b.copy() for b in plan.bands()]


class WaveletState:
    """Sliding ``window``-sample history; ``push(hop_samples)`` decomposes the newest window
    and updates ``energies`` (mean-square per band, pywt order; owned, valid until next push).

    With ``hop`` given (periodization mode, window and hop divisible by 2^level) the
    decomposition is updated incrementally (``wavedec_sliding``): same numbers, about a
    quarter of the work. Blocks of another size fall back to a full decomposition.
    """

    def __init__(self, window: int, wavelet: str = "db4", level: int = 5,
                 mode: str = "periodization", *, hop: int | None = None):
        self.plan = WaveletPlan(window, wavelet, level, mode)
        self.history = np.zeros(self.plan.n)
        self.energies = np.zeros(self.plan.n_bands)
        p = self.plan
        self.sliding = None
        if hop is not None:
            positive_int("hop", hop)
        if hop is not None and mode == "periodization":
            self.sliding = _sliding_plan(p.n, int(hop), p.dec_lo.shape[0], p.level)
        if self.sliding is not None:
            self.hop = int(hop)
            sizes = [p.n >> lev for lev in range(1, p.level + 1)]
            self.a_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            self.approx = np.zeros(int(self.a_off[-1]))
        self._full = True

    def push(self, hop_samples: np.ndarray) -> np.ndarray:
        p = self.plan
        sl = self.sliding
        if sl is not None:
            full = self._full or hop_samples.shape[0] != self.hop
            wavelet_hop_sliding(self.history, hop_samples, p.dec_lo, p.dec_hi, p.level,
                                self.approx, self.a_off, p.coeffs, p.offsets, sl[0], sl[1],
                                sl[2], full, self.energies)
            self._full = False
        else:
            wavelet_hop(self.history, hop_samples, p.dec_lo, p.dec_hi, p.level, p.mode_id,
                        p.work_a, p.work_b, p.coeffs, p.offsets, self.energies)
        return self.energies

    def push_block(self, samples: np.ndarray, n: int, out32: np.ndarray) -> None:
        """``push`` of the first ``n`` rows of ``samples`` (hops of ``hop`` samples), hop
        ``i``'s energies into ``out32[i]``."""
        p, sl = self.plan, self.sliding
        if sl is not None:
            if samples.shape[1] != self.hop:
                raise ParameterError(f"hops have {samples.shape[1]} samples, expected hop={self.hop}")
            wavelet_sliding_block(samples, n, self.history, p.dec_lo, p.dec_hi, p.level,
                                  self.approx, self.a_off, p.coeffs, p.offsets, sl[0], sl[1],
                                  sl[2], self._full, self.energies, out32)
            self._full = self._full and n == 0
        else:
            wavelet_full_block(samples, n, self.history, p.dec_lo, p.dec_hi, p.level, p.mode_id,
                               p.work_a, p.work_b, p.coeffs, p.offsets, self.energies, out32)

    def reset(self) -> None:
        self.history[:] = 0.0
        self.energies[:] = 0.0
        self.plan.coeffs[:] = 0.0
        if self.sliding is not None:
            self.approx[:] = 0.0
        self._full = True


def wavelet_energies_frames(y: np.ndarray, *, hop: int, window: int, wavelet: str = "db4",
                            level: int = 5, mode: str = "periodization") -> np.ndarray:
    """Wavelet band energies of a whole signal through the live per-hop path.

    At each hop ``i`` the last ``window`` samples ending at sample ``(i + 1) * hop`` (zeros
    before the start) are decomposed to ``level`` levels; each band's mean-square energy
    ``mean(c²)`` is reported in pywt order ``[cA_level, cD_level, …, cD_1]``.

    Returns
    -------
    np.ndarray, float32, shape (len(y) // hop, level + 1)

    Raises
    ------
    ParameterError
        Unknown wavelet or mode, non-positive hop/window, level deeper than
        ``pywt.dwt_max_level(window, filter_len)`` (the message gives the maximum).
    """
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or hop <= 0:
        raise ParameterError(f"hop={hop!r} must be a positive integer")
    state = WaveletState(window, wavelet, level, mode, hop=hop)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono (1-D), got shape {y.shape}")
    n_frames = y.shape[0] // hop
    out = np.empty((n_frames, state.plan.n_bands), dtype=np.float32)
    for i in range(n_frames):
        out[i] = state.push(y[i * hop:(i + 1) * hop])
    return out


class WaveletEnergies(Processor):
    """Vector field ``wavelet_energy`` (level + 1): mean-square energy per band of the last
    ``config.wavelet_window`` samples, every hop, in pywt order ``[cA_level, cD_level, …,
    cD_1]`` (coarse → fine), linear (not dB)."""

    def __init__(self, config):
        self.wavelet, self.level = config.wavelet, config.wavelet_level
        self.window, self.mode = config.wavelet_window, config.wavelet_mode
        # validate now (unknown wavelet, level too deep) so a bad config fails at build time
        self.state = WaveletState(self.window, self.wavelet, self.level, self.mode)

    def prepare(self, spec, layout, facts):
        self.state = WaveletState(self.window, self.wavelet, self.level, self.mode, hop=spec.hop)
        layout.add_vector("wavelet_energy", self.level + 1)

    def process(self, ctx, frame):
        frame.vectors["wavelet_energy"][:] = self.state.push(ctx.samples)

    blockwise = True

    def process_block(self, block):
        self.state.push_block(block.samples, block.n, block.vectors["wavelet_energy"])

    def reset(self):
        self.state.reset()
