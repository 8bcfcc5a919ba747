"""The full feature chain (mel, wavelet, energy z, onsets, beats) gives the same frames live
(ring buffer + worker, random block sizes including 0 and 1) as offline, equals the offline
kernels, allocates nothing per hop, and rejects bad parameters with clear errors."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.features.mel import log_mel_frames
from sonolux.features.wavelet import wavelet_energies_frames
from sonolux.errors import ParameterError
from sonolux.frame import Mailbox
from sonolux.ringbuffer import RingBuffer
from sonolux.spec import StreamSpec
from sonolux.worker import AnalysisWorker

SPEC = StreamSpec(sample_rate=48000, hop=256, n_fft=1024)


def music_like(rng, seconds=6.0, sr=48000):
    """Kick-ish low bursts on beats at 120 BPM, hats between, a chirp pad and noise."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = 0.05 * np.sin(2 * np.pi * (200 * t + 40 * t * t)) + 0.01 * rng.standard_normal(n)
    for k, tb in enumerate(np.arange(0.1, seconds - 0.2, 0.25)):
        i = int(tb * sr)
        seg = np.arange(4000)
        if k % 2 == 0:
            y[i:i + 4000] += 0.6 * np.sin(2 * np.pi * 60 * seg / sr) * np.exp(-seg / 1500)
        else:
            y[i:i + 4000] += 0.2 * rng.standard_normal(4000) * np.exp(-seg / 300)
    return y.astype(np.float32)


def stream(y, config, rng):
    """Feed ``y`` in random block sizes (0 and 1 included) through the ring and worker."""
    an = Analyzer(SPEC, config)
    ring = RingBuffer(SPEC.ring_capacity())
    mailbox = Mailbox(an.layout)
    rows, vecs = [], {k: [] for k in an.layout.vectors}

    def on_frame(f):
        rows.append(f.values.copy())
        for k in vecs:
            vecs[k].append(f.vectors[k].copy())

    worker = AnalysisWorker(ring, an, mailbox, drop_stale=False, on_frame=on_frame)
    pos = 0
    sizes = [0, 1, 0, 1, 1]
    while pos < len(y):
        size = sizes.pop() if sizes else int(rng.integers(0, 2000))
        assert ring.write(y[pos:pos + size])
        pos += size
        while worker.step():
            pass
    return np.array(rows), {k: np.array(v) for k, v in vecs.items()}


@pytest.mark.parametrize("config", [
    AnalysisConfig(),
    AnalysisConfig(preemphasis=0.97, n_mels=40, wavelet="sym5", wavelet_level=4,
                   wavelet_window=512, energy_segment_s=0.2, bpm_range=(60, 150)),
], ids=["default", "preemphasis_sym5"])
def test_streaming_random_blocks_equals_offline(config, rng):
    y = music_like(rng)
    offline = Analyzer(SPEC, config).analyze(y)
    values, vectors = stream(y, config, rng)
    assert values.shape == offline.values.shape
    np.testing.assert_array_equal(values, offline.values)
    for k, v in vectors.items():
        np.testing.assert_array_equal(v, offline.vectors[k])
    # the run actually exercised every feature
    assert offline.column("onset").sum() > 5 and offline.column("beat").sum() > 3
    assert offline.column("onset_kick").sum() > 3


def test_chain_vectors_equal_offline_kernels(rng):
    y = music_like(rng, seconds=3.0)
    tab = Analyzer(SPEC).analyze(y)
    mel = log_mel_frames(y, sample_rate=48000, n_fft=1024, hop=256, n_mels=64, fmax=16000.0)
    np.testing.assert_array_equal(tab.vectors["mel_db"], mel)
    wl = wavelet_energies_frames(y, hop=256, window=1024, wavelet="db4", level=5)
    np.testing.assert_array_equal(tab.vectors["wavelet_energy"], wl)


def test_field_names_contract():
    an = Analyzer(SPEC)
    names = set(an.layout.scalars) | set(an.layout.vectors)
    expected = {"mel_db", "wavelet_energy", "energy", "energy_z", "tempo_z", "onset",
                "onset_count", "onset_strength", "onset_kick", "onset_kick_count",
                "onset_snare", "onset_snare_count", "onset_hihat", "onset_hihat_count",
                "beat", "beat_count", "bpm", "beat_phase", "bpm_confidence"}
    assert expected <= names
    assert an.layout.vectors["mel_db"] == 64 and an.layout.vectors["wavelet_energy"] == 6


def test_hops_allocate_nothing_with_beats_and_preemphasis(rng, measured_alone):
    """Net growth over 1000 hops of music (onsets, beats, estimates) after warm-up ~0."""
    y = music_like(rng, seconds=12.0)
    an = Analyzer(SPEC, AnalysisConfig(preemphasis=0.97))
    frame = an.layout.new_frame()
    hop = SPEC.hop
    for i in range(800):  # warm-up: JIT, a locked tempo, caches
        an.process_hop(y[i * hop:(i + 1) * hop], frame)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for i in range(800, 1800):
            an.process_hop(y[i * hop:(i + 1) * hop], frame)
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frame["beat_count"] > 3
    assert now - before < 1024 and peak - before < 4096, (now - before, peak - before)


@pytest.mark.parametrize("make,match", [
    (lambda: StreamSpec(n_fft=1000), "n_fft=1000 must be a power of two"),
    (lambda: StreamSpec(n_fft=512, hop=1024), "hop=1024 must not exceed n_fft=512"),
    (lambda: Analyzer(SPEC, AnalysisConfig(wavelet="db77x")), "wavelet='db77x' is unknown"),
    (lambda: Analyzer(SPEC, AnalysisConfig(wavelet_level=9)),
     "level=9 is too deep for a window of 1024 samples .* the maximum is 7"),
    (lambda: Analyzer(SPEC, AnalysisConfig(wavelet="haar", wavelet_window=16, wavelet_level=5)),
     "the maximum is 4"),
    (lambda: Analyzer(SPEC, AnalysisConfig(bpm_range=(150, 100))), r"bpm range \(150, 100\)"),
    (lambda: Analyzer(SPEC, AnalysisConfig(energy_band=(1.2, 1.4))), "energy_band"),
    (lambda: Analyzer(SPEC, AnalysisConfig(preemphasis=1.5)), "alpha=1.5"),
    (lambda: Analyzer(SPEC, AnalysisConfig(n_mels=0)), "n_mels=0"),
    (lambda: Analyzer(SPEC, AnalysisConfig(mel_fmax=30000.0)), "fmax=30000.0"),
])
def test_bad_parameters_give_clear_errors(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


def test_tap_without_beat_stage_is_a_clear_error():
    an = Analyzer(SPEC, AnalysisConfig(beat=False))
    with pytest.raises(ParameterError, match="no beat tracker"):
        an.tap()


def test_offline_features_equal_the_chain_hop_by_hop(rng):
    """``offline_features`` (the feature stages in bulk) equals those stages run hop by hop."""
    from sonolux.features.bulk import feature_chain, offline_features

    y = music_like(rng, seconds=4.0)
    cfg = AnalysisConfig()
    an = Analyzer(SPEC, cfg, chain=feature_chain(cfg))
    frame, rows, mel = an.layout.new_frame(), [], []
    for i in range(len(y) // SPEC.hop):
        an.process_hop(y[i * SPEC.hop:(i + 1) * SPEC.hop], frame)
        rows.append(frame.values.copy())
        mel.append(frame.vectors["mel_db"].copy())
    rows = np.array(rows)
    fused = offline_features(y, SPEC, cfg)
    np.testing.assert_array_equal(fused["mel_db"], np.array(mel))
    for k in ("energy", "energy_z", "onset_strength", "onset"):
        np.testing.assert_array_equal(fused[k], rows[:, an.layout.scalars[k]])
    assert fused["onset"].sum() > 5 and fused["wavelet_energy"].shape == (len(rows), 6)
