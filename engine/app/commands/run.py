"""``sonolux run``: the live engine until Ctrl-C (input → analysis → OSC, visuals)."""
from __future__ import annotations

import sys

from ...outputs.rig_options import add_rig_options, build_rig_outputs
from .. import options


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run the live engine until Ctrl-C",
                       description="Capture audio, analyse it hop by hop and send OSC. "
                                   "Prints a one-line live status until Ctrl-C.")
    p.add_argument("--input", "-i", default=None, metavar="NAME|FILE|synth",
                   help="input device name or unique part of it (default: the system default "
                        "input), an audio file, or synth[:sine:FREQ|:noise|:clicks:BPM]")
    p.add_argument("--fast", action="store_true",
                   help="with a file input: analyse as fast as possible instead of in real time")
    p.add_argument("--loop", action="store_true", help="with a file input: loop it")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this many seconds of audio (default: until Ctrl-C or end of file)")
    p.add_argument("--quiet", "-q", action="store_true", help="no status line")
    p.add_argument("--record", default=None, metavar="DIR",
                   help="record the feature stream into a new folder, crash-safe (flushed every second)")
    p.add_argument("--record-audio", action="store_true", help="with --record: also record the input audio")
    p.add_argument("--wait-for-device", action="store_true",
                   help="if the input device is not there yet, wait for it (retrying with backoff) "
                        "instead of stopping with an error")
    options.add_show_options(p)
    options.add_stream_options(p)
    options.add_osc_options(p)
    add_rig_options(p)
    options.add_model_options(p)
    options.add_visual_options(p)
    options.add_image_arguments(p)


def make_controls(engine, args):
    """The control addresses for ``engine`` (OSC control and the panel share them); with a
    show file, applied changes are recorded into it and ``/sonolux/show/save`` saves it."""
    from ...errors import ParameterError
    from ..control import Controls, engine_controls

    show = getattr(args, "show_doc", None)
    handlers = engine_controls(engine)

    def save_show(path=None, *rest):
        if show is None:
            raise ParameterError("no show file to save into: write one with `sonolux show init FILE` "
                                 "and run with --show FILE")
        saved = show.save(path or None)
        print(f"sonolux: show saved to {saved}", file=sys.stderr)

    handlers["/sonolux/show/save"] = save_show
    controls = Controls(handlers)
    if show is not None:
        controls.on_applied = show.record
    return controls


def start_control(engine, args, controls=None):
    """The OSC control server asked for by ``--control`` (or None), announced on stderr."""
    address = options.control_address(args)
    if address is None:
        return None
    from ..control import open_control

    host, port, allow = address
    server = open_control(engine, host, port, allow, controls=controls)
    print(f"sonolux: OSC control on udp://{server.address[0]}:{server.port}", file=sys.stderr)
    return server


WINDOW_OPTIONS = (("fullscreen", "--fullscreen"), ("screen", "--screen"), ("no_vsync", "--no-vsync"),
                  ("hud", "--hud"), ("preset", "--preset"), ("playlist", "--playlist"), ("presets", "--presets"))


def window_args(args):
    """``args`` when the run shows the visual window, else None — and then say which window
    options this run ignores, after checking that a ``--preset`` exists at all."""
    from ...visual.live import window_wanted

    if window_wanted(args):
        return args
    if getattr(args, "preset", None):
        from ...visual.registry import PresetRegistry

        PresetRegistry(args.presets or ()).get(args.preset)  # a typo is an error, window or not
    given = [flag for dest, flag in WINDOW_OPTIONS if getattr(args, dest, None) not in (None, False)]
    if given:
        why = "--no-window" if getattr(args, "no_window", False) else "no display"
        print(f"sonolux: no visual window ({why}): ignoring {', '.join(given)}", file=sys.stderr)
    return None


def open_input(args, spec):
    """The input source; with ``--wait-for-device`` a missing device is waited for."""
    import time

    from ...errors import DeviceError
    from ...sources import open_source

    backoff = 0.5
    while True:
        try:
            return open_source(args.input, spec, realtime=not args.fast, loop=args.loop, channels=args.channels)
        except DeviceError as e:
            if not getattr(args, "wait_for_device", False):
                raise
            if backoff == 0.5:
                print(f"sonolux: waiting for the input device ({e}); Ctrl-C to give up", file=sys.stderr, flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def announce_targets(engine, args) -> None:
    """Say where OSC goes, and when a profile's own address is used, that it is."""
    from ..status import describe_targets

    print(describe_targets(engine.output_health()), file=sys.stderr)
    if args.osc_profile and not args.osc:
        print(f"sonolux: (that is the {args.osc_profile} profile's own address; aim it at your console "
              f"with --osc HOST:PORT@{args.osc_profile})", file=sys.stderr)


def run(args) -> int:
    from ...engine import Engine
    from ...imagery.cli import setup_live
    from ..runloop import run_engine
    from ..startup import StartupNotice

    spec = options.stream_spec(args)
    config = options.analysis_config(args)
    targets = options.osc_targets(args)
    control = options.control_address(args)  # checked before the device opens
    window = window_args(args)
    source = open_input(args, spec)
    with StartupNotice(quiet=args.quiet) as notice:  # after the input: not while waiting for a device
        models, inference = options.inference_setup(args)  # after the input: a typo in a device name fails fast
        engine = Engine(spec, source, osc_targets=targets, config=config, models=models, inference=inference,
                        record_dir=args.record, record_audio=args.record_audio)
        for out in build_rig_outputs(args, engine.mailbox, set_bpm_range=engine.analyzer.set_bpm_range):  # DMX, MIDI, OS2L, Link
            engine.add_output(out)
        announce_targets(engine, args)
        controls = make_controls(engine, args)
        options.apply_knobs(controls, args)
        options.region_judge_notice(engine, args)
        servers = [start_control(engine, args, controls) if control else None, start_panel(engine, args, controls)]
        setup_live(engine, args)  # --images DIR: the image bank's folder
        return run_engine(engine, duration=args.duration, quiet=args.quiet, window_args=window,
                          servers=[s for s in servers if s is not None], notice=notice)


def start_panel(engine, args, controls):
    """The web control panel asked for by ``--panel`` (or None), announced with its URL."""
    if not getattr(args, "panel", None):
        return None
    from ... import config
    from ..panel import Panel

    host, port = config.parse_host_port(args.panel, "--panel", default_host="127.0.0.1", allow_zero=True)
    panel = Panel(engine, controls, host, port, token=args.panel_token,
                  show_path=getattr(getattr(args, "show_doc", None), "path", None))
    panel.start()
    print(f"sonolux: control panel on {panel.url}", file=sys.stderr, flush=True)
    return panel
