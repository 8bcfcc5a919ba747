"""OSC mappings and targets: what to send where, loaded from TOML profiles.

A profile is one TOML file: a ``[target]`` table (transport, port, bundles, delay, rate
defaults) and a list of ``[[map]]`` entries, each turning one FeatureFrame field into one
OSC address. Shipped profiles live in ``engine/profiles/``; ``sonolux osc profiles --show
NAME`` prints one so a user can copy and edit it. Every validation error names the file,
the key and the bad value.

Value pipeline per mapping: source value → clip to ``range`` → normalise to 0..1 →
``curve`` → scale to ``out`` → cast to ``type``. The on-change ``threshold`` is measured on
the normalised 0..1 value, so it means the same whatever the output scale.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .. import config, resources
from ..errors import ConfigError
from ..visual.fields import all_field_names

PROFILE_DIR = resources.profiles_dir()
TYPES = ("float", "int", "bool", "string", "none")
TRIGGERS = ("pulse", "single")
TRANSPORTS = ("udp", "tcp")
FRAMINGS = ("len", "slip")
CURVES = ("linear", "square", "sqrt", "smoothstep")
# "level", "mel_db[3]" (index) or "tags[no vocals]" (entry by label)
_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[([A-Za-z0-9_ ]+)\])?$")


def osc_safe(label: str) -> str:
    """A label as an OSC address part: spaces and reserved characters become '_'."""
    return re.sub(r"[\s#*,/?\[\]{}]", "_", label)


def apply_curve(curve, u: float) -> float:
    if curve == "linear":
        return u
    if curve == "square":
        return u * u
    if curve == "sqrt":
        return math.sqrt(u)
    if curve == "smoothstep":
        return u * u * (3.0 - 2.0 * u)
    return u ** curve  # a gamma number


@dataclass(frozen=True)
class Mapping:
    """One frame field → one OSC address (see the module docstring for the pipeline).

    ``field`` may index a vector: ``mel_db[3]``. For event fields (``onset``, ``beat``, …,
    i.e. fields with a ``<name>_count`` counter) ``trigger`` says what to send per event:
    "pulse" = ``on`` then ``off`` after ``hold_ms``; "single" = ``on`` only.
    ``address`` may hold ``{value}`` (with a format spec, e.g. ``{value:.0f}``) for consoles
    that take the value in the address (Eos command lines); use ``type = "none"`` then.
    ``labels`` turns an integer value into a name: with ``type = "string"`` the name is
    sent, with ``type = "int"`` the number and the name (two arguments).
    """

    field: str
    address: str
    type: str = "float"
    range: tuple = (0.0, 1.0)
    out: tuple = (0.0, 1.0)
    curve: object = "linear"
    threshold: float = 0.01
    max_rate_hz: float = 44.0
    trigger: str = "pulse"
    hold_ms: float = 0.0
    on: float = 1.0
    off: float = 0.0
    labels: tuple = ()
    valid: tuple | None = None  # raw values outside [lo, hi] are not sent (e.g. BPM before lock)
    top_k: int = 0  # vector fields: send the k largest entries to address "{label}"
    label_field: str | None = None  # take the label from this field's value instead

    @property
    def field_name(self) -> str:
        return _FIELD_RE.match(self.field).group(1)

    @property
    def field_index(self):
        """None, an int index, or a label (str) to look up in the layout's labels."""
        idx = _FIELD_RE.match(self.field).group(2)
        return None if idx is None else int(idx) if idx.isdigit() else idx

    @property
    def rest(self) -> float:
        """The normalised value sent in blackout: 0 on the source scale when the range spans
        it (valence/arousal: neutral), else the bottom of the range."""
        lo, hi = self.range
        return self.normalise(0.0) if min(lo, hi) < 0.0 < max(lo, hi) else 0.0

    def normalise(self, value: float) -> float:
        lo, hi = self.range
        if not math.isfinite(value):
            return 0.0
        u = (value - lo) / (hi - lo)
        return 0.0 if u < 0.0 else 1.0 if u > 1.0 else u

    def output(self, u: float, raw: float, label_raw: float | None = None):
        """The OSC argument for normalised value ``u`` (``raw`` is the unclipped source;
        ``label_raw`` the ``label_field``'s value, when set)."""
        lo, hi = self.out
        v = lo + apply_curve(self.curve, u) * (hi - lo)
        if self.type == "float":
            return float(v)
        if self.type == "int":
            if self.labels:  # the number and its name, e.g. 3 "sad"
                i = int(round(v))
                j = i if label_raw is None else int(round(label_raw))
                return (i, self.labels[j] if 0 <= j < len(self.labels) else str(j))
            return int(round(v))
        if self.type == "bool":
            return u >= 0.5
        if self.type == "string":
            if self.labels:
                i = int(round(raw))
                return self.labels[i] if 0 <= i < len(self.labels) else str(i)
            return f"{v:g}"
        return None  # "none": the value travels in the address

    def event_output(self, on: bool):
        v = self.on if on else self.off
        if self.type == "int":
            return int(round(v))
        if self.type == "bool":
            return bool(on)
        if self.type == "string":
            return f"{v:g}"
        if self.type == "none":
            return None
        return float(v)

    def format_address(self, value, label: str = "") -> str:
        if "{" not in self.address:
            return self.address
        return self.address.format(value=value, label=osc_safe(label))


@dataclass(frozen=True)
class TargetConfig:
    """Where and how to send: transport, framing, bundling, delay, and the mappings."""

    host: str = "127.0.0.1"
    port: int = 9000
    transport: str = "udp"
    framing: str = "len"
    bundle: bool = False
    delay_ms: float = 0.0
    ttl: int = 1  # multicast hops
    status: bool = False  # send /sonolux/status once a second (engine health)
    maps: tuple = ()
    profile: str = "sonolux"

    @property
    def label(self) -> str:
        return f"{self.transport}://{self.host}:{self.port} ({self.profile})"


# -- validation ------------------------------------------------------------------------

def _err(src, key, msg):
    return ConfigError(f"{src}: {key}: {msg}")


def _num(src, key, v, lo=None, hi=None, integer=False):
    return config.number(v, f"{src}: {key}", lo=lo, hi=hi, integer=integer, error=ConfigError)


def _choice(src, key, v, choices):
    return config.choice(v, f"{src}: {key}", choices, error=ConfigError)


def _pair(src, key, v):
    return config.pair(v, f"{src}: {key}", error=ConfigError)


#: every field a mapping may read (the engine's frame fields; "onset" etc. are events too)
KNOWN_FIELDS = frozenset(all_field_names())

MAP_KEYS = {"field", "address", "type", "range", "out", "curve", "threshold", "max_rate_hz",
            "trigger", "hold_ms", "on", "off", "labels", "valid", "top_k", "label_field"}
TARGET_KEYS = {"host", "port", "transport", "framing", "bundle", "delay_ms", "ttl",
               "max_rate_hz", "threshold", "description", "status"}


def parse_mapping(src: str, key: str, d: dict, defaults: dict) -> Mapping:
    if not isinstance(d, dict):
        raise _err(src, key, f"{d!r} must be a table")
    unknown = set(d) - MAP_KEYS
    if unknown:
        raise _err(src, f"{key}.{sorted(unknown)[0]}", f"unknown key (known: {', '.join(sorted(MAP_KEYS))})")
    for req in ("field", "address"):
        if req not in d:
            raise _err(src, f"{key}.{req}", "is required")
    fld, addr = d["field"], d["address"]
    if not isinstance(fld, str) or not _FIELD_RE.match(fld):
        raise _err(src, f"{key}.field", f"{fld!r} must be a field name like 'level' or 'mel_db[3]'")
    name = _FIELD_RE.match(fld).group(1)
    if name not in KNOWN_FIELDS:
        raise _err(src, f"{key}.field", f"{fld!r}: no FeatureFrame field {name!r}"
                   + config.did_you_mean(name, KNOWN_FIELDS) + " (`sonolux osc addresses` lists them)")
    if not isinstance(addr, str) or not addr.startswith("/") or " " in addr:
        raise _err(src, f"{key}.address", f"{addr!r} must start with '/' and contain no spaces")
    try:
        addr.format(value=0.0, label="x")
    except (KeyError, IndexError, ValueError) as e:
        raise _err(src, f"{key}.address", f"{addr!r} is not a valid template ({e}); only {{value}} and {{label}} may be used") from None
    m = {"field": fld, "address": addr}
    if "type" in d:
        m["type"] = _choice(src, f"{key}.type", d["type"], TYPES)
    for k in ("range", "out", "valid"):
        if k in d:
            m[k] = _pair(src, f"{key}.{k}", d[k])
    if "range" in m and m["range"][0] == m["range"][1]:
        raise _err(src, f"{key}.range", f"{list(m['range'])} must not be empty")
    if "curve" in d:
        c = d["curve"]
        m["curve"] = float(_num(src, f"{key}.curve", c, 0.05, 20)) if not isinstance(c, str) else _choice(src, f"{key}.curve", c, CURVES)
    m["threshold"] = float(_num(src, f"{key}.threshold", d.get("threshold", defaults.get("threshold", 0.01)), 0, 1))
    m["max_rate_hz"] = float(_num(src, f"{key}.max_rate_hz", d.get("max_rate_hz", defaults.get("max_rate_hz", 44.0)), 0.01, 1000))
    if "trigger" in d:
        m["trigger"] = _choice(src, f"{key}.trigger", d["trigger"], TRIGGERS)
    for k in ("hold_ms", "on", "off"):
        if k in d:
            m[k] = float(_num(src, f"{key}.{k}", d[k], 0 if k == "hold_ms" else None, 60000 if k == "hold_ms" else None))
    if "label_field" in d:
        if not isinstance(d["label_field"], str) or not _FIELD_RE.match(d["label_field"]):
            raise _err(src, f"{key}.label_field", f"{d['label_field']!r} must be a field name")
        if "labels" not in d:
            raise _err(src, f"{key}.label_field", "needs labels")
        m["label_field"] = d["label_field"]
    if "top_k" in d:
        m["top_k"] = int(_num(src, f"{key}.top_k", d["top_k"], 1, 100, integer=True))
        if "{label}" not in addr:
            raise _err(src, f"{key}.address", f"{addr!r} must contain {{label}} when top_k is set")
    if "labels" in d:
        if not isinstance(d["labels"], list) or not all(isinstance(x, str) for x in d["labels"]):
            raise _err(src, f"{key}.labels", f"{d['labels']!r} must be a list of strings")
        m["labels"] = tuple(d["labels"])
    return Mapping(**m)


def parse_profile(doc: dict, src: str) -> TargetConfig:
    unknown = set(doc) - {"target", "map"}
    if unknown:
        raise _err(src, sorted(unknown)[0], "unknown top-level key (expected [target] and [[map]])")
    t = doc.get("target", {})
    if not isinstance(t, dict):
        raise _err(src, "target", "must be a table")
    unknown = set(t) - TARGET_KEYS
    if unknown:
        raise _err(src, f"target.{sorted(unknown)[0]}", f"unknown key (known: {', '.join(sorted(TARGET_KEYS))})")
    cfg = {}
    if "host" in t:
        cfg["host"] = config.string(t["host"], f"{src}: target.host", error=ConfigError)
    if "port" in t:
        cfg["port"] = int(_num(src, "target.port", t["port"], 1, 65535, integer=True))
    if "transport" in t:
        cfg["transport"] = _choice(src, "target.transport", t["transport"], TRANSPORTS)
    if "framing" in t:
        cfg["framing"] = _choice(src, "target.framing", t["framing"], FRAMINGS)
    for key in ("bundle", "status"):
        if key in t:
            cfg[key] = config.boolean(t[key], f"{src}: target.{key}", error=ConfigError)
    if "delay_ms" in t:
        cfg["delay_ms"] = float(_num(src, "target.delay_ms", t["delay_ms"], 0, 10000))
    if "ttl" in t:
        cfg["ttl"] = int(_num(src, "target.ttl", t["ttl"], 0, 255, integer=True))
    maps = doc.get("map", [])
    if not isinstance(maps, list) or not maps:
        raise _err(src, "map", "a profile needs at least one [[map]] entry")
    defaults = {k: t[k] for k in ("threshold", "max_rate_hz") if k in t}
    cfg["maps"] = tuple(parse_mapping(src, f"map[{i}]", m, defaults) for i, m in enumerate(maps))
    cfg["profile"] = Path(src).stem
    return TargetConfig(**cfg)


def load_profile(name_or_path: str) -> TargetConfig:
    """A shipped profile by name (``eos``, ``grandma3`` …) or a TOML file path."""
    p = Path(name_or_path)
    if p.suffix != ".toml" and not p.exists():
        p = PROFILE_DIR / f"{name_or_path}.toml"
        if not p.exists():
            raise ConfigError(f"unknown OSC profile {name_or_path!r}; available: {', '.join(profile_names())} "
                              "(or give a .toml file)")
    text = config.read_text(p)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    return parse_profile(doc, str(p))


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def profile_description(name: str) -> str:
    doc = tomllib.loads((PROFILE_DIR / f"{name}.toml").read_text())
    return doc.get("target", {}).get("description", "")


def with_overrides(cfg: TargetConfig, *, host=None, port=None, threshold=None, max_rate_hz=None,
                   bundle=None, delay_ms=None) -> TargetConfig:
    """The profile aimed at ``host:port`` and with CLI-level overrides applied."""
    maps = cfg.maps
    if threshold is not None or max_rate_hz is not None:
        maps = tuple(replace(m, **({"threshold": threshold} if threshold is not None else {}),
                             **({"max_rate_hz": max_rate_hz} if max_rate_hz is not None else {}))
                     for m in maps)
    changes = {k: v for k, v in dict(host=host, port=port, bundle=bundle, delay_ms=delay_ms).items()
               if v is not None}
    return replace(cfg, maps=maps, **changes)
