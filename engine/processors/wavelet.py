"""Wavelet stage: Mallat DWT band energies of the last ``window`` samples, every hop."""
from __future__ import annotations

from ..dsp.wavelet import WaveletState
from .base import Processor


class WaveletEnergies(Processor):
    """Vector field ``wavelet_energy`` (level + 1): mean-square energy per band in pywt order
    ``[cA_level, cD_level, …, cD_1]`` (coarse → fine), linear (not dB)."""

    def __init__(self, wavelet: str = "db4", level: int = 5, window: int = 1024,
                 mode: str = "periodization"):
        # validate now (unknown wavelet, level too deep) so a bad config fails at build time
        self.state = WaveletState(window, wavelet, level, mode)
        self.wavelet, self.level, self.window, self.mode = wavelet, level, window, mode

    def prepare(self, spec, layout):
        self.state = WaveletState(self.window, self.wavelet, self.level, self.mode, hop=spec.hop)
        layout.add_vector("wavelet_energy", self.level + 1)

    def process(self, ctx, frame):
        frame.vectors["wavelet_energy"][:] = self.state.push(ctx.samples)

    def reset(self):
        self.state.reset()
