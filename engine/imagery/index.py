"""``sonolux images index DIR``: embed a folder of images (and the first frame of each video
loop) into an index file, re-embedding only what changed.

The index is ``DIR/.sonolux-index.npz`` (beside the images, so it travels with the folder;
``index_path`` names another place). Per item: the path relative to DIR, its mtime and size
(the change check), its kind (image / video), the joint-space embedding and quadrant
probabilities of the image encoder (``image_embed.onnx``), and colour statistics (brightness,
saturation, hue direction, contrast: the non-learned matching and the fallback when no image
encoder is installed). A file that cannot be read is skipped with a warning and tried again
on the next run.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .colour import VIDEO_EXTS, ImageReadError, colour_stats, is_media, load_rgb, model_input

log = logging.getLogger("sonolux.imagery")

INDEX_NAME = ".sonolux-index.npz"
INDEX_VERSION = 1
EMBED_DIM = 32


class ImageIndexWarning(UserWarning):
    """An image could not be read and was left out of the index."""


@dataclass
class IndexReport:
    path: Path
    total: int
    embedded: int  # new or changed, embedded now
    reused: int  # unchanged, taken from the previous index
    removed: int  # in the previous index, gone from the folder
    skipped: list = field(default_factory=list)  # (relpath, reason)
    model: str = ""


@dataclass
class ImageIndex:
    root: Path
    paths: list  # relative to root, posix
    mtime_ns: np.ndarray
    size: np.ndarray
    kind: list
    embedding: np.ndarray | None  # (N, D) unit vectors, or None without an image encoder
    probs: np.ndarray | None  # (N, 4)
    stats: np.ndarray  # (N, 5)
    model: str = ""  # name@version of the image encoder ("" = colour only)

    def __len__(self) -> int:
        return len(self.paths)

    def abspath(self, i: int) -> Path:
        return self.root / self.paths[i]

    # --- ranking ------------------------------------------------------------------------------
    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of every item to a joint-space ``query`` (D,)."""
        if self.embedding is None:
            raise ParameterError(f"{self.root}: the index has no embeddings (no image encoder was "
                                 "installed when it was built); re-index with models_onnx/image_embed.onnx")
        q = np.asarray(query, np.float32).ravel()
        q = q / (np.linalg.norm(q) + 1e-9)
        return self.embedding @ q

    def rank(self, query=None, k: int = 5, *, scores=None, exclude=()) -> np.ndarray:
        """Indices of the ``k`` best distinct items (best first), leaving out ``exclude`` when
        enough others remain. ``scores`` overrides the embedding similarity."""
        if len(self) == 0:
            return np.zeros(0, np.int64)
        s = np.asarray(self.scores(query) if scores is None else scores, np.float64).copy()
        ex = [i for i in set(int(e) for e in exclude) if 0 <= i < len(self)]
        if ex and len(self) - len(ex) >= min(k, len(self)):
            s[ex] = -np.inf
        order = np.argsort(-s, kind="stable")
        return order[:min(k, len(self))].astype(np.int64)

    def colour_scores(self, brightness: float, saturation: float) -> np.ndarray:
        """The non-learned matching: closeness of the items' (brightness, saturation) ranks to
        target ranks in 0..1."""
        rb = _ranks(self.stats[:, 0])
        rs = _ranks(self.stats[:, 1])
        return -((rb - brightness) ** 2 + (rs - saturation) ** 2)

    def emotion_scores(self, quadrant_probs) -> np.ndarray:
        """Agreement of the items' quadrant probabilities with the music's."""
        if self.probs is None:
            raise ParameterError("the index has no quadrant probabilities")
        return self.probs @ np.asarray(quadrant_probs, np.float32)

    # --- files --------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        meta = {"version": INDEX_VERSION, "model": self.model, "paths": self.paths, "kind": self.kind}
        arrays = {"meta": np.array(json.dumps(meta)), "mtime_ns": self.mtime_ns, "size": self.size,
                  "stats": self.stats}
        if self.embedding is not None:
            arrays["embedding"] = self.embedding
            arrays["probs"] = self.probs
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)


def _ranks(x: np.ndarray) -> np.ndarray:
    if len(x) <= 1:
        return np.full(len(x), 0.5)
    return np.argsort(np.argsort(x, kind="stable"), kind="stable") / (len(x) - 1)


def index_path(root) -> Path:
    return Path(root) / INDEX_NAME


def load_index(root, path=None) -> ImageIndex:
    root = Path(root)
    path = Path(path) if path else index_path(root)
    if not path.is_file():
        raise ParameterError(f"{root}: no image index ({path}); run `sonolux images index {root}`")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("version") != INDEX_VERSION:
            raise ParameterError(f"{path}: index version {meta.get('version')} (expected {INDEX_VERSION}); re-index")
        emb = z["embedding"] if "embedding" in z.files else None
        probs = z["probs"] if "probs" in z.files else None
        return ImageIndex(root, list(meta["paths"]), z["mtime_ns"], z["size"], list(meta["kind"]),
                          emb, probs, z["stats"], meta.get("model", ""))


def scan(root: Path) -> list[Path]:
    """Media files under ``root`` (recursive, sorted, hidden files and folders skipped)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if not f.startswith(".") and is_media(p):
                out.append(p)
    return out


def _encoder(model_dir=None):
    """The image encoder, or None (colour-only index) when it is not installed."""
    from .models import load_image_model, model_path

    p = model_path("image_embedding", model_dir)
    if not p.is_file():
        return None
    return load_image_model(p, "image_embedding")


def build_index(root, *, path=None, model_dir=None, encoder="auto", progress: bool = True,
                batch: int = 32) -> tuple[ImageIndex, IndexReport]:
    """Index ``root`` (see module docstring); returns the index and what was done."""
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"{root} is not a folder")
    path = Path(path) if path else index_path(root)
    enc = _encoder(model_dir) if encoder == "auto" else encoder
    model = f"{enc.contract.get('name', 'image_embed')}@{enc.contract.get('version', '?')}" if enc else ""
    old = None
    if path.is_file():
        try:
            old = load_index(root, path)
        except Exception as e:  # noqa: BLE001 - a damaged index is rebuilt
            log.warning("%s: previous index unreadable (%s); rebuilding", path, e)
    files = scan(root)
    prev = {}
    if old is not None and old.model == model:
        prev = {p: i for i, p in enumerate(old.paths)}
    rows = []  # (rel, mtime, size, kind, emb, probs, stats)
    todo = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            st = f.stat()
        except OSError as e:
            rows.append(None)
            todo.append((len(rows) - 1, f, rel, None, str(e)))
            continue
        kind = "video" if f.suffix.lower() in VIDEO_EXTS else "image"
        j = prev.get(rel)
        if j is not None and int(old.mtime_ns[j]) == st.st_mtime_ns and int(old.size[j]) == st.st_size:
            rows.append((rel, st.st_mtime_ns, st.st_size, kind,
                         None if old.embedding is None else old.embedding[j],
                         None if old.probs is None else old.probs[j], old.stats[j]))
        else:
            rows.append(None)
            todo.append((len(rows) - 1, f, rel, (st.st_mtime_ns, st.st_size, kind), None))
    reused = len(files) - len(todo)
    skipped = []
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="img", desc=f"index {root.name or root}", file=sys.stderr,
                   dynamic_ncols=True, mininterval=0.5)
    pending = []

    def flush():
        if not pending:
            return
        if enc is not None:
            x = np.stack([p[2] for p in pending])
            out = enc.run({"image": x})
            emb, probs = out["embedding"], out["quadrant_probs"]
        for n, (slot, meta, _, stats) in enumerate(pending):
            rows[slot] = (*meta, None if enc is None else emb[n], None if enc is None else probs[n], stats)
        pending.clear()

    for slot, f, rel, meta, err in todo:
        if err is None:
            try:
                rgb = load_rgb(f, max_side=512)
                pending.append((slot, (rel, *meta), model_input(rgb), colour_stats(rgb)))
            except ImageReadError as e:
                err = str(e)
            except Exception as e:  # noqa: BLE001 - any decoder failure: skip the file
                err = f"{f}: {type(e).__name__}: {e}"
        if err is not None:
            skipped.append((rel, err))
            msg = f"skipped unreadable {rel}: {err}"
            log.warning(msg)
            warnings.warn(msg, ImageIndexWarning, stacklevel=2)
        if len(pending) >= batch:
            flush()
        if bar is not None:
            bar.update(1)
    flush()
    if bar is not None:
        bar.close()
    rows = [r for r in rows if r is not None]
    has_emb = enc is not None and all(r[4] is not None for r in rows)
    index = ImageIndex(
        root, [r[0] for r in rows], np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.int64), [r[3] for r in rows],
        np.stack([r[4] for r in rows]).astype(np.float32) if has_emb and rows else (
            np.zeros((0, EMBED_DIM), np.float32) if has_emb else None),
        np.stack([r[5] for r in rows]).astype(np.float32) if has_emb and rows else (
            np.zeros((0, 4), np.float32) if has_emb else None),
        np.stack([r[6] for r in rows]).astype(np.float32) if rows else np.zeros((0, 5), np.float32),
        model if has_emb else "")
    index.save(path)
    removed = 0 if old is None else len(set(old.paths) - {r[0] for r in rows})
    return index, IndexReport(path, len(index), len(todo) - len(skipped), reused, removed, skipped, index.model)


def open_index(root, *, build: bool = True, progress: bool = False, model_dir=None) -> ImageIndex:
    """The index of ``root``, brought up to date first (``build``) or as it is on disk."""
    if build:
        return build_index(root, progress=progress, model_dir=model_dir)[0]
    return load_index(root)
