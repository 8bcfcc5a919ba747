"""``sonolux demo``: the built-in demo track through the whole live path, no sound card needed."""
from __future__ import annotations

import sys

from ...outputs.rig_options import add_rig_options, build_rig_outputs
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
    add_rig_options(p)
    options.add_model_options(p)
    options.add_visual_options(p)


def run(args) -> int:
    from ...engine import Engine
    from ...sources import SynthSource
    from ...spec import StreamSpec
    from ...visual.live import demo_without_display
    from ..runloop import run_engine
    from ..startup import StartupNotice
    from .run import announce_targets, make_controls, start_control, start_panel, window_args

    spec = StreamSpec()
    targets = options.osc_targets(args, default=[DEMO_OSC])
    options.control_address(args)
    with StartupNotice(quiet=args.quiet) as notice:
        models, inference = options.inference_setup(args)
        source = SynthSource("", spec.sample_rate, spec.block_size, realtime=True, loop=True)
        window = window_args(args)
        if not args.quiet:
            print("sonolux demo: built-in 120 BPM track (Ctrl-C to stop)", file=sys.stderr)
        engine = Engine(spec, source, osc_targets=targets, models=models, inference=inference)
        for out in build_rig_outputs(args, engine.mailbox, set_bpm_range=engine.analyzer.set_bpm_range):
            engine.add_output(out)  # DMX, MIDI, OS2L, Link
        announce_targets(engine, args)
        controls = make_controls(engine, args)
        servers = [start_control(engine, args, controls), start_panel(engine, args, controls)]
        if window is None:
            demo_without_display(args)  # renders a short clip to ./sonolux-demo.mp4 and says so
        return run_engine(engine, duration=args.duration or None, quiet=args.quiet, window_args=window,
                          servers=[s for s in servers if s is not None], notice=notice)
