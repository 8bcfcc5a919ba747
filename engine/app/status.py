"""The one-line live status shown by ``sonolux run`` / ``demo``."""
from __future__ import annotations

from ..engine import EngineStats
from ..frame import FeatureFrame


def meter(u: float, width: int = 10) -> str:
    n = int(round(max(0.0, min(1.0, u)) * width))
    return "#" * n + "-" * (width - n)


class StatusLine:
    """Formats frames and stats; tracks onsets per second between calls."""

    def __init__(self):
        self._last_onsets = None
        self._last_t = None

    def format(self, frame: FeatureFrame, stats: EngineStats, health=()) -> str:
        """The line for ``frame``; ``health``: the outputs' TargetHealth list (a failing
        target is named with its cause)."""
        count, t = frame.get("onset_count", 0.0), frame.t
        rate = 0.0
        if self._last_onsets is not None and t > self._last_t:
            rate = (count - self._last_onsets) / (t - self._last_t)
        self._last_onsets, self._last_t = count, t
        parts = [
            f"{t:7.1f}s",
            f"level {frame.get('level_db', -120.0):6.1f} dBFS [{meter(frame.get('level', 0.0))}]",
            "bass {:.2f} mid {:.2f} high {:.2f}".format(
                frame.get("band_bass", 0.0), frame.get("band_mid", 0.0), frame.get("band_high", 0.0)),
            f"onsets/s {rate:4.1f}",
        ]
        if "bpm" in frame:
            parts.append(f"bpm {frame['bpm']:5.1f}")
        q = int(frame.get("quadrant", 0.0))
        if q:
            mood = ("happy", "tense", "sad", "calm")[q - 1]
            age = f" age {stats.prediction_age_s:.1f}s" if stats.prediction_age_s >= 0 else ""
            conf = f" conf {frame['emotion_confidence']:.2f}" if "emotion_confidence" in frame else ""
            parts.append(f"Q{q} {mood} v{frame['valence']:+.2f} a{frame['arousal']:+.2f}{conf}{age}")
        if stats.emotion_override:
            parts.append(f"OVERRIDE Q{stats.emotion_override}")
        if stats.blackout:
            parts.append("BLACKOUT")
        if stats.tap_locked:
            parts.append("TAP LOCK")
        if stats.silent:
            parts.append("SILENCE")
        parts.append(f"dropped {stats.dropped_blocks}")
        if stats.skipped_samples:
            parts.append(f"skipped {stats.skipped_samples}")
        if stats.osc_messages or stats.osc_errors:
            parts.append(f"osc {stats.osc_messages} err {stats.osc_errors}")
        for h in health:
            if h.failing:
                parts.append(f"{h.name}: {h.state}" + (f" ({h.last_error})" if h.last_error else ""))
        return " | ".join(parts)


def run_summary(stats: EngineStats, extra: str = "", health=()) -> str:
    """The lines printed when a run ends: totals, then each target that is failing."""
    lines = [f"sonolux: {stats.hops} frames, {stats.t:.1f} s of audio, dropped blocks {stats.dropped_blocks}, "
             f"OSC messages {stats.osc_messages} (errors {stats.osc_errors}){extra}"]
    lines += [f"sonolux: {'OSC ' if _is_osc(h) else ''}{h.name} {h.state}: {h.last_error or 'no cause known'} "
              f"({h.errors} send errors)" for h in health if h.failing]
    return "\n".join(lines)


def _is_osc(h) -> bool:
    return h.transport in ("udp", "tcp")  # the rig outputs say sacn, artnet, midi:…, os2l/tcp, link


def describe_targets(health) -> str:
    """The start-up line naming where OSC goes (and the rig outputs: DMX, MIDI, OS2L, Link)."""
    def named(hs):
        return ", ".join(h.name + (f" [{h.state}: {h.last_error}]" if h.failing and h.last_error else "") for h in hs)

    osc, rig = [h for h in health if _is_osc(h)], [h for h in health if not _is_osc(h)]
    line = f"sonolux: OSC to {named(osc)}" if osc else "sonolux: no OSC targets (add --osc HOST:PORT[@PROFILE])"
    return line + (f"; rig outputs: {named(rig)}" if rig else "")
