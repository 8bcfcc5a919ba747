"""The wheel works anywhere: built from the repo, installed into a fresh venv, run from a
directory outside the repo, it finds its presets, models and OSC profiles.

The fresh venv borrows the third-party dependencies of the test's own environment through a
plain path in a ``.pth`` file (a path line, so the editable install's finder there is NOT
loaded): only sonolux itself comes from the wheel, and no package is downloaded.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

SHIPPED_MODELS = sorted(p.stem for p in (ROOT / "models_onnx").glob("*.onnx"))


def _run(cmd, cwd, timeout=300, env=None):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL, env=env)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(dist), str(ROOT)], cwd=ROOT)
    wheels = list(dist.glob("sonolux-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=env_dir).stdout.strip())
    (purelib / "_sonolux_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
          str(wheel)], cwd=env_dir)
    return env_dir


def test_wheel_holds_presets_models_and_profiles(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for stem in SHIPPED_MODELS:
        assert f"sonolux/models/{stem}.onnx" in names
        assert f"sonolux/models/{stem}.json" in names  # the contract sidecar
    assert "sonolux/models/README.md" in names  # the model cards
    for preset in (ROOT / "presets").glob("*.json"):
        assert f"sonolux/presets/{preset.name}" in names
    for profile in (ROOT / "engine" / "profiles").glob("*.toml"):
        assert f"sonolux/profiles/{profile.name}" in names
    assert "sonolux/profiles/cut_judge.json" in names  # the region stage's learned cut judge
    assert "sonolux/profiles/cut_placer.json" in names  # ... and its learned cut placer
    dmx_maps = list((ROOT / "engine" / "profiles" / "dmx").glob("*.toml"))
    assert dmx_maps and all(f"sonolux/profiles/dmx/{m.name}" in names for m in dmx_maps)  # the DMX fixture maps
    assert not any(n.startswith("engine/") for n in names), "the import name is sonolux, not engine"


def test_installed_wheel_runs_outside_the_repo(venv, tmp_path):
    exe = str(venv / "bin" / "sonolux")
    where = _run([str(venv / "bin" / "python"), "-c", "import sonolux; print(sonolux.__file__)"],
                 cwd=tmp_path).stdout
    assert str(venv) in where and str(ROOT) not in where

    models = _run([exe, "models"], cwd=tmp_path).stdout
    for stem in SHIPPED_MODELS:
        assert f"{stem}.onnx" in models, f"{stem} missing from `sonolux models`:\n{models}"

    presets = _run([exe, "render", "--list-presets"], cwd=tmp_path).stdout
    assert "spectrum_bars" in presets

    import numpy as np
    import soundfile as sf
    sr = 48000
    t = np.arange(sr * 2) / sr
    sf.write(tmp_path / "clip.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    env = dict(os.environ, OSMESA_LIBRARY=os.environ.get("OSMESA_LIBRARY", "libOSMesa.so.8"))
    _run([exe, "render", "clip.wav", "--preset", "spectrum_bars", "--size", "160x90", "--fps", "10",
          "--no-models", "-o", "out.mp4", "--quiet"], cwd=tmp_path, env=env)
    assert (tmp_path / "out.mp4").stat().st_size > 1000
