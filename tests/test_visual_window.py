"""The live window glue (``sonolux run`` / ``demo`` with a display), driven headless: the same
VisualWindow, app.Timer and mailbox reads, on an OSMesa canvas, with a real-time engine."""
from __future__ import annotations

import argparse
import threading
import time


from conftest import needs_gl

pytestmark = needs_gl


def test_window_follows_the_live_engine_and_takes_osc_preset_requests(monkeypatch):
    from sonolux.visual.gl import use_offscreen

    monkeypatch.setenv("SONOLUX_WINDOW_OFFSCREEN", "1")
    use_offscreen("osmesa")  # the "window" is an invisible OSMesa canvas here
    from sonolux.engine import Engine
    from sonolux.sources import SynthSource
    from sonolux.spec import StreamSpec
    from sonolux.app.options import add_visual_options
    from sonolux.app.runloop import run_engine

    p = argparse.ArgumentParser()
    add_visual_options(p)
    args = p.parse_args(["--preset", "spectrum_bars", "--hud", "--playlist", "off"])
    spec = StreamSpec()
    eng = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size, realtime=True, loop=True))

    def controller():  # what the OSC control server does on /sonolux/preset and /blackout
        deadline = time.monotonic() + 30
        while (getattr(eng, "visual_host", None) is None or eng.visual_host.t < 0.5) and time.monotonic() < deadline:
            time.sleep(0.01)  # wait for half a second of audio on screen
        eng.request_preset("kaleidoscope")
        eng.set_blackout(False)

    th = threading.Thread(target=controller, daemon=True)
    th.start()
    assert run_engine(eng, duration=1.5, quiet=True, window_args=args) == 0
    th.join(2)
    host = eng.visual_host
    assert host.errors == 0 and host.disabled == {}
    assert host.frames >= 10, f"only {host.frames} timer ticks"
    assert host.current == "kaleidoscope"
    # the animation clock is the audio clock of the frames shown
    assert 1.0 <= host.t <= 1.5 + 0.5


def test_no_window_backend_means_a_clear_warning_and_a_windowless_run(monkeypatch, capsys):
    from sonolux.visual import gl, live

    def no_backend():
        raise gl.GLUnavailable("no window backend for Vispy (install one, e.g. `pip install glfw`)")

    monkeypatch.setattr(gl, "use_window", no_backend)
    monkeypatch.setenv("DISPLAY", ":0")
    args = argparse.Namespace(no_window=False)
    assert live.window_wanted(args) is False
    assert "running without the visual window" in capsys.readouterr().err
    assert live.window_wanted(argparse.Namespace(no_window=True)) is False
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert live.window_wanted(argparse.Namespace(no_window=False)) is False
