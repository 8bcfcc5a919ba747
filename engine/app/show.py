"""The show file: one TOML file holds a whole set-up, so a show is one command.

``sonolux show init show.toml`` writes a commented one; ``sonolux run --show show.toml``
runs it (a file that does not exist yet is started from the template and this run's options,
and written on the first save). Every key maps onto a ``run`` option (the table below), and an option given on the
command line wins over the file. Errors name the file, the key and the value::

    show.toml: analysis.bpm_range: 180..70 must have low < high

Changes made live (OSC control, the web panel) are recorded into the same document and
saved with ``/sonolux/show/save`` (or the panel's button): atomically (a temporary file
renamed over the old one) and keeping the previous file as ``show.toml.bak``. Comments and
layout survive the round trip (tomlkit).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .. import config
from ..errors import ConfigError
from ..outputs.rig_options import SHOW_KEYS as RIG_SECTIONS

_ERR = {"error": ConfigError}


def _num(**kw):
    return lambda v, where: config.number(v, where, error=ConfigError, **kw)


def _int(**kw):
    return lambda v, where: config.number(v, where, integer=True, error=ConfigError, **kw)


def _str(v, where):
    return config.string(v, where, **_ERR)


def _bool(v, where):
    return config.boolean(v, where, **_ERR)


def _choice(*choices):
    return lambda v, where: config.choice(v, where, choices, **_ERR)


def _list_of(item):
    def check(v, where):
        if not isinstance(v, list):
            config.fail(where, f"{v!r} must be a list", ConfigError)
        return [item(x, f"{where}[{i}]") for i, x in enumerate(v)]
    return check


def _host_port(v, where):
    config.parse_host_port(_str(v, where), where, default_host="127.0.0.1", allow_zero=True, **_ERR)
    return v


def _range(v, where):
    return list(config.parse_range(v, where, lo=20, hi=400, min_ratio=1.5, **_ERR))


def _pair(v, where):
    return list(config.pair(v, where, lo=1, hi=24000, **_ERR))


def _gain(v, where):
    from ..gain import parse_gain

    return parse_gain(v, where, error=ConfigError)


def _not(check):
    """A show key that says ``true`` for an option that says ``--no-...``."""
    return lambda v, where: not check(v, where)


#: section → key → (the run option's dest, check). The option's value is check(value).
SCHEMA: dict[str, dict[str, tuple[str, object]]] = {
    "input": {
        "name": ("input", _str),
        "channels": ("channels", _list_of(_int(lo=1, hi=64))),
        "wait_for_device": ("wait_for_device", _bool),
        "gain": ("gain", lambda v, where: _gain(v, where)),
    },
    "analysis": {
        "bpm_range": ("bpm_range", _range),
        "onset_sensitivity": ("onset_sensitivity", _num(lo=0.1, hi=20)),
        "gate_db": ("gate_db", _num(lo=-120, hi=0)),
        "silence_db": ("silence_db", _num(lo=-120, hi=0)),
        "region_sensitivity": ("region_sensitivity", _num(lo=0, hi=1)),
        "region_min_s": ("region_min_s", _num(lo=0, hi=600)),
        "region_cues": ("region_cues", _list_of(_str)),
        "region_judge": ("region_judge", _bool),
        "region_placer": ("region_placer", _bool),
        "bands": ("bands", _pair),
    },
    "models": {
        "enabled": ("no_models", _not(_bool)),
        "dir": ("models", _str),
        "device": ("device", _choice("auto", "cpu", "cuda")),
        "every_s": ("inference_every", _num(positive=True, hi=30)),
        "smoothing": ("smoothing", _choice("ema", "one-euro", "none")),
        "threads": ("model_threads", _int(lo=1, hi=64)),
        "calibration": ("mood_calibration", _str),
    },
    "output": {
        "threshold": ("osc_threshold", _num(lo=0, hi=1)),
        "max_rate_hz": ("osc_rate", _num(positive=True, hi=1000)),
        "bundle": ("osc_bundle", _bool),
    },
    "visuals": {
        "window": ("no_window", _not(_bool)),
        "preset": ("preset", _str),
        "playlist": ("playlist", _str),
        "presets": ("presets", _list_of(_str)),
        "fullscreen": ("fullscreen", _bool),
        "screen": ("screen", _int(lo=0, hi=16)),
        "vsync": ("no_vsync", _not(_bool)),
        "hud": ("hud", _bool),
    },
    "control": {
        "listen": ("control", _host_port),
        "allow": ("control_allow", lambda v, where: ",".join(_list_of(_str)(v, where))),
    },
    "panel": {
        "listen": ("panel", _host_port),
        "token": ("panel_token", _str),
    },
}
TARGET_KEYS = {"target": _str, "profile": _str, "delay_ms": _num(lo=0, hi=10000)}

#: control addresses whose value a show keeps (address → (section, key, value from args))
LIVE_KEYS = {
    "/sonolux/gain": ("input", "gain", lambda a: a[0] if isinstance(a[0], str) else float(a[0])),
    "/sonolux/bpm/range": ("analysis", "bpm_range", lambda a: [float(a[0]), float(a[1])]),
    "/sonolux/threshold/onset": ("analysis", "onset_sensitivity", lambda a: float(a[0])),
    "/sonolux/threshold/gate": ("analysis", "gate_db", lambda a: float(a[0])),
    "/sonolux/threshold/silence": ("analysis", "silence_db", lambda a: float(a[0])),
    "/sonolux/preset": ("visuals", "preset", lambda a: str(a[0])),
    "/sonolux/region/sensitivity": ("analysis", "region_sensitivity", lambda a: float(a[0])),
    "/sonolux/region/min_s": ("analysis", "region_min_s", lambda a: float(a[0])),
    "/sonolux/region/cues": ("analysis", "region_cues", lambda a: [c.strip() for x in a for c in str(x).split(",") if c.strip()]),
    "/sonolux/region/judge": ("analysis", "region_judge", lambda a: bool(float(a[0])) if a else True),
    "/sonolux/region/placer": ("analysis", "region_placer", lambda a: bool(float(a[0])) if a else True),
}


@dataclass
class OscTarget:
    """One ``[[osc]]`` entry: where to send, with which profile and delay."""

    target: str
    profile: str | None = None
    delay_ms: float | None = None


@dataclass
class Show:
    """A loaded show file: the options it sets, its OSC targets, and the document (kept
    with its comments, so live changes can be saved back)."""

    path: Path
    doc: tomlkit.TOMLDocument
    options: dict = field(default_factory=dict)  # run option dest → value
    where: dict = field(default_factory=dict)  # run option dest → "FILE: section.key" (for messages)
    targets: list[OscTarget] = field(default_factory=list)
    rig: dict = field(default_factory=dict)  # [dmx] [midi] [os2l] [link], checked by outputs.rig_options

    def record(self, address: str, args) -> None:
        """Keep a live change (an applied control message) for the next save."""
        if address not in LIVE_KEYS:
            return
        section, key, value = LIVE_KEYS[address]
        if section not in self.doc:
            self.doc[section] = tomlkit.table()
        self.doc[section][key] = value(args)

    def save(self, path=None) -> Path:
        """Write the show atomically; the previous file is kept as ``NAME.bak``."""
        return save_atomically(Path(path) if path else self.path, tomlkit.dumps(self.doc))


def save_atomically(path: Path, text: str) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.replace(path, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_show(path) -> Show:
    """Read and check a show file; every error names the file, the key and the value."""
    p = Path(path)
    text = config.read_text(p)
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    show = Show(p, doc)
    for section, table in doc.items():
        where = f"{p}: {section}"
        if section == "osc":
            show.targets = _targets(table, where)
            continue
        if section in RIG_SECTIONS:  # applied (and checked) with the rig outputs' own options
            show.rig[section] = _plain(table)
            continue
        if section not in SCHEMA:
            known = [*SCHEMA, "osc", *RIG_SECTIONS]
            config.fail(where, "unknown section" + config.did_you_mean(section, known)
                        + f" (sections: {', '.join(known)})", ConfigError)
        if not isinstance(table, dict):
            config.fail(where, f"{table!r} must be a table ([{section}])", ConfigError)
        keys = SCHEMA[section]
        for key, value in table.items():
            if key not in keys:
                config.fail(f"{where}.{key}", "unknown key" + config.did_you_mean(key, keys)
                            + f" (known: {', '.join(keys)})", ConfigError)
            dest, check = keys[key]
            show.options[dest] = check(_plain(value), f"{where}.{key}")
            show.where[dest] = f"{where}.{key}"
    for dest in ("models", "mood_calibration"):  # files named in a show live beside it
        if show.options.get(dest) and not Path(show.options[dest]).is_absolute():
            show.options[dest] = str(p.parent / show.options[dest])
    return show


def _targets(entries, where) -> list[OscTarget]:
    if not isinstance(entries, list):
        config.fail(where, "must be a list of [[osc]] tables", ConfigError)
    out = []
    for i, entry in enumerate(entries):
        w = f"{where}[{i}]"
        if not isinstance(entry, dict):
            config.fail(w, f"{entry!r} must be a table", ConfigError)
        for key in entry:
            if key not in TARGET_KEYS:
                config.fail(f"{w}.{key}", "unknown key" + config.did_you_mean(key, TARGET_KEYS), ConfigError)
        if "target" not in entry:
            config.fail(f"{w}.target", "is required (HOST:PORT)", ConfigError)
        values = {k: TARGET_KEYS[k](_plain(v), f"{w}.{k}") for k, v in entry.items()}
        config.parse_host_port(values["target"], f"{w}.target", **_ERR)
        out.append(OscTarget(**values))
    return out


def _plain(v):
    """A tomlkit item as a plain Python value."""
    return v.unwrap() if hasattr(v, "unwrap") else v


INIT_TEMPLATE = '''\
# sonolux show file: `sonolux run --show {name}` runs this set-up; an option given on the
# command line wins over the file. Live changes (OSC control, the web panel) are saved back
# with /sonolux/show/save or the panel's Save button (the previous file is kept as .bak).

[input]
name = "synth"            # a device name or a unique part of it (`sonolux devices`), a file, or synth
# channels = [1, 2]       # input channels (1-based), averaged to mono
wait_for_device = true    # wait for the device instead of stopping when it is not there yet
gain = 0.0                # input gain in dB (-24..24), or "auto": follow the input's loudness

[analysis]
bpm_range = [70, 180]     # the beat tracker's tempo range (high at least 1.5 x low)
onset_sensitivity = 1.0   # onset threshold k (mean + k.std of the recent flux): lower = more onsets
gate_db = -60.0           # no onsets below this level (dBFS)
silence_db = -60.0        # below this level events stop and tempo and mood hold (dBFS)
region_sensitivity = 0.5  # how readily emotion regions cut, 0..1 (0.5: as tuned)
region_min_s = 6.0        # no region shorter than this (s)
region_cues = ["contrast", "novelty", "mood"]  # which region cues are on: contrast, novelty, mood, energy
region_judge = true       # the learned cut judge keeps or drops each cut (needs the emotion model's tags)
region_placer = true      # the learned cut placer moves each cut to where the join lies (no models needed)
# bands = [250, 4000]     # bass/mid and mid/high crossovers (Hz)

[models]
enabled = true            # mood, tags and latent codes (levels, onsets and beats never need them)
device = "auto"           # auto (the GPU where onnxruntime has one, else the CPU) | cpu | cuda
every_s = 0.5             # run the models once per this much audio
smoothing = "ema"         # ema | one-euro | none
# dir = "/path/to/models" # default: the shipped models
# calibration = "mood-calibration.json"  # per-show mood calibration taught by the operator's
#                           # overrides (beside this file; delete it to reset)

# one [[osc]] table per console or VJ program (`sonolux osc profiles` lists the profiles)
[[osc]]
target = "127.0.0.1:9000" # HOST:PORT
profile = "sonolux"
delay_ms = 0              # hold OSC back to line lights up with the PA or a projector

[output]
threshold = 0.01          # send a value when it moved by this fraction of its range
max_rate_hz = 44          # at most this many messages per second per address
bundle = false            # grandMA3 rejects bundles

[visuals]
window = true             # the visual window, when a display is present
# preset = "kaleidoscope"
playlist = "default"      # mood playlist: default | off | FILE.json
fullscreen = false
hud = false

[control]
listen = "127.0.0.1:9001" # OSC control input ([HOST:]PORT)
# allow = ["10.0.0.7"]    # only these senders

[panel]
listen = "127.0.0.1:8080" # the web control panel; a LAN address needs the token below
# token = "choose-a-long-secret"  # printed at start when not set
'''


def init_show(path, *, force: bool = False) -> Path:
    """Write the commented template to ``path`` (never over an existing file unless ``force``)."""
    p = Path(path)
    if p.exists() and not force:
        raise ConfigError(f"{p}: already exists (use --force to overwrite it)")
    text = INIT_TEMPLATE.format(name=p.name)
    load_show_text(text, p)  # the template itself must pass the checks
    return save_atomically(p, text)


INVERTED = {"no_models", "no_window", "no_vsync"}  # option dests whose show key says the opposite


def new_show(path, args, defaults) -> Show:
    """A show for ``path`` that does not exist yet: the template with this run's options (those
    that differ from ``defaults``) and ``--osc`` targets, written on the first save."""
    p = Path(path)
    show = load_show_text(INIT_TEMPLATE.format(name=p.name), p)
    for section, keys in SCHEMA.items():
        for key, (dest, _check) in keys.items():
            value = getattr(args, dest, None)
            if value is None or value == getattr(defaults, dest, None):
                continue
            if dest in INVERTED:
                value = not value
            elif dest == "control_allow":
                value = [a.strip() for a in value.split(",") if a.strip()]
            show.doc[section][key] = list(value) if isinstance(value, tuple) else value
    if getattr(args, "osc", None):
        targets = tomlkit.aot()
        for spec in args.osc:
            target, _, profile = spec.partition("@")
            entry = tomlkit.table()
            entry["target"] = target
            entry["profile"] = profile or getattr(args, "osc_profile", None) or "sonolux"
            targets.append(entry)
        show.doc["osc"] = targets
    return show


def load_show_text(text: str, path) -> Show:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) / Path(path).name
        tmp.write_text(text, encoding="utf-8")
        show = load_show(tmp)
    show.path = Path(path)
    return show
