"""Features: one module per feature, each holding its Numba kernels, its state and its
processor (levels, preemphasis, spectrum, bands, mel, wavelet, onsets, energy, beat, regions,
override; resample for the models' input; offline: the feature stages over a whole signal).

Kernels are free functions that write into preallocated ``out`` arrays and know nothing
about classes, threads or streams (librosa's ``out=`` style, aubio's sizing). Processors are
thin stateful objects around them with ``prepare(spec, layout, facts)``, ``process(ctx,
frame)``, ``reset()`` (JUCE / pedalboard lifecycle; see :mod:`sonolux.features.base`); they
read every parameter from :class:`~sonolux.features.config.AnalysisConfig`.

The GIL: per-hop kernels keep it (``@njit(cache=True)``). They run for microseconds, and a
kernel that releases the GIL hands it to whichever Python thread is waiting (the inference
worker, the OSC sender), which the analysis thread must then wait out, several times a hop.
Holding it makes one analysis hop one uninterrupted stretch. Only kernels that run long, off
the analysis thread, release it (``nogil=True``): the inference worker's ``resample_into_nogil`` and ``sonolux.modelinput``'s feature kernels
(``tests/test_no_alloc.py`` checks the list).
"""
import importlib
import sys


def _import_without(module: str, hidden: str) -> None:
    """Import ``module`` while ``hidden`` cannot be imported (a ``None`` entry in
    ``sys.modules`` makes ``import hidden`` raise ImportError, which ``module`` handles);
    ``hidden``'s entry is put back as it was. Nothing happens when ``module`` is loaded."""
    if module in sys.modules:
        return
    missing = object()
    saved = sys.modules.get(hidden, missing)
    sys.modules[hidden] = None
    try:
        importlib.import_module(module)
    finally:
        if saved is missing:
            del sys.modules[hidden]
        else:
            sys.modules[hidden] = saved


def _numba_array_math_without_scipy_linalg() -> None:
    """Import Numba's array-math implementations (the registry Numba loads before the first
    kernel compiles or loads from its cache) without ``scipy.linalg``: at import, that module
    checks for a BLAS by importing scipy.linalg, ~0.3 s and ~20 MB at every start, and uses
    the answer only for ``np.convolve`` / ``np.correlate`` in jitted code (a plain loop
    without it; no kernel here calls them). ``np.dot`` and friends still import scipy when
    they are compiled."""
    if "scipy.linalg" not in sys.modules:  # already paid for: let Numba use it
        _import_without("numba.np.arraymath", "scipy.linalg")


_numba_array_math_without_scipy_linalg()


def numba_typing_without_cffi() -> None:
    """For the ``sonolux`` command's own process: load Numba's cffi typing module with cffi
    hidden, so it records "no cffi support". Otherwise Numba's first kernel load builds a
    ``cffi.FFI()``, which imports and sets up pycparser: ~0.09 s of every command's start,
    for a feature no sonolux kernel uses. Not done on ``import sonolux``: a library user's
    own jitted code may call cffi functions."""
    _import_without("numba.core.typing.cffi_utils", "cffi")


from .base import Chain, ChainFacts, HopContext, Processor  # noqa: E402
from .config import AnalysisConfig  # noqa: E402

__all__ = ["AnalysisConfig", "Chain", "ChainFacts", "HopContext", "Processor"]
