"""Command line: ``sonolux devices | run | demo``. Thin wiring; the work is in the engine."""
from __future__ import annotations

import argparse
import signal
import sys
import time

from . import __version__
from .analysis import AnalysisConfig
from .errors import ParameterError, SonoluxError
from .spec import StreamSpec

DEMO_OSC = "127.0.0.1:9000"


def _int_arg(name):
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}={text!r} must be an integer") from None
    return parse


def _channels_arg(text):
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--channels {text!r} must be channel numbers like 1 or 1,2") from None


def _float_list(text):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be comma-separated numbers") from None


def add_stream_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("stream")
    g.add_argument("--samplerate", "-r", type=_int_arg("samplerate"), default=48000,
                   help="engine sample rate in Hz; files are resampled to it (default 48000)")
    g.add_argument("--blocksize", "-b", type=_int_arg("blocksize"), default=256,
                   help="samples per audio callback block (default 256)")
    g.add_argument("--hop", type=_int_arg("hop"), default=256,
                   help="samples per analysis step; one FeatureFrame per hop (default 256)")
    g.add_argument("--n-fft", type=_int_arg("n_fft"), default=1024,
                   help="FFT size, a power of two ≥ hop (default 1024)")
    g.add_argument("--channels", type=_channels_arg, default=None,
                   help="input channels to use, 1-based, averaged to mono (default: all)")
    g.add_argument("--bands", type=_float_list, default=None, metavar="LOW,HIGH",
                   help="bass/mid and mid/high crossovers in Hz (default 250,4000)")


def add_osc_options(p: argparse.ArgumentParser, default_targets=None) -> None:
    g = p.add_argument_group("OSC output")
    g.add_argument("--osc", action="append", metavar="HOST:PORT", default=None,
                   help="send OSC to this target; repeat for several"
                        + (f" (default {', '.join(default_targets)})" if default_targets else ""))
    g.add_argument("--osc-threshold", type=float, default=0.01,
                   help="send a value only when it moved by at least this much (default 0.01)")
    g.add_argument("--osc-rate", type=float, default=44.0,
                   help="maximum messages per second per address (default 44)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sonolux",
        description="Real-time audio analysis for live shows: levels, bands and onsets from a "
                    "live input, a file or a built-in demo, sent as OSC to lighting consoles and VJ software.",
        epilog="Run `sonolux COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"sonolux {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("devices", help="list audio input devices (PortAudio and PulseAudio sources)",
                   description="List input devices with index, name, channels and default sample "
                               "rate. Use the name (or a unique part of it) with `run --input`.")

    run = sub.add_parser("run", help="run the live engine until Ctrl-C",
                         description="Capture audio, analyse it hop by hop and send OSC. "
                                     "Prints a one-line live status until Ctrl-C.")
    run.add_argument("--input", "-i", default=None, metavar="NAME|FILE|synth",
                     help="input device name or unique part of it (default: the system default "
                          "input), an audio file, or synth[:sine:FREQ|:noise|:clicks:BPM]")
    run.add_argument("--fast", action="store_true",
                     help="with a file input: analyse as fast as possible instead of in real time")
    run.add_argument("--loop", action="store_true", help="with a file input: loop it")
    run.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                     help="stop after this many seconds of audio (default: until Ctrl-C or end of file)")
    run.add_argument("--quiet", "-q", action="store_true", help="no status line")
    add_stream_options(run)
    add_osc_options(run)

    an = sub.add_parser("analyze", help="analyse an audio file through the live path",
                        description="Run FILE through the same analysis as the live engine, as fast "
                                    "as possible, and print tempo, beats, onsets (and, where models "
                                    "are installed, mood and tags). --json prints the document "
                                    "described in docs/architecture.md.")
    an.add_argument("file", metavar="FILE", help="audio file (anything soundfile reads)")
    an.add_argument("--json", action="store_true", help="print the full JSON document")
    an.add_argument("--output", "-o", default=None, metavar="PATH", help="also write the JSON here")
    add_stream_options(an)

    demo = sub.add_parser("demo", help="the built-in demo: no sound card needed",
                          description="Play the built-in demo track through the whole live path "
                                      "(real-time paced) and send OSC, with a status line.")
    demo.add_argument("--duration", type=float, default=32.0, metavar="SECONDS",
                      help="how long to run (default 32, one pass of the demo track; 0 = until Ctrl-C)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no status line")
    add_osc_options(demo, [DEMO_OSC])
    return parser


def _spec(args) -> StreamSpec:
    return StreamSpec(sample_rate=args.samplerate, block_size=args.blocksize, channels=1,
                      n_fft=args.n_fft, hop=args.hop)


def _config(args) -> AnalysisConfig:
    from .processors.bands import bands_from_edges

    if getattr(args, "bands", None):
        return AnalysisConfig(bands=bands_from_edges(args.bands))
    return AnalysisConfig()


def _osc_setup(args, default=()):
    from .outputs.osc import default_mappings, parse_target

    if args.osc_rate <= 0:
        raise ParameterError(f"--osc-rate={args.osc_rate} must be positive")
    if args.osc_threshold < 0:
        raise ParameterError(f"--osc-threshold={args.osc_threshold} must not be negative")
    targets = [parse_target(t) for t in (args.osc or default)]
    return targets, default_mappings(args.osc_threshold, args.osc_rate)


def cmd_devices(args) -> int:
    from .sources import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("no input devices found")
        return 1
    print(f"{'index':>5}  {'channels':>8}  {'rate':>7}  {'api':<10}  name")
    for d in devices:
        idx = "-" if d.index is None else str(d.index)
        print(f"{idx:>5}  {d.channels:>8}  {d.default_samplerate:>7g}  {d.hostapi:<10}  {d.name}")
    return 0


def _run_engine(engine, duration, quiet) -> int:
    from .status import StatusLine

    status = StatusLine()
    tty = sys.stderr.isatty()
    interval = 0.25 if tty else 1.0
    frame = engine.mailbox.layout.new_frame()
    engine.start()
    last_print = 0.0
    try:
        while True:
            time.sleep(0.05)
            engine.check()
            now = time.perf_counter()
            if not quiet and now - last_print >= interval and engine.mailbox.read_latest(frame):
                line = status.format(frame, engine.stats())
                print(("\r" + line + "\x1b[K") if tty else line, end="" if tty else "\n",
                      file=sys.stderr, flush=True)
                last_print = now
            if engine.finished:
                break
            if duration and engine.stats().t >= duration:
                break
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
        if not quiet and tty:
            print(file=sys.stderr)
    engine.check()
    s = engine.stats()
    if not quiet:
        print(f"sonolux: {s.hops} frames, {s.t:.1f} s of audio, dropped blocks {s.dropped_blocks}, "
              f"OSC messages {s.osc_messages} (errors {s.osc_errors})", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    from .engine import Engine
    from .sources import open_source

    spec = _spec(args)
    config = _config(args)
    targets, mappings = _osc_setup(args)
    source = open_source(args.input, spec, realtime=not args.fast, loop=args.loop, channels=args.channels)
    engine = Engine(spec, source, osc_targets=targets, osc_mappings=mappings, config=config)
    return _run_engine(engine, args.duration, args.quiet)


def cmd_demo(args) -> int:
    from .engine import Engine
    from .sources import SynthSource

    spec = StreamSpec()
    targets, mappings = _osc_setup(args, default=[DEMO_OSC])
    source = SynthSource("", spec.sample_rate, spec.block_size, realtime=True, loop=True)
    if not args.quiet:
        print(f"sonolux demo: built-in 120 BPM track, OSC to {', '.join(f'{h}:{p}' for h, p in targets)}"
              " (Ctrl-C to stop)", file=sys.stderr)
    engine = Engine(spec, source, osc_targets=targets, osc_mappings=mappings)
    return _run_engine(engine, args.duration or None, args.quiet)


def cmd_analyze(args) -> int:
    import json

    from .analyze import analyze_file

    doc = analyze_file(args.file, spec=_spec(args), config=_config(args))
    text = json.dumps(doc, indent=2)
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text + "\n")
    if args.json:
        print(text)
    else:
        t = doc["tempo"]
        print(f"{doc['file']}: {doc['duration_s']:.1f} s, tempo {t['bpm']:.1f} BPM "
              f"(confidence {t['confidence']:.2f}), {len(doc['beats'])} beats, {len(doc['onsets'])} onsets")
    return 0


COMMANDS = {"devices": cmd_devices, "run": cmd_run, "analyze": cmd_analyze, "demo": cmd_demo}


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return COMMANDS[args.command](args)
    except SonoluxError as e:
        print(f"sonolux: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
