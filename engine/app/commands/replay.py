"""``sonolux replay DIR``: drive the outputs from a recording (or summarise it)."""
from __future__ import annotations

import sys

from ... import config
from ...errors import ParameterError
from .. import options


def add_parser(sub) -> None:
    p = sub.add_parser("replay", help="drive the outputs from a recording (or --dry-run: summarise it)",
                       description="Play a folder made by `run --record` into the outputs (OSC) at "
                                   "its recorded pace. --dry-run only reads it and prints duration, "
                                   "frames, last timestamp and anything damaged or cut off.")
    p.add_argument("folder", metavar="DIR", help="a recording folder")
    p.add_argument("--dry-run", action="store_true", help="only read and summarise the recording")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1.0)")
    p.add_argument("--quiet", "-q", action="store_true", help="no status line")
    options.add_osc_options(p)


def run(args) -> int:
    from ...outputs.record import read_recording
    from ..replay import dry_run_report, replay

    rec = read_recording(args.folder)
    if args.dry_run:
        print(dry_run_report(rec))
        return 0
    if rec.frames.shape[0] == 0:
        raise ParameterError(f"{args.folder}: the recording holds no frames")
    config.number(args.speed, "--speed", lo=0.05, hi=100)

    def progress(played: int) -> None:
        if not args.quiet:
            print(f"\rreplay {played}/{rec.frames.shape[0]} frames", end="", file=sys.stderr)

    played, sender = replay(rec, options.osc_targets(args), speed=args.speed, progress=progress)
    if not args.quiet:
        print(f"\rsonolux: replayed {played} frames"
              + (f", OSC messages {sender.messages} (errors {sender.errors})" if sender else ""), file=sys.stderr)
    return 0
