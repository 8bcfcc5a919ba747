"""DMX frames from FeatureFrames: a fixture map (``dmx_config``) turned into 512-byte
universes, once per DMX frame.

The builder resolves every field to its slot in the frame layout once, so building a frame
is a few float reads and byte writes per channel. Events (a strobe on the beat) are read
from the cumulative ``<field>_count`` counters, so no beat is lost between two DMX frames.
Blackout writes zeroes everywhere (every channel, constants included).

>>> fmap = load_map("wash")                                    # doctest: +SKIP
>>> builder = DmxFrameBuilder(fmap, mailbox.layout)            # doctest: +SKIP
>>> universes = builder.build(frame, time.perf_counter())      # doctest: +SKIP
>>> universes[1][:4]                                           # doctest: +SKIP
bytearray(b'\\xff\\xaa\\x00\\x00')
"""
from __future__ import annotations

import logging
import math

from ..config import did_you_mean
from ..errors import ConfigError
from ..frame import FeatureFrame, FrameLayout
from .dmx_config import QUADRANTS, Channel, Fixture, FixtureMap
from .osc_config import _FIELD_RE, apply_curve

log = logging.getLogger("sonolux.dmx")
MODEL_VECTORS = ("tags", "latent")  # produced only when a model is loaded: idle without one


def _normalise(value: float, lo: float, hi: float) -> float:
    if not math.isfinite(value):
        return 0.0
    u = (value - lo) / (hi - lo)
    return 0.0 if u < 0.0 else 1.0 if u > 1.0 else u


class _FieldReader:
    """One field of a frame: a scalar, a vector entry, or an event counter."""

    def __init__(self, name: str, layout: FrameLayout, where: str, *, event: bool = False):
        m = _FIELD_RE.match(name)
        base, idx = m.group(1), m.group(2)
        self.vector = self.index = None
        self.idle = False
        if event:
            if idx is not None or f"{base}_count" not in layout.scalars:
                events = sorted(n[:-6] for n in layout.scalars if n.endswith("_count"))
                raise ConfigError(f"{where}: {name!r} is not an event field (events: {', '.join(events)})")
            self.index = layout.scalars[f"{base}_count"]
        elif idx is None and base in layout.scalars:
            self.index = layout.scalars[base]
        elif idx is not None and base in layout.vectors:
            labels = layout.labels.get(base, [])
            i = int(idx) if idx.isdigit() else labels.index(idx) if idx in labels else None
            if i is None or i >= layout.vectors[base]:
                raise ConfigError(f"{where}: {name!r}: no entry {idx!r} in {base} ({layout.vectors[base]} entries)")
            self.vector, self.index = base, i
        elif base in MODEL_VECTORS:
            self.idle = True  # no model loaded in this run: the channel stays at 0
        else:
            fields = [*layout.scalars, *(f"{v}[i]" for v in layout.vectors)]
            hint = did_you_mean(base, [*layout.scalars, *layout.vectors])
            raise ConfigError(f"{where}: {name!r} is not a frame field{hint} (fields: {', '.join(fields)})")

    def read(self, frame: FeatureFrame) -> float:
        if self.idle:
            return 0.0
        if self.vector is None:
            return float(frame.values[self.index])
        return float(frame.vectors[self.vector][self.index])


def _put(buf: bytearray, address: int, value: float, bits: int) -> None:
    """Write a DMX value (0..255 or 0..65535) at a 1-based address; 16 bit = coarse, fine."""
    if bits == 16:
        v = min(max(int(round(value)), 0), 65535)
        buf[address - 1] = v >> 8
        buf[address] = v & 0xFF
    else:
        buf[address - 1] = min(max(int(round(value)), 0), 255)


class _ChannelWriter:
    def __init__(self, c: Channel, layout, where):
        self.c = c
        self.reader = None if c.field is None else _FieldReader(c.field, layout, f"{where}.field")

    def write(self, buf, frame, now) -> None:
        c = self.c
        if self.reader is None:
            _put(buf, c.address, c.value, c.bits)
            return
        u = apply_curve(c.curve, _normalise(self.reader.read(frame), *c.range))
        _put(buf, c.address, c.out[0] + u * (c.out[1] - c.out[0]), c.bits)


class _FixtureWriter:
    """A template fixture; see ``dmx_config`` for what each template does."""

    def __init__(self, f: Fixture, layout, where):
        self.f = f
        event = f.template == "strobe"
        self.reader = _FieldReader(f.field, layout, f"{where}.field", event=event)
        self.last_count = None
        self.on_until = -1.0
        if f.template in ("rgb", "rgbw"):
            missing = [q for q in QUADRANTS if q not in layout.scalars]
            if missing:
                raise ConfigError(f"{where}.template: {f.template!r} needs the mood fields {', '.join(missing)}")
            self.q = [layout.scalars[q] for q in QUADRANTS]
            # with a model: the share of its window that held real audio, and the override
            self.i_fill = layout.scalars.get("emotion_fill")
            self.i_override = layout.scalars.get("emotion_override")
        if f.template == "pan_tilt":
            if "beat_count" not in layout.scalars or "beat_phase" not in layout.scalars:
                raise ConfigError(f"{where}.template: 'pan_tilt' needs the beat tracker (beat_count, beat_phase)")
            self.i_count, self.i_phase = layout.scalars["beat_count"], layout.scalars["beat_phase"]

    def intensity(self, frame) -> float:
        f = self.f
        return apply_curve(f.curve, _normalise(self.reader.read(frame), *f.range))

    def colour(self, frame) -> tuple[float, float, float]:
        """The mood palette blended by the quadrant probabilities (white-ish when unknown),
        faded from ``none`` by the share of the model's window that held real audio: in a
        stream's first seconds the mood is a guess from a few seconds of sound, and a wash
        should not flash a mood's colour on it (the operator's override shows at once)."""
        pal = self.f.palette
        v = frame.values
        w = [max(float(v[i]), 0.0) for i in self.q]
        total = sum(w)
        if total < 1e-6:
            return pal["none"]
        mood = [sum(w[k] * pal[q][c] for k, q in enumerate(QUADRANTS)) / total for c in range(3)]
        sure = self.i_fill is None or (self.i_override is not None and v[self.i_override] > 0)
        fill = 1.0 if sure else min(max(float(v[self.i_fill]), 0.0), 1.0)
        return tuple(fill * m + (1.0 - fill) * n for m, n in zip(mood, pal["none"]))

    def write(self, buf, frame, now) -> None:
        f, a = self.f, self.f.address
        t = f.template
        if t == "dimmer":
            _put(buf, a, self.intensity(frame) * (65535 if f.bits == 16 else 255), f.bits)
        elif t in ("rgb", "rgbw"):
            k = self.intensity(frame)
            r, g, b = (k * c for c in self.colour(frame))
            if t == "rgbw":  # the common part of the three goes to the white emitter
                w = min(r, g, b)
                r, g, b = r - w, g - w, b - w
                _put(buf, a + 3, w, 8)
            for i, v in enumerate((r, g, b)):
                _put(buf, a + i, v, 8)
        elif t == "strobe":
            count = self.reader.read(frame)
            if self.last_count is not None and count > self.last_count:
                self.on_until = now + f.hold_ms / 1e3
            self.last_count = count
            _put(buf, a, f.on if now < self.on_until else f.off, 8)
        else:  # pan_tilt: a figure of eight, one pan cycle per cycle_beats beats
            pos = float(frame.values[self.i_count]) + float(frame.values[self.i_phase])
            x = 2.0 * math.pi * pos / f.cycle_beats
            full = 65535 if f.bits == 16 else 255
            step = 2 if f.bits == 16 else 1
            for k, (lo, hi), s in ((0, f.pan, math.sin(x)), (1, f.tilt, math.sin(2.0 * x))):
                _put(buf, a + k * step, (lo + (hi - lo) * 0.5 * (1.0 + s)) * full, f.bits)


class DmxFrameBuilder:
    """Fixture map + frame layout → one ``bytearray(512)`` per universe, rebuilt in place
    (``only``: build just that universe of the map)."""

    def __init__(self, fmap: FixtureMap, layout: FrameLayout, only: int | None = None):
        src = fmap.source
        keep = (lambda u: True) if only is None else (lambda u: u == only)
        self.universes = {u: bytearray(512) for u in fmap.universes if keep(u)}
        self.writers = [(f.universe, _FixtureWriter(f, layout, f"{src}: fixture[{i}]"))
                        for i, f in enumerate(fmap.fixtures) if keep(f.universe)]
        self.writers += [(c.universe, _ChannelWriter(c, layout, f"{src}: channel[{i}]"))
                         for i, c in enumerate(fmap.channels) if keep(c.universe)]
        idle = [w.f.field if hasattr(w, "f") else w.c.field for _, w in self.writers
                if getattr(w, "reader", None) is not None and w.reader.idle]
        if idle:
            log.info("DMX map %s: %d channel(s) idle, fields need a model: %s", src, len(idle), ", ".join(idle))

    def build(self, frame: FeatureFrame, now: float, blackout: bool = False) -> dict[int, bytearray]:
        """The universes for ``frame`` at time ``now`` (perf_counter seconds, for strobe holds)."""
        for u, w in self.writers:
            w.write(self.universes[u], frame, now)
        if blackout:
            for buf in self.universes.values():
                buf[:] = bytes(512)
        return self.universes
