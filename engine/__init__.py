"""sonolux: a real-time audio streaming engine for live shows.

Audio in (PortAudio, files, synthetic) → ring buffer → per-hop analysis (Numba kernels) →
FeatureFrames → OSC and visuals. See docs/architecture.md.

A chain you build and call on an array (the live engine runs the very same one, hop by hop)::

    import numpy as np
    import sonolux

    sr = 48000
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype(np.float32)
    an = sonolux.Analyzer(sonolux.StreamSpec(sr))
    table = an.analyze(x)                 # one row per hop: table.column("level"), ...
    doc = sonolux.analyze(x, sr)          # the `sonolux analyze --json` document
    doc["tempo"], doc["onsets"][:4]

Live, with OSC out::

    source = sonolux.sources.SynthSource("clicks:120", 48000, 256)
    targets = sonolux.outputs.osc.build_targets(["127.0.0.1:9000"])
    with sonolux.Engine(sonolux.StreamSpec(), source, osc_targets=targets) as engine:
        engine.wait(10)
"""
__version__ = "0.1.0"

from .analysis import AnalysisConfig, Analyzer, FrameTable
from .engine import Engine
from .errors import (AudioFileError, ConfigError, DeviceError, ModelError, ParameterError,
                     SonoluxError)
from .frame import FeatureFrame, FrameLayout, Mailbox
from .offline import analyze
from .ringbuffer import RingBuffer
from .spec import StreamSpec

__all__ = ["AnalysisConfig", "Analyzer", "analyze", "AudioFileError", "ConfigError", "DeviceError", "Engine",
           "FeatureFrame", "FrameLayout", "FrameTable", "Mailbox", "ModelError", "ParameterError",
           "RingBuffer", "SonoluxError", "StreamSpec", "__version__"]
