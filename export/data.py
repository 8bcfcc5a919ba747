"""Dataset builders: read the shared data folder, compute model features once through
``sonolux.modelinput`` (the engine's own kernels) and cache them under ``export/work/``.

The cache is an ``.npz`` per corpus with keys ``<id>__mel``, ``<id>__wavelet`` and
``<id>__audio`` (int16 16 kHz, for the tagger's waveform branch). Audio never leaves the
work folder.
"""
from __future__ import annotations

import argparse
import csv
import glob
import os
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from sonolux import modelinput as mi

from .render_midi import render_all
from .workspace import DEFAULT_DATA, WORK, DataMissing

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
#: sign of (valence, arousal) per quadrant (Russell; DESIGN.md contract)
QUADRANT_VA = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float32)
WESNOTH_GLOB = "/usr/share/games/wesnoth/*/data/core/music/*.ogg"


def add_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA),
                   help="shared data folder (default: ../shared/data from the repo root)")


def data_root(path: str | os.PathLike | None = None) -> Path:
    """Resolve and check the data folder; a clear error names what is missing."""
    root = Path(path) if path else DEFAULT_DATA
    if not (root / "emotion4q" / "clips.csv").is_file():
        raise DataMissing(f"data folder {root} has no emotion4q/clips.csv; pass --data "
                          f"pointing at the shared data (see ../shared/data/README.md)")
    return root


def load_clips(root: Path) -> list[dict]:
    """Rows of emotion4q/clips.csv with ``q`` (0..3) and ``fold`` (0..4) as ints."""
    with open(root / "emotion4q" / "clips.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["q"] = QUADRANTS.index(r["quadrant"])
        r["fold"] = int(r["fold"])
        r["audio"] = str(root / "emotion4q" / r["path"])
    return rows


def smoke_clips(clips: list[dict]) -> list[dict]:
    """The --smoke subset: 2 clips per quadrant in each of folds 0 and 1 (16 clips)."""
    return [c for f in (0, 1) for q in range(4)
            for c in [r for r in clips if r["fold"] == f and r["q"] == q][:2]]


def corpus(path: str | os.PathLike | None, smoke: bool) -> tuple[Path, list[dict]]:
    """The checked data folder and its 4Q clips; with ``smoke`` the --smoke subset.

    >>> root, clips = corpus("../shared/data", smoke=True)  # doctest: +SKIP
    >>> len(clips)  # doctest: +SKIP
    16
    """
    root = data_root(path)
    clips = load_clips(root)
    return root, (smoke_clips(clips) if smoke else clips)


def load_vgmidi(root: Path) -> list[dict]:
    with open(root / "vgmidi" / "vgmidi_labelled.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        v, a = int(r["valence"]), int(r["arousal"])
        r["q"] = {(1, 1): 0, (-1, 1): 1, (-1, -1): 2, (1, -1): 3}[(v, a)]
        r["midi_path"] = str(root / "vgmidi" / r["midi"])
    return rows


def wesnoth_files() -> list[str]:
    files = sorted(glob.glob(WESNOTH_GLOB))
    if not files:
        raise DataMissing("no wesnoth music found; apt-get install wesnoth-music")
    return files


def load_audio(path: str) -> np.ndarray:
    """Mono float32 at the contract's 16 kHz (soxr high quality when resampling)."""
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr != mi.SR:
        import soxr
        y = soxr.resample(y, sr, mi.SR, quality="HQ").astype(np.float32)
    return y


def load_teachers(root: Path, name: str = "emotion4q_dev") -> dict[str, np.ndarray]:
    path = root / "teachers" / f"{name}.npz"
    if not path.is_file():
        raise DataMissing(f"{path} is missing")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def build_cache(name: str, items: list[tuple[str, str]], *, force: bool = False) -> Path:
    """Features of ``items`` = [(id, audio_path)] into ``export/work/features/<name>.npz``."""
    out = WORK / "features" / f"{name}.npz"
    if out.is_file() and not force:
        with np.load(out) as z:
            have = {k.split("__")[0] for k in z.files}
        if all(i in have for i, _ in items):
            return out
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for cid, path in tqdm(items, desc=f"features {name}", unit="clip"):
        y = load_audio(path)
        f = mi.clip_features(y)
        arrays[f"{cid}__mel"] = f["mel"]
        arrays[f"{cid}__wavelet"] = f["wavelet"]
        arrays[f"{cid}__audio"] = np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


def load_cache(path: Path, ids: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """{id: {"mel", "wavelet", "audio" (float32)}} from a cache file."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as z:
        keys = ids if ids is not None else sorted({k.split("__")[0] for k in z.files})
        for cid in keys:
            out[cid] = {"mel": z[f"{cid}__mel"], "wavelet": z[f"{cid}__wavelet"],
                        "audio": z[f"{cid}__audio"].astype(np.float32) / 32767.0}
    return out


def emotion4q_cache(root: Path, clips: list[dict], *, name: str = "emotion4q") -> Path:
    return build_cache(name, [(r["song"], r["audio"]) for r in clips])


def vgmidi_cache(root: Path, rows: list[dict], *, name: str = "vgmidi") -> Path:
    wavs = render_all([(r["id"], r["midi_path"]) for r in rows])
    return build_cache(name, [(r["id"], wavs[r["id"]]) for r in rows])


def wesnoth_cache(*, name: str = "wesnoth") -> Path:
    return build_cache(name, [(Path(f).stem, f) for f in wesnoth_files()])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Cache model features of all corpora")
    add_data_arg(p)
    a = p.parse_args(argv)
    root = data_root(a.data)
    emotion4q_cache(root, load_clips(root))
    vgmidi_cache(root, load_vgmidi(root))
    wesnoth_cache()


if __name__ == "__main__":
    main()
