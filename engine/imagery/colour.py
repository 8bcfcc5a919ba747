"""Images in, numbers out: loading (Pillow; the first frame of a video through ffmpeg), the
64×64 model input, colour statistics and the colour–emotion rule of Valdez & Mehrabian (1994).

Valdez, P. & Mehrabian, A. (1994). Effects of color on emotions. *Journal of Experimental
Psychology: General*, 123(4), 394–409. Their regressions of pleasure–arousal–dominance on the
brightness (B) and saturation (S) of colour samples, with standardised B and S:

    pleasure  =  0.69·B + 0.22·S
    arousal   = −0.31·B + 0.60·S
    dominance = −0.76·B + 0.32·S

We apply them to whole images (mean HSV value as B, mean HSV saturation as S, standardised
with the statistics of the training image set) and cut pleasure and arousal at their training
medians into Russell quadrants (Q1 +P+A, Q2 −P+A, Q3 −P−A, Q4 +P−A). This is the *independent*
image-emotion rule of the evaluation: a fixed formula with no learned part.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np

log = logging.getLogger("sonolux.imagery")

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
MODEL_SIZE = 64
#: Valdez & Mehrabian (1994) regression weights on standardised (B, S)
VM_PLEASURE = (0.69, 0.22)
VM_AROUSAL = (-0.31, 0.60)


class ImageReadError(OSError):
    """An image or video that cannot be read (corrupt, truncated, unknown format)."""


def is_media(path: Path) -> bool:
    s = path.suffix.lower()
    return s in IMAGE_EXTS or s in VIDEO_EXTS


def video_first_frame(path: Path, max_side: int = 1024) -> np.ndarray:
    """RGB uint8 of the first frame of a video (ffmpeg)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise ImageReadError(f"{path}: ffmpeg is needed to read video loops")
    probe = shutil.which("ffprobe")
    if probe is None:
        raise ImageReadError(f"{path}: ffprobe is needed to read video loops")
    out = subprocess.run([probe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=60)
    try:
        w, h = (int(v) for v in out.stdout.strip().split(",")[:2])
    except ValueError:
        raise ImageReadError(f"{path}: no video stream ({out.stderr.strip()[:200]})") from None
    scale = min(1.0, max_side / max(w, h))
    w2, h2 = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
    raw = subprocess.run([exe, "-v", "error", "-i", str(path), "-frames:v", "1", "-vf",
                          f"scale={w2}:{h2}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, timeout=60)
    if raw.returncode != 0 or len(raw.stdout) != w2 * h2 * 3:
        raise ImageReadError(f"{path}: ffmpeg could not decode the first frame")
    return np.frombuffer(raw.stdout, np.uint8).reshape(h2, w2, 3)


def load_rgb(path, max_side: int = 1024) -> np.ndarray:
    """RGB uint8 (H, W, 3) of an image file (or a video's first frame), downscaled so the
    longer side is at most ``max_side``. Raises ImageReadError for anything unreadable."""
    path = Path(path)
    if path.suffix.lower() in VIDEO_EXTS:
        return video_first_frame(path, max_side)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
            im = im.convert("RGB")
            if max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageReadError(f"{path}: cannot read image ({type(e).__name__}: {e})") from None
    if arr.ndim != 3 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ImageReadError(f"{path}: image has shape {arr.shape}")
    return arr


def center_square(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return rgb[y:y + s, x:x + s]


def resize(rgb: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR), np.uint8)


def model_input(rgb: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """The image encoder's input: centre square, ``size``×``size``, float32 0..1, (3, H, W)."""
    sq = resize(center_square(rgb), size)
    return (sq.astype(np.float32) / 255.0).transpose(2, 0, 1).copy()


def colour_stats(rgb: np.ndarray) -> np.ndarray:
    """[brightness, saturation, hue_x, hue_y, contrast] of an RGB image (uint8 or float 0..1):
    mean HSV value, mean HSV saturation, the saturation-weighted mean hue direction, and the
    standard deviation of the value."""
    x = np.asarray(rgb, np.float32)
    if x.dtype != np.float32 or x.max() > 1.0 + 1e-6:
        x = x / 255.0
    if x.shape[0] == 3 and x.shape[-1] != 3:
        x = x.transpose(1, 2, 0)
    mx = x.max(axis=-1)
    mn = x.min(axis=-1)
    v = mx
    s = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    # hue angle from the opponent axes (no branches; good enough for a mean direction)
    hx = r - 0.5 * (g + b)
    hy = 0.8660254 * (g - b)
    norm = np.sqrt(hx * hx + hy * hy) + 1e-6
    w = s
    hxm = float((w * hx / norm).sum() / (w.sum() + 1e-6))
    hym = float((w * hy / norm).sum() / (w.sum() + 1e-6))
    return np.array([v.mean(), s.mean(), hxm, hym, v.std()], np.float32)


def pad_from_stats(stats: np.ndarray, norm: dict) -> np.ndarray:
    """(pleasure, arousal) of images by Valdez & Mehrabian on standardised brightness and
    saturation; ``norm`` = {"b_mean", "b_std", "s_mean", "s_std"} of the reference set.
    ``stats``: (N, >=2) colour_stats rows."""
    st = np.atleast_2d(stats)
    b = (st[:, 0] - norm["b_mean"]) / norm["b_std"]
    s = (st[:, 1] - norm["s_mean"]) / norm["s_std"]
    p = VM_PLEASURE[0] * b + VM_PLEASURE[1] * s
    a = VM_AROUSAL[0] * b + VM_AROUSAL[1] * s
    return np.stack([p, a], axis=1).astype(np.float32)


def quadrant_from_pad(pa: np.ndarray, thresholds=(0.0, 0.0)) -> np.ndarray:
    """Quadrant index 0..3 (Q1..Q4) from (pleasure, arousal) cut at ``thresholds``."""
    pa = np.atleast_2d(pa)
    pos_v = pa[:, 0] >= thresholds[0]
    pos_a = pa[:, 1] >= thresholds[1]
    return np.where(pos_a, np.where(pos_v, 0, 1), np.where(pos_v, 3, 2)).astype(np.int64)


class VMClassifier:
    """The independent image-emotion classifier: colour statistics → Valdez–Mehrabian
    pleasure/arousal → quadrant, with the normalisation and thresholds of a reference set."""

    def __init__(self, norm: dict):
        self.norm = dict(norm)
        self.thresholds = (float(norm.get("p_threshold", 0.0)), float(norm.get("a_threshold", 0.0)))

    @classmethod
    def fit(cls, stats: np.ndarray) -> "VMClassifier":
        st = np.atleast_2d(stats)
        norm = {"b_mean": float(st[:, 0].mean()), "b_std": float(st[:, 0].std() + 1e-6),
                "s_mean": float(st[:, 1].mean()), "s_std": float(st[:, 1].std() + 1e-6)}
        pa = pad_from_stats(st, norm)
        norm["p_threshold"] = float(np.median(pa[:, 0]))
        norm["a_threshold"] = float(np.median(pa[:, 1]))
        return cls(norm)

    def pad(self, stats) -> np.ndarray:
        return pad_from_stats(stats, self.norm)

    def quadrant(self, stats) -> np.ndarray:
        return quadrant_from_pad(self.pad(stats), self.thresholds)
