"""Processors: thin stateful objects around the Numba kernels, composed into the analysis
chain. Lifecycle after JUCE / pedalboard: ``prepare(spec, layout)``, ``process(ctx, frame)``,
``reset()``."""
from .base import Chain, HopContext, Processor

__all__ = ["Chain", "HopContext", "Processor"]
