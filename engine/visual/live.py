"""The visual window next to the live engine (``sonolux run`` / ``demo``), or, for ``demo``
without a display, a short rendered demo clip. The run loop itself is
:mod:`sonolux.app.runloop`.

The engine's threads (source, analysis, OSC) run as before; the window lives on the main
thread, reads frames from the mailbox and never blocks them. ``engine.visual_host`` is set to
the :class:`~sonolux.visual.host.VisualHost`, whose ``request_preset(name)`` and
``set_blackout(on)`` are safe to call from any thread (the OSC control server uses them).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from .gl import has_display

log = logging.getLogger("sonolux.visual")

DEMO_CLIP = "sonolux-demo.mp4"
DEMO_SEQUENCE = ("spectrum_bars", "kaleidoscope", "particles", "scope_tunnel", "emotion_field",
                 "spectrum_ring", "latent_shader")


def window_wanted(args) -> bool:
    """A window is shown unless ``--no-window``, when a display is present and Vispy has a
    windowing backend (Qt, GLFW, SDL2, ...); without one it says so and runs windowless."""
    if getattr(args, "no_window", False) or not has_display():
        return False
    from .gl import GLUnavailable, use_window

    try:
        use_window()
    except GLUnavailable as e:
        print(f"sonolux: warning: {e}; running without the visual window", file=sys.stderr)
        return False
    return True


def load_playlist_arg(value, registry):
    """``--playlist``: None or "default" (the shipped playlist, if any), "off"/"none", or a file."""
    from .playlist import load_playlist
    from .registry import default_presets_dir

    if value in ("off", "none"):
        return None
    default = value in (None, "default")
    path = default_presets_dir() / "playlist.json" if default else Path(value)
    if default and not path.exists():
        return None
    return load_playlist(path, known=set(registry.entries))


def open_host(engine, args):
    """The VisualHost for ``args`` (the visual options), wired to ``engine``: OSC preset
    requests and blackout reach it from any thread."""
    from .gl import use_window
    from .host import VisualHost
    from .registry import PresetRegistry

    use_window()
    registry = PresetRegistry(args.presets or ())
    playlist = load_playlist_arg(args.playlist, registry)
    host = VisualHost(registry, (1280, 720), preset=args.preset, playlist=playlist, hud=args.hud)
    engine.visual_host = host
    engine.preset_handler = host.request_preset  # OSC /sonolux/preset (any thread)
    engine.preset_names = registry.entries  # unknown names are refused with a suggestion
    engine.blackout_handler = host.set_blackout  # OSC /sonolux/blackout
    return host


def show_window(host, engine, args, *, on_tick, quiet: bool = False) -> None:
    """Open the window and run the GUI loop until it closes or ``on_tick()`` is False."""
    from vispy import app

    from .window import VisualWindow

    win = VisualWindow(host, engine.mailbox, fullscreen=args.fullscreen, screen=args.screen,
                       vsync=not args.no_vsync, on_tick=on_tick)
    if not quiet:
        print(f"sonolux: window open, preset {host.current} (←/→ presets, F fullscreen, "
              "H HUD, B blackout, Esc quit)", file=sys.stderr)
    try:
        app.run()
    finally:
        del win


def render_demo_clip(path=DEMO_CLIP, *, seconds: float = 10.0, size=(640, 360), fps: float = 30.0,
                     presets_dirs=(), preset: str | None = None, quiet: bool = False):
    """Render the built-in demo track's first ``seconds`` through the presets (a new one every
    2 s, crossfaded; or only ``preset``) into ``path``. Returns the RenderResult."""
    import tempfile

    import soundfile as sf

    from ..sources.synth import demo_track
    from ..spec import StreamSpec
    from .registry import PresetRegistry
    from .render import render_file

    spec = StreamSpec()
    signal = demo_track(spec.sample_rate)[: int(seconds * spec.sample_rate)]
    registry = PresetRegistry(presets_dirs)
    if preset:
        registry.get(preset)
        schedule = []
    else:
        names = [n for n in DEMO_SEQUENCE if n in registry.entries] or registry.names()
        step = seconds / max(len(names), 1)
        schedule = [(i * step, n) for i, n in enumerate(names)]
        preset = names[0] if names else "fallback"
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "demo.wav"
        sf.write(str(wav), signal, spec.sample_rate, subtype="PCM_16")
        return render_file(wav, path, preset=preset, size=size, fps=fps, presets_dirs=presets_dirs,
                           spec=spec, progress=not quiet and sys.stderr.isatty(), schedule=schedule,
                           crossfade_s=0.6)


def demo_without_display(args) -> None:
    """``sonolux demo`` on a machine without a display: render a short clip and say where."""
    from ..errors import SonoluxError

    if getattr(args, "no_window", False):
        return
    path = Path.cwd() / DEMO_CLIP
    quiet = getattr(args, "quiet", False)
    if not quiet:
        print(f"sonolux demo: no display, rendering a short visual demo clip to {path} ...",
              file=sys.stderr, flush=True)
    try:
        res = render_demo_clip(path, presets_dirs=args.presets or (), preset=args.preset, quiet=quiet)
    except SonoluxError as e:
        print(f"sonolux demo: no demo clip ({e})", file=sys.stderr)
        return
    except Exception as e:  # noqa: BLE001 - the OSC demo must still run
        log.exception("demo clip")
        print(f"sonolux demo: no demo clip ({type(e).__name__}: {e})", file=sys.stderr)
        return
    if not quiet:
        print(f"sonolux demo: wrote {res.path} ({res.frames} frames, {res.video_duration or res.audio_duration:.1f} s, "
              f"{res.size[0]}x{res.size[1]}); now the live OSC demo", file=sys.stderr)
