"""``sonolux render AUDIO --preset NAME -o out.mp4``: the visuals of a file, frame-exact.

The file goes through ``Analyzer.analyze`` (the live path, offline). Video frame ``k`` shows
audio time ``k/fps``: the newest analysis frame with ``t ≤ k/fps`` (the first hop's frame
before that: nothing was analysed yet, so a silent frame), with ``k/fps`` as the animation's
audio clock. There are ``round(duration·fps)`` frames, piped as raw RGB to ffmpeg, which muxes
the original audio in; ffprobe then checks that the video lasts as long as the audio (±1 frame).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError, SonoluxError


class RenderError(SonoluxError):
    """ffmpeg is missing or failed, or the output is not what was asked for."""


@dataclass
class RenderResult:
    path: Path
    frames: int
    fps: float
    size: tuple
    audio_duration: float
    video_duration: float | None  # as ffprobe reports (None without ffprobe)
    has_audio: bool | None
    seconds: float  # wall time of the render
    errors: int  # preset failures (replaced by the fallback)
    backend: str = ""  # offscreen GL: "egl" or "osmesa", with the renderer string
    periods: list | None = None  # image_bank --images: the music video's cut list (dicts)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ParameterError(f"--size {text!r} must be WIDTHxHEIGHT, e.g. 1280x720") from None
    if w < 16 or h < 16 or w > 8192 or h > 8192 or w % 2 or h % 2:
        raise ParameterError(f"--size {text!r}: width and height must be even numbers 16..8192")
    return w, h


def frame_indices(frame_t: np.ndarray, n_video: int, fps: float) -> np.ndarray:
    """Per video frame ``k``, the index of the newest analysis frame with ``t ≤ k/fps``
    (−1: none yet)."""
    tk = np.arange(n_video, dtype=np.float64) / fps
    return np.searchsorted(frame_t, tk + 1e-9, side="right") - 1


class TableFrames:
    """A FeatureFrame that is loaded from row ``i`` of a FrameTable (no allocation)."""

    def __init__(self, table):
        self.table = table
        self.frame = table.layout.new_frame()
        self.silent = table.layout.new_frame()

    def get(self, i: int):
        if i < 0:
            return self.silent
        f, tb = self.frame, self.table
        f.seq = i
        f.t = float(tb.t[i])
        f.values[:] = tb.values[i]
        for k, v in tb.vectors.items():
            f.vectors[k][:] = v[i]
        return f


def probe(path) -> dict:
    """ffprobe's streams and format of ``path``."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return {}
    out = subprocess.run([exe, "-v", "error", "-show_entries",
                          "format=duration:stream=codec_type,codec_name,duration,nb_frames,width,height,r_frame_rate",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RenderError(f"{path}: ffprobe failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def ffmpeg_command(out, size, fps, audio, *, crf=20, preset="veryfast", duration=None) -> list[str]:
    w, h = size
    cmd = [shutil.which("ffmpeg") or "ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-nostats",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-"]
    if audio is not None:
        cmd += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart"]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    cmd += [str(out)]
    return cmd


def analyze_like_live(signal, spec, config=None, models=None, inference=None):
    """The FrameTable of ``signal`` through the live engine's chain (features, inference when
    models are given, the operator override stage, emotion regions), as ``sonolux analyze``."""
    from ..analysis import Analyzer

    stage = worker = None
    if models:
        from ..inference.runtime import InferenceConfig, make_inference

        stage, worker = make_inference(models, inference or InferenceConfig())
    analyzer = Analyzer(spec, config, inference_stage=stage)
    return analyzer.analyze(signal, after_hop=worker.poll if worker else None)


def render_file(audio, out, *, preset: str, size=(1280, 720), fps: float = 60.0, presets_dirs=(),
                spec=None, config=None, gl: str = "auto", hud: bool = False, progress: bool = True,
                crf: int = 20, check: bool = True, playlist=None, schedule=(),
                crossfade_s: float = 1.5, models: dict | None = None, inference=None,
                images=None, periods: str = "both", phrase_beats: int = 16) -> RenderResult:
    """Render ``audio`` through preset ``preset`` into ``out`` (MP4 with the audio muxed in).

    ``schedule``: ``[(t, name), ...]`` preset switches at audio times ``t`` (as a controller
    would request them); ``playlist``: a Playlist that switches on mood changes; ``models`` /
    ``inference``: the ONNX encoders (as ``sonolux analyze`` loads them) for mood, tags and
    latent fields, run in lockstep with the hops as offline analysis does. ``images``: a
    folder for the image_bank preset; the music video is cut into ``periods`` (emotion
    regions, ``phrase_beats``-beat phrases or both; see ``sonolux.imagery.periods``), and the
    cut list is written beside ``out`` as ``<out>.periods.json``."""
    import time

    from ..sources.file import load_audio
    from ..spec import StreamSpec
    from .host import VisualHost
    from .offscreen import OffscreenTarget
    from .registry import PresetRegistry

    if not fps > 0 or fps > 240:
        raise ParameterError(f"--fps {fps!r} must be in (0, 240]")
    if shutil.which("ffmpeg") is None:
        raise RenderError("ffmpeg not found on PATH (apt-get install ffmpeg)")
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise ParameterError(f"-o {out}: folder {out.parent} does not exist")
    spec = spec or StreamSpec()
    registry = PresetRegistry(presets_dirs)
    registry.get(preset)  # a clear error before any heavy work
    signal = load_audio(audio, spec.sample_rate)
    duration = signal.shape[0] / spec.sample_rate
    table = analyze_like_live(signal, spec, config, models, inference)
    n_video = int(round(duration * fps))
    if n_video < 1:
        raise ParameterError(f"{audio}: {duration:.3f} s of audio is shorter than one frame at {fps:g} fps")
    idx = frame_indices(table.t, n_video, fps)
    frames = TableFrames(table)
    imagery = None
    if images is not None or preset in ("image_bank", "generative"):
        from ..imagery import context as imagery_context

        imagery = imagery_context.render_context(signal, spec.sample_rate, table, images=images,
                                                 periods=periods, phrase_beats=phrase_beats,
                                                 progress=progress)
        imagery_context.configure(imagery)

    target = OffscreenTarget(size, gl)
    backend = f"{target.backend}: {target.renderer_info()}"
    host = VisualHost(registry, size, preset=preset, hud=hud, hot_reload=False, playlist=playlist,
                      crossfade_s=crossfade_s)
    host.gl_init()
    pending = sorted(schedule)
    cmd = ffmpeg_command(out, size, fps, audio, crf=crf)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_video, unit="frame", desc=f"render {preset}", file=sys.stderr,
                   dynamic_ncols=True, mininterval=0.5)
    t0 = time.perf_counter()
    try:
        for k in range(n_video):
            while pending and pending[0][0] <= k / fps + 1e-9:
                host.request_preset(pending.pop(0)[1])
            host.step(frames.get(int(idx[k])), k / fps)
            img = target.render(host)
            try:
                proc.stdin.write(np.ascontiguousarray(img[..., :3]).tobytes())
            except BrokenPipeError:
                break
            if bar is not None:
                bar.update(1)
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if bar is not None:
            bar.close()
        target.close()
        if imagery is not None:
            from ..imagery import context as imagery_context

            host._release(host.active)  # stop preset worker threads before the context goes
            host._release(host.fading)
            imagery_context.clear()
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RenderError(f"ffmpeg failed (exit {rc}): {err.strip()[-800:]}")
    vdur, has_audio = None, None
    info = probe(out) if check else {}
    if info:
        streams = info.get("streams", [])
        has_audio = any(s.get("codec_type") == "audio" for s in streams)
        vdur = float(info.get("format", {}).get("duration", "nan"))
        if abs(vdur - duration) > 1.0 / fps + 1e-6:
            raise RenderError(f"{out}: duration {vdur:.4f} s differs from the audio's {duration:.4f} s "
                              f"by more than one frame (1/{fps:g} s)")
    cut = None
    if imagery is not None and imagery.periods is not None:
        cut = [p.as_dict() for p in imagery.periods]
        Path(str(out) + ".periods.json").write_text(json.dumps(
            {"audio": str(audio), "fps": fps, "frames": n_video, "images": str(images),
             "periods": cut, "notes": imagery.notes}, indent=2) + "\n")
    return RenderResult(out, n_video, fps, tuple(size), duration, vdur, has_audio, seconds, host.errors,
                        backend, cut)
