"""The operator's surface: failures you can see (targets named at start, the failing target
and its cause on the status line and in /sonolux/status, retries instead of a dead run),
profile typos with a suggestion, headless runs that say what they ignore, --wait-for-device."""
from __future__ import annotations

import re

import socket
import subprocess
import threading

import numpy as np
import pytest

from conftest import run_sonolux, sonolux_cmd, wait_until
from sonolux import ConfigError, Engine, StreamSpec
from sonolux.outputs.osc import build_targets
from sonolux.outputs.osc_config import load_profile
from sonolux.sources import SynthSource

SPEC = StreamSpec()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpMonitor:
    """``sonolux osc monitor --tcp`` as the console: a real TCP OSC peer in its own process,
    its printed lines collected by a reader thread."""

    def __init__(self, port: int):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(sonolux_cmd("osc", "monitor", "--tcp", "--port", str(port)),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


def test_refused_tcp_target_is_shown_and_recovers_when_a_listener_appears(tmp_path):
    port = free_tcp_port()  # nothing listens here yet
    targets = build_targets([f"127.0.0.1:{port}"], "eos")
    engine = Engine(SPEC, SynthSource("clicks:120", SPEC.sample_rate, SPEC.block_size), osc_targets=targets)
    listener = None
    try:
        with engine:
            health = wait_until(lambda: [h for h in engine.output_health() if h.state == "refused"], 10,
                                "the target reported refused")
            assert health[0].last_error == "connection refused" and f":{port}" in health[0].name
            status = engine.status_args()
            assert status[9] == 1 and "refused (connection refused)" in status[10]
            listener = TcpMonitor(port)
            wait_until(lambda: engine.output_health()[0].state == "ok", 30, "the target connected")
            wait_until(lambda: listener.lines, 10, "messages at the listener")
            assert engine.status_args()[9] == 0 and engine.status_args()[10] == ""
    finally:
        if listener is not None:
            listener.close()
    assert listener.lines and all(line.split()[1].startswith("/eos/") for line in listener.lines)


def test_run_names_its_targets_and_survives_unresolvable_and_refused_ones():
    port = free_tcp_port()
    res = run_sonolux("run", "--input", "synth", "--no-models", "--duration", "2",
                      "--osc", "no.such.host.invalid:9000", "--osc", f"127.0.0.1:{port}@eos", timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    start = [line for line in lines if line.startswith("sonolux: OSC to ")]
    assert start and "udp://no.such.host.invalid:9000 (sonolux)" in start[0] and f"tcp://127.0.0.1:{port} (eos)" in start[0]
    assert "cannot resolve host 'no.such.host.invalid'" in res.stderr
    summary = [line for line in lines if line.startswith("sonolux: OSC ") and not line.startswith("sonolux: OSC to")]
    assert any("unresolved" in line for line in summary) and any("refused: connection refused" in line for line in summary)
    assert "Traceback" not in res.stderr


def test_a_profile_alone_says_it_uses_the_profiles_own_address():
    res = run_sonolux("run", "--input", "synth", "--no-models", "--duration", "0.5", "--osc-profile", "grandma3",
                      timeout=60)
    assert res.returncode == 0, res.stderr
    assert "udp://127.0.0.1:8000 (grandma3)" in res.stderr
    assert "the grandma3 profile's own address" in res.stderr and "--osc HOST:PORT@grandma3" in res.stderr


def test_profile_field_typo_is_an_error_with_a_suggestion(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('[[map]]\nfield = "levle"\naddress = "/fader/1"\n')
    with pytest.raises(ConfigError) as e:
        load_profile(str(p))
    assert f"{p}: map[0].field: 'levle'" in str(e.value) and "did you mean 'level'" in str(e.value)
    res = run_sonolux("run", "--input", "synth", "--osc-profile", str(p), "--duration", "0.5", timeout=60)
    assert res.returncode == 2 and "did you mean 'level'" in res.stderr and "Traceback" not in res.stderr


def test_every_field_the_engine_produces_is_known_to_profiles_and_presets():
    from sonolux.analysis import Analyzer
    from sonolux.inference.stage import InferenceStage
    from sonolux.visual import fields

    stage = InferenceStage(["emotion", "tags", "latent"], every_s=0.5, tag_labels=list(fields.TAG_NAMES))
    layout = Analyzer(SPEC, inference_stage=stage).layout
    produced = set(layout.scalars) | set(layout.vectors)
    assert produced and produced <= set(fields.all_field_names()), produced - set(fields.all_field_names())


def test_headless_run_says_which_window_options_it_ignores():
    res = run_sonolux("run", "--input", "synth", "--no-models", "--duration", "0.5", "--no-window",
                      "--fullscreen", "--hud", "--preset", "kaleidoscope", timeout=60)
    assert res.returncode == 0, res.stderr
    assert "no visual window (--no-window): ignoring --fullscreen, --hud, --preset" in res.stderr
    bad = run_sonolux("run", "--input", "synth", "--no-models", "--duration", "0.5", "--no-window",
                      "--preset", "kaleidoskope", timeout=60)
    assert bad.returncode == 2 and "no preset named 'kaleidoskope'" in bad.stderr and "kaleidoscope" in bad.stderr


def test_wait_for_device_waits_until_the_input_appears(pulse):
    sink = "sonolux_late"
    proc = subprocess.Popen(sonolux_cmd("run", "--input", f"{sink}.monitor", "--wait-for-device", "--no-models",
                                        "--duration", "1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=pulse.env)
    try:
        first = proc.stderr.readline()
        assert "waiting for the input device" in first and f"{sink}.monitor" in first, first
        assert proc.poll() is None  # still waiting, not failed
        pulse._pactl("load-module", "module-null-sink", f"sink_name={sink}", "rate=48000")
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        mods = pulse._pactl("list", "short", "modules").stdout
        for line in mods.splitlines():
            if f"sink_name={sink}" in line:
                pulse._pactl("unload-module", line.split()[0])
    assert proc.returncode == 0, err
    assert "frames" in err and "dropped blocks 0" in err, err


def test_osc_addresses_table_lists_every_address_status_field_and_control():
    from sonolux.app.control import CONTROL_ADDRESSES, engine_controls
    from sonolux.app.commands.run import make_controls

    res = run_sonolux("osc", "addresses")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for m in load_profile("sonolux").maps:
        assert m.address in out, m.address
    assert "/sonolux/silence" in out and "/sonolux/status" in out
    assert re.search(rf"^/sonolux/status +{''.join(t for t, _ in Engine.STATUS_FIELDS)} ", out, re.M), out
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size), osc_targets=build_targets(["127.0.0.1:9"]))
    status = engine.status_args()
    assert len(status) == len(Engine.STATUS_FIELDS)
    assert all(isinstance(v, {"i": int, "f": float, "s": str}[t]) for v, (t, _) in zip(status, Engine.STATUS_FIELDS))
    assert status[-5:] == (0, -1, -1, -1.0, -1.0)  # no judge in a chain without models
    for address in engine_controls(engine):
        assert address in out, address
    import argparse

    handlers = make_controls(engine, argparse.Namespace()).handlers
    assert {a for a, _, _ in CONTROL_ADDRESSES} == set(handlers)
    eos = run_sonolux("osc", "addresses", "--profile", "eos")
    assert eos.returncode == 0 and "/eos/user/0/sub/1" in eos.stdout and "tcp://" in eos.stdout


def test_tap_lock_shows_can_be_released_and_the_phase_nudged():
    """On a drumless pad: taps at 100 BPM lock the tracker (frame field tap_lock, stats), a
    nudge of +0.25 beat moves every later beat 0.15 s, release hands the tempo back."""
    from sonolux.analysis import Analyzer

    sr, period = SPEC.sample_rate, 0.6
    t = np.arange(14 * sr) / sr
    pad = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    analyzer = Analyzer(SPEC)
    taps = [1.0 + k * period for k in range(5)]
    done = {"nudge": False, "release": False}

    def after_hop():
        now = analyzer.sample_pos / sr
        while taps and now >= taps[0]:
            analyzer.tap(taps.pop(0))
        if now >= 6.0 and not done["nudge"]:
            analyzer.nudge_phase(0.25)
            done["nudge"] = True
        if now >= 11.0 and not done["release"]:
            analyzer.release_tap()
            done["release"] = True

    table = analyzer.analyze(pad, after_hop=after_hop, block_hops=1)  # controls hop by hop, as live
    lock = table.column("tap_lock")
    times = np.arange(1, len(table) + 1) * SPEC.hop / sr
    assert lock[(times > 4.0) & (times < 10.9)].min() == 1.0  # locked, and it shows
    assert lock[times > 11.1].max() == 0.0  # released
    beats = table.event_times("beat")
    before = beats[(beats > 3.5) & (beats < 5.9)]
    after = beats[(beats > 6.7) & (beats < 10.9)]
    assert before.size >= 3 and after.size >= 5
    grid = np.median(np.mod(before - before[0], period))
    shift = np.median(np.mod(after - before[0], period)) - grid
    assert shift == pytest.approx(0.25 * period, abs=0.02), shift
    with pytest.raises(Exception, match="nudge=0.9 must be within -0.5..0.5"):
        analyzer.nudge_phase(0.9)


def test_an_unresolvable_host_is_looked_up_again_and_recovers(oscdump, monkeypatch):
    """DNS that fails at start (a console not on the network yet) and answers later: the
    target shows "unresolved" with the cause, then delivers to the real peer."""
    from sonolux.outputs import osc_transport

    dump = oscdump()
    real = socket.getaddrinfo
    state = {"dns_up": False}

    def flaky(host, *args, **kw):
        if host == "console.local" and not state["dns_up"]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real("127.0.0.1" if host == "console.local" else host, *args, **kw)

    monkeypatch.setattr(osc_transport.socket, "getaddrinfo", flaky)
    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size),
                    osc_targets=build_targets([f"console.local:{dump.port}"]))
    with engine:
        h = wait_until(lambda: engine.output_health()[0].errors > 0 and engine.output_health()[0], 10,
                       "sends counted as failed")
        assert h.state == "unresolved" and "cannot resolve host 'console.local'" in h.last_error
        state["dns_up"] = True
        wait_until(lambda: engine.output_health()[0].state == "ok", 30, "the host resolved")
        dump.wait_for(lambda m: any(a == "/sonolux/level" for _, a, _, _ in m), 10, "levels at the peer")
    assert dump.stop()
