"""The join net (``sonolux.features.joinnet``): the engine's streaming kernel gives the PyTorch
model's numbers, allocates nothing per hop, finds a join it has learned, and a bad file is one
clean line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import numba_allocations
from sonolux.features.joinnet import (MIN_OUTPUT, SEARCH_S, JoinNet, JoinNetFileError, JoinNetStream, join_net_push,
                                      load_join_net)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import train_join_net as T  # noqa: E402

HOP_S = 256 / 48000


def random_model(torch, seed=0, dilations=(1, 2, 4)):
    """A model with random weights and batch-norm statistics (eval), so folding is exercised."""
    torch.manual_seed(seed)
    model = T.make_model(torch, dilations=dilations, channels=12)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model.eval()


def test_streaming_kernel_equals_the_pytorch_model(rng):
    """Hop by hop, each output appears ``delay_frames`` pooled frames after its frame, equal to
    the offline model's (zero padding at the start included); floored input too."""
    torch = pytest.importorskip("torch")
    model = random_model(torch, dilations=(1, 2, 4))
    mel = rng.normal(-20, 15, size=(90, 64)).astype(np.float32)
    mel[10:14, :20] = -120.0  # below the floor
    want = T.outputs(torch, model, mel)
    doc = T.export_doc(model, HOP_S, dilations=(1, 2, 4))
    got = T.streaming_outputs(json.loads(json.dumps(doc)), np.repeat(mel, T.POOL_HOPS, axis=0).astype(np.float64))
    assert len(got) == len(mel) - (2 + 1 + 2 + 4)
    np.testing.assert_allclose(got, want[:len(got)], atol=2e-5)


def test_push_and_catch_up_allocate_nothing(rng):
    """A completed frame runs every layer in the stream's own arrays (Numba's allocator counts
    no new array), and the call from Python stays small (few arguments)."""
    from conftest import call_growths

    torch = pytest.importorskip("torch")
    stream = JoinNetStream(JoinNet(T.export_doc(random_model(torch), HOP_S, dilations=(1, 2, 4))))
    stream.state[:] = (40, stream.net.pool_hops - 1)  # the next hop completes a frame: every layer runs
    allocated, passing = numba_allocations(join_net_push, rng.normal(size=64), stream.ints, stream.floats,
                                           stream.bufs)
    assert allocated == passing
    ring = rng.normal(-20, 5, size=(256, 64))
    written = [0]

    def eight_hops():
        written[0] += stream.net.pool_hops
        stream.catch_up(ring, written[0])

    assert call_growths(eight_hops, warm=20, n=200).max() < 1024


def test_best_finds_the_largest_output_near_a_time_and_stays_in_its_window():
    stream = JoinNetStream(load_join_net())
    frame_s = stream.net.frame_s
    stream.state[0] = 400 + stream.delay_frames  # outputs of frames 0..399 computed
    stream.out[:] = 0.0
    stream.out[100], stream.out[99], stream.out[101] = 0.9, 0.5, 0.7  # the peak leans late
    t = stream.best(100 * frame_s + 0.4, 1.5)
    assert 100 * frame_s < t < 100.5 * frame_s
    assert np.isnan(stream.best(100 * frame_s, 1.0, min_output=0.95))  # not sure enough
    assert np.isnan(stream.best(600 * frame_s, 1.0))  # not computed yet
    # a peak just outside the window: the window's edge, never an extrapolation past it
    stream.out[:] = 0.0
    stream.out[200:206] = (0.2, 0.30001, 0.5, 0.7, 0.95, 0.99)
    for centre in (205.0 - 10.0, 200.0 - 8.0):
        t = stream.best(centre * frame_s, 0.3)
        assert abs(t - centre * frame_s) <= 0.3 + frame_s / 2, (centre, t / frame_s)


def test_peak_is_the_highest_computed_output_near_a_time():
    """What the cut judge reads: the largest output within the radius, only of frames computed
    and still held; NaN where there is none."""
    stream = JoinNetStream(load_join_net())
    frame_s = stream.net.frame_s
    stream.state[0] = 400 + stream.delay_frames  # outputs of frames 0..399 computed
    stream.out[:] = 0.1
    stream.out[100], stream.out[112] = 0.9, 0.95  # 12 frames (0.5 s) apart
    assert stream.peak(100 * frame_s, 0.2) == pytest.approx(0.9)
    assert stream.peak(106 * frame_s, 0.3) == pytest.approx(0.95)
    assert stream.peak(300 * frame_s, 0.5) == pytest.approx(0.1)
    assert stream.peak(399 * frame_s + 0.2, 0.5) == pytest.approx(0.1)  # up to the newest computed frame ...
    assert np.isnan(stream.peak(400 * frame_s + 0.2, 0.1))  # ... not beyond it
    stream.state[0] = 1000 + stream.delay_frames  # frame 100 has left the ring of outputs
    assert np.isnan(stream.peak(100 * frame_s, 0.2))
    longer = JoinNetStream(stream.net, keep_hops=stream.net.pool_hops * 2000)  # outputs of 2000 frames kept
    longer.state[0] = 1000 + longer.delay_frames
    longer.out[:] = 0.1
    longer.out[100] = 0.9
    assert longer.peak(100 * frame_s, 0.2) == pytest.approx(0.9)


@pytest.mark.parametrize("future_s", [None, 30.0])
def test_the_stage_keeps_an_output_of_the_net_for_every_hop_its_ring_holds(future_s):
    """However late the cues decide (``region_future_s``), the judge's ``join_net_peak`` of a
    candidate the hop ring still holds is never cut short by the net's ring of outputs."""
    stage = stage_over(np.zeros(48000, np.float32), **({"region_future_s": future_s} if future_s else {}))
    stream = stage.join_stream
    assert stream is not None
    assert (stream.out_frames - stream.delay_frames) * stream.net.pool_hops >= stage._mel_hist.shape[0]


def test_outputs_of_a_whole_recording_equal_the_streamed_ones(rng):
    stream = JoinNetStream(load_join_net())
    mel = rng.normal(-30, 10, size=(8 * 80 + 3, stream.net.n_mels))
    got = stream.outputs(mel)
    assert len(got) == 80 - stream.delay_frames and stream.frames == 0  # reset after
    for row in mel:
        stream.push(row)
    newest = stream.newest_output()
    assert newest == len(got) - 1
    np.testing.assert_array_equal(stream.out[:newest + 1], got)


def test_training_medleys_draw_whole_songs_as_one_more_group_never_twice_in_a_row(rng):
    """The trainer's extra songs join the quadrants' clips as one group: each part of a medley
    is of another group than the one before, two songs in a row are different songs."""
    frame_s = T.POOL_HOPS * HOP_S
    n = int(40 / frame_s)
    # each part's rows carry their source's number, so the parts can be read back
    clips = [(q, np.full((n, 4), float(i), np.float32)) for i, q in enumerate(["Q1", "Q2", "Q3", "Q4"] * 2)]
    songs = [np.full((4 * n, 4), float(100 + i), np.float32) for i in range(3)]
    seen_song = seen_song_pair = False
    for _ in range(200):
        mel, joins = T.synth_medley(clips, rng, frame_s, hard=True, songs=songs)
        sources = [int(round(mel[int(s), 0])) for s in [0, *joins]]
        assert (np.abs(np.diff(mel[:, 0])) > 0.5).sum() == len(joins)  # the joins are where the parts meet
        groups = ["song" if x >= 100 else clips[x][0] for x in sources]
        assert all(a != b for a, b in zip(groups, groups[1:]) if "song" not in (a, b))
        assert all(a != b for a, b in zip(sources, sources[1:]))
        seen_song |= "song" in groups
        seen_song_pair |= any(a == b == "song" for a, b in zip(groups, groups[1:]))
    assert seen_song and seen_song_pair


def test_without_extra_songs_the_medleys_are_the_shipped_nets_own():
    """The shipped net's recipe draws the same medleys as before the extra songs existed (the
    numbers of the trainer at 025b8e5, seed 5): a retrained net reproduces the shipped one."""
    frame_s = T.POOL_HOPS * HOP_S
    n = int(40 / frame_s)
    clips = [(q, np.full((n, 4), float(i), np.float32)) for i, q in enumerate(["Q1", "Q2", "Q3", "Q4"] * 2)]
    rng = np.random.default_rng(5)
    got = [T.synth_medley(clips, rng, frame_s) for _ in range(3)]
    assert [len(m) for m, _ in got] == [2487, 2757, 1560]
    assert [list(np.round(j, 1)) for _, j in got] == [[532.0, 1018.0, 1386.0, 1820.0],
                                                       [572.5, 988.0, 1548.5, 2178.0], [597.0, 1031.0]]


def test_one_extra_song_never_follows_itself(rng):
    frame_s = T.POOL_HOPS * HOP_S
    clips = [(q, np.full((int(40 / frame_s), 4), float(i), np.float32)) for i, q in enumerate(["Q1", "Q2"])]
    song = np.full((int(120 / frame_s), 4), 100.0, np.float32)
    for _ in range(100):
        mel, joins = T.synth_medley(clips, rng, frame_s, hard=True, songs=[song])
        sources = [int(round(mel[int(s), 0])) for s in [0, *joins]]
        assert all(a != b for a, b in zip(sources, sources[1:]))


def test_a_rendered_songs_silent_lead_in_and_tail_are_trimmed():
    mel = np.full((100, 4), -60.0)
    mel[10:90, 2] = -20.0
    mel[50, :] = -80.0  # a quiet moment inside the song stays
    got = T.trimmed(mel)
    assert len(got) == 80 and got[0, 2] == -20.0 and got[-1, 2] == -20.0
    assert len(T.trimmed(np.full((10, 4), -70.0))) == 0


def test_extra_song_folders_give_one_recording_per_song_with_stems_mixed(tmp_path):
    import soundfile as sf

    sr = 48000
    t = np.arange(sr) / sr
    (tmp_path / "album").mkdir()
    sf.write(tmp_path / "album" / "a.ogg", 0.1 * np.sin(2 * np.pi * 440 * t), sr)
    sf.write(tmp_path / "album" / "b.wav", 0.1 * np.sin(2 * np.pi * 220 * t), sr)
    (tmp_path / "album" / "cover.png").write_bytes(b"not audio")
    band = tmp_path / "fof" / "band song"
    band.mkdir(parents=True)
    sf.write(band / "song.ogg", 0.1 * np.sin(2 * np.pi * 330 * t), sr)
    sf.write(band / "guitar.ogg", 0.1 * np.sin(2 * np.pi * 660 * t[:sr // 2]), sr)
    sf.write(band / "preview.ogg", 0.1 * np.sin(2 * np.pi * 110 * t), sr)  # not a stem: left out
    songs = T.folder_songs([tmp_path])
    assert sorted(tuple(f.name for f in s) for s in songs) == [("a.ogg",), ("b.wav",), ("guitar.ogg", "song.ogg")]
    rec = T.song_recording(next(s for s in songs if len(s) == 2), sr)
    mixed = rec.make()
    alone = T.song_recording((band / "song.ogg",), sr).make()
    assert len(mixed) == len(alone) == sr
    assert np.abs(mixed[:sr // 2] - alone[:sr // 2]).max() > 0.05  # the guitar is in the mix ...
    np.testing.assert_allclose(mixed[sr // 2 + 100:], alone[sr // 2 + 100:], atol=1e-3)  # ... for its half second
    assert rec.key != T.song_recording((band / "song.ogg",), sr).key
    before = T.song_recording((band / "song.ogg",), sr).key
    sf.write(band / "song.ogg", 0.1 * np.sin(2 * np.pi * 330 * t[:sr // 2]), sr)  # changed in place
    assert T.song_recording((band / "song.ogg",), sr).key != before  # the frame cache reads it again


@pytest.fixture(scope="module")
def song_pair(tmp_path_factory):
    """Two rendered pieces (a fast major one, a slow minor one: ``render_fixtures``)."""
    from render_fixtures import render_mood_pair
    from sonolux.sources.file import load_audio

    a, b = render_mood_pair(tmp_path_factory.mktemp("songs"))
    return load_audio(a, 48000), load_audio(b, 48000)


@pytest.mark.parametrize("offset_s", [-0.45, 0.45])
def test_the_shipped_net_finds_the_join_of_two_songs(song_pair, offset_s):
    """The shipped net, streaming over the live chain's log-mel, puts a hard join of two
    rendered songs within 0.05 s when asked from 0.45 s off either way — with the audio a live
    cut would have heard (6.5 s past the join). (Crossfades of these General-MIDI renders — a
    loud piece into a soft one — are not what it learnt: there it stays below ``MIN_OUTPUT``
    or errs; a crossfade of real songs is tested below.)"""
    from sonolux import Analyzer, StreamSpec

    a, b = song_pair
    join = len(a) / 48000
    y = np.concatenate([a, b])[:int((join + 6.5) * 48000)]
    stream = JoinNetStream(load_join_net())
    for row in Analyzer(StreamSpec()).analyze(y).vectors["mel_db"]:
        stream.push(row.astype(np.float64))
    assert abs(stream.best(join + offset_s, SEARCH_S, MIN_OUTPUT) - join) < 0.05


def test_a_corrupt_or_mismatched_file_is_one_clean_line(tmp_path):
    good = load_join_net().doc
    bad_json = tmp_path / "net.json"
    bad_json.write_text("{ nope")
    with pytest.raises(JoinNetFileError, match=str(bad_json)):
        load_join_net(bad_json)
    for key, value, said in (("format", "x", "format"), ("dilations", [0], "dilations"),
                             ("conv2", [[1.0]], "conv2"), ("head_bias", float("nan"), "head_bias"),
                             ("n_mels", 60, "n_mels")):
        doc = dict(good, **{key: value})
        p = tmp_path / f"{key}.json"
        p.write_text(json.dumps(doc))
        with pytest.raises(JoinNetFileError) as e:
            load_join_net(p)
        msg = str(e.value)
        assert str(p) in msg and said in msg and "Traceback" not in msg and "\n" not in msg
    doc = dict(good)
    doc["blocks"] = good["blocks"][:1]
    p = tmp_path / "blocks.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(JoinNetFileError, match="blocks"):
        load_join_net(p)
    p.write_text("[1, 2]")  # valid JSON, not a net
    with pytest.raises(JoinNetFileError, match="JSON list"):
        load_join_net(p)
    with pytest.raises(JoinNetFileError, match="5.33 ms hop, this chain has 64 and 10.7 ms"):
        load_join_net().check_fits(64, 512 / 48000)  # a chain of another hop (the stage and the judge's trainer)


# ---- in the region stage -------------------------------------------------------------------
def stage_over(y, **config):
    """The live region stage (fused cues, defaults) fed every hop of ``y`` (a 48 kHz signal)."""
    from test_region_cues import SPEC, feed_hops, frames_of, stage_layout
    from sonolux.analysis import AnalysisConfig
    from sonolux.features.regions import RegionStage
    from sonolux.segment import Segmenter

    table = frames_of(y)
    names, idx, layout = stage_layout(table)
    stage = RegionStage(Segmenter(), AnalysisConfig(**config))
    stage.prepare(SPEC, layout, None)
    feed_hops(stage, table, names, idx, layout)
    return stage


def test_the_stage_reads_the_net_on_its_own_clock(song_pair):
    """The stage's join net runs on the hops its ring holds and answers in the stream's
    seconds: a hard join of two rendered songs, asked for from 0.4 s after it."""
    a, b = song_pair
    join = len(a) / 48000
    stage = stage_over(np.concatenate([a, b])[:int((join + 6.5) * 48000)])
    assert stage.join_stream is not None and stage.placer_on
    assert abs(stage.join_net_place(join + 0.4) - join) < 0.05
    assert stage.join_net_place(3.0) == 3.0  # no join there: the cut stays


def test_the_net_places_a_crossfade_of_two_songs_of_the_4q_set():
    """A 1.5 s crossfade between two development clips (songs the net learnt from; the
    benchmark reports music it never heard): from 0.4 s either side of the midpoint, the stage
    moves the cut nearer to it (on the development medleys the net's peak lies within ±0.35 s
    of a crossfade's midpoint for four in five)."""
    import csv

    from conftest import DATA
    from sonolux.sources.file import load_audio

    table = DATA / "emotion4q" / "clips.csv"
    if not table.exists():
        pytest.skip(f"the 4Q clips are not here ({table}): see ../shared/data/README")
    rows = [r for r in csv.DictReader(open(table)) if r["fold"] == "0"]
    a_row = next(r for r in rows if r["quadrant"] == "Q1")
    b_row = next(r for r in rows if r["quadrant"] == "Q3")
    a = load_audio(DATA / "emotion4q" / a_row["path"], 48000)[:20 * 48000]
    b = load_audio(DATA / "emotion4q" / b_row["path"], 48000)[:10 * 48000]
    n = int(1.5 * 48000)
    ramp = np.linspace(0, 1, n, dtype=np.float32)
    y = np.concatenate([a[:-n], a[-n:] * (1 - ramp) + b[:n] * ramp, b[n:]])
    middle = (len(a) - n / 2) / 48000
    stage = stage_over(y[:int((middle + 6.5) * 48000)])
    for start in (middle - 0.4, middle + 0.4):
        assert abs(stage.join_net_place(start) - middle) < 0.3, start


def test_a_bad_join_net_file_leaves_the_trees_placing_and_says_so(tmp_path, song_pair):
    bad = tmp_path / "net.json"
    bad.write_text('{"format": "sonolux-join-net", "format_version": 1}')
    a, b = song_pair
    stage = stage_over(np.concatenate([a[:8 * 48000], b[:4 * 48000]]), region_join_net_file=str(bad))
    assert stage.join_stream is None and stage.placer is not None and stage.placer_on
    assert str(bad) in stage.placer_note and "without the join net" in stage.placer_note
    off = stage_over(np.concatenate([a[:8 * 48000], b[:4 * 48000]]), region_join_net=False)
    assert off.join_stream is None and off.placer_note is None


def test_bulk_and_hop_by_hop_runs_cut_alike_with_the_net_moving_cuts():
    """Offline (``analyze`` in blocks) and live (hop by hop) give the same region fields with
    the join net on — and it does move a cut here (without it the boundaries differ): three
    development clips joined by 1.5 s crossfades (skips without the 4Q data)."""
    import csv

    from conftest import DATA
    from sonolux import Analyzer, StreamSpec
    from sonolux.analysis import AnalysisConfig
    from sonolux.sources.file import load_audio

    table = DATA / "emotion4q" / "clips.csv"
    if not table.exists():
        pytest.skip(f"the 4Q clips are not here ({table}): see ../shared/data/README")
    rows = [r for r in csv.DictReader(open(table)) if r["fold"] == "0"]
    parts = [load_audio(DATA / "emotion4q" / next(r for r in rows if r["quadrant"] == q)["path"], 48000)[:22 * 48000]
             for q in ("Q1", "Q3", "Q2")]
    n = int(1.5 * 48000)
    ramp = np.linspace(0, 1, n, dtype=np.float32)
    y = parts[0]
    for p in parts[1:]:
        y = np.concatenate([y[:-n], y[-n:] * (1 - ramp) + p[:n] * ramp, p[n:]])

    def region_fields(block_hops, **config):
        an = Analyzer(StreamSpec(), AnalysisConfig(**config))
        t = an.analyze(y, block_hops=block_hops)
        cols = [i for name, i in t.layout.scalars.items() if name.startswith("region_")]
        return t.values[:, cols], t.values[:, t.layout.scalars["region_start"]]

    bulk, starts = region_fields(256)
    live, _ = region_fields(1)
    np.testing.assert_array_equal(bulk, live)
    _, without = region_fields(256, region_join_net=False)
    assert len(set(starts)) >= 2 and not np.array_equal(starts, without)


def test_a_hard_cut_stays_on_its_step(song_pair):
    """The hand rule moves only cuts it judges gradual: a hard join of two rendered songs is cut on
    its step with the net on exactly as with it off (the learned place choice, which picks among
    candidates instead, off: test_place_choice.py)."""
    a, b = song_pair
    y = np.concatenate([a, b])
    on = stage_over(y, region_place_choice=False).finish(len(y) / 48000)
    off = stage_over(y, region_join_net=False).finish(len(y) / 48000)
    assert len(on) >= 2 and abs(on[1]["start"] - len(a) / 48000) < 0.05
    assert [r["start"] for r in on] == [r["start"] for r in off]
    chosen = stage_over(y).finish(len(y) / 48000)  # the default: the shipped choice keeps it on its step
    assert len(chosen) >= 2 and abs(chosen[1]["start"] - len(a) / 48000) < 0.05, chosen
