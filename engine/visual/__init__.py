"""Visuals: Vispy presets driven by FeatureFrames (see docs/presets/README.md).

* :mod:`.preset` — the :class:`Preset` base class (``init`` / ``update(dt, params, frame)`` / ``draw``);
* :mod:`.params` — preset JSON validation and the frame → parameter mapping
  (min / max / step / fps / smoothing / curve);
* :mod:`.registry` — discovery (``presets/``, ``--presets DIR``, entry points) and hot reload;
* :mod:`.host` — the show: active preset, crossfades, blackout, HUD, fallback on errors;
* :mod:`.window` / :mod:`.offscreen` — a window (GUI thread, ``app.Timer``) or OSMesa / EGL;
* :mod:`.render` — ``sonolux render``: frame-exact video with the audio muxed in;
* :mod:`.playlist` — presets per mood, switched on quadrant / region changes.

Importing this package does not import Vispy: the GL backend is chosen first (:mod:`.gl`).
"""
from .params import ParamMapper, Params, ParamSpec, PresetConfig, load_config, validate_config
from .preset import Preset

__all__ = ["ParamMapper", "ParamSpec", "Params", "Preset", "PresetConfig", "load_config", "validate_config"]
