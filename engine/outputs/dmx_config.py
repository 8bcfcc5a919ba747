"""DMX fixture maps: which DMX channels follow which FeatureFrame fields, loaded from TOML.

A map is one TOML file (shipped examples in ``engine/profiles/dmx/``, listed with
``sonolux dmx maps``): ``[output]`` defaults, optional ``[[target]]`` entries (where to
send when no ``--dmx`` is given), ``[[fixture]]`` entries built from templates and plain
``[[channel]]`` entries. Every validation error names the file, the key and the value, e.g.
``bar.toml: fixture[2].address: 511 + 4 channels ends past 512``.

Templates (``template = ...``), each from ``address`` on, in this order:

* ``dimmer``   1 channel: intensity ← ``field`` (default ``level``)
* ``rgb``      3 channels, ``rgbw`` 4: the colour of the mood (``palette``: one colour per
  quadrant, blended by the quadrant probabilities q1..q4; faded from ``none`` while the
  emotion model's window is not yet full of real audio, ``emotion_fill``) times the
  intensity of ``field``
* ``strobe``   1 channel: ``on`` for ``hold_ms`` after each event of ``field`` (``beat``)
* ``pan_tilt`` 2 channels (or 4 with ``bits = 16``): a figure-of-eight sweep locked to the
  beat phase, one pan cycle per ``cycle_beats`` beats, within ``pan`` / ``tilt`` (0..1)

A ``[[channel]]`` maps one field through the OSC value pipeline (``range`` → 0..1 →
``curve`` → ``out`` in DMX units) or holds a constant ``value``; ``bits = 16`` writes the
coarse byte at ``address`` and the fine byte after it.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, resources
from ..errors import ConfigError
from .osc_config import _FIELD_RE, CURVES, _choice, _err, _num, _pair

TEMPLATES = {"dimmer": 1, "rgb": 3, "rgbw": 4, "strobe": 1, "pan_tilt": 2}
PROTOCOLS = ("sacn", "artnet")
UNIVERSE_RANGE = {"sacn": (1, 63999), "artnet": (0, 32767)}
QUADRANTS = ("q1", "q2", "q3", "q4")
# Russell quadrants (DESIGN.md): Q1 happy → warm amber, Q2 tense → red, Q3 sad → blue,
# Q4 relaxed → teal; "none" when no mood is known (no model and no override)
DEFAULT_PALETTE = {"q1": (255, 170, 0), "q2": (255, 0, 40), "q3": (30, 60, 255),
                   "q4": (0, 220, 140), "none": (255, 255, 255)}

OUTPUT_KEYS = {"description", "rate_hz", "priority", "universe"}
TARGET_KEYS = {"protocol", "universe", "host", "priority", "bind", "ttl"}
FIXTURE_KEYS = {"name", "template", "universe", "address", "field", "range", "curve", "bits",
                "palette", "hold_ms", "on", "off", "cycle_beats", "pan", "tilt"}
CHANNEL_KEYS = {"name", "universe", "address", "field", "range", "curve", "out", "bits", "value"}


@dataclass(frozen=True)
class DmxTarget:
    """Where one universe goes: sACN (multicast when ``host`` is empty) or Art-Net."""

    protocol: str
    universe: int
    host: str = ""
    priority: int = 100
    bind: str = ""  # local address: picks the interface (multicast) and the source
    ttl: int = 1

    @property
    def label(self) -> str:
        where = self.host or "multicast"
        return f"{self.protocol}:{self.universe}@{where}"


@dataclass(frozen=True)
class Fixture:
    """A template fixture (see the module docstring); ``width`` channels from ``address``."""

    name: str
    template: str
    universe: int
    address: int
    field: str
    range: tuple = (0.0, 1.0)
    curve: object = "linear"
    bits: int = 8
    palette: dict = field(default_factory=lambda: dict(DEFAULT_PALETTE))
    hold_ms: float = 50.0
    on: int = 255
    off: int = 0
    cycle_beats: float = 4.0
    pan: tuple = (0.25, 0.75)
    tilt: tuple = (0.4, 0.6)

    @property
    def width(self) -> int:
        return TEMPLATES[self.template] * (2 if self.bits == 16 and self.template in ("dimmer", "pan_tilt") else 1)


@dataclass(frozen=True)
class Channel:
    """One channel (two with ``bits = 16``) ← one field, or a constant ``value``."""

    name: str
    universe: int
    address: int
    field: str | None
    range: tuple = (0.0, 1.0)
    curve: object = "linear"
    out: tuple = (0.0, 255.0)
    bits: int = 8
    value: int | None = None

    @property
    def width(self) -> int:
        return 2 if self.bits == 16 else 1


@dataclass(frozen=True)
class FixtureMap:
    source: str
    rate_hz: float = 44.0
    priority: int = 100
    targets: tuple = ()
    fixtures: tuple = ()
    channels: tuple = ()

    @property
    def universes(self) -> list[int]:
        return sorted({f.universe for f in (*self.fixtures, *self.channels)})


# -- validation --------------------------------------------------------------------------

def _check_keys(src, key, d, known):
    if not isinstance(d, dict):
        raise _err(src, key, f"{d!r} must be a table")
    unknown = set(d) - known
    if unknown:
        raise _err(src, f"{key}.{sorted(unknown)[0]}", f"unknown key (known: {', '.join(sorted(known))})")


def _field(src, key, v):
    if not isinstance(v, str) or not _FIELD_RE.match(v):
        raise _err(src, key, f"{v!r} must be a field name like 'level', 'band_bass' or 'mel_db[3]'")
    return v


def _curve(src, key, c):
    return float(_num(src, key, c, 0.05, 20)) if not isinstance(c, str) else _choice(src, key, c, CURVES)


def _range(src, key, v):
    lo, hi = _pair(src, key, v)
    if lo == hi:
        raise _err(src, key, f"{v!r} must not be empty")
    return lo, hi


def _placement(src, key, d, default_universe, width):
    universe = int(_num(src, f"{key}.universe", d.get("universe", default_universe), 0, 63999, integer=True))
    if "address" not in d:
        raise _err(src, f"{key}.address", "is required (the first DMX channel, 1..512)")
    address = int(_num(src, f"{key}.address", d["address"], 1, 512, integer=True))
    if address + width - 1 > 512:
        raise _err(src, f"{key}.address", f"{address} + {width} channels ends past 512")
    return universe, address


def _bits(src, key, d):
    bits = d.get("bits", 8)
    if bits not in (8, 16) or isinstance(bits, bool):
        raise _err(src, f"{key}.bits", f"{bits!r} is not one of 8, 16")
    return bits


def _palette(src, key, v):
    if not isinstance(v, dict):
        raise _err(src, key, f"{v!r} must be a table like {{q1 = [255, 170, 0], ...}}")
    out = dict(DEFAULT_PALETTE)
    for q, rgb in v.items():
        if q not in DEFAULT_PALETTE:
            raise _err(src, f"{key}.{q}", f"unknown quadrant (known: {', '.join(DEFAULT_PALETTE)})")
        if not isinstance(rgb, list) or len(rgb) != 3:
            raise _err(src, f"{key}.{q}", f"{rgb!r} must be [red, green, blue] in 0..255")
        out[q] = tuple(int(_num(src, f"{key}.{q}[{i}]", c, 0, 255, integer=True)) for i, c in enumerate(rgb))
    return out


def _pipeline(src, key, d, out: dict) -> None:
    """The optional ``range`` and ``curve`` of a fixture or a channel, into ``out``."""
    if "range" in d:
        out["range"] = _range(src, f"{key}.range", d["range"])
    if "curve" in d:
        out["curve"] = _curve(src, f"{key}.curve", d["curve"])


def parse_fixture(src, key, d, default_universe) -> Fixture:
    _check_keys(src, key, d, FIXTURE_KEYS)
    if "template" not in d:
        raise _err(src, f"{key}.template", f"is required (one of {', '.join(TEMPLATES)})")
    template = _choice(src, f"{key}.template", d["template"], tuple(TEMPLATES))
    bits = _bits(src, key, d)
    if bits == 16 and template not in ("dimmer", "pan_tilt"):
        raise _err(src, f"{key}.bits", f"16 is only for dimmer and pan_tilt, not {template}")
    f = {"template": template, "bits": bits, "name": str(d.get("name", f"{template} {key}")),
         "field": _field(src, f"{key}.field", d.get("field", "beat" if template == "strobe" else "level"))}
    width = TEMPLATES[template] * (2 if bits == 16 else 1)
    f["universe"], f["address"] = _placement(src, key, d, default_universe, width)
    _pipeline(src, key, d, f)
    if "palette" in d:
        f["palette"] = _palette(src, f"{key}.palette", d["palette"])
    if "hold_ms" in d:
        f["hold_ms"] = float(_num(src, f"{key}.hold_ms", d["hold_ms"], 1, 10000))
    for k in ("on", "off"):
        if k in d:
            f[k] = int(_num(src, f"{key}.{k}", d[k], 0, 255, integer=True))
    if "cycle_beats" in d:
        f["cycle_beats"] = float(_num(src, f"{key}.cycle_beats", d["cycle_beats"], 0.25, 256))
    for k in ("pan", "tilt"):
        if k in d:
            lo, hi = _pair(src, f"{key}.{k}", d[k])
            for i, x in enumerate((lo, hi)):
                _num(src, f"{key}.{k}[{i}]", x, 0, 1)
            f[k] = (lo, hi)
    return Fixture(**f)


def parse_channel(src, key, d, default_universe) -> Channel:
    _check_keys(src, key, d, CHANNEL_KEYS)
    bits = _bits(src, key, d)
    universe, address = _placement(src, key, d, default_universe, 2 if bits == 16 else 1)
    full = 65535.0 if bits == 16 else 255.0
    c = {"universe": universe, "address": address, "bits": bits, "out": (0.0, full),
         "name": str(d.get("name", f"channel {address}"))}
    if ("field" in d) == ("value" in d):
        raise _err(src, key, "needs exactly one of field (follow a feature) or value (a constant)")
    if "value" in d:
        c["value"] = int(_num(src, f"{key}.value", d["value"], 0, full, integer=True))
        c["field"] = None
        return Channel(**c)
    c["field"] = _field(src, f"{key}.field", d["field"])
    _pipeline(src, key, d, c)
    if "out" in d:
        c["out"] = _pair(src, f"{key}.out", d["out"])
        for i, x in enumerate(c["out"]):
            _num(src, f"{key}.out[{i}]", x, 0, full)
    return Channel(**c)


def parse_target(src, key, d, priority) -> DmxTarget:
    _check_keys(src, key, d, TARGET_KEYS)
    if "protocol" not in d:
        raise _err(src, f"{key}.protocol", f"is required (one of {', '.join(PROTOCOLS)})")
    protocol = _choice(src, f"{key}.protocol", d["protocol"], PROTOCOLS)
    lo, hi = UNIVERSE_RANGE[protocol]
    t = {"protocol": protocol,
         "universe": int(_num(src, f"{key}.universe", d.get("universe", lo or 1), lo, hi, integer=True)),
         "priority": int(_num(src, f"{key}.priority", d.get("priority", priority), 0, 200, integer=True))}
    for k in ("host", "bind"):
        if k in d:
            if not isinstance(d[k], str):
                raise _err(src, f"{key}.{k}", f"{d[k]!r} must be an address")
            t[k] = d[k]
    if protocol == "artnet" and not t.get("host"):
        raise _err(src, f"{key}.host", "is required for artnet (a node's address, or x.x.x.255 to broadcast)")
    if "ttl" in d:
        t["ttl"] = int(_num(src, f"{key}.ttl", d["ttl"], 0, 255, integer=True))
    return DmxTarget(**t)


def _check_overlaps(src, items):
    used: dict = {}
    for key, item in items:
        for ch in range(item.address, item.address + item.width):
            other = used.get((item.universe, ch))
            if other is not None:
                raise _err(src, f"{key}.address", f"channel {ch} of universe {item.universe} is already used by {other}")
            used[(item.universe, ch)] = key


def parse_map(doc: dict, src: str) -> FixtureMap:
    unknown = set(doc) - {"output", "target", "fixture", "channel"}
    if unknown:
        raise _err(src, sorted(unknown)[0], "unknown top-level key (expected [output], [[target]], [[fixture]], [[channel]])")
    out = doc.get("output", {})
    _check_keys(src, "output", out, OUTPUT_KEYS)
    rate = float(_num(src, "output.rate_hz", out.get("rate_hz", 44.0), 1, 100))
    priority = int(_num(src, "output.priority", out.get("priority", 100), 0, 200, integer=True))
    universe = int(_num(src, "output.universe", out.get("universe", 1), 0, 63999, integer=True))
    for k in ("target", "fixture", "channel"):
        if not isinstance(doc.get(k, []), list):
            raise _err(src, k, f"must be an array of tables ([[{k}]])")
    targets = tuple(parse_target(src, f"target[{i}]", t, priority) for i, t in enumerate(doc.get("target", [])))
    fixtures = tuple(parse_fixture(src, f"fixture[{i}]", f, universe) for i, f in enumerate(doc.get("fixture", [])))
    channels = tuple(parse_channel(src, f"channel[{i}]", c, universe) for i, c in enumerate(doc.get("channel", [])))
    if not fixtures and not channels:
        raise _err(src, "fixture", "a map needs at least one [[fixture]] or [[channel]]")
    _check_overlaps(src, [*((f"fixture[{i}]", f) for i, f in enumerate(fixtures)),
                          *((f"channel[{i}]", c) for i, c in enumerate(channels))])
    return FixtureMap(src, rate, priority, targets, fixtures, channels)


def map_dir() -> Path:
    return resources.profiles_dir() / "dmx"


def map_names() -> list[str]:
    return sorted(p.stem for p in map_dir().glob("*.toml"))


def load_map(name_or_path: str) -> FixtureMap:
    """A shipped map by name (``wash``, ``bar`` …) or a TOML file path."""
    p = Path(name_or_path)
    if p.suffix != ".toml" and not p.exists():
        p = map_dir() / f"{name_or_path}.toml"
        if not p.exists():
            raise ConfigError(f"unknown DMX fixture map {name_or_path!r}; shipped: {', '.join(map_names())} "
                              "(or give a .toml file)")
    try:
        doc = tomllib.loads(config.read_text(p))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    return parse_map(doc, str(p))
