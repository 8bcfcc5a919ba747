"""``sonolux render AUDIO --preset NAME``: a preset's visuals for an audio file, to video."""
from __future__ import annotations

import sys

from .. import options

RENDER_HELP = "render a preset's visuals for an audio file to video (audio muxed in)"
RENDER_DESCRIPTION = (
    "Run AUDIO through the live analysis (offline, as fast as possible), render preset NAME "
    "offscreen frame by frame — video frame k shows the analysis of audio time k/FPS — and "
    "encode it with the audio using ffmpeg. The video lasts as long as the audio (±1 frame). "
    "Headless: EGL on a GPU machine, OSMesa elsewhere.")


def add_parser(sub) -> None:
    p = sub.add_parser("render", help=RENDER_HELP, description=RENDER_DESCRIPTION)
    p.add_argument("audio", metavar="AUDIO", nargs="?", help="audio file (anything soundfile reads)")
    p.add_argument("--preset", "-p", default=None, metavar="NAME",
                   help="preset to render (default: the first found; --list-presets shows them)")
    p.add_argument("--output", "-o", default=None, metavar="OUT.mp4",
                   help="output video (default: AUDIO's name with .mp4, in the current folder)")
    p.add_argument("--size", default="1280x720", metavar="WxH", help="frame size (default 1280x720)")
    p.add_argument("--fps", type=float, default=60.0, help="frames per second (default 60)")
    p.add_argument("--presets", action="append", default=None, metavar="DIR",
                   help="also load presets from this folder; repeatable")
    p.add_argument("--playlist", default="off", metavar="FILE|default|off",
                   help="switch presets on mood changes like the live show ('default' = "
                        "presets/playlist.json; default off: only --preset)")
    p.add_argument("--hud", action="store_true", help="burn the HUD into the video")
    p.add_argument("--gl", choices=("auto", "egl", "osmesa"), default="auto",
                   help="offscreen GL: EGL (GPU) or OSMesa (CPU); auto picks EGL when a GPU is present")
    p.add_argument("--crf", type=int, default=20, help="x264 quality, lower is better (default 20)")
    p.add_argument("--list-presets", action="store_true", help="list the presets found and exit")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    options.add_image_arguments(p)
    p.add_argument("--periods", choices=("regions", "phrases", "both"), default="both",
                   help="music video (image_bank): cut at emotion-region changes, at beat-aligned "
                        "phrases, or both (default both)")
    p.add_argument("--phrase-beats", type=int, default=16, metavar="N",
                   help="beats per phrase for --periods phrases/both (default 16)")
    options.add_stream_options(p)
    options.add_analysis_knobs(p, live=False)
    options.add_model_options(p)


def list_presets(dirs) -> int:
    from ...visual.registry import PresetRegistry

    reg = PresetRegistry(dirs or ())
    for n in reg.names():
        e = reg.entries[n]
        print(f"{n:<16} {e.config.description}")
    for where, err in reg.errors.items():
        print(f"error: {err}", file=sys.stderr)
    return 0


def run(args) -> int:
    from pathlib import Path

    from ...errors import ParameterError
    from ...visual.live import load_playlist_arg
    from ...visual.registry import PresetRegistry
    from ...visual.render import parse_size, render_file

    if args.list_presets:
        return list_presets(args.presets)
    if not args.audio:
        raise ParameterError("render needs an AUDIO file (sonolux render AUDIO --preset NAME -o out.mp4)")
    size = parse_size(args.size)
    models, inference = options.inference_setup(args)
    spec, config = options.stream_spec(args), options.analysis_config(args)
    registry = PresetRegistry(args.presets or ())
    preset = args.preset or registry.names()[0]
    playlist = None
    if args.playlist != "off":
        playlist = load_playlist_arg(args.playlist, registry)
    out = Path(args.output) if args.output else Path.cwd() / (Path(args.audio).stem + ".mp4")
    res = render_file(args.audio, out, preset=preset, size=size, fps=args.fps,
                      presets_dirs=args.presets or (), spec=spec, config=config, gl=args.gl,
                      hud=args.hud, progress=not args.quiet, crf=args.crf, playlist=playlist,
                      models=models, inference=inference, images=args.images, periods=args.periods,
                      phrase_beats=args.phrase_beats)
    if not args.quiet:
        dur = f"{res.video_duration:.3f} s" if res.video_duration is not None else "?"
        print(f"sonolux render: wrote {res.path}: {res.frames} frames at {res.fps:g} fps, "
              f"{res.size[0]}x{res.size[1]}, {dur} (audio {res.audio_duration:.3f} s), "
              f"{res.frames / max(res.seconds, 1e-9):.1f} frames/s ({res.backend})"
              + (f", {res.errors} preset error(s): fallback shown" if res.errors else ""),
              file=sys.stderr)
        if res.periods is not None:
            print(f"sonolux render: {len(res.periods)} periods, cut list in {res.path}.periods.json",
                  file=sys.stderr)
    return 0
