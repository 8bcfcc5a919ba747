"""The processor protocol, what one hop's processors share, and the chain that runs them.

Lifecycle after JUCE / pedalboard: ``prepare(spec, layout, facts)`` once, ``process(ctx,
frame)`` every hop, ``reset()`` to forget the past. Data passes explicitly:

* per hop, through the declared fields of :class:`HopContext` (``__slots__``: a processor
  cannot invent a field);
* at prepare time, through :class:`ChainFacts`: what an earlier stage knows that a later one
  needs (the analysis window, the mel band edges), handed over once, never looked up per hop.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..frame import FeatureFrame, FrameLayout
from ..spec import StreamSpec


class HopContext:
    """What one hop's processors share. Arrays are owned by their producer and valid until
    the next hop; a field is None until its producer ran (and in chains without it)."""

    __slots__ = ("spec", "samples", "sample_end", "power", "mel_db", "onset_flux", "low_flux")

    def __init__(self, spec: StreamSpec):
        self.spec = spec
        #: the hop's input samples (float64; pre-emphasis filters them in place)
        self.samples = np.zeros(spec.hop, dtype=np.float64)
        self.sample_end = 0  # stream position (samples) after this hop
        self.power: np.ndarray | None = None  # |X|², n_fft/2+1 (Spectrum)
        self.mel_db: np.ndarray | None = None  # log-mel dB, n_mels (MelSpectrum)
        self.onset_flux = 0.0  # novelty of this hop (FluxOnsets)
        self.low_flux = 0.0  # log-mel flux of the bands below onset_low_hz (FluxOnsets)

    @property
    def t(self) -> float:
        return self.sample_end / self.spec.sample_rate


class ChainFacts:
    """Facts a stage publishes in ``prepare`` for the stages after it (filled in chain order).

    ``window``: the analysis window of the spectrum (Spectrum); ``mel_fmin`` / ``mel_fmax``
    (Hz) and ``n_mels``: the mel band edges (MelSpectrum); ``onset_flux``: True once a stage
    puts the onset flux into ``ctx.onset_flux`` / ``ctx.low_flux`` (FluxOnsets)."""

    __slots__ = ("window", "mel_fmin", "mel_fmax", "n_mels", "onset_flux")

    def __init__(self):
        self.window: np.ndarray | None = None
        self.mel_fmin: float | None = None
        self.mel_fmax: float | None = None
        self.n_mels = 0
        self.onset_flux = False

    def require(self, name: str, stage: str, needs: str):
        """The fact ``name``; a ParameterError naming the missing stage when it is not set."""
        value = getattr(self, name)
        if value is None or value is False:
            raise ParameterError(f"{stage} needs the {needs} stage before it in the chain")
        return value


class Processor:
    """Base class. Subclasses declare their frame fields in ``prepare`` and fill them in
    ``process`` without allocating.

    A processor that needs the raw input of the last seconds (to hand it to another thread)
    makes an ``input_history`` (a :class:`~sonolux.ringbuffer.HistoryRing`) in ``prepare``:
    the Analyzer writes each hop into it in the call that copies the hop in, no extra pass."""

    input_history = None

    def prepare(self, spec: StreamSpec, layout: FrameLayout, facts: ChainFacts) -> None:
        raise NotImplementedError

    def process(self, ctx: HopContext, frame: FeatureFrame) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the past (state), keep the sizes (buffers)."""


class Chain(Processor):
    """Processors in order; ``prepare`` / ``process`` / ``reset`` forwarded to each."""

    def __init__(self, processors: list[Processor]):
        self.processors = list(processors)

    def prepare(self, spec: StreamSpec, layout: FrameLayout, facts: ChainFacts | None = None) -> None:
        facts = ChainFacts() if facts is None else facts
        for p in self.processors:
            p.prepare(spec, layout, facts)

    def process(self, ctx: HopContext, frame: FeatureFrame) -> None:
        for p in self.processors:
            p.process(ctx, frame)

    def reset(self) -> None:
        for p in self.processors:
            p.reset()
