"""The processor protocol and the chain that runs processors in order, once per hop."""
from __future__ import annotations

import numpy as np

from ..frame import FeatureFrame, FrameLayout
from ..spec import StreamSpec


class HopContext:
    """What one hop's processors share: the hop's samples and the products of earlier
    processors (the power spectrum, later mel bands, …). Arrays are owned by their producer
    and valid until the next hop."""

    def __init__(self, spec: StreamSpec):
        self.spec = spec
        self.samples = np.zeros(spec.hop, dtype=np.float64)
        self.power: np.ndarray | None = None
        self.sample_end = 0  # stream position (samples) after this hop

    @property
    def t(self) -> float:
        return self.sample_end / self.spec.sample_rate


class Processor:
    """Base class. Subclasses declare their frame fields in ``prepare`` and fill them in
    ``process`` without allocating. ``online = True`` says the result depends only on the
    past, so live and offline runs agree.

    A processor that needs the raw input of the last seconds (to hand it to another thread)
    makes an ``input_history`` (a :class:`~sonolux.ringbuffer.HistoryRing`) in ``prepare``:
    the Analyzer writes each hop into it in the call that copies the hop in, no extra pass."""

    online = True
    input_history = None

    def prepare(self, spec: StreamSpec, layout: FrameLayout) -> None:
        raise NotImplementedError

    def process(self, ctx: HopContext, frame: FeatureFrame) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the past (state), keep the sizes (buffers)."""


class Chain(Processor):
    """Processors in order; ``prepare`` / ``process`` / ``reset`` forwarded to each."""

    def __init__(self, processors: list[Processor]):
        self.processors = list(processors)

    def prepare(self, spec: StreamSpec, layout: FrameLayout) -> None:
        for p in self.processors:
            p.prepare(spec, layout)

    def process(self, ctx: HopContext, frame: FeatureFrame) -> None:
        for p in self.processors:
            p.process(ctx, frame)

    def reset(self) -> None:
        for p in self.processors:
            p.reset()
