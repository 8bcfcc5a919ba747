"""``sonolux osc profiles | monitor``: OSC tools for setting up a rig."""
from __future__ import annotations

import sys

from ...errors import ParameterError
from .. import options


def add_parser(sub) -> None:
    osc = sub.add_parser("osc", help="OSC tools: list profiles, monitor a port",
                         description="OSC helpers for setting up a rig.")
    osc_sub = osc.add_subparsers(dest="osc_command", metavar="SUBCOMMAND")
    prof = osc_sub.add_parser("profiles", help="list the shipped console profiles (name first)",
                              description="List the shipped OSC profiles, one per line, name first. "
                                          "--show NAME prints one as TOML to copy and edit.")
    prof.add_argument("--show", metavar="NAME", default=None, help="print this profile's TOML")
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
    if args.osc_command == "monitor":
        from ...outputs.osc_monitor import monitor

        try:
            monitor(args.host, args.port, tcp=args.tcp, framing=args.framing,
                    duration=args.duration, count=args.count)
        except OSError as e:
            raise ParameterError(f"cannot listen on {args.host}:{args.port} ({e.strerror})") from None
        return 0
    print("usage: sonolux osc {profiles,monitor} (see sonolux osc --help)", file=sys.stderr)
    return 2
