"""sonolux: a real-time audio streaming engine for live shows.

Audio in (PortAudio, files, synthetic) → ring buffer → per-hop analysis (Numba kernels) →
FeatureFrames → OSC and visuals. See docs/architecture.md.
"""
__version__ = "0.1.0"

from .analysis import AnalysisConfig, Analyzer, FrameTable
from .engine import Engine
from .errors import (AudioFileError, ConfigError, DeviceError, ModelError, ParameterError,
                     SonoluxError)
from .frame import FeatureFrame, FrameLayout, Mailbox
from .ringbuffer import RingBuffer
from .spec import StreamSpec

__all__ = ["AnalysisConfig", "Analyzer", "AudioFileError", "ConfigError", "DeviceError", "Engine",
           "FeatureFrame", "FrameLayout", "FrameTable", "Mailbox", "ModelError", "ParameterError",
           "RingBuffer", "SonoluxError", "StreamSpec", "__version__"]
