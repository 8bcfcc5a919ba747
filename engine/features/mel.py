"""Mel: filterbank (Slaney), mel projection and power → dB as Numba kernels, and the
``MelSpectrum`` processor.

``mel_filterbank`` is computed in numpy (no librosa at runtime) and equals
``librosa.filters.mel(sr=..., n_fft=..., n_mels=..., fmin=..., fmax=..., htk=False,
norm="slaney")`` bit for bit (float32, the same operation order).

Kernels write into caller-owned arrays and never allocate:

* ``mel_project(power, fb, out)``: ``out = fb @ power`` (dense);
* ``mel_project_sparse(power, fb, starts, stops, out)``: the same, only over each band's
  non-zero bins (``mel_band_ranges``), what the live processor uses;
* ``power_to_db(power, out, amin=1e-10)``: ``10·log10(max(p, amin))`` (ref 1.0, no top_db),
  i.e. ``librosa.power_to_db(p, ref=1.0, amin=amin, top_db=None)``.

``log_mel_frames`` is the offline path through the same per-hop code as live (``StftState``,
causal framing: frame ``i`` is the ``n_fft`` samples ending at sample ``(i + 1) * hop``, zeros
before the start).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit, uint64

from ..errors import ParameterError
from ..spec import is_power_of_two
from .base import Processor
from .checks import finite, positive_int
from .spectrum import StftState

# Slaney mel scale constants (librosa.hz_to_mel, htk=False)
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel of ``f`` Hz (linear below 1 kHz, logarithmic above)."""
    f = np.asarray(f, dtype=np.float64)
    mels = f / _F_SP
    log_t = f >= _MIN_LOG_HZ
    return np.where(log_t, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP,
                    mels)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    freqs = _F_SP * m
    log_t = m >= _MIN_LOG_MEL
    return np.where(log_t, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), freqs)


def _check_mel_args(sample_rate, n_fft, n_mels, fmin, fmax) -> float:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} must be a positive integer")
    if isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer)) or not is_power_of_two(int(n_fft)):
        raise ParameterError(f"n_fft={n_fft!r} must be a power of two (e.g. 512, 1024, 2048)")
    if isinstance(n_mels, bool) or not isinstance(n_mels, (int, np.integer)) or n_mels <= 0:
        raise ParameterError(f"n_mels={n_mels!r} must be a positive integer")
    fmax = float(sample_rate) / 2 if fmax is None else float(fmax)
    if not 0.0 <= float(fmin) < fmax:
        raise ParameterError(f"fmin={fmin!r} must be >= 0 and below fmax={fmax!r}")
    if fmax > sample_rate / 2 + 1e-9:
        raise ParameterError(f"fmax={fmax!r} must not exceed the Nyquist frequency {sample_rate / 2}")
    return fmax


def mel_centres(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequencies (Hz) of the Slaney mel bands of ``mel_filterbank``."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))[1:-1]


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int = 64, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Slaney-style, Slaney-normalised triangular mel filterbank.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    n_fft : int
        FFT size (power of two).
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Band edges in Hz; ``fmax=None`` is ``sample_rate / 2``.

    Returns
    -------
    np.ndarray, float32, shape (n_mels, n_fft // 2 + 1)
        Equal to ``librosa.filters.mel(..., htk=False, norm="slaney")``.

    Raises
    ------
    ParameterError
        On a non-positive size, an n_fft that is not a power of two or bad band edges.
    """
    fmax = _check_mel_args(sample_rate, n_fft, n_mels, fmin, fmax)
    n_mels = int(n_mels)
    n_bins = int(n_fft) // 2 + 1
    weights = np.zeros((n_mels, n_bins), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=int(n_fft), d=1.0 / float(sample_rate))
    mel_f = mel_to_hz(np.linspace(hz_to_mel(float(fmin)), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


def mel_band_ranges(fb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops) int64: the non-zero bin range of each band (empty band: start == stop)."""
    n_mels = fb.shape[0]
    starts = np.zeros(n_mels, dtype=np.int64)
    stops = np.zeros(n_mels, dtype=np.int64)
    for m in range(n_mels):
        nz = np.flatnonzero(fb[m])
        if nz.size:
            starts[m], stops[m] = nz[0], nz[-1] + 1
    return starts, stops


@njit(cache=True)
def mel_project(power, fb, out):
    """``out[m] = Σ_k fb[m, k] · power[k]`` (dense filterbank)."""
    n_mels, n_bins = fb.shape
    for m in range(n_mels):
        acc = 0.0
        for k in range(n_bins):
            acc += fb[m, k] * power[k]
        out[m] = acc


@njit(cache=True)
def mel_project_sparse(power, fb, starts, stops, out):
    """As :func:`mel_project`, summing only over ``starts[m]:stops[m]``."""
    for m in range(fb.shape[0]):
        acc = 0.0
        row = fb[m]
        for k in range(uint64(starts[m]), uint64(stops[m])):  # unsigned: no index wrap check
            acc += row[k] * power[k]
        out[m] = acc


#: 10 / ln 10: dB from the natural log (libm's log is about twice as fast as its log10;
#: the two differ by an ulp or so)
DB_PER_NEPER = 10.0 / math.log(10.0)


@njit(cache=True)
def power_to_db(power, out, amin=1e-10):
    """``out = 10·log10(max(power, amin))`` elementwise (ref 1.0, no top_db clipping),
    computed as ``(10 / ln 10)·ln(·)``."""
    for i in range(uint64(power.shape[0])):  # unsigned: no negative-index wrap check
        p = power[i]
        if p < amin:
            p = amin
        out[i] = DB_PER_NEPER * math.log(p)


@njit(cache=True)
def mel_db_hop(power, fb, starts, stops, mel_power, out, amin):
    """One hop: sparse mel projection into ``mel_power`` then dB into ``out``."""
    mel_project_sparse(power, fb, starts, stops, mel_power)
    power_to_db(mel_power, out, amin)


@njit(cache=True)
def mel_db_block(power, n, fb, starts, stops, mel_power, mel_db_rows, amin, out32):
    """``mel_db_hop`` over the first ``n`` rows of ``power``: dB into ``mel_db_rows[i]`` and,
    as float32 (the frame's field), into ``out32[i]``."""
    for i in range(n):
        mel_db_hop(power[i], fb, starts, stops, mel_power, mel_db_rows[i], amin)
        row = mel_db_rows[i]
        out = out32[i]
        for m in range(uint64(out.shape[0])):
            out[m] = row[m]


@functools.lru_cache(maxsize=16)
def _mel_tables(sample_rate, n_fft, n_mels, fmin, fmax):
    """(fb32, fb float64, starts, stops) for ``MelState``, computed once per set of
    parameters (~3 ms each time otherwise, at every chain build)."""
    fb32 = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    fb = fb32.astype(np.float64)
    return (fb32, fb, *mel_band_ranges(fb))


class MelState:
    """Filterbank and buffers for one stream: ``push(power)`` fills ``mel_power`` and ``mel_db``
    (float64, owned here, valid until the next push)."""

    def __init__(self, *, sample_rate: int, n_fft: int, n_mels: int = 64, fmin: float = 0.0,
                 fmax: float | None = None, amin: float = 1e-10):
        tables = _mel_tables(sample_rate, n_fft, n_mels, fmin, fmax)
        self.fb32, self.fb, self.starts, self.stops = (a.copy() for a in tables)
        self.amin = finite("amin", amin, positive=True)
        self.mel_power = np.zeros(n_mels)
        self.mel_db = np.full(n_mels, 10.0 * math.log10(self.amin))
        #: the state in ``mel_db_hop``'s order after ``power``, for kernels that fuse steps
        self.kernel_args = (self.fb, self.starts, self.stops, self.mel_power, self.mel_db, self.amin)

    def push(self, power: np.ndarray) -> np.ndarray:
        mel_db_hop(power, *self.kernel_args)
        return self.mel_db

    def reset(self) -> None:
        self.mel_power[:] = 0.0
        self.mel_db[:] = 10.0 * math.log10(self.amin)


def log_mel_frames(y: np.ndarray, *, sample_rate: int, n_fft: int, hop: int, n_mels: int,
                   fmin: float = 0.0, fmax: float | None = None,
                   window: str = "hann") -> np.ndarray:
    """Log-mel spectrogram (dB, ref 1.0, amin 1e-10) of a whole signal, frame by frame through
    the live path.

    Returns
    -------
    np.ndarray, float32, shape (len(y) // hop, n_mels)
        Equal (to float rounding) to ``librosa.power_to_db(librosa.feature.melspectrogram(
        y=np.pad(y, (n_fft - hop, 0)), sr=sample_rate, n_fft=n_fft, hop_length=hop,
        center=False, power=2.0, n_mels=n_mels, fmin=fmin, fmax=fmax), top_db=None).T``.
    """
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or hop <= 0:
        raise ParameterError(f"hop={hop!r} must be a positive integer")
    mel = MelState(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    stft = StftState(int(n_fft), int(hop), window)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono (1-D), got shape {y.shape}")
    n_frames = y.shape[0] // hop
    out = np.empty((n_frames, n_mels), dtype=np.float32)
    for i in range(n_frames):
        out[i] = mel.push(stft.push(y[i * hop:(i + 1) * hop]))
    return out


class MelSpectrum(Processor):
    """Vector field ``mel_db`` (``config.n_mels``, dB re 1.0 power, floor 10·log10(amin)) of
    ``ctx.power``, also published as ``ctx.mel_db``; hands its band edges to later stages
    (``facts.mel_fmin`` / ``mel_fmax`` / ``n_mels``). Must follow ``Spectrum``."""

    def __init__(self, config):
        self.config = config
        self.n_mels = positive_int("n_mels", config.n_mels)
        self.fmin = finite("mel_fmin", config.mel_fmin, minimum=0.0)
        if config.mel_fmax is not None:
            finite("mel_fmax", config.mel_fmax, positive=True)
        finite("mel_amin", config.mel_amin, positive=True)

    def prepare(self, spec, layout, facts):
        facts.require("window", "MelSpectrum", "Spectrum")
        fmax = self.config.mel_fmax_hz(spec.sample_rate)
        self.mel = MelState(sample_rate=spec.sample_rate, n_fft=spec.n_fft, n_mels=self.n_mels,
                            fmin=self.fmin, fmax=fmax, amin=self.config.mel_amin)
        facts.mel_fmin, facts.mel_fmax, facts.n_mels = float(self.fmin), fmax, self.n_mels
        layout.add_vector("mel_db", self.n_mels)

    blockwise = True

    def process_block(self, block):
        m = self.mel
        mel_db_block(block.power, block.n, m.fb, m.starts, m.stops, m.mel_power, block.mel_db,
                     m.amin, block.vectors["mel_db"])

    def process(self, ctx, frame):
        mel_db = self.mel.push(ctx.power)
        frame.vectors["mel_db"][:] = mel_db
        ctx.mel_db = mel_db

    def reset(self):
        self.mel.reset()
