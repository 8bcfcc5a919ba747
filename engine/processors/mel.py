"""Mel stage: log-mel spectrum of ``ctx.power``; publishes ``ctx.mel_db`` / ``ctx.mel_power``."""
from __future__ import annotations

import math

from ..dsp.mel import MelState
from ..errors import ParameterError
from .base import Processor


class MelSpectrum(Processor):
    """Vector field ``mel_db`` (n_mels, dB re 1.0 power, floor 10·log10(amin)).

    Must follow ``Spectrum``. ``fmax=None`` is min(sample_rate / 2, 16 kHz).
    """

    def __init__(self, n_mels: int = 64, fmin: float = 0.0, fmax: float | None = None):
        self.n_mels, self.fmin, self.fmax = n_mels, fmin, fmax

    def prepare(self, spec, layout):
        fmax = self.fmax if self.fmax is not None else min(spec.sample_rate / 2, 16000.0)
        self.mel = MelState(sample_rate=spec.sample_rate, n_fft=spec.n_fft, n_mels=self.n_mels,
                            fmin=self.fmin, fmax=fmax)
        self.fmax_hz = fmax
        layout.add_vector("mel_db", self.n_mels)
        self._out = None

    def process(self, ctx, frame):
        if ctx.power is None:
            raise ParameterError("MelSpectrum needs a Spectrum stage before it in the chain")
        mel_db = self.mel.push(ctx.power)
        out = frame.vectors["mel_db"]
        out[:] = mel_db
        ctx.mel_db = mel_db
        ctx.mel_power = self.mel.mel_power
        ctx.mel_stage = self

    def reset(self):
        self.mel.mel_power[:] = 0.0
        self.mel.mel_db[:] = 10.0 * math.log10(self.mel.amin)
