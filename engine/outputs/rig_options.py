"""Command-line options for the rig outputs (DMX, MIDI, OS2L, Ableton Link) and the one
function that builds them, so the CLI only needs two calls:

>>> parser = argparse.ArgumentParser()                      # doctest: +SKIP
>>> add_rig_options(parser)                                 # doctest: +SKIP
>>> args = parser.parse_args(["--dmx", "sacn:1", "--dmx-map", "wash"])    # doctest: +SKIP
>>> for out in build_rig_outputs(args, engine.mailbox):     # doctest: +SKIP
...     engine.add_output(out)

Every bad value is a ``SonoluxError`` naming the option and the value.
"""
from __future__ import annotations

import argparse
import ipaddress
import socket

from pathlib import Path

from .. import config
from ..errors import ConfigError, ParameterError
from .dmx_config import UNIVERSE_RANGE, DmxTarget, FixtureMap, load_map

DEFAULT_DMX_MAP = "wash"
DMX_HELP = ("send DMX: sacn:UNIVERSE (multicast), sacn:UNIVERSE@HOST (unicast), artnet:HOST:UNIVERSE "
            "(HOST x.x.x.255 broadcasts); repeat for more universes")


def add_rig_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("rig outputs (DMX, MIDI, OS2L, Ableton Link)")
    g.add_argument("--dmx", action="append", default=[], metavar="TARGET", help=DMX_HELP)
    g.add_argument("--dmx-map", metavar="NAME|FILE", default=None,
                   help=f"fixture map: a shipped name or a .toml file (default {DEFAULT_DMX_MAP}; "
                        "its [[target]] entries are used when no --dmx is given)")
    g.add_argument("--dmx-rate", type=float, default=None, metavar="HZ",
                   help="DMX frames per second (default: the map's rate_hz, 44)")
    g.add_argument("--dmx-priority", type=int, default=None, metavar="P", help="sACN priority 0..200 (default 100)")
    g.add_argument("--dmx-bind", default="", metavar="ADDR",
                   help="local address to send DMX from (picks the network interface for multicast)")
    g.add_argument("--midi-clock", metavar="PORT", default=None,
                   help="MIDI clock (24 ppqn, start/stop/song position) locked to the tracked beat: an existing "
                        "output port by (part of) its name, or virtual:NAME to create one")
    g.add_argument("--midi-notes", metavar="PORT", default=None,
                   help="MIDI notes for beat and onsets (GM drums, channel 10) and CC 20-26 for level, bands "
                        "and mood (channel 1): PORT or virtual:NAME")
    g.add_argument("--midi-map", metavar="FILE", default=None,
                   help="with --midi-notes: the notes and CCs to send, a TOML file of [[note]] and [[cc]] "
                        "tables (default: GM drums for beat/onsets, CC 20-26)")
    g.add_argument("--os2l", action="append", nargs="?", const="dns-sd", default=[], metavar="HOST:PORT",
                   help="OS2L beat events (JSON over TCP) to DMX software: alone, to every _os2l._tcp service "
                        "found on DNS-SD; with HOST:PORT, to that peer (QLC+ listens on 9996); repeatable")
    g.add_argument("--link", action="store_true",
                   help="publish the tracked tempo and beat phase to an Ableton Link session "
                        "(needs the optional GPL-3 package aalink: pip install 'sonolux[link]')")
    g.add_argument("--link-follow", action="store_true",
                   help="with --link: when another peer changes the session tempo, take it as the beat "
                        "tracker's prior (its BPM range narrows to within 25 %% of it)")


def _resolve(host: str, what: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
    except socket.gaierror as e:
        raise ParameterError(f"{what}: cannot resolve host {host!r} ({e.strerror})") from None


def _universe(text: str, protocol: str, what: str) -> int:
    lo, hi = UNIVERSE_RANGE[protocol]
    try:
        u = int(text)
    except ValueError:
        raise ParameterError(f"{what}: universe {text!r} is not a number") from None
    if not lo <= u <= hi:
        raise ParameterError(f"{what}: universe {u} is outside {lo}..{hi} for {protocol}")
    return u


def parse_dmx_target(text: str, *, priority: int = 100, bind: str = "") -> DmxTarget:
    """``sacn:UNIVERSE[@HOST]`` or ``artnet:HOST:UNIVERSE`` → a DmxTarget."""
    what = f"--dmx {text!r}"
    protocol, sep, rest = text.partition(":")
    if protocol == "sacn" and sep:
        uni, _, host = rest.partition("@")
        return DmxTarget("sacn", _universe(uni, "sacn", what), _resolve(host, what) if host else "",
                         priority=priority, bind=bind)
    if protocol == "artnet" and sep:
        host, sep2, uni = rest.rpartition(":")
        if not sep2 or not host:
            raise ParameterError(f"{what} must look like artnet:HOST:UNIVERSE, e.g. artnet:10.0.0.7:0")
        return DmxTarget("artnet", _universe(uni, "artnet", what), _resolve(host, what), priority=priority, bind=bind)
    raise ParameterError(f"{what} must look like sacn:UNIVERSE, sacn:UNIVERSE@HOST or artnet:HOST:UNIVERSE")


def dmx_targets(args, fmap: FixtureMap) -> list[DmxTarget]:
    """The ``--dmx`` targets, or the map's ``[[target]]`` entries when none is given."""
    if args.dmx_priority is not None and not 0 <= args.dmx_priority <= 200:
        raise ParameterError(f"--dmx-priority {args.dmx_priority} is outside 0..200")
    priority = fmap.priority if args.dmx_priority is None else args.dmx_priority
    if args.dmx:
        return [parse_dmx_target(t, priority=priority, bind=args.dmx_bind) for t in args.dmx]
    return list(fmap.targets)


def build_rig_outputs(args, mailbox, *, on_dmx_send=None, set_bpm_range=None) -> list:
    """The rig outputs the parsed options ask for, ready for ``Engine.add_output``
    (``set_bpm_range``: the analyzer's, for ``--link-follow``). When one cannot be built (a
    bad value, a missing port) those already built are closed again."""
    outputs: list = []
    try:
        _build(args, mailbox, on_dmx_send, set_bpm_range, outputs)
    except BaseException:
        for out in outputs:
            out.stop()
        raise
    return outputs


def _build(args, mailbox, on_dmx_send, set_bpm_range, outputs: list) -> None:
    if args.dmx or args.dmx_map:
        from .dmx_output import DmxOutput

        fmap = load_map(args.dmx_map or DEFAULT_DMX_MAP)
        targets = dmx_targets(args, fmap)
        if not targets:
            raise ParameterError(f"--dmx-map {args.dmx_map}: no --dmx target given and the map has no [[target]]")
        if args.dmx_rate is not None and not 1 <= args.dmx_rate <= 100:
            raise ParameterError(f"--dmx-rate {args.dmx_rate:g} is outside 1..100 Hz")
        for t in targets:
            outputs.append(DmxOutput(mailbox, fmap, t, rate_hz=args.dmx_rate, on_send=on_dmx_send))
    if args.midi_clock or args.midi_notes:
        from .midi import MidiClock, MidiNotes, open_midi_output

        if args.midi_clock:
            outputs.append(MidiClock(mailbox, open_midi_output(args.midi_clock)))
        if args.midi_notes:
            maps = {}
            if getattr(args, "midi_map", None):
                from .midi import load_midi_map

                maps = dict(zip(("notes", "ccs"), load_midi_map(args.midi_map)))
            outputs.append(MidiNotes(mailbox, open_midi_output(args.midi_notes), **maps))
    if args.os2l:
        from .os2l import Os2lOutput

        peers = [config.parse_host_port(p, "--os2l") for p in args.os2l if p != "dns-sd"]
        outputs.append(Os2lOutput(mailbox, peers=peers, discover="dns-sd" in args.os2l))
    if args.link:
        from .link import LinkOutput

        follow = None
        if getattr(args, "link_follow", False):
            if set_bpm_range is None:
                raise ParameterError("--link-follow needs an analysis chain with a beat tracker")
            follow = lambda bpm: set_bpm_range(bpm / 1.25, bpm * 1.25)  # noqa: E731
        outputs.append(LinkOutput(mailbox, follow=follow))


# -- the show file -----------------------------------------------------------------------
#: show-file tables and keys → option destinations (and the type each value must have)
SHOW_KEYS = {
    "dmx": {"map": ("dmx_map", str), "targets": ("dmx", list), "rate_hz": ("dmx_rate", (int, float)),
            "priority": ("dmx_priority", int), "bind": ("dmx_bind", str)},
    "midi": {"clock": ("midi_clock", str), "notes": ("midi_notes", str), "map": ("midi_map", str)},
    "os2l": {"peers": ("os2l", list), "discover": ("os2l", bool)},
    "link": {"enabled": ("link", bool), "follow": ("link_follow", bool)},
}


def apply_show_file(args, show: dict, src: str) -> None:
    """Fill the rig options the command line left unset from a show file's ``[dmx]``,
    ``[midi]``, ``[os2l]`` and ``[link]`` tables (flags win). A relative ``dmx.map`` path is
    taken from the show file's folder. Errors name the file, the key and the value::

        [dmx]
        map = "my-rig.toml"
        targets = ["sacn:1", "artnet:10.0.0.7:0"]
        [midi]
        clock = "virtual:sonolux clock"
        notes = "virtual:sonolux notes"
        map = "my-midi.toml"
        [os2l]
        discover = true
        [link]
        enabled = true
        follow = false
    """
    values: dict = {}
    for table, keys in SHOW_KEYS.items():
        section = show.get(table)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"{src}: {table}: must be a table ([{table}])")
        for key, value in section.items():
            if key not in keys:
                raise ConfigError(f"{src}: {table}.{key}: unknown key (known: {', '.join(keys)})")
            dest, kind = keys[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"{src}: {table}.{key}: {value!r} has the wrong type")
            if kind is list and not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{src}: {table}.{key}: {value!r} must be a list of strings")
            if key == "map" and value.endswith(".toml") and not Path(value).is_absolute():
                value = str(Path(src).parent / value)
            if (table, key) == ("os2l", "discover"):
                value = ["dns-sd"] if value else []
            if dest == "os2l":
                value = values.get("os2l", []) + list(value)
            values[dest] = list(value) if isinstance(value, list) else value
    for dest, value in values.items():
        if getattr(args, dest) in (None, [], False, ""):  # flags win
            setattr(args, dest, value)
