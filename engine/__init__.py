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

import importlib

#: the public names and the module that defines each, imported on first use (PEP 562), so
#: ``import sonolux`` and commands such as ``sonolux analyze`` do not load the live engine,
#: the outputs and the visuals they do not need
_EXPORTS = {
    "AnalysisConfig": "analysis", "Analyzer": "analysis", "FrameTable": "analysis",
    "Engine": "engine", "AudioFileError": "errors", "ConfigError": "errors",
    "DeviceError": "errors", "ModelError": "errors", "ParameterError": "errors",
    "SonoluxError": "errors", "FeatureFrame": "frame", "FrameLayout": "frame",
    "Mailbox": "frame", "analyze": "offline", "RingBuffer": "ringbuffer", "StreamSpec": "spec",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    """``sonolux.Analyzer`` and the other public names, and subpackages such as
    ``sonolux.sources``, imported when first used."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
