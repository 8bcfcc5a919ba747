"""``sonolux render``: frame-exact video with the audio muxed in (real OSMesa, real ffmpeg)."""
from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf

from sonolux.visual.render import frame_indices, probe, render_file

from conftest import needs_ffmpeg, needs_gl, run_sonolux, video_frame


def test_frame_k_shows_the_newest_analysis_frame_at_or_before_k_over_fps():
    hop_t = np.arange(1, 1000) * 256 / 48000  # frame t = end of each hop
    fps = 60.0
    idx = frame_indices(hop_t, 300, fps)
    tk = np.arange(300) / fps
    assert idx[0] == -1  # nothing analysed at t=0 yet
    ok = idx >= 0
    assert np.all(hop_t[idx[ok]] <= tk[ok] + 1e-12)
    assert np.all(hop_t[idx[ok] + 1] > tk[ok])
    # exact boundary: a frame that ends exactly at k/fps is shown at k
    assert frame_indices(np.array([0.5, 1.0]), 3, 2.0).tolist() == [-1, 0, 1]


def _song(path, sr, seconds, silent_until):
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(1)
    x = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * rng.standard_normal(t.size)  # broadband: all bars
    clicks = (np.mod(t, 0.5) < 0.01) * rng.standard_normal(t.size) * 0.5
    x = (x + clicks) * (t >= silent_until)
    sf.write(path, x.astype(np.float32), sr)
    return seconds


@needs_gl
@needs_ffmpeg
def test_render_duration_matches_audio_and_audio_stream_is_present(tmp_path):
    wav = tmp_path / "song.wav"
    dur = _song(wav, 44100, 2.37, silent_until=1.0)  # 44.1 kHz: resampled for analysis
    out = tmp_path / "out.mp4"
    fps, size = 30.0, (160, 90)
    res = render_file(wav, out, preset="spectrum_bars", size=size, fps=fps, progress=False)
    assert out.exists() and res.frames == round(dur * fps) == 71
    info = probe(out)
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert "audio" in streams and "video" in streams
    assert abs(float(info["format"]["duration"]) - dur) <= 1 / fps
    assert abs(float(streams["video"]["duration"]) - dur) <= 1 / fps
    assert int(streams["video"]["nb_frames"]) == 71
    assert (int(streams["video"]["width"]), int(streams["video"]["height"])) == size
    # in sync: dark while the audio is silent, bars once it plays
    before, after = video_frame(out, 0.5, size), video_frame(out, 1.6, size)
    assert after.mean() > before.mean() + 10


@needs_gl
@needs_ffmpeg
def test_render_cli_with_progress_and_errors(tmp_path):
    wav = tmp_path / "clip.wav"
    _song(wav, 48000, 1.0, silent_until=0.0)
    out = tmp_path / "clip.mp4"
    res = run_sonolux("render", str(wav), "--preset", "particles", "--size", "128x72", "--fps", "25",
                      "-o", str(out), timeout=120)
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stderr and out.exists()
    assert abs(float(probe(out)["format"]["duration"]) - 1.0) <= 1 / 25
    bad = run_sonolux("render", str(wav), "--preset", "nope", "-o", str(out), timeout=60)
    assert bad.returncode == 2 and "no preset named 'nope'" in bad.stderr
    bad = run_sonolux("render", str(wav), "--size", "127x72", "-o", str(out), timeout=60)
    assert bad.returncode == 2 and "--size '127x72'" in bad.stderr
    lst = run_sonolux("render", "--list-presets", timeout=60)
    assert lst.returncode == 0 and "kaleidoscope" in lst.stdout


@needs_ffmpeg
def test_render_with_egl_when_available(tmp_path):
    """The EGL path (GPU machines; Mesa's surfaceless EGL elsewhere) in its own process."""
    import ctypes.util

    if not ctypes.util.find_library("EGL"):
        pytest.skip("libEGL is not installed")
    wav = tmp_path / "clip.wav"
    _song(wav, 48000, 0.5, silent_until=0.0)
    out = tmp_path / "egl.mp4"
    res = run_sonolux("render", str(wav), "--preset", "kaleidoscope", "--gl", "egl", "--size", "128x72",
                      "--fps", "20", "-o", str(out), timeout=120)
    if res.returncode != 0 and ("EGL" in res.stderr or "egl" in res.stderr):
        pytest.skip(f"EGL is not usable here: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr
    assert "(egl: " in res.stderr, res.stderr
    assert abs(float(probe(out)["format"]["duration"]) - 0.5) <= 1 / 20
