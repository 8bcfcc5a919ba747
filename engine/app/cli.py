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
from ..errors import ParameterError, SonoluxError

#: the commands, in the order ``sonolux --help`` lists them
COMMANDS = ("devices", "run", "show", "analyze", "models", "replay", "osc", "dmx", "midi", "demo", "render",
            "images", "batch", "catalogue")


def command_module(name: str):
    return importlib.import_module(f"{__package__}.commands.{name}")


def build_parser(commands=COMMANDS) -> argparse.ArgumentParser:
    """The parser with ``commands``' subcommands (all by default; ``main`` builds only the
    one it runs, so a command does not import the other commands' modules)."""
    parser = argparse.ArgumentParser(
        prog="sonolux",
        description="Real-time audio analysis for live shows: levels, bands, onsets, beats, mood, "
                    "tags and emotion regions from a live input, a file or a built-in demo, sent as "
                    "OSC to lighting consoles and VJ software and shown by visual presets.",
        epilog="Run `sonolux COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"sonolux {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands:
        command_module(name).add_parser(sub)
    parser.command_parsers = sub.choices
    return parser


def with_show(parser, args, argv):
    """``--show FILE``: the file's settings become the command's defaults, so every option
    given on the command line still wins; ``args.show_doc`` is the loaded show. A file that
    does not exist yet becomes a new show of this run's options, written on the first save."""
    from pathlib import Path

    from .show import load_show, new_show

    command = parser.command_parsers[args.command]
    if not Path(args.show_file).exists() and getattr(args, "show_must_exist", False):
        raise ParameterError(f"--show {args.show_file}: no such show file "
                             "(`sonolux show init FILE` writes one)")
    if not Path(args.show_file).exists():
        args.show_doc = new_show(args.show_file, args, command.parse_args([]))
        print(f"sonolux: {args.show_file} does not exist yet: Save (the panel, /sonolux/show/save) "
              "writes this run's set-up there", file=sys.stderr)
        return args
    show = load_show(args.show_file)
    command.set_defaults(**show.options)
    given = args
    args = parser.parse_args(argv)
    args.show_doc = show
    # where each value the file gave (and the command line did not override) came from: a
    # knob the engine refuses names the file's key, not a flag nobody typed
    args.show_where = {dest: key for dest, key in show.where.items() if getattr(given, dest, None) is None}
    if show.rig and hasattr(args, "dmx"):  # a command with the rig outputs (run, demo)
        from ..outputs.rig_options import apply_show_file

        apply_show_file(args, show.rig, str(show.path))
    return args


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)  # the command, if any
    parser = build_parser((first,) if first in COMMANDS else COMMANDS)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    signal.signal(signal.SIGTERM, _sigterm)
    logging.basicConfig(level=logging.WARNING, format="sonolux: %(message)s")
    try:
        if getattr(args, "show_file", None):
            args = with_show(parser, args, argv)
        command = command_module(args.command)
        if "sonolux.features" in sys.modules:  # a command that runs kernels: a faster start
            sys.modules["sonolux.features"].numba_typing_without_cffi()
        return command.run(args)
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
