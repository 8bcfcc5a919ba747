"""Audio sources behind one interface: live PortAudio input, files, synthetic signals."""
from __future__ import annotations

from pathlib import Path

from ..spec import StreamSpec
from .array import ArraySource
from .base import AudioSource
from .file import FileSource, load_audio
from .live import LiveSource, list_input_devices, resolve_device
from .synth import SynthSource, demo_track

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf"}


def looks_like_file(text: str) -> bool:
    p = Path(text)
    return p.suffix.lower() in AUDIO_SUFFIXES or "/" in text or p.exists()


def open_source(input_name: str | None, spec: StreamSpec, *, realtime: bool = True,
                loop: bool = False, channels=None) -> AudioSource:
    """``synth[:…]`` → SynthSource, an existing or file-like path → FileSource, anything
    else (or None for the default) → a live device by name."""
    if input_name is not None and (input_name == "synth" or input_name.startswith("synth:")):
        kind = input_name.partition(":")[2]
        return SynthSource(kind, spec.sample_rate, spec.block_size, realtime=realtime, loop=True)
    if input_name is not None and looks_like_file(input_name):
        return FileSource(input_name, spec.sample_rate, spec.block_size, realtime=realtime,
                          loop=loop, channels=channels)
    return LiveSource(input_name, spec.sample_rate, spec.block_size, channels=channels)


__all__ = ["ArraySource", "AudioSource", "FileSource", "LiveSource", "SynthSource", "demo_track",
           "list_input_devices", "load_audio", "open_source", "resolve_device"]
