"""Where the files shipped inside the package are: presets, ONNX models, OSC profiles.

They are looked up with :mod:`importlib.resources`, so an editable install in the repository
and a wheel installed anywhere find the same files. User folders (``--presets DIR``,
``--models DIR``, ``$SONOLUX_PRESETS``, ``$SONOLUX_MODELS``) are layered on top by their
callers.

>>> from sonolux import resources
>>> (resources.models_dir() / "emotion.onnx").is_file()
True
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_dir(package: str) -> Path:
    # installed packages sit on the file system (no zip imports), so the Traversable is a Path
    return Path(str(files(package)))


def presets_dir() -> Path:
    """The shipped presets (``sonolux.presets``)."""
    return _package_dir("sonolux.presets")


def models_dir() -> Path:
    """The shipped ONNX models and their cards (``sonolux.models``)."""
    return _package_dir("sonolux.models")


def profiles_dir() -> Path:
    """The shipped OSC console profiles (``sonolux.profiles``)."""
    return _package_dir("sonolux.profiles")
