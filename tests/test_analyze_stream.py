"""``analyze`` streams: the file is read and resampled in chunks and the chain runs in blocks,
so the document does not depend on the chunking, and nothing holds the whole signal."""
import numpy as np
import pytest
import soundfile as sf

from sonolux.offline import Summary, run_analysis, write_document
from sonolux.errors import AudioFileError
from sonolux.sources.file import audio_chunks
from sonolux.sources.synth import demo_track


@pytest.fixture(scope="module")
def clip_44k(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "demo44.wav"
    y = np.stack([demo_track(44100, bars=6), 0.5 * demo_track(44100, bars=6, seed=3)], axis=1)
    sf.write(path, y.astype(np.float32), 44100)
    return path


def test_chunks_equal_the_whole_file_resampled(clip_44k):
    import soxr

    data, sr = sf.read(str(clip_44k), dtype="float32", always_2d=True)
    whole = soxr.resample(data.mean(axis=1), sr, 48000, quality="HQ")  # all at once
    for chunk_s in (0.37, 10.0):
        n, chunks = audio_chunks(clip_44k, 48000, chunk_s=chunk_s)
        parts = list(chunks)
        assert len(parts) > (1 if chunk_s < 1 else 0)
        got = np.concatenate(parts)
        assert n == whole.shape[0] == got.shape[0]
        np.testing.assert_array_equal(got, whole)


def test_document_does_not_depend_on_the_chunking(clip_44k):
    a = run_analysis(clip_44k, chunk_s=0.37).doc
    b = run_analysis(clip_44k, chunk_s=60.0).doc
    assert a == b
    assert len(a["beats"]) > 10 and len(a["onsets"]) > 10 and a["tempo"]["bpm"] > 0


def test_progress_reports_every_sample(clip_44k):
    seen = []
    doc = run_analysis(clip_44k, progress=lambda done, total: seen.append((done, total))).doc
    assert seen, "no progress reported"
    assert seen[-1][1] == round(doc["duration_s"] * 48000) and seen[-1][0] >= seen[-1][1] - 256
    assert all(b[0] > a[0] for a, b in zip(seen, seen[1:]))


def test_plot_table_is_decimated_to_a_bound():
    from sonolux.analysis import Analyzer
    from sonolux.spec import StreamSpec

    an = Analyzer(StreamSpec())
    y = (0.1 * np.random.default_rng(0).standard_normal(48000 * 6)).astype(np.float32)
    summary = Summary(an.layout, 48000, len(y) // 256, plot_points=100)
    an.analyze_stream([y], summary, block_hops=37)
    full = Analyzer(StreamSpec()).analyze(y)
    table = summary.table()
    assert summary.n == len(full) and 50 < len(table) <= 100
    np.testing.assert_array_equal(table.t, full.t[::summary.step])
    np.testing.assert_array_equal(table.values, full.values[::summary.step])


def test_document_writes_to_a_file(tmp_path, clip_44k):
    import json

    doc = run_analysis(clip_44k).doc
    out = tmp_path / "doc.json"
    write_document(doc, out)
    assert json.loads(out.read_text()) == doc


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_text("hello")
    with pytest.raises(AudioFileError, match="not-audio.wav: cannot read audio"):
        audio_chunks(bad, 48000)
    with pytest.raises(AudioFileError, match="no such file"):
        audio_chunks(tmp_path / "missing.wav", 48000)
