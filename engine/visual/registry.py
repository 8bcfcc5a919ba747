"""Preset discovery: the shipped presets (``sonolux.presets``), ``--presets DIR`` folders, and the
``sonolux.presets`` entry-point group; with hot reload of changed JSON and Python files.

A preset on disk is ``NAME.json`` (its parameter map, validated) plus the Python module named
by the JSON's ``module`` key (default: the JSON's own stem, ``NAME.py``) holding a
:class:`~sonolux.visual.preset.Preset` subclass (the JSON's ``class`` key picks one when the
module defines several). Files without a ``"preset"`` key (e.g. ``playlist.json``) are skipped.

An entry point in group ``sonolux.presets`` resolves to a Preset subclass; its JSON is the
class attribute ``json_path`` or ``<module file stem>.json`` beside the module, e.g. in a
third-party ``pyproject.toml``::

    [project.entry-points."sonolux.presets"]
    my_tunnel = "my_pkg.tunnel:Tunnel"
"""
from __future__ import annotations

import importlib.util
import inspect
import itertools
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import resources
from ..errors import ConfigError
from .fallback import FALLBACK_JSON, FallbackPreset
from .params import PresetConfig, load_config, validate_config
from .preset import Preset

log = logging.getLogger("sonolux.visual")

ENTRY_POINT_GROUP = "sonolux.presets"
_counter = itertools.count()


def default_presets_dir() -> Path:
    """``$SONOLUX_PRESETS``, else the presets shipped in the package (``sonolux.presets``)."""
    env = os.environ.get("SONOLUX_PRESETS")
    if env:
        return Path(env)
    return resources.presets_dir()


@dataclass
class PresetEntry:
    """A discovered preset: its validated config and where its code comes from."""

    name: str
    config: PresetConfig
    json_path: Path | None
    module_path: Path | None = None  # a file-based preset
    cls: type | None = None  # an entry-point (or built-in) preset class
    origin: str = ""
    mtimes: dict = field(default_factory=dict)

    def files(self) -> list[Path]:
        return [p for p in (self.json_path, self.module_path) if p is not None]

    def stamp(self) -> dict:
        out = {}
        for p in self.files():
            try:
                out[p] = p.stat().st_mtime_ns
            except OSError:
                out[p] = None
        return out


def fallback_entry() -> PresetEntry:
    """The built-in fallback preset (see :mod:`sonolux.visual.fallback`)."""
    cfg = validate_config(FALLBACK_JSON, None)
    return PresetEntry("fallback", cfg, None, cls=FallbackPreset, origin="built-in")


def _pick_class(module, wanted: str | None, where: str) -> type:
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, Preset) and not c.abstract and c.__module__ == module.__name__]
    if wanted:
        for c in classes:
            if c.__name__ == wanted:
                return c
        raise ConfigError(f"{where}: class: {wanted!r} is not a Preset subclass in the module "
                          f"(found: {', '.join(c.__name__ for c in classes) or 'none'})")
    if len(classes) != 1:
        raise ConfigError(f"{where}: module defines {len(classes)} Preset subclasses "
                          f"({', '.join(c.__name__ for c in classes)}); name one with the 'class' key")
    return classes[0]


def load_module(path: Path):
    """Import a preset module from a file, fresh each time (hot reload)."""
    name = f"sonolux_preset_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot import")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception:
        sys.modules.pop(name, None)
        raise
    return mod


class PresetRegistry:
    """Presets by name. Later sources override earlier ones: the built-in fallback, then
    ``presets/``, then entry points, then each ``--presets DIR`` in order."""

    def __init__(self, dirs=(), *, default_dir: bool = True, entry_points: bool = True):
        self.dirs = ([default_presets_dir()] if default_dir else []) + [Path(d) for d in dirs]
        self.use_entry_points = entry_points
        self.entries: dict[str, PresetEntry] = {}
        self.errors: dict[str, str] = {}  # file or entry point -> message
        self._seen_bad: dict = {}
        self.scan()

    # --- discovery -------------------------------------------------------------------------
    def scan(self) -> None:
        self.entries = {}
        self.errors = {}
        fb = fallback_entry()
        self.entries[fb.name] = fb
        if self.use_entry_points:
            self._scan_entry_points()
        for d in self.dirs:
            if not d.is_dir():
                if d != default_presets_dir():
                    self.errors[str(d)] = f"{d}: presets folder does not exist"
                continue
            for jp in sorted(d.glob("*.json")):
                try:
                    e = self._entry_from_json(jp)
                except ConfigError as err:
                    self.errors[str(jp)] = str(err)
                    log.error("preset %s", err)
                    continue
                if e is not None:
                    self.entries[e.name] = e

    def _entry_from_json(self, jp: Path) -> PresetEntry | None:
        try:
            doc = json.loads(jp.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            doc = {"preset": None}  # let load_config report it with line/column
        except OSError as e:
            raise ConfigError(f"{jp}: cannot read ({e})") from None
        if isinstance(doc, dict) and "preset" not in doc:
            return None  # not a preset map (a playlist, say)
        cfg = load_config(jp)
        mod = jp.with_name(cfg.module) if cfg.module else jp.with_suffix(".py")
        if not mod.is_file():
            raise ConfigError(f"{jp}: module: {mod.name!r} not found beside the JSON")
        e = PresetEntry(cfg.name, cfg, jp, module_path=mod, origin=str(jp.parent))
        e.mtimes = e.stamp()
        return e

    def _scan_entry_points(self) -> None:
        from importlib.metadata import entry_points

        try:
            eps = entry_points(group=ENTRY_POINT_GROUP)
        except Exception as err:  # broken metadata must not stop the show
            self.errors[ENTRY_POINT_GROUP] = f"entry points: {err}"
            return
        for ep in eps:
            where = f"entry point {ep.name} = {ep.value}"
            try:
                cls = ep.load()
                if not (inspect.isclass(cls) and issubclass(cls, Preset)):
                    raise ConfigError(f"{where}: is not a Preset subclass")
                jp = getattr(cls, "json_path", None)
                if jp is None:
                    jp = Path(inspect.getfile(cls)).with_suffix(".json")
                cfg = load_config(jp)
                e = PresetEntry(cfg.name, cfg, Path(jp), cls=cls, origin=where)
                e.mtimes = e.stamp()
                self.entries[e.name] = e
            except Exception as err:
                self.errors[where] = str(err)
                log.error("preset %s: %s", where, err)

    # --- access ----------------------------------------------------------------------------
    def names(self, *, include_fallback: bool = False) -> list[str]:
        return [n for n in self.entries if include_fallback or n != "fallback"]

    def get(self, name: str) -> PresetEntry:
        try:
            return self.entries[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, self.entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"no preset named {name!r}; available: {', '.join(self.names())}{hint}") from None

    def preset_class(self, entry: PresetEntry) -> type:
        if entry.cls is not None and entry.module_path is None:
            return entry.cls
        mod = load_module(entry.module_path)
        return _pick_class(mod, entry.config.cls, str(entry.module_path))

    def create(self, name: str, size) -> Preset:
        """A new (not yet initialised) instance of preset ``name``."""
        e = self.get(name)
        return self.preset_class(e)(e.config, size)

    # --- hot reload ------------------------------------------------------------------------
    def changed(self) -> list[str]:
        """Re-read presets whose JSON or module changed on disk, and pick up new preset files
        in the folders; returns their names. A file that now fails validation keeps the old
        entry and is reported in ``errors``."""
        out = []
        known = {e.json_path for e in self.entries.values() if e.json_path is not None}
        for d in self.dirs:
            if not d.is_dir():
                continue
            for jp in d.glob("*.json"):
                if jp in known:
                    continue
                stamp = jp.stat().st_mtime_ns if jp.exists() else None
                if self._seen_bad.get(jp) == stamp:
                    continue  # a broken new file: report once per version
                try:
                    e = self._entry_from_json(jp)
                except ConfigError as err:
                    self._seen_bad[jp] = stamp
                    self.errors[str(jp)] = str(err)
                    log.error("preset %s", err)
                    continue
                if e is not None and e.name not in self.entries:
                    self.entries[e.name] = e
                    out.append(e.name)
                    log.info("preset %s: new in %s", e.name, d)
        for name, e in list(self.entries.items()):
            if not e.json_path:
                continue
            now = e.stamp()
            if now == e.mtimes:
                continue
            e.mtimes = now
            try:
                if e.module_path is not None:
                    ne = self._entry_from_json(e.json_path)
                    if ne is None:
                        continue
                else:
                    cfg = load_config(e.json_path)
                    ne = PresetEntry(cfg.name, cfg, e.json_path, cls=e.cls, origin=e.origin)
                    ne.mtimes = now
            except ConfigError as err:
                self.errors[str(e.json_path)] = str(err)
                log.error("preset reload: %s", err)
                continue
            self.errors.pop(str(e.json_path), None)
            if ne.name != name:
                self.entries.pop(name, None)
            self.entries[ne.name] = ne
            out.append(ne.name)
        return out
