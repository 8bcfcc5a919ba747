"""Silence: below a level threshold the show holds still instead of chasing noise.

Between songs, or when the input dies, the onset detector and the beat tracker would go on
firing on hum and hiss (and the mood models would call silence "sad"). :class:`SilenceGate`
runs after the features and the inference results, before the operator's override:

* after ``enter_s`` seconds with ``level_db`` below ``threshold_db`` the frame says
  ``silence`` = 1 (``silence_s``: for how long) — ``/sonolux/silence`` in the sonolux profile;
* every event counter (``onset_count``, ``beat_count``, the per-band ``onset_*_count``) stops
  counting and the event flags read 0, so no trigger fires; counting resumes with the first
  event once the level is back (counters stay monotonic: they resume where they stopped);
* ``bpm`` and ``bpm_confidence`` hold their last values heard with sound and ``beat_phase``
  keeps turning at that tempo, ready for re-entry;
* the mood (valence, arousal, quadrant, q1..q4, its confidence and fill) and the tags hold
  their last values heard with sound (the models would call silence "sad" and tag it) for
  ``mood_hold_s``, then go neutral (0, 0, quadrant 0, confidence 0, every tag 0);
  ``prediction_id`` reads -1 meanwhile (the frame's mood is not a prediction's, as under the
  operator's override), so the first hop with sound gets the newest prediction back.

The same stage runs live and offline, so ``analyze`` and a live run agree. Its defaults
are ``AnalysisConfig.silence_db`` / ``silence_enter_s`` / ``silence_mood_hold_s``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .base import Processor
from .checks import finite

MOOD_FIELDS = ("valence", "arousal", "quadrant", "q1", "q2", "q3", "q4", "emotion_confidence", "emotion_fill")
HELD_FIELDS = ("bpm", "bpm_confidence")
NOT_GATED = ("region_change",)  # region changes are about the music's shape, silence included

# state slots of the kernel
QUIET_S, SILENT, PHASE = 0, 1, 2


@njit(cache=True)
def silence_step(v, threshold_db, enter_s, mood_hold_s, hop_s, idx, counts, offsets, last_raw, flags,
                 held, held_values, mood, mood_values, tags, tag_values, st):
    """One hop of the gate on the frame's values ``v`` and tags ``tags``. ``idx``: the value
    indices of level_db, bpm, beat_phase, silence, silence_s, prediction_id (-1: absent; one
    array, not six arguments: the dispatch of each call stays small); no tags: an empty vector."""
    i_level, i_bpm, i_phase, i_silence, i_silence_s, i_prediction = idx[0], idx[1], idx[2], idx[3], idx[4], idx[5]
    quiet = v[i_level] < threshold_db
    st[QUIET_S] = st[QUIET_S] + hop_s if quiet else 0.0
    silent = st[QUIET_S] >= enter_s
    if not quiet:  # the values silence will hold: the last ones heard with sound
        for k in range(held.shape[0]):
            held_values[k] = v[held[k]]
        for k in range(mood.shape[0]):
            mood_values[k] = v[mood[k]]
        for k in range(tags.shape[0]):
            tag_values[k] = tags[k]
    elif silent and st[SILENT] == 0.0 and i_phase >= 0:
        st[PHASE] = v[i_phase]
    st[SILENT] = 1.0 if silent else 0.0
    for k in range(counts.shape[0]):
        raw = v[counts[k]]
        if silent:
            offsets[k] += raw - last_raw[k]
        last_raw[k] = raw
        v[counts[k]] = raw - offsets[k]
    v[i_silence] = 1.0 if silent else 0.0
    v[i_silence_s] = st[QUIET_S] if silent else 0.0
    if not silent:
        return
    for k in range(flags.shape[0]):
        v[flags[k]] = 0.0
    for k in range(held.shape[0]):
        v[held[k]] = held_values[k]
    if i_phase >= 0 and i_bpm >= 0:
        st[PHASE] = (st[PHASE] + hop_s * v[i_bpm] / 60.0) % 1.0
        v[i_phase] = st[PHASE]
    neutral = st[QUIET_S] - enter_s >= mood_hold_s
    for k in range(mood.shape[0]):
        v[mood[k]] = 0.0 if neutral else mood_values[k]
    for k in range(tags.shape[0]):
        tags[k] = 0.0 if neutral else tag_values[k]
    if (mood.shape[0] or tags.shape[0]) and i_prediction >= 0:
        # the inference stage rewrites a frame whose id is not its newest prediction's: live
        # (one frame for all hops) and in bulk (a row per hop) alike, sound brings it back
        v[i_prediction] = -1.0


@njit(cache=True)
def silence_block(values, n, threshold_db, enter_s, mood_hold_s, hop_s, idx, counts, offsets, last_raw,
                  flags, held, held_values, mood, mood_values, tags, tag_values, st):
    """``silence_step`` over the first ``n`` rows (consecutive hops) of ``values`` and ``tags``."""
    for i in range(n):
        silence_step(values[i], threshold_db, enter_s, mood_hold_s, hop_s, idx, counts, offsets, last_raw,
                     flags, held, held_values, mood, mood_values, tags[i], tag_values, st)


class SilenceGate(Processor):
    """Holds events, tempo and mood while the input is silent (see the module docstring).

    >>> from sonolux.analysis import AnalysisConfig
    >>> gate = SilenceGate(AnalysisConfig(silence_db=-55.0))
    >>> gate.threshold_db = -50.0          # from another thread: applies from the next hop
    """

    def __init__(self, config):
        self.threshold_db = finite("silence_db", config.silence_db)
        self.enter_s = finite("silence_enter_s", config.silence_enter_s, minimum=0.0)
        self.mood_hold_s = finite("silence_mood_hold_s", config.silence_mood_hold_s, minimum=0.0)

    def prepare(self, spec, layout, facts):
        self.hop_s = spec.hop / spec.sample_rate
        s = layout.scalars
        if "level_db" not in s:
            raise ValueError("SilenceGate needs the level meter's level_db before it in the chain")
        counters = [n for n in s if n.endswith("_count") and n[:-len("_count")] not in NOT_GATED]
        index = lambda names: np.array([s[n] for n in names if n in s], dtype=np.int64)  # noqa: E731
        self._counts = index(counters)
        self._flags = index([n[:-len("_count")] for n in counters])
        self._held = index(HELD_FIELDS)
        self._mood = index(MOOD_FIELDS)
        self._idx = np.array([s["level_db"], s.get("bpm", -1), s.get("beat_phase", -1),
                              layout.add_scalar("silence"), layout.add_scalar("silence_s"),
                              s.get("prediction_id", -1)], dtype=np.int64)
        self._offsets = np.zeros(self._counts.shape[0])
        self._last_raw = np.zeros(self._counts.shape[0])
        self._held_values = np.zeros(self._held.shape[0])
        self._mood_values = np.zeros(self._mood.shape[0])
        self._n_tags = layout.vectors.get("tags", 0)
        self._tag_values = np.zeros(self._n_tags, dtype=np.float32)
        self._no_tags = np.zeros(0, dtype=np.float32)
        self._no_tag_rows = np.zeros((1 << 20, 0), dtype=np.float32)  # rows of nothing (no bytes)
        self._st = np.zeros(3)
        self.reset()

    @property
    def silent(self) -> bool:
        return bool(getattr(self, "_st", (0.0, 0.0))[SILENT])

    def reset(self):
        for a in (self._offsets, self._last_raw, self._st):
            a[:] = 0.0

    blockwise = True

    def process_block(self, block):
        tags = block.vectors["tags"] if self._n_tags else self._no_tag_rows
        silence_block(block.values, block.n, self.threshold_db, self.enter_s, self.mood_hold_s,
                      self.hop_s, self._idx, self._counts, self._offsets, self._last_raw,
                      self._flags, self._held, self._held_values, self._mood, self._mood_values,
                      tags, self._tag_values, self._st)

    def process(self, ctx, frame):
        tags = frame.vectors["tags"] if self._n_tags else self._no_tags
        silence_step(frame.values, self.threshold_db, self.enter_s, self.mood_hold_s, self.hop_s,
                     self._idx, self._counts, self._offsets, self._last_raw, self._flags, self._held,
                     self._held_values, self._mood, self._mood_values, tags, self._tag_values, self._st)
