"""The analysis chain and the Analyzer that runs it one hop at a time.

The same ``Analyzer.process_hop`` serves the live worker thread and offline analysis, so
streaming and offline results are equal by construction (and tested).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .frame import FeatureFrame, FrameLayout
from .processors.bands import DEFAULT_BANDS, BandLevels
from .processors.base import Chain, HopContext, Processor
from .processors.levels import LevelMeter
from .processors.onsets import FluxOnsets
from .processors.spectrum import Spectrum
from .spec import StreamSpec


@dataclass(frozen=True)
class AnalysisConfig:
    """Tunable analysis parameters (CLI flags and config files map onto these)."""

    window: str = "hann"
    floor_db: float = -60.0  # level that maps to 0 on the 0..1 scales
    bands: tuple = DEFAULT_BANDS
    onset_k: float = 2.0
    onset_delta: float = 0.02
    onset_min_gap_s: float = 0.05
    onset_gate_db: float = -60.0
    extra: dict = field(default_factory=dict)


def build_chain(config: AnalysisConfig) -> Chain:
    """The default processor chain; later stages read what earlier ones put in the context."""
    processors: list[Processor] = [
        LevelMeter(config.floor_db),
        Spectrum(config.window),
        BandLevels(config.bands, config.floor_db),
        FluxOnsets(k=config.onset_k, delta=config.onset_delta, min_gap_s=config.onset_min_gap_s,
                   gate_db=config.onset_gate_db),
    ]
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

    def process_hop(self, hop_samples: np.ndarray, frame: FeatureFrame) -> None:
        """Analyse exactly ``spec.hop`` samples into ``frame`` (allocation-free)."""
        ctx = self.ctx
        ctx.samples[:] = hop_samples
        self.sample_pos += ctx.samples.shape[0]
        ctx.sample_end = self.sample_pos
        frame.sample_end = self.sample_pos
        frame.t = self.sample_pos / self.spec.sample_rate
        self.chain.process(ctx, frame)

    def reset(self) -> None:
        self.chain.reset()
        self.sample_pos = 0

    def warm_up(self, hops: int = 8) -> None:
        """Run a few silent hops (loads or compiles the Numba kernels), then reset, so the
        first live hop is not slow."""
        frame = self.layout.new_frame()
        silence = np.zeros(self.spec.hop, dtype=np.float32)
        for _ in range(hops):
            self.process_hop(silence, frame)
        self.reset()

    def analyze(self, signal: np.ndarray) -> "FrameTable":
        """Offline: every whole hop of ``signal`` through the same path as live."""
        hop = self.spec.hop
        n = signal.shape[0] // hop
        table = FrameTable.empty(self.layout, n)
        frame = self.layout.new_frame()
        x = np.asarray(signal, dtype=np.float32)
        for i in range(n):
            self.process_hop(x[i * hop:(i + 1) * hop], frame)
            frame.seq = i
            table.store(i, frame)
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
