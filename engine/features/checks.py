"""Validation of feature parameters: each check returns the clean value or raises a
``ParameterError`` that names the parameter and the bad value (librosa's manner:
``hop=0 must be a positive integer``)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError


def finite(name: str, value, *, positive: bool = False, minimum: float | None = None) -> float:
    """``value`` as a finite float (and > 0 / >= ``minimum`` when asked).

    >>> finite("onset_k", 1)
    1.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be a number") from None
    if not math.isfinite(v):
        raise ParameterError(f"{name}={value!r} must be finite")
    if positive and not v > 0:
        raise ParameterError(f"{name}={value!r} must be positive")
    if minimum is not None and v < minimum:
        raise ParameterError(f"{name}={value!r} must be at least {minimum:g}")
    return v


def floor_db(value, name: str = "floor_db") -> float:
    """A finite, negative dB floor."""
    v = finite(name, value)
    if v >= 0:
        raise ParameterError(f"{name}={value!r} must be a negative number of dB")
    return v


def positive_int(name: str, value) -> int:
    """A positive integer (bool and float are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return int(value)

