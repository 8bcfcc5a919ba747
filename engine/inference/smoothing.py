"""Smoothing for live use: predictions arrive every ~0.5 s and jitter; lights must not.

* ``Ema``: exponential moving average with a time constant (seconds), dt-aware.
* ``OneEuro``: the 1€ filter (Casiez et al. 2012): smooth when steady, quick on real moves.
* the quadrant's hysteresis works on the signs of valence and arousal: ``mood.AxisHysteresis``.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError

METHODS = ("ema", "one-euro", "none")


class Ema:
    def __init__(self, tau_s: float = 2.0):
        self.tau_s = float(tau_s)
        self.value = None
        self.t = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.value is None or self.tau_s <= 0:
            self.value = x.copy()
        else:
            a = 1.0 - math.exp(-max(t - self.t, 0.0) / self.tau_s)
            self.value = self.value + a * (x - self.value)
        self.t = t
        return self.value


class OneEuro:
    def __init__(self, min_cutoff: float = 0.3, beta: float = 1.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value = self.deriv = self.t = None

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.value is None:
            self.value, self.deriv, self.t = x.copy(), np.zeros_like(x), t
            return self.value
        dt = max(t - self.t, 1e-3)
        d = (x - self.value) / dt
        self.deriv = self.deriv + self._alpha(self.d_cutoff, dt) * (d - self.deriv)
        cutoff = self.min_cutoff + self.beta * np.abs(self.deriv)
        a = np.array([self._alpha(c, dt) for c in np.atleast_1d(cutoff)]).reshape(x.shape)
        self.value = self.value + a * (x - self.value)
        self.t = t
        return self.value


class Passthrough:
    def __call__(self, x, t):
        return np.asarray(x, dtype=np.float64)


def make_smoother(method: str, tau_s: float = 2.0):
    if method == "ema":
        return Ema(tau_s)
    if method == "one-euro":
        return OneEuro()
    if method == "none":
        return Passthrough()
    raise ParameterError(f"smoothing={method!r} must be one of {', '.join(METHODS)}")
