"""The model input features: THE single definition used by training (``export/``) and by the
live engine's inference worker.

Every number a model depends on lives in :data:`FEATURE_CONTRACT`; the exporter writes it into
each ONNX file's metadata and the engine compares it at load time, so a model trained on other
features fails at load, never mid-stream.

Features are computed through the engine's own DSP kernels (``sonolux.features.spectrum``,
``sonolux.features.mel``, ``sonolux.features.wavelet``), so what a model sees in training is bit-for-bit
the path it sees live. Two entry points give equal results (tested):

* offline: :func:`clip_features` on a whole 16 kHz signal;
* streaming: :class:`FeatureStream`, fed blocks of any size, one hop computed at a time.

Framing (causal, as everywhere in the engine): frame ``i`` is the ``n_fft`` samples ending at
sample ``(i + 1) * hop``, zeros before the stream start.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .errors import ParameterError
from .features.spectrum import StftState, stft_power_hop
from .features.mel import MelState, log_mel_frames, mel_db_hop, mel_filterbank as _mel_filterbank
from .features.wavelet import WaveletState, wavelet_energies_frames, wavelet_hop_sliding

#: Everything a model's input depends on. Version bumps whenever a number changes.
FEATURE_CONTRACT: dict = {
    "version": 1,
    "sample_rate": 16000,
    "n_fft": 512,
    "hop": 256,                      # 62.5 frames/s
    "window": "hann",
    "n_mels": 96,
    "fmin": 0.0,
    "fmax": 8000.0,
    "mel_scale": "slaney",
    "log_mel": "10*log10(max(power, 1e-10))",
    "framing": "causal: frame i = n_fft samples ending at sample (i+1)*hop, zeros before start",
    "wavelet": "db4",
    "wavelet_level": 5,              # 6 bands: approximation + 5 details (coarse to fine)
    "wavelet_mode": "periodization",
    "wavelet_window": 1024,          # samples analysed at each hop (64 ms)
    "wavelet_energy": "mean(c^2) per band, bands [cA5, cD5, cD4, cD3, cD2, cD1]",
    "wavelet_log": "10*log10(max(energy, 1e-10))",
    "emotion_frames": 250,           # 4.0 s context
    "tagger_frames": 188,            # 3.008 s context (musicnn's 3 s patches)
    "tagger_samples": 188 * 256,     # raw waveform of the same 3.008 s
    "latent_frames": 64,             # 1.024 s
}

SR = FEATURE_CONTRACT["sample_rate"]
N_FFT = FEATURE_CONTRACT["n_fft"]
HOP = FEATURE_CONTRACT["hop"]
N_MELS = FEATURE_CONTRACT["n_mels"]
N_WAVELET = FEATURE_CONTRACT["wavelet_level"] + 1
_LOG_FLOOR = 1e-10


# ---------------------------------------------------------------------------------------------
# kernels: the engine's own (engine/features); nothing here re-implements DSP
# ---------------------------------------------------------------------------------------------

def mel_filterbank() -> np.ndarray:
    """Slaney mel filterbank (n_mels, n_fft/2+1) of the contract."""
    c = FEATURE_CONTRACT
    return _mel_filterbank(sample_rate=c["sample_rate"], n_fft=c["n_fft"], n_mels=c["n_mels"],
                           fmin=c["fmin"], fmax=c["fmax"])


def _log_mel(y: np.ndarray) -> np.ndarray:
    c = FEATURE_CONTRACT
    return log_mel_frames(y, sample_rate=c["sample_rate"], n_fft=c["n_fft"], hop=c["hop"],
                          n_mels=c["n_mels"], fmin=c["fmin"], fmax=c["fmax"], window=c["window"])


def _wavelet_energies(y: np.ndarray) -> np.ndarray:
    """Mean-square Mallat band energies (n_frames, level+1) of the last ``wavelet_window``
    samples at each hop, causal framing, pywt band order [cA_L, cD_L, ..., cD_1]."""
    c = FEATURE_CONTRACT
    return wavelet_energies_frames(y, hop=c["hop"], window=c["wavelet_window"],
                                   wavelet=c["wavelet"], level=c["wavelet_level"],
                                   mode=c["wavelet_mode"])


@njit(cache=True)
def _energy_db(e):
    """``10·log10(max(e, 1e-10))`` of a float32 energy, in float32: the one definition both
    paths call (NumPy's and LLVM's float32 log10 may differ in the last bit)."""
    e = np.float32(e)
    return np.float32(10.0) * np.log10(max(e, np.float32(_LOG_FLOOR)))


@njit(cache=True)
def _energy_db_frames(x, out):
    for i in range(x.shape[0]):
        for b in range(x.shape[1]):
            out[i, b] = _energy_db(x[i, b])


def _to_db(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape, np.float32)
    _energy_db_frames(np.ascontiguousarray(x, np.float32), out)
    return out


# ---------------------------------------------------------------------------------------------
# offline
# ---------------------------------------------------------------------------------------------

def _check_signal(y: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate != SR:
        raise ParameterError(f"sample_rate={sample_rate} must be {SR} (resample first)")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"signal has shape {y.shape}; expected mono (n_samples,)")
    return y.astype(np.float64)


def clip_features(y: np.ndarray, *, sample_rate: int = SR) -> dict[str, np.ndarray]:
    """Model features of a whole mono 16 kHz signal.

    Returns ``{"mel": (n_frames, n_mels) dB, "wavelet": (n_frames, level+1) dB}``, float32,
    ``n_frames = len(y) // hop`` (trailing samples that do not fill a hop are ignored).
    """
    y = _check_signal(y, sample_rate)
    return {"mel": _log_mel(y), "wavelet": _to_db(_wavelet_energies(y))}


def frame_windows(n_frames: int, *, window: int, stride: int) -> np.ndarray:
    """End frames (exclusive) of the windows a live run produces: one every ``stride`` frames
    once ``window`` frames exist. A clip shorter than one window gives its last frame only (the
    live engine pads the missing start with the features of silence, see :func:`window_at`)."""
    if window <= 0 or stride <= 0:
        raise ParameterError(f"window={window} and stride={stride} must be positive")
    if n_frames < window:
        return np.array([max(n_frames, 1)])
    return np.arange(window, n_frames + 1, stride)


def silence_features() -> dict[str, np.ndarray]:
    """One frame of features of digital silence (what precedes the stream start)."""
    return {"mel": np.full(N_MELS, 10.0 * np.log10(_LOG_FLOOR), np.float32),
            "wavelet": np.full(N_WAVELET, 10.0 * np.log10(_LOG_FLOOR), np.float32)}


def window_at(frames: np.ndarray, end: int, window: int, fill: np.ndarray) -> np.ndarray:
    """``frames[end-window:end]``, left-padded with ``fill`` rows before frame 0."""
    start = end - window
    if start >= 0:
        return frames[start:end]
    pad = np.repeat(fill[None, :].astype(frames.dtype), -start, axis=0)
    return np.concatenate([pad, frames[:end]], axis=0)


def wave_window_at(y: np.ndarray, end_frame: int, n_samples: int) -> np.ndarray:
    """The ``n_samples`` raw samples ending at frame ``end_frame``'s last sample, zero-padded."""
    end = end_frame * HOP
    start = end - n_samples
    seg = np.asarray(y[max(start, 0):end], np.float32)
    if start < 0:
        seg = np.concatenate([np.zeros(-start, np.float32), seg])
    return seg


# ---------------------------------------------------------------------------------------------
# streaming
# ---------------------------------------------------------------------------------------------

#: FeatureStream.counters: samples pending in the hop, next ring row, next wave position, frames
PENDING, ROW, WAVE_POS, FRAMES = range(4)


@njit(cache=True, nogil=True)
def _push_samples(x, pending, counters, stft, mel, wavelet, wl_energy, mel_ring, wl_ring,
                  wave_ring):
    """``FeatureStream.push`` as one call that releases the GIL: the inference worker's
    feature work must not hold up the analysis thread. Fills the pending hop from ``x``; each
    completed hop runs STFT → mel dB and the sliding DWT (the engine's kernels, with the
    states' ``kernel_args``) and appends one row to each ring. Returns frames completed.

    Numba cache: this inlines kernels from ``engine/features``; touch this file after editing one
    (``tests/test_modelinput.py`` compares with the unfused path and catches a stale cache)."""
    hop = pending.shape[0]
    n_rows = mel_ring.shape[0]
    power = stft[-1]
    mel_db = mel[4]
    w_hist = wavelet[0]
    new = 0
    for i in range(x.shape[0]):
        pending[counters[PENDING]] = x[i]
        counters[PENDING] += 1
        if counters[PENDING] < hop:
            continue
        counters[PENDING] = 0
        stft_power_hop(pending, *stft)
        mel_db_hop(power, *mel)
        wavelet_hop_sliding(w_hist, pending, *wavelet[1:], counters[FRAMES] == 0, wl_energy)
        row = counters[ROW]
        for m in range(mel_db.shape[0]):
            mel_ring[row, m] = mel_db[m]
        for b in range(wl_energy.shape[0]):  # dB of the float32 energy, as _to_db offline
            wl_ring[row, b] = _energy_db(np.float32(wl_energy[b]))
        counters[ROW] = (row + 1) % n_rows
        w = counters[WAVE_POS]
        for k in range(hop):
            wave_ring[w + k] = pending[k]
        counters[WAVE_POS] = (w + hop) % wave_ring.shape[0]
        counters[FRAMES] += 1
        new += 1
    return new


@njit(cache=True, nogil=True)
def _newest_rows(ring, next_row, out):
    """Copy the ``len(out)`` newest rows of ``ring`` (next write at ``next_row``) into ``out``,
    oldest first."""
    n, size = out.shape[0], ring.shape[0]
    for i in range(n):
        out[i] = ring[(next_row - n + i) % size]


class FeatureStream:
    """Incremental model features for the live engine: ``push`` any number of 16 kHz samples;
    each completed hop appends one mel frame and one wavelet frame to internal rings.

    ``window(kind)`` returns the newest context window of a model
    (``"emotion"``, ``"tagger"``, ``"latent"``), left-padded with silence features at the stream
    start, exactly as :func:`clip_features` + :func:`window_at` give offline.
    """

    def __init__(self, max_frames: int | None = None):
        c = FEATURE_CONTRACT
        self.max_frames = max_frames or max(c["emotion_frames"], c["tagger_frames"],
                                            c["latent_frames"])
        stft = StftState(N_FFT, HOP, c["window"])
        mel = MelState(sample_rate=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=c["fmin"],
                       fmax=c["fmax"], amin=_LOG_FLOOR)
        wl = WaveletState(c["wavelet_window"], c["wavelet"], c["wavelet_level"],
                          c["wavelet_mode"], hop=HOP)
        p = wl.plan
        self._kernel_states = (stft.kernel_args, mel.kernel_args,
                               (wl.history, p.dec_lo, p.dec_hi, p.level, wl.approx, wl.a_off,
                                p.coeffs, p.offsets, *wl.sliding), wl.energies)
        self._pending = np.zeros(HOP)
        self.counters = np.zeros(4, np.int64)
        sil = silence_features()
        # rings (row ``counters[ROW]`` is written next): no shifting of whole windows per hop
        self._mel = np.tile(sil["mel"], (self.max_frames, 1))
        self._wl = np.tile(sil["wavelet"], (self.max_frames, 1))
        self._wave = np.zeros(c["tagger_samples"])  # a whole number of hops
        # bumped by every reset: a streaming model's state for this stream starts over
        self.generation = getattr(self, "generation", -1) + 1

    @property
    def n_frames(self) -> int:
        return int(self.counters[FRAMES])

    def reset(self) -> None:
        self.__init__(self.max_frames)

    def push(self, samples: np.ndarray) -> int:
        """Feed samples; returns the number of new frames completed."""
        x = np.ascontiguousarray(samples, np.float64).ravel()
        return _push_samples(x, self._pending, self.counters, *self._kernel_states,
                             self._mel, self._wl, self._wave)

    def _newest(self, ring: np.ndarray, next_row: int, n: int) -> np.ndarray:
        """The ``n`` newest rows of a ring as float32 with a batch axis, oldest first."""
        out = np.empty((1, n, *ring.shape[1:]), np.float32)
        _newest_rows(ring, next_row, out[0])
        return out

    def mel_frames(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """The ``n`` newest mel frames (1, n, n_mels) float32, silence before the stream start
        (``n`` at most ``max_frames``): what a streaming model reads. With ``out`` (a
        float32 (n, n_mels) array the caller owns) they are copied there instead."""
        if not 0 < n <= self.max_frames:
            raise ParameterError(f"n={n} mel frames: this stream keeps 1..{self.max_frames}")
        if out is None:
            return self._newest(self._mel, int(self.counters[ROW]), n)
        if out.shape != (n, N_MELS) or out.dtype != np.float32:
            raise ParameterError(f"out must be a float32 ({n}, {N_MELS}) array, got {out.dtype} {out.shape}")
        _newest_rows(self._mel, int(self.counters[ROW]), out)
        return out

    def window(self, kind: str) -> dict[str, np.ndarray]:
        """Newest context window for model ``kind`` as float32 arrays with a batch axis."""
        c = FEATURE_CONTRACT
        row = int(self.counters[ROW])
        if kind == "emotion":
            n = c["emotion_frames"]
            return {"mel": self._newest(self._mel, row, n), "wavelet": self._newest(self._wl, row, n)}
        if kind == "tagger":
            n = c["tagger_frames"]
            wave = self._newest(self._wave, int(self.counters[WAVE_POS]), self._wave.shape[0])
            return {"mel": self._newest(self._mel, row, n), "wave": wave}
        if kind == "latent":
            return {"mel": self._newest(self._mel, row, c["latent_frames"])}
        raise ParameterError(f"kind={kind!r} is unknown; choose emotion, tagger or latent")
