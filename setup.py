"""Package map for setuptools (all metadata is in pyproject.toml).

The folder ``engine/`` is the import package ``sonolux``; ``presets/`` and ``models_onnx/``
ship inside it as ``sonolux.presets`` and ``sonolux.models``. Subpackages are found here so a
new folder under ``engine/`` needs no edit.
"""
from setuptools import find_packages, setup

PACKAGE_DIR = {"sonolux": "engine", "sonolux.presets": "presets", "sonolux.models": "models_onnx"}

setup(
    package_dir=PACKAGE_DIR,
    packages=["sonolux", *(f"sonolux.{p}" for p in find_packages("engine")),
              "sonolux.presets", "sonolux.models"],
)
