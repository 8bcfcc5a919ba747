"""The pieces of the level-invariance and ensembling experiments (export/emotion_level.py,
export/emotion_ensemble.py) that decide what their numbers mean: the level normaliser is
causal, removes an input gain exactly, leaves the silence that primes the stream alone and
ignores silence in its estimate; the ensemble averages the members' clip probabilities of
the same clips. No data or weights needed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")


def _music_like_mel(frames=900, seed=0):
    """dB log-mel with a loud and a quiet passage and a digital-silence lead-in."""
    rng = np.random.default_rng(seed)
    mel = rng.normal(-20, 8, (frames, 96))
    mel[400:600] -= 15  # a quiet passage
    mel[:50] = -100.0   # silence before the music
    return mel.astype(np.float32)


@pytest.mark.parametrize("tau", [0.0, 3.0, 10.0])
@pytest.mark.parametrize("gain", [-12.0, -6.0, 6.0])
def test_normalised_input_does_not_depend_on_the_input_gain(tau, gain):
    from export.emotion_level import normalise

    mel = _music_like_mel()
    loud = np.where(mel <= -100, -100, mel + gain)  # what the engine's log-mel gives for gain g
    a, b = normalise(mel, tau, -2.0), normalise(loud, tau, -2.0)
    assert np.abs(a[50:] - b[50:]).max() < 1e-3
    assert np.array_equal(a[:50], mel[:50])  # silence before the first loud frame: untouched


def test_normaliser_is_causal_and_follows_the_level_slowly():
    from export.emotion_level import normalise, running_level_db

    mel = _music_like_mel()
    changed = mel.copy()
    changed[700:] += 20
    assert np.array_equal(normalise(mel, 3.0, 0.0)[:700], normalise(changed, 3.0, 0.0)[:700])
    lvl = running_level_db(mel, 3.0)
    assert np.isnan(lvl[:50]).all() and np.isfinite(lvl[50:]).all()
    # a mean of power: the 3.2 s quiet passage (15 dB down) pulls a 3 s estimate ~5 dB
    # down, a 30 s one (nearly the mean of all heard so far) less than half of that
    drop3 = lvl[399] - lvl[599]
    drop30 = running_level_db(mel, 30.0)[399] - running_level_db(mel, 30.0)[599]
    assert 3 < drop3 < 15 and 0 < drop30 < drop3 / 2


def test_silence_does_not_pull_the_running_level_down():
    from export.emotion_level import running_level_db

    mel = np.full((600, 96), -25.0, np.float32)
    mel[200:400] = -100.0  # a pause between songs
    lvl = running_level_db(mel, 3.0)
    assert np.allclose(lvl[50:], lvl[50], atol=1e-6)


def test_frame_variant_normalises_each_frame_to_the_reference():
    from export.emotion_level import frame_level_db, normalise

    mel = _music_like_mel()
    out = normalise(mel, 0.0, -2.0)
    assert np.allclose(frame_level_db(out[50:]), -2.0, atol=1e-3)
    assert normalise(mel, None, -2.0) is mel


def test_ensemble_averages_the_members_clip_probabilities():
    from export.emotion_ensemble import combine

    songs, q = np.array(["a", "b"]), np.array([0, 2])
    p1 = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4]])
    p2 = np.array([[0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.6, 0.2]])
    out = combine([{3: (songs, q, p1)}, {3: (songs, q, p2)}])
    assert np.allclose(out[3][2], (p1 + p2) / 2) and np.array_equal(out[3][1], q)
    with pytest.raises(AssertionError):
        combine([{3: (songs, q, p1)}, {3: (songs[::-1], q, p2)}])
