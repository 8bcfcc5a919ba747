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
* the mood (valence, arousal, quadrant, q1..q4) holds its last value heard with sound (the
  models would call silence "sad") for ``mood_hold_s``, then goes neutral (0, 0, quadrant 0).

The same stage runs live and offline, so ``analyze`` and a live run agree. Its defaults
are ``AnalysisConfig.silence_db`` / ``silence_enter_s`` / ``silence_mood_hold_s``.
"""
from __future__ import annotations

from .base import Processor
from .checks import finite

MOOD_FIELDS = ("valence", "arousal", "quadrant", "q1", "q2", "q3", "q4")
HELD_FIELDS = ("bpm", "bpm_confidence")
NOT_GATED = ("region_change",)  # region changes are about the music's shape, silence included

class SilenceGate(Processor):
    """Holds events, tempo and mood while the input is silent (see the module docstring).

    >>> gate = SilenceGate(AnalysisConfig(silence_db=-55.0))   # doctest: +SKIP
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
        self._i_level = s["level_db"]
        counters = [n for n in s if n.endswith("_count") and n[:-len("_count")] not in NOT_GATED]
        self._counts = [s[n] for n in counters]
        self._flags = [s[n[:-len("_count")]] for n in counters if n[:-len("_count")] in s]
        self._held = [s[n] for n in HELD_FIELDS if n in s]
        self._mood = [s[n] for n in MOOD_FIELDS if n in s]
        self._i_bpm = s.get("bpm")
        self._i_phase = s.get("beat_phase")
        self._i_silence = layout.add_scalar("silence")
        self._i_silence_s = layout.add_scalar("silence_s")
        self._offset = [0.0] * len(self._counts)
        self._last_raw = [0.0] * len(self._counts)
        self._held_values = [0.0] * len(self._held)
        self._mood_values = [0.0] * len(self._mood)
        self.reset()

    def reset(self):
        self.silent = False
        self._quiet_s = 0.0
        self._phase = 0.0
        for k in range(len(getattr(self, "_offset", ()))):
            self._offset[k] = 0.0
            self._last_raw[k] = 0.0

    def process(self, ctx, frame):
        v = frame.values
        quiet = v[self._i_level] < self.threshold_db
        self._quiet_s = self._quiet_s + self.hop_s if quiet else 0.0
        silent = self._quiet_s >= self.enter_s
        if not quiet:
            self._remember(v)  # the values silence will hold: the last ones heard with sound
        elif silent and not self.silent and self._i_phase is not None:
            self._phase = v[self._i_phase]
        self.silent = silent
        for k, i in enumerate(self._counts):
            raw = v[i]
            if silent:
                self._offset[k] += raw - self._last_raw[k]
            self._last_raw[k] = raw
            v[i] = raw - self._offset[k]
        v[self._i_silence] = 1.0 if silent else 0.0
        v[self._i_silence_s] = self._quiet_s if silent else 0.0
        if silent:
            self._hold(v)

    def _remember(self, v) -> None:
        for k, i in enumerate(self._held):
            self._held_values[k] = v[i]
        for k, i in enumerate(self._mood):
            self._mood_values[k] = v[i]

    def _hold(self, v) -> None:
        for i in self._flags:
            v[i] = 0.0
        for k, i in enumerate(self._held):
            v[i] = self._held_values[k]
        if self._i_phase is not None and self._i_bpm is not None:
            self._phase = (self._phase + self.hop_s * v[self._i_bpm] / 60.0) % 1.0
            v[self._i_phase] = self._phase
        neutral = self._quiet_s - self.enter_s >= self.mood_hold_s
        for k, i in enumerate(self._mood):
            v[i] = 0.0 if neutral else self._mood_values[k]
