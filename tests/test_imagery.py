"""Imagery: the image index (embedding a generated folder, re-indexing only changes, corrupt
files skipped with a warning), ranking (K distinct images), the colour–emotion rule, the music
video's periods, the matcher thread, the shipped ONNX models' contracts (generator size,
music encoder on the engine's features), and `render --preset image_bank` in sync with the
audio (real OSMesa + ffmpeg)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonolux.errors import ModelError, ParameterError
from sonolux.imagery.colour import VMClassifier, colour_stats, load_rgb, pad_from_stats, quadrant_from_pad
from sonolux.imagery.index import ImageIndexWarning, build_index, load_index
from sonolux.imagery.models import load_image_model, load_music_model, model_path
from sonolux.imagery.periods import Period, boundaries, choose_images, make_periods, period_at

from conftest import needs_ffmpeg, needs_gl, sonolux_cmd, video_frame, wait_until

ROOT = Path(__file__).resolve().parents[1]

COLOURS = {"red": (220, 30, 30), "green": (30, 190, 50), "blue": (30, 40, 220), "yellow": (240, 230, 40),
           "grey": (90, 90, 90), "white": (240, 240, 240), "navy": (10, 10, 60), "pink": (250, 170, 200)}


def make_folder(path: Path, n_random: int = 4, seed: int = 0) -> Path:
    """Solid colours (known by name) plus a few random-texture images, as PNG and JPEG."""
    from PIL import Image

    path.mkdir(parents=True, exist_ok=True)
    for name, c in COLOURS.items():
        Image.fromarray(np.full((72, 128, 3), c, np.uint8)).save(path / f"{name}.png")
    rng = np.random.default_rng(seed)
    sub = path / "textures"
    sub.mkdir(exist_ok=True)
    for i in range(n_random):
        Image.fromarray(rng.integers(0, 255, (96, 64, 3), dtype=np.uint8)).save(sub / f"noise{i}.jpg")
    return path


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "bank")


def have_encoder() -> bool:
    return model_path("image_embedding").is_file()


# ---------------------------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------------------------

def test_index_embeds_a_folder_and_reindexes_only_what_changed(folder):
    index, rep = build_index(folder, progress=False)
    n = len(COLOURS) + 4
    assert len(index) == n and rep.embedded == n and rep.reused == 0 and not rep.skipped
    assert rep.path == folder / ".sonolux-index.npz" and rep.path.is_file()
    assert "textures/noise0.jpg" in index.paths  # recursive, relative posix paths
    assert index.stats.shape == (n, 5)
    if have_encoder():
        assert index.embedding.shape == (n, 32)
        np.testing.assert_allclose(np.linalg.norm(index.embedding, axis=1), 1.0, atol=1e-4)
        assert index.model.startswith("sonolux-image-embed@")
    # unchanged: nothing is embedded again
    again, rep2 = build_index(folder, progress=False)
    assert rep2.embedded == 0 and rep2.reused == n and again.paths == index.paths
    # one changed (new content), one added, one removed
    from PIL import Image

    old = (folder / "red.png").stat()
    Image.fromarray(np.full((40, 40, 3), (0, 255, 0), np.uint8)).save(folder / "red.png")
    # a later edit, whatever the file system's timestamp granularity (same size: only mtime tells)
    os.utime(folder / "red.png", ns=(old.st_atime_ns, old.st_mtime_ns + 10**9))
    Image.fromarray(np.full((40, 40, 3), (255, 128, 0), np.uint8)).save(folder / "orange.png")
    (folder / "grey.png").unlink()
    idx3, rep3 = build_index(folder, progress=False)
    assert (rep3.embedded, rep3.reused, rep3.removed, len(idx3)) == (2, n - 2, 1, n)
    i_red = idx3.paths.index("red.png")
    assert idx3.stats[i_red, 1] > 0.9 and idx3.stats[i_red, 0] > 0.9  # the new pixels were read
    if have_encoder():  # unchanged rows keep their embeddings exactly
        j_old, j_new = index.paths.index("blue.png"), idx3.paths.index("blue.png")
        np.testing.assert_array_equal(index.embedding[j_old], idx3.embedding[j_new])
    loaded = load_index(folder)
    assert loaded.paths == idx3.paths


def test_corrupt_and_unreadable_images_are_skipped_with_a_warning(folder):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 20)
    good = (folder / "blue.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    (folder / "empty.webp").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")  # not media: ignored silently
    with pytest.warns(ImageIndexWarning) as rec:
        index, rep = build_index(folder, progress=False)
    skipped = sorted(r for r, _ in rep.skipped)
    assert skipped == ["broken.jpg", "empty.webp", "truncated.png"], rep.skipped
    assert len(rec) >= 3 and all("skipped unreadable" in str(w.message) for w in rec)
    assert len(index) == len(COLOURS) + 4 and not set(skipped) & set(index.paths)


@needs_ffmpeg
def test_video_loops_are_indexed_by_their_first_frame(tmp_path):
    folder = tmp_path / "loops"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x48:d=0.5", "-f", "lavfi",
                    "-i", "color=c=blue:s=64x48:d=0.5", "-filter_complex", "[0][1]concat=n=2:v=1",
                    "-pix_fmt", "yuv420p", str(folder / "loop.mp4")], check=True)
    rgb = load_rgb(folder / "loop.mp4")
    assert rgb.shape == (48, 64, 3) and rgb[..., 0].mean() > 150 and rgb[..., 2].mean() < 80  # red first
    index, _ = build_index(folder, progress=False)
    assert index.paths == ["loop.mp4"] and index.kind == ["video"]


def test_images_index_command(folder):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    res = subprocess.run(sonolux_cmd("images", "index", str(folder), "-q"), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"{len(COLOURS) + 4} items" in res.stdout and "1 skipped" in res.stdout
    assert "skipped broken.png" in res.stderr
    res = subprocess.run(sonolux_cmd("images", "index", str(folder / "nope")), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "is not a folder" in res.stderr


# ---------------------------------------------------------------------------------------------
# ranking, colour rule, periods
# ---------------------------------------------------------------------------------------------

def test_rank_returns_k_distinct_images_best_first(folder):
    index, _ = build_index(folder, progress=False)
    rng = np.random.default_rng(4)
    scores = rng.standard_normal(len(index))
    top = index.rank(k=5, scores=scores)
    assert len(top) == 5 and len(set(top.tolist())) == 5
    assert np.all(np.diff(scores[top]) <= 0) and top[0] == np.argmax(scores)
    # exclusion (recently shown) still returns K distinct others
    ex = index.rank(k=5, scores=scores, exclude=top[:2])
    assert len(set(ex.tolist())) == 5 and not set(top[:2].tolist()) & set(ex.tolist())
    # more than there are: all of them, each once
    assert sorted(index.rank(k=100, scores=scores).tolist()) == list(range(len(index)))
    if have_encoder():
        q = index.embedding[3]
        best = index.rank(q, k=5)
        assert best[0] == 3 and len(set(best.tolist())) == 5


def test_colour_matching_and_the_valdez_mehrabian_rule(folder):
    index, _ = build_index(folder, progress=False)
    bright_sat = index.rank(k=1, scores=index.colour_scores(1.0, 1.0))[0]
    dark_flat = index.rank(k=1, scores=index.colour_scores(0.0, 0.0))[0]
    assert index.paths[bright_sat] in ("yellow.png", "red.png", "blue.png", "green.png")
    assert index.paths[dark_flat] in ("navy.png", "grey.png")
    # P = .69 B + .22 S, A = -.31 B + .60 S on standardised brightness B and saturation S
    norm = {"b_mean": 0.5, "b_std": 0.25, "s_mean": 0.5, "s_std": 0.25}
    st = np.array([[0.75, 0.75], [0.25, 0.75], [0.25, 0.25], [0.75, 0.25]])
    pa = pad_from_stats(st, norm)
    np.testing.assert_allclose(pa[0], [0.69 + 0.22, -0.31 + 0.60], atol=1e-6)
    assert quadrant_from_pad(pa).tolist() == [0, 1, 2, 3]  # Q1 bright+sat ... Q4 bright+flat
    vm = VMClassifier.fit(np.array([colour_stats(np.full((8, 8, 3), c, np.uint8)) for c in COLOURS.values()]))
    white, navy = (colour_stats(np.full((8, 8, 3), COLOURS[n], np.uint8)) for n in ("white", "navy"))
    pw, pn = vm.pad(np.stack([white, navy]))
    assert pw[0] > pn[0] and pn[1] > pw[1]  # white: more pleasant; dark saturated navy: more arousing
    assert vm.quadrant(navy)[0] == 1  # Q2: -P +A


def test_periods_follow_regions_and_beat_phrases():
    beats = np.arange(0.5, 60, 0.5)  # 120 BPM
    starts = boundaries(60.0, region_times=[10.2, 31.0], beat_times=beats, mode="both", phrase_beats=16, min_s=2.0)
    t = [s for s, _ in starts]
    assert t[0] == 0.0 and all(b > a for a, b in zip(t, t[1:]))
    assert (10.2, "region") in starts and (31.0, "region") in starts
    assert all(t2 - t1 >= 2.0 for t1, t2 in zip(t, t[1:]))
    phrases = [s for s, src in starts if src == "phrase"]
    assert phrases and all(abs((p - 0.5) / 8.0 - round((p - 0.5) / 8.0)) < 1e-9 for p in phrases)  # every 16th beat
    periods = make_periods(60.0, starts)
    assert periods[-1].end == 60.0 and sum(p.duration for p in periods) == pytest.approx(60.0)
    assert period_at(periods, 10.199) == period_at(periods, 0.0) + t.index(10.2) - 1
    assert periods[period_at(periods, 10.2)].start == 10.2
    only = boundaries(60.0, region_times=[10.2], beat_times=beats, mode="regions")
    assert [s for s, _ in only] == [0.0, 10.2]
    nobeats = boundaries(30.0, beat_times=[], mode="phrases", fallback_s=8.0)
    assert [s for s, _ in nobeats] == [0.0, 8.0, 16.0, 24.0]
    with pytest.raises(ParameterError, match="periods='x'"):
        boundaries(10.0, mode="x")


def test_choose_images_uses_the_music_of_each_period_and_avoids_repeats(folder):
    index, _ = build_index(folder, progress=False)
    periods = [Period(0, 4, "start"), Period(4, 8, "phrase"), Period(8, 12, "phrase")]
    colour = [(1.0, 1.0), (1.0, 1.0), (0.0, 0.0)]
    out = choose_images(periods, index, colour=colour, k=3, avoid=2)
    assert out[0].image != out[1].image  # same music, but no immediate repeat
    assert index.paths[out[2].image] in ("navy.png", "grey.png")
    if have_encoder():
        wt = np.array([2.0, 6.0, 10.0])
        emb = index.embedding[[1, 1, 5]]
        out = choose_images(periods, index, window_t=wt, window_emb=emb, k=1, avoid=0)
        assert [p.image for p in out] == [1, 1, 5]


def test_matcher_thread_hands_over_prepared_images(folder):
    from sonolux.imagery.matcher import FrameSnapshot, ImageMatcher

    index, _ = build_index(folder, progress=False)
    m = ImageMatcher(index, None, k=3, every_s=0.02, max_side=64)
    m.update(FrameSnapshot(0.0, None, 0.9, 0.9, 0.5))  # bright, saturated (colour matching)
    m.start()
    try:
        first = wait_until(lambda: m.next, 5, "the matcher's first prepared image")
        assert first.mode == "colour" and first.rgb.dtype == np.uint8
        assert first.rgb.shape[2] == 3 and max(first.rgb.shape[:2]) <= 64
        m.shown(first.index)  # shown now: the worker prepares another one of the top K
        wait_until(lambda: m.next.index != first.index, 5, "another of the top K prepared after the first was shown")
        assert m.next.index in index.rank(k=3, scores=index.colour_scores(0.95, 0.95)).tolist()
    finally:
        m.stop()
    assert m.errors == 0


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------

def _need(task):
    p = model_path(task)
    if not p.is_file():
        pytest.fail(f"{p} is missing: train it with `python -m export.train_imagery` / `train_generator`")
    return p


def test_generator_onnx_loads_and_gives_images_of_the_declared_size():
    m = load_image_model(_need("generator"), "generator")
    n = m.image_size
    assert n == 64
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, m.contract["z_dim"])).astype(np.float32)
    c = rng.standard_normal((3, m.contract["cond_dim"])).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    img = m.run({"z": z, "cond": c})["image"]
    assert img.shape == (3, 3, n, n) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.01
    assert np.abs(img[0] - img[1]).mean() > 1e-3  # z matters
    assert len(m.contract.get("cond_anchors", [])) == 4
    # a model of another task is refused at load, naming the file and the field
    with pytest.raises(ModelError, match="task='image_embedding', expected 'generator'"):
        load_image_model(_need("image_embedding"), "generator")


def test_music_encoder_runs_on_the_engines_feature_windows():
    from sonolux.inference.models import load_model
    from sonolux.modelinput import SR, FeatureStream

    m = load_music_model(_need("music_embedding"))
    assert m.task == "music_embedding" and m.window_frames == 250
    fs = FeatureStream()
    t = np.arange(SR * 5) / SR
    fs.push(0.3 * np.sin(2 * np.pi * 440 * t))
    out = m.run(fs.window("emotion"))
    assert out["embedding"].shape == (1, 32) and out["quadrant_probs"].shape == (1, 4)
    assert abs(np.linalg.norm(out["embedding"]) - 1) < 1e-4 and abs(out["quadrant_probs"].sum() - 1) < 1e-4
    with pytest.raises(ModelError, match="expected 'emotion'"):
        load_model(model_path("music_embedding"), expect_task="emotion")


# ---------------------------------------------------------------------------------------------
# render: the music video
# ---------------------------------------------------------------------------------------------

def _song(path, sr=22050, seconds=10.0):
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(1)
    x = 0.15 * np.sin(2 * np.pi * 220 * t) * (1 + (t > seconds / 2))
    clicks = (np.mod(t, 0.5) < 0.01) * rng.standard_normal(t.size) * 0.6
    sf.write(path, (x + clicks).astype(np.float32), sr)
    return seconds


@needs_gl
@needs_ffmpeg
def test_render_image_bank_makes_an_mp4_in_sync_with_the_audio(tmp_path):
    from PIL import Image

    from sonolux.visual.render import probe, render_file

    bank = tmp_path / "bank"
    bank.mkdir()
    solid = {"red": (230, 20, 20), "green": (20, 200, 30), "blue": (20, 30, 230), "white": (240, 240, 240)}
    for name, c in solid.items():
        Image.fromarray(np.full((90, 160, 3), c, np.uint8)).save(bank / f"{name}.png")
    (bank / "broken.jpg").write_bytes(b"junk")
    audio = tmp_path / "song.wav"
    seconds = _song(audio)
    out = tmp_path / "video.mp4"
    w, h, fps = 96, 54, 12.0
    res = render_file(audio, out, preset="image_bank", size=(w, h), fps=fps, images=bank, progress=False,
                      periods="phrases", phrase_beats=4)
    assert res.errors == 0 and out.is_file()
    assert res.frames == round(seconds * fps)
    assert abs(res.video_duration - seconds) <= 1 / fps + 1e-6 and res.has_audio
    info = probe(out)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (v["width"], v["height"]) == (w, h)
    cut = json.loads(Path(str(out) + ".periods.json").read_text())
    periods = cut["periods"]
    assert len(periods) >= 3 and periods[0]["start"] == 0 and periods[-1]["end"] == pytest.approx(seconds)
    assert all(p["end"] > p["start"] for p in periods)
    assert all(a["end"] == b["start"] for a, b in zip(periods, periods[1:]))  # timestamp order, no gaps
    assert set(p["path"] for p in periods) <= set(f"{n}.png" for n in solid)  # broken.jpg skipped
    # every period shows its own image on the frames of that period (after the crossfade)
    for p in periods:
        k = int(np.ceil(max(p["start"] + 0.7, 0.5 * (p["start"] + p["end"])) * fps))
        if k / fps >= p["end"]:
            continue
        img = video_frame(out, k / fps + 0.25 / fps, (w, h))
        centre = img[h // 3: 2 * h // 3, w // 3: 2 * w // 3].reshape(-1, 3).mean(0)
        want = np.array(solid[p["path"][:-4]], float)
        dists = {n: np.linalg.norm(centre - np.array(c, float)) for n, c in solid.items()}
        assert min(dists, key=dists.get) == p["path"][:-4], (p, centre)
        assert np.linalg.norm(centre - want) < 70


# ---------------------------------------------------------------------------------------------
# presets, live (matcher / generator worker threads) on a real GL context
# ---------------------------------------------------------------------------------------------

@needs_gl
def test_image_bank_and_generative_presets_run_live(tmp_path):
    from PIL import Image

    from sonolux.imagery import context
    from sonolux.imagery.index import build_index
    from sonolux.visual.host import VisualHost
    from sonolux.visual.offscreen import OffscreenTarget
    from sonolux.visual.registry import PresetRegistry
    from sonolux.visual.testing import SyntheticFrames

    bank = tmp_path / "bank"
    bank.mkdir()
    solid = {"red": (230, 20, 20), "blue": (20, 30, 230), "white": (240, 240, 240)}
    for name, c in solid.items():
        Image.fromarray(np.full((90, 160, 3), c, np.uint8)).save(bank / f"{name}.png")
    index, _ = build_index(bank, progress=False)
    w, h = 96, 54
    target = OffscreenTarget((w, h))
    context.configure(context.ImageryContext(images_dir=bank, index=index, k=2))
    try:
        host = VisualHost(PresetRegistry(), (w, h), preset="image_bank", hot_reload=False)
        host.gl_init()
        syn = SyntheticFrames()
        img = None
        for k in range(120):
            t = k / 60
            host.step(syn.frame(t, quadrant=1 + (k // 60)), t)
            img = target.render(host)
            if k == 0:  # the matcher thread prepares its first image off the GUI thread
                wait_until(lambda: host.active.preset.matcher.next, 10, "the matcher's first image")
        preset = host.active.preset
        assert host.errors == 0 and host.current == "image_bank"
        assert preset.matcher is not None and preset.matcher._thread.is_alive()  # ranking off the GUI thread
        assert preset.current >= 0
        centre = img[h // 3: 2 * h // 3, w // 3: 2 * w // 3].reshape(-1, 3).mean(0)
        shown = index.paths[preset.current][:-4]
        assert np.linalg.norm(centre - np.array(solid[shown], float)) < 90, (shown, centre)
        host.request_preset("generative")
        frames = []
        for k in range(120, 240):
            t = k / 60
            host.step(syn.frame(t), t)
            frames.append(target.render(host))
        assert host.errors == 0 and host.current == "generative"
        drv = host.active.preset.driver
        if model_path("generator").is_file():
            assert drv is not None
            wait_until(lambda: drv.image_seq > 0, 20, "the generator thread's first image")
        assert frames[-1].std() > 1.0
        assert np.abs(frames[-1].astype(int) - frames[-40].astype(int)).mean() > 0.2  # it moves
        host._release(host.active)
        host._release(host.fading)
    finally:
        context.clear()
        target.close()
