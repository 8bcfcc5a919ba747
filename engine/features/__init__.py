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
from .base import Chain, ChainFacts, HopContext, Processor
from .config import AnalysisConfig

__all__ = ["AnalysisConfig", "Chain", "ChainFacts", "HopContext", "Processor"]
