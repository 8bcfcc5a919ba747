"""The analysis chain and the Analyzer that runs it one hop at a time.

The same ``Analyzer.process_hop`` serves the live worker thread and offline analysis, so
streaming and offline results are equal by construction (and tested).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .frame import FeatureFrame, FrameLayout
from .errors import ParameterError
from .processors.bands import DEFAULT_BANDS, BandLevels
from .processors.base import Chain, HopContext, Processor
from .processors.beat import BeatTracker
from .processors.energy import EnergyContrast, TempoContrast
from .processors.levels import LevelMeter
from .processors.mel import MelSpectrum
from .processors.onsets import DEFAULT_ONSET_BANDS, FluxOnsets
from .processors.preemphasis import PreEmphasis
from .processors.spectrum import Spectrum
from .processors.wavelet import WaveletEnergies
from .spec import StreamSpec


@dataclass(frozen=True)
class AnalysisConfig:
    """Tunable analysis parameters (CLI flags and config files map onto these)."""

    window: str = "hann"
    floor_db: float = -60.0  # level that maps to 0 on the 0..1 scales
    bands: tuple = DEFAULT_BANDS
    # pre-emphasis Y[n] = X[n] - a X[n-1] before the spectral / wavelet stages (None: off)
    preemphasis: float | None = None
    # mel stage (vector field mel_db); mel_fmax None = min(sr/2, 16 kHz)
    n_mels: int = 64
    mel_fmin: float = 0.0
    mel_fmax: float | None = None
    # Mallat DWT band energies (vector field wavelet_energy, level + 1 bands)
    wavelet: str | None = "db4"  # None: no wavelet stage
    wavelet_level: int = 5
    wavelet_window: int = 1024
    wavelet_mode: str = "periodization"
    # short-term energy E_t / z_t and tempo z (seed eq. 3.1, 3.5, 3.7-3.8)
    energy_segment_s: float = 2.0  # M: 2 s segments segment music best (benchmarks/segmentation.py)
    energy_band: tuple = (0.6, 1.4)
    tempo_segment_s: float = 4.0
    tempo_band: tuple = (0.8, 1.2)
    # onsets (log-mel flux in dB; delta in dB)
    onset_k: float = 1.0  # threshold: mean + k·std of the last onset_history_s, + delta (dB)
    onset_delta: float = 0.3
    onset_min_gap_s: float = 0.03
    onset_history_s: float = 2.0
    onset_gate_db: float = -60.0
    onset_floor_db: float = -80.0
    onset_bands: tuple = DEFAULT_ONSET_BANDS
    onset_band_k: float = 2.0
    onset_band_delta: float = 1.0
    onset_band_min_gap_s: float = 0.08
    onset_band_range_db: float = 20.0  # per band: only rises above (band's recent peak - this) count
    # beat tracker
    beat: bool = True
    bpm_range: tuple = (70.0, 180.0)
    beat_offset_s: float = 0.0
    beat_history_s: float = 8.0
    beat_tau_s: float = 3.0
    tap_hold_s: float = 30.0
    extra: dict = field(default_factory=dict)


def build_chain(config: AnalysisConfig) -> Chain:
    """The default processor chain; later stages read what earlier ones put in the context.

    Order: levels and energy (on the input samples) → optional pre-emphasis → STFT → band
    levels → mel → wavelet → onsets (log-mel flux, per band) → tempo z → beat tracker.
    """
    processors: list[Processor] = [
        LevelMeter(config.floor_db),
        EnergyContrast(config.energy_segment_s, config.energy_band),
    ]
    if config.preemphasis is not None:
        processors.append(PreEmphasis(config.preemphasis))
    processors += [
        Spectrum(config.window),
        BandLevels(config.bands, config.floor_db),
        MelSpectrum(config.n_mels, config.mel_fmin, config.mel_fmax),
    ]
    if config.wavelet is not None:
        processors.append(WaveletEnergies(config.wavelet, config.wavelet_level,
                                          config.wavelet_window, config.wavelet_mode))
    processors += [
        FluxOnsets(k=config.onset_k, delta=config.onset_delta, min_gap_s=config.onset_min_gap_s,
                   history_s=config.onset_history_s, gate_db=config.onset_gate_db, floor_db=config.onset_floor_db,
                   bands=config.onset_bands, band_k=config.onset_band_k,
                   band_delta=config.onset_band_delta,
                   band_min_gap_s=config.onset_band_min_gap_s,
                   band_range_db=config.onset_band_range_db),
        TempoContrast(config.tempo_segment_s, config.tempo_band),
    ]
    if config.beat:
        processors.append(BeatTracker(config.bpm_range, offset_s=config.beat_offset_s,
                                      history_s=config.beat_history_s,
                                      acf_tau_s=config.beat_tau_s, tap_hold_s=config.tap_hold_s))
    return Chain(processors)


class Analyzer:
    """Owns the chain, the frame layout and the per-hop context."""

    def __init__(self, spec: StreamSpec, config: AnalysisConfig | None = None, chain: Chain | None = None):
        self.spec = spec
        self.config = config or AnalysisConfig()
        self.chain = chain or build_chain(self.config)
        self.layout = FrameLayout()
        self.chain.prepare(spec, self.layout)
        self.ctx = HopContext(spec)
        self.sample_pos = 0
        histories = [p.input_history for p in self.chain.processors if p.input_history is not None]
        if len(histories) > 1:
            raise ParameterError("only one processor of a chain can keep an input history")
        self._history = histories[0] if histories else None

    def process_hop(self, hop_samples: np.ndarray, frame: FeatureFrame) -> None:
        """Analyse exactly ``spec.hop`` samples into ``frame`` (allocation-free)."""
        ctx = self.ctx
        if hop_samples.shape[0] != ctx.samples.shape[0]:
            raise ParameterError(f"hop has {hop_samples.shape[0]} samples, expected hop={ctx.samples.shape[0]}")
        if self._history is None:
            ctx.samples[:] = hop_samples
        else:
            self._history.write(hop_samples, ctx.samples)
        self.sample_pos += ctx.samples.shape[0]
        ctx.sample_end = self.sample_pos
        frame.sample_end = self.sample_pos
        frame.t = self.sample_pos / self.spec.sample_rate
        self.chain.process(ctx, frame)

    def reset(self) -> None:
        self.chain.reset()
        self.sample_pos = 0

    # ---- control from other threads (lock-free on the analysis side) ----------------------
    def find(self, kind: type):
        """The chain's first processor of type ``kind``, or None."""
        return next((p for p in self.chain.processors if isinstance(p, kind)), None)

    def _beat_tracker(self) -> BeatTracker:
        tracker = self.find(BeatTracker)
        if tracker is None:
            raise ParameterError("this analysis chain has no beat tracker (AnalysisConfig.beat=False)")
        return tracker

    def tap(self, t: float | None = None) -> None:
        """Tap tempo: a tap at audio time ``t`` seconds (default: the newest analysed hop).
        Safe to call from any thread; three or more taps less than 2 s apart lock the tracker
        to their tempo and phase."""
        self._beat_tracker().tap(t)

    def set_bpm_range(self, lo: float, hi: float) -> None:
        """Change the beat tracker's BPM range (validated now, applied on the next hop)."""
        self._beat_tracker().set_bpm_range(lo, hi)

    def warm_up(self, hops: int = 8) -> None:
        """Run a few silent hops (loads or compiles the Numba kernels), then reset, so the
        first live hop is not slow."""
        frame = self.layout.new_frame()
        silence = np.zeros(self.spec.hop, dtype=np.float32)
        for _ in range(hops):
            self.process_hop(silence, frame)
        self.reset()

    def analyze(self, signal: np.ndarray, after_hop=None) -> "FrameTable":
        """Offline: every whole hop of ``signal`` through the same path as live.
        ``after_hop()`` runs after each hop (offline inference steps in lockstep there)."""
        hop = self.spec.hop
        n = signal.shape[0] // hop
        table = FrameTable.empty(self.layout, n)
        frame = self.layout.new_frame()
        x = np.asarray(signal, dtype=np.float32)
        for i in range(n):
            self.process_hop(x[i * hop:(i + 1) * hop], frame)
            frame.seq = i
            table.store(i, frame)
            if after_hop is not None:
                after_hop()
        return table


@dataclass
class FrameTable:
    """Frames of a whole run as columns: ``t`` (n,), ``values`` (n, n_scalars), vectors."""

    layout: FrameLayout
    t: np.ndarray
    values: np.ndarray
    vectors: dict

    @classmethod
    def empty(cls, layout: FrameLayout, n: int) -> "FrameTable":
        return cls(layout, np.zeros(n), np.zeros((n, len(layout.scalars))),
                   {k: np.zeros((n, s), dtype=np.float32) for k, s in layout.vectors.items()})

    def store(self, i: int, frame: FeatureFrame) -> None:
        self.t[i] = frame.t
        self.values[i] = frame.values
        for k, v in frame.vectors.items():
            self.vectors[k][i] = v

    def __len__(self) -> int:
        return self.t.shape[0]

    def column(self, name: str) -> np.ndarray:
        if name in self.layout.scalars:
            return self.values[:, self.layout.scalars[name]]
        return self.vectors[name]

    def event_times(self, name: str) -> np.ndarray:
        """Times of the hops where the 0/1 event field ``name`` is set."""
        return self.t[self.column(name) > 0.5]

    def tempo(self) -> dict:
        """Clip tempo for ``analyze --json``: median ``bpm`` over the confident half of the
        locked hops, and their mean confidence (``{"bpm": 0, "confidence": 0}`` if never locked)."""
        if "bpm" not in self.layout.scalars:
            return {"bpm": 0.0, "confidence": 0.0}
        bpm, conf = self.column("bpm"), self.column("bpm_confidence")
        locked = bpm > 0
        if not locked.any():
            return {"bpm": 0.0, "confidence": 0.0}
        c = conf[locked]
        sel = c >= np.median(c)
        return {"bpm": float(np.median(bpm[locked][sel])), "confidence": float(np.mean(c))}
