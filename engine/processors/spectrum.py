"""STFT stage: keeps the sliding window and publishes ``ctx.power`` for later processors."""
from __future__ import annotations

from ..dsp.stft import StftState
from .base import Processor


class Spectrum(Processor):
    """Power spectrum |X|² of the last n_fft samples, every hop (no frame fields)."""

    def __init__(self, window: str = "hann"):
        self.window_name = window

    def prepare(self, spec, layout):
        self.stft = StftState(spec.n_fft, spec.hop, self.window_name)

    def process(self, ctx, frame):
        ctx.power = self.stft.push(ctx.samples)
        ctx.window = self.stft.window

    def reset(self):
        self.stft.reset()
