"""``sonolux demo``: the built-in demo track through the whole live path, no sound card needed."""
from __future__ import annotations

import sys

from .. import options

DEMO_OSC = "127.0.0.1:9000"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="the built-in demo: no sound card needed",
                       description="Play the built-in demo track through the whole live path "
                                   "(real-time paced) and send OSC, with a status line.")
    p.add_argument("--duration", type=float, default=32.0, metavar="SECONDS",
                   help="how long to run (default 32, one pass of the demo track; 0 = until Ctrl-C)")
    p.add_argument("--quiet", "-q", action="store_true", help="no status line")
    options.add_osc_options(p, [DEMO_OSC])
    options.add_model_options(p)
    options.add_visual_options(p)


def run(args) -> int:
    from ...engine import Engine
    from ...sources import SynthSource
    from ...spec import StreamSpec
    from ...visual.live import demo_without_display
    from ..runloop import run_engine
    from .run import announce_targets, start_control, window_args

    spec = StreamSpec()
    targets = options.osc_targets(args, default=[DEMO_OSC])
    options.control_address(args)
    models, inference = options.inference_setup(args)
    source = SynthSource("", spec.sample_rate, spec.block_size, realtime=True, loop=True)
    window = window_args(args)
    if not args.quiet:
        print("sonolux demo: built-in 120 BPM track (Ctrl-C to stop)", file=sys.stderr)
    engine = Engine(spec, source, osc_targets=targets, models=models, inference=inference)
    announce_targets(engine, args)
    control = start_control(engine, args)
    if window is None:
        demo_without_display(args)  # renders a short clip to ./sonolux-demo.mp4 and says so
    return run_engine(engine, duration=args.duration or None, quiet=args.quiet, window_args=window,
                      control=control)
