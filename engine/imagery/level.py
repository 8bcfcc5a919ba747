"""The music encoder's input level: pictures must not change with the mixer's gain.

The music encoder (``music_embed.onnx``) was trained on the raw emotion window (log-mel and
wavelet energies in dB), so the input gain moved its embedding and with it the chosen
picture (``python -m export.imagery_level``: ``export/results/imagery_level.json``). The
engine therefore shifts each window before the encoder reads it, by one stateless rule:

* a frame's *level* is the mean mel power over the 96 bands, in dB (as the emotion model's
  running-level normaliser, ``sonolux.inference.level``);
* the *window level* is the mean power of the window's frames whose level is above
  ``GATE_DB`` (silence does not pull it down), in dB;
* every frame above the gate is shifted by ``REFERENCE_DB`` − the window level, in all its
  mel bands and in its wavelet energies (both are 10·log10 of an energy, so a gain of g dB
  adds g to both); frames at or below the gate — the silence that pads a stream's first
  windows, digital silence — stay as they are, so they stay the same at any gain too;
* then every value of the window below ``FLOOR_DB`` (−80 dB) is raised to it.

A gain of g dB shifts every frame above the gate and the window level by g, so the shifted
window is the same at any gain, but for frames that cross the gate and for bands at the
engine's −100 dB log floor: a band that is below the floor at −12 dB but not at 0 dB, or one
at the floor at both gains, would read differently after the shift (the floor does not
move with the gain, the shift does). The floor at −80 dB after the shift hides exactly those
values: on fold 0 they are 0.2 % of the shifted log-mel values, and with the floor 99.8 %
of the windows choose the same picture at −12, −6, 0 and +6 dB (97.7 % without it).

Why per window, not the emotion model's running level: the rule needs no state, so the live
matcher (which reads the newest window off the GUI thread) and ``render`` (which embeds
windows of the whole file) apply the very same function to the very same window, and the
analysis thread does no extra work per hop. On fold 0 it kept the quadrant accuracy and the
retrieval figures of the raw input within noise, and more of the windows' pictures at every
gain than the running level (96.8 %, which also needs a state per stream).

The settings are the emotion model's (emotion v2.2 contract ``input_normalisation``): the
reference level is the median clip level of the 4Q dev folds — the clips the music encoder
was trained on — so the shifted windows sit where its training windows sat on average.
They are constants here, not read from ``emotion.onnx``, so the imagery presets work
without the emotion model; ``tests/test_imagery_level.py`` checks that they still match.

Example::

    win = feature_stream.window("emotion")     # {"mel": (1, 250, 96), "wavelet": (1, 250, 6)}
    normalise_window(win["mel"], win["wavelet"])   # in place
"""
from __future__ import annotations

import numpy as np

from ..inference.level import FLOOR_DB as LOG_FLOOR_DB

#: the emotion v2.2 contract's ``input_normalisation.reference_db`` and ``gate_db`` (dB)
REFERENCE_DB = -2.3235
GATE_DB = -80.0
#: the floor of the shifted window (dB): below it the engine's log floor would show the gain
FLOOR_DB = -80.0


def window_shift(mel: np.ndarray, *, reference_db: float = REFERENCE_DB, gate_db: float = GATE_DB) -> np.ndarray:
    """The shift (dB) of each frame of windows ``mel`` (..., frames, bands): ``reference_db``
    − the window's gated level for frames above ``gate_db``, 0 for the others (and for a
    window with no frame above the gate). Shape (..., frames), float32."""
    power = np.mean(10.0 ** (np.asarray(mel, np.float64) / 10.0), axis=-1)
    on = 10.0 * np.log10(np.maximum(power, 10 ** (LOG_FLOOR_DB / 10))) > gate_db
    n = on.sum(axis=-1, keepdims=True)
    gated = np.where(on, power, 0.0).sum(axis=-1, keepdims=True) / np.maximum(n, 1)
    shift = reference_db - 10.0 * np.log10(np.maximum(gated, 10 ** (LOG_FLOOR_DB / 10)))
    return np.where(on, shift, 0.0).astype(np.float32)


def normalise_window(mel: np.ndarray, wavelet: np.ndarray, *, floor_db: float | None = FLOOR_DB,
                     **settings) -> None:
    """Shift windows ``mel`` (..., frames, 96) and ``wavelet`` (..., frames, 6), float32 dB,
    in place by :func:`window_shift` of ``mel`` (``settings``: ``reference_db``, ``gate_db``),
    then raise values below ``floor_db`` to it (None: no floor)."""
    if mel.shape[:-1] != wavelet.shape[:-1]:
        raise ValueError(f"mel {mel.shape} and wavelet {wavelet.shape} must have the same frames")
    shift = window_shift(mel, **settings)[..., None]
    mel += shift
    wavelet += shift
    if floor_db is not None:
        np.maximum(mel, np.float32(floor_db), out=mel)
        np.maximum(wavelet, np.float32(floor_db), out=wavelet)
