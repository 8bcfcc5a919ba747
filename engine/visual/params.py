"""Preset JSON parameter maps: validation, and the mapping from FeatureFrames to parameters.

A preset's JSON (schema in docs/presets/README.md) lists parameters; each maps one
FeatureFrame field (``source``) into ``min..max``. Per update, in this order:

1. read the source (absent field → the parameter's ``default``, never an error);
   counters (``*_count``) default to ``mode: "delta"``: the number of new events since the
   last update, so a renderer that skips analysis frames loses no event;
2. normalise from the ``in`` range (default: the field's range, see ``fields.py``) to 0..1,
   clipped, and shape with ``curve``;
3. scale to ``min..max``;
4. smooth with a one-pole filter on the audio clock (``smooth_ms``; ``release_ms`` for
   falling values, e.g. fast attack / slow release);
5. quantise to ``step`` (values are always ``min + k·step``);
6. hold: the output changes at most ``fps`` times per second of audio time.

Validation errors are :class:`~sonolux.errors.ConfigError` naming the file, the key path and
the bad value, e.g. ``presets/x.json: parameters[2] (gain).max: 'big' must be a number``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..config import did_you_mean
from ..errors import ConfigError
from . import fields as F

CURVES = ("linear", "sqrt", "square", "cube", "log", "exp", "smoothstep")
MODES = ("value", "delta")
TOP_KEYS = {"preset", "version", "description", "module", "class", "parameters", "options", "author"}
PARAM_KEYS = {"name", "source", "min", "max", "step", "fps", "FPS", "default", "smooth_ms",
              "release_ms", "curve", "in", "mode", "size", "description"}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SRC_RE = re.compile(r"^([a-z][a-z0-9_]*)(?:\[(\d+)\]|\.(.+))?$")


@dataclass(frozen=True)
class ParamSpec:
    """One validated parameter of a preset's JSON map."""

    name: str
    min: float
    max: float
    default: float
    step: float = 0.0
    fps: float | None = None
    source: str | None = None
    field: str | None = None  # frame field the source reads
    index: int | None = None  # element of a vector field
    size: int | None = None  # vector parameter length (vector source without index)
    in_range: tuple[float, float] = (0.0, 1.0)
    curve: str | float = "linear"  # a name from CURVES or a gamma exponent
    mode: str = "value"
    smooth_ms: float = 0.0
    release_ms: float | None = None

    @property
    def is_vector(self) -> bool:
        return self.size is not None

    def quantise(self, v):
        """``v`` on the ``min + k·step`` grid, clipped to min..max (works on arrays too)."""
        if self.step > 0:  # the grid min + k·step, k = 0 .. the last one not above max
            k_max = math.floor((self.max - self.min) / self.step + 1e-9)
            k = np.clip(np.round((np.asarray(v, dtype=np.float64) - self.min) / self.step), 0, k_max)
            v = self.min + k * self.step
        else:
            v = np.clip(v, self.min, self.max)
        return float(v) if np.ndim(v) == 0 else v


@dataclass
class PresetConfig:
    """A validated preset JSON file."""

    name: str
    path: Path | None
    params: list[ParamSpec]
    version: int = 1
    description: str = ""
    module: str | None = None
    cls: str | None = None
    options: dict = field(default_factory=dict)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


class _Where:
    def __init__(self, path):
        self.path = str(path) if path is not None else "<preset json>"

    def fail(self, key: str, msg: str):
        raise ConfigError(f"{self.path}: {key}: {msg}")


def _number(w: _Where, key: str, v, *, positive=False, nonneg=False) -> float:
    return config.number(v, f"{w.path}: {key}", positive=positive, lo=0 if nonneg else None,
                         error=ConfigError)


def _suggest(name: str, choices) -> str:
    return did_you_mean(name, choices)


def parse_source(w: _Where, key: str, src) -> tuple[str, int | None, bool]:
    """``level`` | ``mel_db`` | ``latent[3]`` | ``tags.guitar`` → (field, index, is_vector)."""
    if not isinstance(src, str):
        w.fail(key, f"{src!r} must be a FeatureFrame field name (a string)")
    m = _SRC_RE.match(src)
    if not m:
        w.fail(key, f"{src!r} is not a field name like 'level', 'mel_db', 'latent[3]' or 'tags.guitar'")
    name, idx, tag = m.group(1), m.group(2), m.group(3)
    if name in F.SCALARS:
        if idx is not None or tag is not None:
            w.fail(key, f"{src!r}: {name!r} is a scalar field and takes no index")
        return name, None, False
    if name in F.VECTORS:
        size = F.VECTORS[name][1]
        if tag is not None:
            if name != "tags" or tag not in F.TAG_NAMES:
                w.fail(key, f"{src!r}: unknown tag {tag!r}" + _suggest(tag, F.TAG_NAMES))
            return name, F.TAG_NAMES.index(tag), False
        if idx is not None:
            i = int(idx)
            if i >= size and name != "mel_db" and name != "wavelet_energy":
                w.fail(key, f"{src!r}: index {i} is out of range for {name!r} (size {size})")
            return name, i, False
        return name, None, True
    w.fail(key, f"{src!r} is not a FeatureFrame field" + _suggest(name, F.all_field_names()))


def validate_param(w: _Where, i: int, d) -> ParamSpec:
    base = f"parameters[{i}]"
    if not isinstance(d, dict):
        w.fail(base, f"{d!r} must be an object with name, min, max, ...")
    name = d.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        w.fail(f"{base}.name", f"{name!r} must be a snake_case name like 'hue_shift'")
    base = f"{base} ({name})"
    for k in d:
        if k not in PARAM_KEYS:
            w.fail(f"{base}.{k}", "unknown key" + _suggest(k, PARAM_KEYS))
    for k in ("min", "max"):
        if k not in d:
            w.fail(f"{base}.{k}", "missing (every parameter needs min and max)")
    lo, hi = _number(w, f"{base}.min", d["min"]), _number(w, f"{base}.max", d["max"])
    if not hi > lo:
        w.fail(f"{base}.max", f"{d['max']!r} must be greater than min={d['min']!r}")
    step = _number(w, f"{base}.step", d.get("step", 0.0), nonneg=True)
    if step > hi - lo:
        w.fail(f"{base}.step", f"{d['step']!r} is larger than max - min = {hi - lo:g}")
    if "fps" in d and "FPS" in d:
        w.fail(f"{base}.FPS", "give either fps or FPS, not both")
    fps = d.get("fps", d.get("FPS"))
    if fps is not None:
        fps = _number(w, f"{base}.{'fps' if 'fps' in d else 'FPS'}", fps, positive=True)
    default = _number(w, f"{base}.default", d.get("default", lo))
    if not lo <= default <= hi:
        w.fail(f"{base}.default", f"{default!r} is outside min..max = {lo:g}..{hi:g}")
    smooth = _number(w, f"{base}.smooth_ms", d.get("smooth_ms", 0.0), nonneg=True)
    release = d.get("release_ms")
    if release is not None:
        release = _number(w, f"{base}.release_ms", release, nonneg=True)
    curve = d.get("curve", "linear")
    if isinstance(curve, (int, float)) and not isinstance(curve, bool):
        curve = _number(w, f"{base}.curve", curve, positive=True)
    elif curve not in CURVES:
        w.fail(f"{base}.curve", f"{curve!r} must be one of {', '.join(CURVES)} or a gamma exponent > 0")

    src = d.get("source")
    fld = index = size = None
    in_range = (0.0, 1.0)
    mode = "value"
    if src is not None:
        fld, index, is_vec = parse_source(w, f"{base}.source", src)
        in_range = F.VECTORS[fld][0] if fld in F.VECTORS else F.SCALARS[fld]
        if is_vec:
            size = d.get("size", F.VECTORS[fld][1])
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 4096:
                w.fail(f"{base}.size", f"{size!r} must be an integer 1..4096")
        elif "size" in d:
            w.fail(f"{base}.size", f"only a whole vector source takes a size (source is {src!r})")
        mode = d.get("mode", "delta" if fld in F.COUNTERS else "value")
        if mode not in MODES:
            w.fail(f"{base}.mode", f"{mode!r} must be one of {', '.join(MODES)}")
        if mode == "delta" and (fld in F.VECTORS):
            w.fail(f"{base}.mode", f"'delta' needs a scalar counter source, not {src!r}")
    else:
        for k in ("in", "mode", "size"):
            if k in d:
                w.fail(f"{base}.{k}", "only meaningful with a source")
    if "in" in d:
        r = d["in"]
        if not isinstance(r, list) or len(r) != 2:
            w.fail(f"{base}.in", f"{r!r} must be [low, high]")
        a, b = _number(w, f"{base}.in[0]", r[0]), _number(w, f"{base}.in[1]", r[1])
        if a == b:
            w.fail(f"{base}.in", f"{r!r} must span a non-empty range")
        in_range = (a, b)
    return ParamSpec(name=name, min=lo, max=hi, default=default, step=step, fps=fps, source=src,
                     field=fld, index=index, size=size, in_range=in_range, curve=curve, mode=mode,
                     smooth_ms=smooth, release_ms=release)


def validate_config(doc, path=None) -> PresetConfig:
    w = _Where(path)
    if not isinstance(doc, dict):
        w.fail("(top level)", "must be a JSON object with 'preset' and 'parameters'")
    for k in doc:
        if k not in TOP_KEYS:
            w.fail(k, "unknown key" + _suggest(k, TOP_KEYS))
    name = doc.get("preset")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        w.fail("preset", f"{name!r} must be a snake_case preset name")
    version = doc.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        w.fail("version", f"{version!r} must be a positive integer")
    params = doc.get("parameters")
    if not isinstance(params, list):
        w.fail("parameters", f"{params!r} must be a list of parameter objects")
    specs = [validate_param(w, i, p) for i, p in enumerate(params)]
    seen = set()
    for i, s in enumerate(specs):
        if s.name in seen:
            w.fail(f"parameters[{i}].name", f"{s.name!r} is defined twice")
        seen.add(s.name)
    for k in ("description", "module", "class"):
        if k in doc and not isinstance(doc[k], str):
            w.fail(k, f"{doc[k]!r} must be a string")
    options = doc.get("options", {})
    if not isinstance(options, dict):
        w.fail("options", f"{options!r} must be an object")
    return PresetConfig(name=name, path=Path(path) if path else None, params=specs, version=version,
                        description=doc.get("description", ""), module=doc.get("module"),
                        cls=doc.get("class"), options=dict(options))


def load_config(path) -> PresetConfig:
    """Read and validate a preset JSON file."""
    p = Path(path)
    text = config.read_text(p)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    return validate_config(doc, p)


# ----------------------------------------------------------------------------- runtime


def _curve(c, x):
    if c == "linear":
        return x
    if c == "sqrt":
        return np.sqrt(x)
    if c == "square":
        return x * x
    if c == "cube":
        return x * x * x
    if c == "log":  # fast rise, like a level meter
        return np.log1p(9.0 * x) / math.log(10.0)
    if c == "exp":  # slow rise, then fast
        return (np.power(10.0, x) - 1.0) / 9.0
    if c == "smoothstep":
        return x * x * (3.0 - 2.0 * x)
    return np.power(x, c)


class Params:
    """Current parameter values of one preset: ``params.gain`` or ``params["gain"]``
    (floats; vector parameters are float32 arrays updated in place)."""

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"preset has no parameter {name!r}") from None

    def __getitem__(self, name):
        return self._values[name]

    def __contains__(self, name):
        return name in self._values

    def as_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self._values.items()}


class _Param:
    __slots__ = ("spec", "state", "value", "last_emit", "prev_raw", "pending", "_src_idx", "_grid")

    def __init__(self, spec: ParamSpec):
        self.spec = spec
        self.reset()

    def reset(self):
        s = self.spec
        if s.is_vector:
            self.state = np.full(s.size, s.default, dtype=np.float64)
            self.value = np.full(s.size, s.quantise(s.default), dtype=np.float32)
        else:
            self.state = s.default
            self.value = s.quantise(s.default)
        self.last_emit = -math.inf
        self.prev_raw = None
        self.pending = 0.0
        self._src_idx = None
        self._grid = None

    def _read(self, frame):
        s = self.spec
        if frame is None or s.field is None:
            return None
        if s.field == "t":
            return frame.t
        if s.field not in frame:
            return None
        v = frame[s.field]
        if s.index is not None:
            if s.index >= v.shape[0]:
                return None
            return float(v[s.index])
        if s.is_vector:
            n = v.shape[0]
            if n == s.size:
                return v.astype(np.float64)
            if n == 0:
                return None
            if self._grid is None or self._grid[0] != n:  # resample: mean over equal slices
                edges = np.linspace(0, n, s.size + 1)
                self._grid = (n, edges)
            edges = self._grid[1]
            cs = np.concatenate(([0.0], np.cumsum(v, dtype=np.float64)))
            xs = np.interp(edges, np.arange(n + 1), cs)
            return np.diff(xs) / np.maximum(np.diff(edges), 1e-9)
        return v

    def update(self, frame, t: float, dt: float):
        s = self.spec
        raw = self._read(frame)
        if raw is None:
            target = s.default
        else:
            if s.mode == "delta":
                prev = self.prev_raw
                self.prev_raw = raw
                x = 0.0 if prev is None or raw < prev else raw - prev
                self.pending += x
                x = self.pending
            else:
                x = raw
            a, b = s.in_range
            n = np.clip((np.asarray(x, dtype=np.float64) - a) / (b - a), 0.0, 1.0)
            target = s.min + (s.max - s.min) * _curve(s.curve, n)
        # smoothing on the audio clock
        if s.smooth_ms > 0 or s.release_ms:
            if s.is_vector:
                tau = np.where(target < self.state, (s.release_ms if s.release_ms is not None else s.smooth_ms),
                               s.smooth_ms) * 1e-3
                k = np.where(tau > 0, 1.0 - np.exp(-dt / np.maximum(tau, 1e-9)), 1.0)
                self.state = self.state + k * (target - self.state)
            else:
                tau = (s.release_ms if (s.release_ms is not None and target < self.state) else s.smooth_ms) * 1e-3
                k = 1.0 - math.exp(-dt / tau) if tau > 0 else 1.0
                self.state = float(self.state + k * (float(target) - self.state))
        else:
            self.state = target if s.is_vector else float(target)
        # rate limit on the audio clock, then quantise
        if s.fps is not None and t - self.last_emit < 1.0 / s.fps - 1e-9:
            return
        self.last_emit = t
        self.pending = 0.0
        q = s.quantise(self.state)
        if s.is_vector:
            self.value[:] = q
        else:
            self.value = q


class ParamMapper:
    """Turns FeatureFrames into a preset's parameter values, one update per rendered frame.

    ``update(frame, t)`` takes the audio-clock time ``t`` of the frame being shown (default
    ``frame.t``); time going backwards (a loop, a new file) resets the smoothing and holds.
    """

    def __init__(self, config: PresetConfig):
        self.config = config
        self._params = [_Param(s) for s in config.params]
        self._values = {p.spec.name: p.value for p in self._params}
        self.params = Params(self._values)
        self.t = None

    def reset(self):
        for p in self._params:
            p.reset()
        self._refresh()
        self.t = None

    def _refresh(self):
        for p in self._params:
            self._values[p.spec.name] = p.value

    def update(self, frame, t: float | None = None) -> Params:
        if t is None:
            t = frame.t if frame is not None else 0.0
        if self.t is not None and t < self.t - 1e-9:
            self.reset()
        dt = 0.0 if self.t is None else min(max(t - self.t, 0.0), 1.0)
        self.t = t
        for p in self._params:
            p.update(frame, t, dt)
            if not p.spec.is_vector:
                self._values[p.spec.name] = p.value
        return self.params
