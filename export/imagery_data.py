"""Datasets for the imagery models: the offline image set (crops of Debian wallpapers and
scikit-image's sample images, labelled by the Valdez & Mehrabian colour–emotion rule) and
per-window summaries of the 4Q clips' model features. Cached under ``export/work/imagery/``.

Image sources (installed offline): the Debian packages gnome-backgrounds, mate-backgrounds,
plasma-workspace-wallpapers, desktop-base (``/usr/share/backgrounds``, ``/usr/share/wallpapers``,
``/usr/share/desktop-base``) and ``skimage.data``'s colour sample images. Each *source* (one
wallpaper theme; its light/dark and resolution variants form one group) gets a fold 0..4 from
a hash of its group name, so crops of one wallpaper never straddle train and test.

Each source gives ``CROPS`` random square crops (35–100 % of the short side, at 384 px short
side); a crop's label comes from the Valdez–Mehrabian rule on the crop's own pixels at that
resolution, while the encoder sees the crop at 64×64. (The label therefore depends on the same
pixels the image encoder sees, averaged; there is no human label for these images offline.
The evaluation pairs' *music* side is labelled independently, by the 4Q annotations.)
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sonolux import modelinput as mi
from sonolux.imagery.colour import ImageReadError, VMClassifier, colour_stats, load_rgb, resize

from .data import WORK

IMG_WORK = WORK / "imagery"
CROPS = 24
WORK_SIDE = 384
SIZE = 64
SKIMAGE_COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina",
                  "skin", "colorwheel", "logo", "hubble_deep_field", "cat", "lily",
                  "stereo_motorcycle")
ROOTS = ("/usr/share/backgrounds", "/usr/share/wallpapers", "/usr/share/desktop-base",
         "/usr/share/images/desktop-base")
EXTS = (".jpg", ".jpeg", ".png", ".webp")
# summary window for the music encoder: the emotion window (4 s), one per 1.024 s
MUSIC_WIN = mi.FEATURE_CONTRACT["emotion_frames"]
MUSIC_STRIDE = 64


def _group(path: str) -> tuple[str, str]:
    """(group name for folds, variant key): resolution variants collapse into one variant."""
    p = Path(path)
    parts = p.parts
    if "wallpapers" in parts:  # plasma: NAME/contents/images[_dark]/WxH.ext
        name = parts[parts.index("wallpapers") + 1]
        sub = p.parent.name
        return name, f"{name}/{sub}"
    if "desktop-base" in parts:
        i = parts.index("desktop-base")
        name = parts[i + 1] if len(parts) > i + 2 else p.stem
        variant = re.sub(r"[-_]?\d+x\d+.*$", "", p.stem)
        return name, f"{name}/{p.parent.name}/{variant}"
    stem = re.sub(r"[-_](l|d|light|dark|day|night|morning)$", "", p.stem.lower())
    stem = re.sub(r"[-_]?\d+x\d+$", "", stem)
    return stem, f"{p.parent.name}/{p.stem}"


def source_files() -> list[dict]:
    """One entry per source variant: the largest raster file of each variant."""
    best: dict[str, tuple[int, str, str]] = {}
    for root in ROOTS:
        for f in glob.glob(os.path.join(root, "**", "*"), recursive=True):
            if not f.lower().endswith(EXTS) or "screenshot" in f.lower() or not os.path.isfile(f):
                continue
            size = os.path.getsize(f)
            if size < 40_000:
                continue
            group, variant = _group(f)
            if variant not in best or size > best[variant][0]:
                best[variant] = (size, f, group)
    out = [{"id": v, "path": f, "group": g} for v, (_, f, g) in sorted(best.items())]
    try:
        import skimage.data as skd

        for name in SKIMAGE_COLOUR:
            out.append({"id": f"skimage/{name}", "path": f"skimage:{name}", "group": f"skimage_{name}"})
        del skd
    except ImportError:
        pass
    return out


def fold_of(group: str) -> int:
    return int(hashlib.sha1(group.encode()).hexdigest(), 16) % 5


def _load_source(path: str) -> np.ndarray:
    if path.startswith("skimage:"):
        import skimage.data as skd

        arr = np.asarray(getattr(skd, path.split(":", 1)[1])())
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        arr = arr[..., :3]
        if arr.dtype != np.uint8:
            arr = (255 * (arr.astype(np.float64) / max(float(arr.max()), 1e-9))).astype(np.uint8)
        return arr
    return load_rgb(path, max_side=2048)


def _to_work_side(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    s = WORK_SIDE / min(h, w)
    if s < 1:
        rgb = np.asarray(Image.fromarray(rgb).resize((max(1, int(w * s)), max(1, int(h * s))),
                                                      Image.BILINEAR), np.uint8)
    return rgb


def build_images(*, force: bool = False, smoke: bool = False) -> Path:
    """Crops (N, 64, 64, 3) uint8, colour stats, VM labels, folds → ``images.npz``."""
    out = IMG_WORK / ("images_smoke.npz" if smoke else "images.npz")
    if out.is_file() and not force:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = source_files()
    if smoke:
        sources = sources[::max(1, len(sources) // 20)][:20]
    if not sources:
        raise FileNotFoundError("no images found: apt-get install gnome-backgrounds mate-backgrounds "
                                "plasma-workspace-wallpapers desktop-base; pip install scikit-image")
    rng = np.random.default_rng(99)
    crops, stats, src_idx = [], [], []
    kept = []
    n_crops = 6 if smoke else CROPS
    for s in tqdm(sources, desc="image sources", unit="img", mininterval=2.0):
        try:
            rgb = _to_work_side(_load_source(s["path"]))
        except (ImageReadError, Exception) as e:  # noqa: BLE001 - skip unreadable sources
            tqdm.write(f"skip {s['path']}: {e}")
            continue
        h, w = rgb.shape[:2]
        short = min(h, w)
        si = len(kept)
        kept.append(s)
        for c in range(n_crops):
            side = short if c == 0 else int(short * rng.uniform(0.35, 1.0))
            y = (h - side) // 2 if c == 0 else int(rng.integers(0, h - side + 1))
            x = (w - side) // 2 if c == 0 else int(rng.integers(0, w - side + 1))
            crop = rgb[y:y + side, x:x + side]
            stats.append(colour_stats(crop))
            crops.append(resize(crop, SIZE))
            src_idx.append(si)
    stats = np.stack(stats)
    src_idx = np.array(src_idx)
    folds = np.array([fold_of(kept[i]["group"]) for i in src_idx])
    np.savez(out, crops=np.stack(crops), stats=stats, source=src_idx, fold=folds,
             source_id=np.array([s["id"] for s in kept]), source_path=np.array([s["path"] for s in kept]),
             source_group=np.array([s["group"] for s in kept]))
    return out


def load_images(path: Path, train_folds=None) -> dict:
    """Arrays of the image set plus VM labels (normalisation fitted on ``train_folds``' crops,
    default all)."""
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    mask = np.ones(len(d["fold"]), bool) if train_folds is None else np.isin(d["fold"], list(train_folds))
    vm = VMClassifier.fit(d["stats"][mask])
    d["vm"] = vm
    d["pa"] = vm.pad(d["stats"])
    d["q"] = vm.quadrant(d["stats"])
    return d


# ---------------------------------------------------------------------------------------------
# music windows
# ---------------------------------------------------------------------------------------------

def music_windows(clips, feats) -> dict:
    """Per-window summaries (see ``export.imagery_models.summary_np``) of every live window
    (4 s, one per 1.024 s) of the given clips."""
    from .imagery_models import summary_np

    sil = mi.silence_features()
    xs, owner = [], []
    for i, c in enumerate(tqdm(clips, desc="music windows", unit="clip", mininterval=2.0)):
        f = feats[c["song"]]
        for end in mi.frame_windows(len(f["mel"]), window=MUSIC_WIN, stride=MUSIC_STRIDE):
            m = mi.window_at(f["mel"], int(end), MUSIC_WIN, sil["mel"])
            w = mi.window_at(f["wavelet"], int(end), MUSIC_WIN, sil["wavelet"])
            xs.append(summary_np(m, w))
            owner.append(i)
    return {"x": np.stack(xs).astype(np.float32), "owner": np.array(owner)}


def load_mel_wavelet(cache: Path, ids) -> dict:
    """{id: {"mel", "wavelet"}} without the audio arrays (faster than data.load_cache)."""
    out = {}
    with np.load(cache) as z:
        for cid in ids:
            out[cid] = {"mel": z[f"{cid}__mel"], "wavelet": z[f"{cid}__wavelet"]}
    return out


def build_music(root, clips, *, smoke: bool = False) -> Path:
    from . import data as D

    out = IMG_WORK / ("music_smoke.npz" if smoke else "music.npz")
    if out.is_file():
        with np.load(out) as z:
            if len(z["song"]) == len(clips):
                return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cache = D.emotion4q_cache(root, clips, name="emotion4q_smoke" if smoke else "emotion4q")
    feats = load_mel_wavelet(cache, [c["song"] for c in clips])
    mw = music_windows(clips, feats)
    np.savez(out, x=mw["x"], owner=mw["owner"], song=np.array([c["song"] for c in clips]),
             q=np.array([c["q"] for c in clips]), fold=np.array([c["fold"] for c in clips]))
    return out


if __name__ == "__main__":
    p = build_images(force=True)
    d = load_images(p)
    print(p, d["crops"].shape, np.bincount(d["q"], minlength=4), np.bincount(d["fold"], minlength=5),
          len(d["source_id"]))
