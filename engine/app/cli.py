"""The ``sonolux`` command line: the top-level parser and the dispatch to one module per
command (``sonolux.app.commands.NAME``, each with ``add_parser(subparsers)`` and
``run(args) -> int``). A user error (any SonoluxError) is one line on stderr and exit code 2,
never a traceback."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from .. import __version__
from ..errors import SonoluxError

#: the commands, in the order ``sonolux --help`` lists them
COMMANDS = ("devices", "run", "analyze", "models", "replay", "osc", "demo", "render", "images")


def command_module(name: str):
    return importlib.import_module(f"{__package__}.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sonolux",
        description="Real-time audio analysis for live shows: levels, bands, onsets, beats, mood, "
                    "tags and emotion regions from a live input, a file or a built-in demo, sent as "
                    "OSC to lighting consoles and VJ software and shown by visual presets.",
        epilog="Run `sonolux COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"sonolux {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        command_module(name).add_parser(sub)
    return parser


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    signal.signal(signal.SIGTERM, _sigterm)
    logging.basicConfig(level=logging.WARNING, format="sonolux: %(message)s")
    try:
        return command_module(args.command).run(args)
    except SonoluxError as e:
        print(f"sonolux: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def console_main() -> None:
    """The ``sonolux`` command: ``main``, then a fast exit. Everything is flushed and closed
    by then; skipping the interpreter's slow teardown of Numba/LLVM and friends keeps a
    SIGTERM-to-exit well under a second."""
    rc = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)
