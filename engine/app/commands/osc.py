"""``sonolux osc profiles | monitor``: OSC tools for setting up a rig."""
from __future__ import annotations

import sys

from ...errors import ParameterError
from ...outputs.osc import OscSender
from .. import options

STATUS_ADDRESS = OscSender.STATUS_ADDRESS


def add_parser(sub) -> None:
    osc = sub.add_parser("osc", help="OSC tools: list profiles, monitor a port",
                         description="OSC helpers for setting up a rig.")
    osc_sub = osc.add_subparsers(dest="osc_command", metavar="SUBCOMMAND")
    prof = osc_sub.add_parser("profiles", help="list the shipped console profiles (name first)",
                              description="List the shipped OSC profiles, one per line, name first. "
                                          "--show NAME prints one as TOML to copy and edit.")
    prof.add_argument("--show", metavar="NAME", default=None, help="print this profile's TOML")
    adr = osc_sub.add_parser("addresses", help="every OSC address sonolux sends and receives, as a table",
                             description="Print every address a profile sends (type, values, the frame "
                                         "field it comes from, when it is sent), the fields of "
                                         "/sonolux/status, and the control addresses sonolux receives.")
    adr.add_argument("--profile", default="sonolux", metavar="NAME|FILE.toml",
                     help="the profile whose addresses to list (default sonolux)")
    mon = osc_sub.add_parser("monitor", help="print what an OSC target would receive",
                             description="Listen on a port and print every OSC message that arrives "
                                         "(address, type tags, values).")
    mon.add_argument("--port", type=options.integer("--port"), default=9000,
                     help="port to listen on (default 9000)")
    mon.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    mon.add_argument("--tcp", action="store_true", help="listen on TCP instead of UDP")
    mon.add_argument("--framing", choices=("len", "slip"), default="len",
                     help="TCP framing: len = OSC 1.0 length prefix, slip = OSC 1.1 (default len)")
    mon.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    mon.add_argument("--count", type=int, default=None, help="stop after this many messages")


def run(args) -> int:
    from ...outputs import osc_config

    if args.osc_command == "profiles":
        if args.show:
            path = osc_config.PROFILE_DIR / f"{args.show}.toml"
            if not path.exists():
                raise ParameterError(f"unknown OSC profile {args.show!r}; available: "
                                     + ", ".join(osc_config.profile_names()))
            print(path.read_text(), end="")
            return 0
        for name in osc_config.profile_names():
            print(f"{name:<14} {osc_config.profile_description(name)}")
        return 0
    if args.osc_command == "addresses":
        print(address_table(osc_config.load_profile(args.profile)))
        return 0
    if args.osc_command == "monitor":
        from ...outputs.osc_monitor import monitor

        try:
            monitor(args.host, args.port, tcp=args.tcp, framing=args.framing,
                    duration=args.duration, count=args.count)
        except OSError as e:
            raise ParameterError(f"cannot listen on {args.host}:{args.port} ({e.strerror})") from None
        return 0
    print("usage: sonolux osc {profiles,addresses,monitor} (see sonolux osc --help)", file=sys.stderr)
    return 2


TYPE_TAGS = {"float": "f", "int": "i", "bool": "T/F", "string": "s", "none": "-"}


def _values(m) -> str:
    lo, hi = m.out
    if m.type == "bool":
        return "true/false"
    if m.type == "none":
        return "value in the address"
    if m.labels and m.type in ("int", "string"):
        return ("i + s " if m.type == "int" else "s ") + "/".join(m.labels)
    return f"{lo:g}..{hi:g}"


def address_table(profile) -> str:
    """The table of ``sonolux osc addresses``: sends, /sonolux/status, control input."""
    from ...engine import Engine
    from ...visual.fields import COUNTERS
    from ..control import CONTROL_ADDRESSES

    rows = [("address", "type", "values", "from field", "sent")]
    for m in profile.maps:
        if f"{m.field_name}_count" in COUNTERS and m.field_index is None:  # an event
            hold = max(m.hold_ms, 1e3 / m.max_rate_hz)
            values = f"{m.on:g} / {m.off:g}"
            sent = "per event" + (f", off after {hold:.0f} ms" if m.trigger == "pulse" else "")
        else:
            values = _values(m)
            sent = (f"the top {m.top_k}, " if m.top_k else "") + "on change" + (
                f" >= {m.threshold:g} of range" if m.threshold else "") + f", <= {m.max_rate_hz:g}/s"
        rows.append((m.address, TYPE_TAGS[m.type], values, m.field, sent))
    if profile.status:
        rows.append((STATUS_ADDRESS, "".join(t for t, _ in Engine.STATUS_FIELDS), "see below", "engine health",
                     "once a second"))
    out = [f"OSC sent by profile {profile.profile!r} (to {profile.transport}://{profile.host}:{profile.port} "
           "unless --osc says where):", _table(rows)]
    if any(m.top_k for m in profile.maps):
        out.append("Tag addresses hold the tag's name; for a fixed address per tag (a console fader) map "
                   "one tag: field = \"tags[guitar]\", address = \"/my/fader/1\".")
    if profile.status:
        out += ["", f"{STATUS_ADDRESS} arguments:",
                _table([("#", "type", "meaning")]
                       + [(str(i), t, what) for i, (t, what) in enumerate(Engine.STATUS_FIELDS)])]
    out += ["", "Control input (sonolux run --control [HOST:]PORT; the web panel sends the same):",
            _table([("address", "arguments", "does")] + list(CONTROL_ADDRESSES))]
    return "\n".join(out)


def _table(rows) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
