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
    g.add_argument("--osc", action="append", metavar="HOST:PORT[@PROFILE]", default=None,
                   help="send OSC to this target, optionally with its own profile "
                        "(e.g. 10.0.0.5:3032@eos); repeat for several"
                        + (f" (default {', '.join(default_targets)})" if default_targets else ""))
    g.add_argument("--osc-profile", default=None, metavar="NAME|FILE.toml",
                   help="mapping profile for targets without @PROFILE: a shipped one "
                        "(`sonolux osc profiles`) or your own TOML; alone, it sends to the "
                        "host and port the profile names (default profile: sonolux)")
    g.add_argument("--osc-threshold", type=float, default=None,
                   help="send a value only when it moved by at least this fraction of its range "
                        "(profile default, 0.01)")
    g.add_argument("--osc-rate", type=float, default=None,
                   help="maximum messages per second per address (profile default, 44)")
    g.add_argument("--osc-bundle", action="store_true",
                   help="send each frame's messages as one bundle (off by default: grandMA3 rejects bundles)")
    g.add_argument("--osc-delay", type=float, default=None, metavar="MS",
                   help="hold OSC back by this many milliseconds, to line lights up with a PA or projector")
    c = p.add_argument_group("OSC control input")
    c.add_argument("--control", default=None, metavar="[HOST:]PORT",
                   help="listen for OSC control (/sonolux/preset, /tap, /bpm/range, /threshold/<name>, "
                        "/emotion/override, /blackout); HOST defaults to 127.0.0.1")
    c.add_argument("--control-allow", default=None, metavar="IP[,IP...]",
                   help="accept control packets only from these sender addresses")


def add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("models (mood, tags, latent)")
    g.add_argument("--no-models", action="store_true",
                   help="run without the ONNX encoders (levels, onsets and beats never need them)")
    g.add_argument("--models", default=None, metavar="DIR",
                   help="folder with emotion.onnx / tagger.onnx / latent.onnx (default: models_onnx/, "
                        "or $SONOLUX_MODELS)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="inference device: auto = CUDA (or TensorRT) when present, else CPU (default auto)")
    g.add_argument("--model-threads", type=_int_arg("model_threads"), default=1,
                   help="onnxruntime threads (default 1: leaves a core to the analysis on small machines)")
    g.add_argument("--inference-every", type=float, default=0.5, metavar="SECONDS",
                   help="run the models once per this much audio (default 0.5)")
    g.add_argument("--smoothing", choices=("ema", "one-euro", "none"), default="ema",
                   help="smoothing of the predictions for live use (default ema, 2 s)")
    g.add_argument("--mood-calibration", default=None, metavar="FILE",
                   help="per-show mood calibration (JSON): loaded at start, taught by the operator's "
                        "/sonolux/emotion/override, saved at stop; delete the file to reset")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sonolux",
        description="Real-time audio analysis for live shows: levels, bands, onsets, beats, mood, "
                    "tags and emotion regions from a live input, a file or a built-in demo, sent as "
                    "OSC to lighting consoles and VJ software and shown by visual presets.",
        epilog="Run `sonolux COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"sonolux {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .visual import commands as vis

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
    run.add_argument("--record", default=None, metavar="DIR",
                     help="record the feature stream into a new folder, crash-safe (flushed every second)")
    run.add_argument("--record-audio", action="store_true", help="with --record: also record the input audio")
    add_stream_options(run)
    add_osc_options(run)
    add_model_options(run)
    vis.add_visual_options(run)
    vis.add_image_arguments(run)

    an = sub.add_parser("analyze", help="analyse an audio file through the live path",
                        description="Run FILE through the same analysis as the live engine, as fast "
                                    "as possible, and print tempo, beats, onsets (and, where models "
                                    "are installed, mood and tags). --json prints the document "
                                    "described in docs/architecture.md.")
    an.add_argument("file", metavar="FILE", help="audio file (anything soundfile reads)")
    an.add_argument("--json", action="store_true", help="print the full JSON document")
    an.add_argument("--output", "-o", default=None, metavar="PATH", help="also write the JSON here")
    an.add_argument("--plot", default=None, metavar="PNG",
                    help="draw waveform, energy, z-coefficients with their bands, valence/arousal and "
                         "the labelled emotion regions on one timeline")
    add_stream_options(an)
    add_model_options(an)

    mods = sub.add_parser("models", help="list installed models, their contract and device",
                          description="List the ONNX encoders sonolux would load, with their contract "
                                      "(task, window, inputs, labels) and the execution provider each "
                                      "runs on. A model that does not match the engine is reported "
                                      "with the reason.")
    mods.add_argument("--models", default=None, metavar="DIR", help="model folder (default models_onnx/)")
    mods.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")

    rp = sub.add_parser("replay", help="drive the outputs from a recording (or --dry-run: summarise it)",
                        description="Play a folder made by `run --record` into the outputs (OSC) at "
                                    "its recorded pace. --dry-run only reads it and prints duration, "
                                    "frames, last timestamp and anything damaged or cut off.")
    rp.add_argument("folder", metavar="DIR", help="a recording folder")
    rp.add_argument("--dry-run", action="store_true", help="only read and summarise the recording")
    rp.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1.0)")
    rp.add_argument("--quiet", "-q", action="store_true", help="no status line")
    add_osc_options(rp)

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
    mon.add_argument("--port", type=_int_arg("port"), default=9000, help="port to listen on (default 9000)")
    mon.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    mon.add_argument("--tcp", action="store_true", help="listen on TCP instead of UDP")
    mon.add_argument("--framing", choices=("len", "slip"), default="len",
                     help="TCP framing: len = OSC 1.0 length prefix, slip = OSC 1.1 (default len)")
    mon.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    mon.add_argument("--count", type=int, default=None, help="stop after this many messages")

    demo = sub.add_parser("demo", help="the built-in demo: no sound card needed",
                          description="Play the built-in demo track through the whole live path "
                                      "(real-time paced) and send OSC, with a status line.")
    demo.add_argument("--duration", type=float, default=32.0, metavar="SECONDS",
                      help="how long to run (default 32, one pass of the demo track; 0 = until Ctrl-C)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no status line")
    add_osc_options(demo, [DEMO_OSC])
    add_model_options(demo)
    vis.add_visual_options(demo)

    rend = sub.add_parser("render", help=vis.RENDER_HELP, description=vis.RENDER_DESCRIPTION)
    vis.add_render_arguments(rend)
    add_stream_options(rend)
    add_model_options(rend)

    from .imagery.cli import add_images_parser

    add_images_parser(sub)
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
    """TargetConfigs from --osc / --osc-profile and the override flags."""
    from .outputs.osc import DEFAULT_PROFILE, parse_target
    from .outputs.osc_config import load_profile, with_overrides

    if args.osc_rate is not None and args.osc_rate <= 0:
        raise ParameterError(f"--osc-rate={args.osc_rate} must be positive")
    if args.osc_threshold is not None and not 0 <= args.osc_threshold <= 1:
        raise ParameterError(f"--osc-threshold={args.osc_threshold} must be within 0..1")
    if args.osc_delay is not None and not 0 <= args.osc_delay <= 10000:
        raise ParameterError(f"--osc-delay={args.osc_delay} must be within 0..10000 ms")
    overrides = dict(threshold=args.osc_threshold, max_rate_hz=args.osc_rate,
                     bundle=True if args.osc_bundle else None, delay_ms=args.osc_delay)
    default_profile = args.osc_profile or DEFAULT_PROFILE
    specs = args.osc or ([] if args.osc_profile else list(default))
    targets = []
    for spec_text in specs:
        addr, _, prof = spec_text.partition("@")
        host, port = parse_target(addr)
        targets.append(with_overrides(load_profile(prof or default_profile), host=host, port=port, **overrides))
    if not specs and args.osc_profile:  # the profile's own host and port
        targets.append(with_overrides(load_profile(args.osc_profile), **overrides))
    return targets


def _open_control(engine, args) -> None:
    if not args.control:
        return
    text = args.control
    host, port = ("127.0.0.1", text) if ":" not in text else text.rsplit(":", 1)
    try:
        port = int(port)
    except ValueError:
        raise ParameterError(f"--control {text!r}: port {port!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ParameterError(f"--control {text!r}: port {port} is outside 0..65535")
    allow = [a.strip() for a in args.control_allow.split(",")] if args.control_allow else None
    server = engine.open_control(host.strip("[]"), port, allow)
    print(f"sonolux: OSC control on udp://{server.address[0]}:{server.port}", file=sys.stderr)


def _inference(args):
    """(models, InferenceConfig) for a run; warnings for missing models go to stderr."""
    from .inference.runtime import InferenceConfig, load_calibration, load_models
    from .inference.smoothing import METHODS

    if args.inference_every <= 0 or args.inference_every > 30:
        raise ParameterError(f"--inference-every={args.inference_every} must be within 0..30 seconds")
    if args.model_threads < 1:
        raise ParameterError(f"--model-threads={args.model_threads} must be at least 1")
    cfg = InferenceConfig(model_dir=args.models, device=args.device, threads=args.model_threads,
                          every_s=args.inference_every, smoothing=args.smoothing,
                          calibration=getattr(args, "mood_calibration", None))
    assert cfg.smoothing in METHODS
    if args.no_models:
        return {}, cfg
    models, warnings = load_models(cfg)
    if "emotion" in models and cfg.calibration:
        warnings.append(load_calibration(cfg.calibration)[1])
    for w in filter(None, warnings):
        print(f"sonolux: warning: {w}", file=sys.stderr)
    return models, cfg


def cmd_models(args) -> int:
    from .errors import ModelError
    from .inference.models import default_model_dir, find_models, load_model

    model_dir = args.models or default_model_dir()
    found = find_models(model_dir)
    if not found:
        print(f"no models in {model_dir} (expected emotion.onnx, tagger.onnx, latent.onnx)")
        return 1
    bad = 0
    for task, path in found.items():
        try:
            m = load_model(path, device=args.device, expect_task=task)
        except ModelError as e:
            print(f"{task:<8} ERROR  {e}")
            bad += 1
            continue
        c = m.contract
        inputs = ", ".join(f"{n}{list(s)}" for n, s in m.input_shapes.items())
        print(f"{task:<8} {m.name} {c.get('version', '?')}  {path}")
        f = c["features"]
        print(f"         provider {m.provider}; window {m.window_frames * f['hop'] / f['sample_rate']:.2f} s "
              f"({m.window_frames} frames @ {c['features']['sample_rate']} Hz, hop {c['features']['hop']}, "
              f"{c['features']['n_mels']} mels); inputs {inputs}; {len(m.labels)} labels")
        if m.tag_labels:
            print(f"         also {len(m.tag_labels)} tags from its trunk: a tagger.onnx beside it is not loaded")
    return 1 if bad else 0


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
    from .status import StatusLine, run_summary

    status = StatusLine()
    tty = sys.stderr.isatty()
    interval = 0.25 if tty else 1.0
    frame = engine.mailbox.layout.new_frame()
    last_print = 0.0
    try:
        engine.start()  # inside the try: a Ctrl-C during start-up still stops what started
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
    if not quiet:
        print(run_summary(engine.stats()), file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    from .engine import Engine
    from .sources import open_source

    spec = _spec(args)
    config = _config(args)
    targets = _osc_setup(args)
    source = open_source(args.input, spec, realtime=not args.fast, loop=args.loop, channels=args.channels)
    models, inference = _inference(args)  # after the input: a typo in a device name fails fast
    engine = Engine(spec, source, osc_targets=targets, config=config, models=models, inference=inference,
                    record_dir=args.record, record_audio=args.record_audio)
    _open_control(engine, args)
    from .imagery.cli import setup_live

    setup_live(engine, args)  # --images DIR: the image bank's folder
    from .visual.commands import run_with_window, window_wanted

    if window_wanted(args):
        return run_with_window(engine, args, duration=args.duration, quiet=args.quiet)
    return _run_engine(engine, args.duration, args.quiet)


def cmd_demo(args) -> int:
    from .engine import Engine
    from .sources import SynthSource

    spec = StreamSpec()
    targets = _osc_setup(args, default=[DEMO_OSC])
    models, inference = _inference(args)
    source = SynthSource("", spec.sample_rate, spec.block_size, realtime=True, loop=True)
    if not args.quiet:
        print(f"sonolux demo: built-in 120 BPM track, OSC to {', '.join(t.label for t in targets)}"
              " (Ctrl-C to stop)", file=sys.stderr)
    engine = Engine(spec, source, osc_targets=targets, models=models, inference=inference)
    _open_control(engine, args)
    from .visual.commands import demo_without_display, run_with_window, window_wanted

    if window_wanted(args):
        return run_with_window(engine, args, duration=args.duration or None, quiet=args.quiet)
    demo_without_display(args)  # renders a short clip to ./sonolux-demo.mp4 and says so
    return _run_engine(engine, args.duration or None, args.quiet)


def cmd_analyze(args) -> int:
    import json

    from .analyze import analyze

    models, inference = _inference(args)
    result = analyze(args.file, spec=_spec(args), config=_config(args), models=models, inference=inference)
    doc = result.doc
    if args.plot:
        from .plot import plot_analysis

        print(f"sonolux: plot written to {plot_analysis(result, args.plot)}", file=sys.stderr)
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
        if doc["emotion"]:
            e = doc["emotion"]
            print(f"mood: {e['quadrant']} (valence {e['valence']:+.2f}, arousal {e['arousal']:+.2f})")
        if doc["tags"]:
            top = sorted(doc["tags"].items(), key=lambda kv: -kv[1])[:5]
            print("tags: " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    return 0


def cmd_replay(args) -> int:
    from .outputs.osc import OscSender
    from .record import read_recording
    from .replay import Player, dry_run_report, layout_of

    rec = read_recording(args.folder)
    if args.dry_run:
        print(dry_run_report(rec))
        return 0
    if rec.frames.shape[0] == 0:
        raise ParameterError(f"{args.folder}: the recording holds no frames")
    if not 0.05 <= args.speed <= 100:
        raise ParameterError(f"--speed={args.speed} must be within 0.05..100")
    from .frame import Mailbox

    mailbox = Mailbox(layout_of(rec))
    targets = _osc_setup(args)
    sender = OscSender(mailbox, targets) if targets else None
    player = Player(rec, mailbox, speed=args.speed)
    if sender:
        sender.start()
    player.start()
    try:
        while not player.done.wait(0.25):
            if not args.quiet:
                print(f"\rreplay {player.played}/{rec.frames.shape[0]} frames", end="", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        player.stop()
        if sender:
            sender.poll_once()
            sender.stop()
    if not args.quiet:
        print(f"\rsonolux: replayed {player.played} frames"
              + (f", OSC messages {sender.messages} (errors {sender.errors})" if sender else ""), file=sys.stderr)
    return 0


def cmd_osc(args) -> int:
    from .outputs import osc_config

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
        from .outputs.osc_monitor import monitor

        try:
            monitor(args.host, args.port, tcp=args.tcp, framing=args.framing,
                    duration=args.duration, count=args.count)
        except OSError as e:
            raise ParameterError(f"cannot listen on {args.host}:{args.port} ({e.strerror})") from None
        return 0
    print("usage: sonolux osc {profiles,monitor} (see sonolux osc --help)", file=sys.stderr)
    return 2


def cmd_images(args) -> int:
    from .imagery.cli import cmd_images as images

    return images(args)


def cmd_render(args) -> int:
    from .visual.commands import cmd_render as render

    if args.list_presets:
        return render(args)
    models, inference = _inference(args)
    return render(args, spec=_spec(args), config=_config(args), models=models, inference=inference)


COMMANDS = {"devices": cmd_devices, "run": cmd_run, "analyze": cmd_analyze, "models": cmd_models,
            "osc": cmd_osc, "replay": cmd_replay, "demo": cmd_demo, "render": cmd_render,
            "images": cmd_images}


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    signal.signal(signal.SIGTERM, _sigterm)
    import logging

    logging.basicConfig(level=logging.WARNING, format="sonolux: %(message)s")
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
    import os

    os._exit(rc)


if __name__ == "__main__":
    console_main()
