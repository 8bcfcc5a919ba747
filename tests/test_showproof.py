"""Show-proof: the engine survives what happens at a gig — a device unplugged and back,
pathological audio, malformed files, a kill -9 in the middle of a recording, SIGTERM."""
import logging
import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_packet import OscPacket

import tiny_models
from conftest import sine, sonolux_cmd, wait_until
from sonolux import ConfigError, Engine, StreamSpec
from sonolux.inference.runtime import InferenceConfig, load_models
from sonolux.outputs.osc import build_targets
from sonolux.outputs.osc_config import PROFILE_DIR, load_profile
from sonolux.outputs.record import HEADER, read_recording
from sonolux.sources import ArraySource
from sonolux.sources.live import LiveSource

SR = 48000
SPEC = StreamSpec()


def latest(engine):
    f = engine.mailbox.layout.new_frame()
    assert engine.mailbox.read_latest(f)
    return f


def wait_for_level(engine, db, timeout=10.0):
    """The captured level reaches ``db`` (±1.5) within ``timeout`` seconds and is still there
    half a second of audio later."""
    f = engine.mailbox.layout.new_frame()
    wait_until(lambda: engine.mailbox.read_latest(f) and abs(f["level_db"] - db) <= 1.5, timeout,
               lambda: f"the level at {db} dB (it is {latest(engine)['level_db']:.1f} dB)")
    t0 = f.t
    wait_until(lambda: latest(engine).t >= t0 + 0.5, 10, "half a second more audio")
    assert latest(engine)["level_db"] == pytest.approx(db, abs=1.5)


def test_device_unplugged_and_back(pulse, tmp_path, caplog):
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.tile(sine(1000, SR, 2.0, 0.5)[:, None], (1, 2)), SR)
    player = pulse.play_loop(wav)
    engine = Engine(SPEC, LiveSource(pulse.monitor, SR, 256))
    try:
        with caplog.at_level(logging.WARNING, logger="sonolux"), engine:
            wait_for_level(engine, -9.0)
            pulse.remove_sink()
            wait_until(lambda: engine.input_lost and latest(engine)["level_db"] <= -100, 10,
                       "the input lost and the levels at zero")  # outputs alive, levels at zero
            hops = engine.worker.hops
            wait_until(lambda: engine.worker.hops > hops + 50, 5, "50 more hops")  # frames keep coming
            pulse.add_sink()
            wait_until(lambda: not engine.input_lost, 10, "the input back with the sink")
            wait_for_level(engine, -9.0)
    finally:
        os.killpg(player.pid, signal.SIGKILL)
        pulse.add_sink() if pulse.monitor not in subprocess.run(
            ["pactl", "list", "short", "sources"], env=pulse.env, capture_output=True, text=True).stdout else None
    lost = [r for r in caplog.records if "lost" in r.getMessage()]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1  # logged once, not once per retry
    assert engine.stats().input_losses == 1


def pathological_signal():
    """NaN bursts, ±Inf, full-scale squares, 10 s of digital silence, DC, clipping."""
    rng = np.random.default_rng(3)
    parts = []
    noisy = 0.3 * rng.standard_normal(3 * SR)
    noisy[SR:SR + 2000] = np.nan
    noisy[2 * SR:2 * SR + 50] = np.inf
    noisy[2 * SR + 100:2 * SR + 150] = -np.inf
    parts.append(noisy)
    t = np.arange(3 * SR) / SR
    parts.append(np.sign(np.sin(2 * np.pi * 100 * t)))  # full-scale square
    parts.append(np.zeros(10 * SR))  # long silence
    parts.append(np.full(3 * SR, 0.5))  # DC
    parts.append(np.clip(4 * np.sin(2 * np.pi * 440 * t), -1, 1))  # hard clipping
    parts.append(np.full(SR, 1.0))  # full-scale DC
    return np.concatenate(parts).astype(np.float32)


def test_pathological_audio_keeps_every_output_finite_and_in_range(tmp_path):
    models, _ = load_models(InferenceConfig(model_dir=tiny_models.model_dir(tmp_path), device="cpu"))
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    engine = Engine(SPEC, ArraySource(pathological_signal(), SR, 256, realtime=False), models=models,
                    osc_targets=build_targets([f"127.0.0.1:{rx.getsockname()[1]}"]))
    frames = []
    engine.worker.on_frame = lambda f: frames.append(f.copy())
    datagrams = []
    with engine:
        while not engine.finished:
            try:
                datagrams.append(rx.recv(65536))
            except BlockingIOError:
                time.sleep(0.001)
            engine.check()
    values = np.array([f.values for f in frames])
    assert np.all(np.isfinite(values)), [n for n, i in frames[0].layout.scalars.items() if not np.all(np.isfinite(values[:, i]))]
    for f in frames[::50]:
        for v in f.vectors.values():
            assert np.all(np.isfinite(v))
    layout = frames[0].layout.scalars
    for name in ("level", "peak", "band_bass", "band_mid", "band_high", "q1", "q2", "q3", "q4", "beat_phase"):
        col = values[:, layout[name]]
        assert col.min() >= 0.0 and col.max() <= 1.0, name
    for name in ("valence", "arousal"):
        assert np.abs(values[:, layout[name]]).max() <= 1.0
    assert engine.source.writer.nonfinite_samples == 2000 + 100
    assert len(frames) == len(pathological_signal()) // SPEC.hop
    assert datagrams, "no OSC datagram arrived"
    for d in datagrams:
        for tm in OscPacket(d).messages:
            for p in tm.message.params:
                assert not isinstance(p, float) or np.isfinite(p), tm.message.address


def wait_for_chunks(folder, n, timeout=30):
    """The recording in ``folder`` once it holds ``n`` seconds of frames (the recorder writes
    whole chunks; until the first one, or while one is written, it does not read)."""
    def recorded():
        try:
            rec = read_recording(folder)
        except Exception:  # noqa: BLE001 - not there yet
            return None
        return rec if rec.frames.shape[0] and rec.t[-1] >= n else None
    return wait_until(recorded, timeout, f"{n:g} s of recording in {folder}", poll=0.1)


def test_recording_killed_with_sigkill_is_readable(tmp_path):
    folder = tmp_path / "show"
    proc = subprocess.Popen(sonolux_cmd("run", "--input", "synth", "--record", str(folder), "--record-audio",
                                        "--no-models", "-q"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_chunks(folder, 2.0)
    finally:
        proc.kill()
        proc.wait(10)
    rec = read_recording(folder)
    hop_s = SPEC.hop / SR
    assert rec.t[-1] >= 2.0 - hop_s
    assert np.allclose(np.diff(rec.t), hop_s)  # every frame up to the last flushed second
    assert rec.audio is not None and rec.audio.size == rec.frames.shape[0] * SPEC.hop
    assert np.all(np.isfinite(rec.frames))
    out = subprocess.run(sonolux_cmd("replay", str(folder), "--dry-run"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "frames" in out.stdout and str(rec.frames.shape[0]) in out.stdout


def test_cut_off_chunk_is_reported_not_read(tmp_path):
    folder = tmp_path / "show"
    proc = subprocess.run(sonolux_cmd("run", "--input", "synth", "--record", str(folder), "--no-models",
                                      "--duration", "2.5", "-q"), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    whole = read_recording(folder)
    path = folder / "frames.sfr"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 1000])  # as if killed in the middle of a write
    rec = read_recording(folder)
    assert rec.frames.shape[0] < whole.frames.shape[0] and rec.problems
    assert "cut off" in rec.problems[0]
    np.testing.assert_array_equal(rec.frames, whole.frames[:rec.frames.shape[0]])
    out = subprocess.run(sonolux_cmd("replay", str(folder), "--dry-run"), capture_output=True, text=True, timeout=60)
    assert "cut off" in out.stdout


def test_audio_past_the_last_frame_chunk_is_set_aside(tmp_path):
    """A kill between a second's audio write and its frames write leaves one audio chunk more:
    the reader keeps frames and audio aligned and says what it left out."""
    folder = tmp_path / "show"
    proc = subprocess.run(sonolux_cmd("run", "--input", "synth", "--record", str(folder), "--record-audio",
                                      "--no-models", "--duration", "2.5", "-q"), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    whole = read_recording(folder)
    path = folder / "frames.sfr"
    data = path.read_bytes()
    _, rows, cols, _ = HEADER.unpack_from(data, 0)
    path.write_bytes(data[:HEADER.size + rows * cols * 8])  # only the first second's frames
    rec = read_recording(folder)
    assert rec.frames.shape[0] == rows
    assert rec.audio.size == rows * SPEC.hop
    np.testing.assert_array_equal(rec.audio, whole.audio[:rows * SPEC.hop])
    assert len(rec.problems) == 1 and "past the last frame chunk" in rec.problems[0]


def test_sigterm_exits_within_a_second_with_files_closed(tmp_path):
    folder = tmp_path / "show"
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    proc = subprocess.Popen(sonolux_cmd("run", "--input", "synth", "--record", str(folder), "--no-models",
                                        "--osc", f"127.0.0.1:{rx.getsockname()[1]}", "-q"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_chunks(folder, 1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    elapsed = time.monotonic() - t0
    rx.close()
    assert proc.returncode == 0 and elapsed < 1.0, elapsed
    rec = read_recording(folder)
    assert rec.problems == []  # the last, partial chunk was written whole
    assert rec.t[-1] > 1.0


@pytest.mark.parametrize("name", ["sonolux", "eos", "grandma3", "qlcplus", "resolume", "touchdesigner", "lightjams"])
def test_fuzzed_profiles_fail_cleanly(tmp_path, name):
    rng = np.random.default_rng(sum(map(ord, name)))
    text = (PROFILE_DIR / f"{name}.toml").read_text()
    p = tmp_path / "fuzz.toml"
    ok = bad = 0
    for i in range(150):
        b = bytearray(text.encode())
        for _ in range(int(rng.integers(1, 8))):
            op = rng.integers(0, 3)
            pos = int(rng.integers(0, len(b)))
            if op == 0:
                b[pos] = int(rng.choice(list(b"[]=\"'{},.0123456789-xyz\n #")))
            elif op == 1:
                del b[pos:pos + int(rng.integers(1, 20))]
            else:
                b[pos:pos] = bytes(rng.integers(32, 127, int(rng.integers(1, 10))).tolist())
        p.write_bytes(bytes(b))
        try:
            load_profile(str(p))
            ok += 1
        except ConfigError as e:
            assert str(p) in str(e)
            bad += 1
    assert bad > 50


def test_fuzzed_preset_json_and_playlists_fail_cleanly(tmp_path):
    from sonolux.visual.params import load_config
    from sonolux.visual.playlist import load_playlist

    presets = sorted(p for p in (ROOT_PRESETS).glob("*.json") if p.name != "playlist.json")
    rng = np.random.default_rng(7)
    target = tmp_path / "x.json"
    bad = 0
    for i in range(300):
        src = presets[i % len(presets)] if i % 5 else ROOT_PRESETS / "playlist.json"
        b = bytearray(src.read_bytes())
        for _ in range(int(rng.integers(1, 6))):
            pos = int(rng.integers(0, len(b)))
            b[pos] = int(rng.choice(list(b"{}[]\":,0123456789-eE.ntfx ")))
        target.write_bytes(bytes(b))
        try:
            (load_playlist if src.name == "playlist.json" else load_config)(target)
        except ConfigError as e:
            assert str(target) in str(e) or target.name in str(e)
            bad += 1
    assert bad > 100


ROOT_PRESETS = __import__("pathlib").Path(__file__).resolve().parents[1] / "presets"


def test_status_message_once_a_second(oscdump):
    dump = oscdump()
    from sonolux.sources import SynthSource

    engine = Engine(SPEC, SynthSource("", SR, 256), osc_targets=build_targets([f"127.0.0.1:{dump.port}"]))
    with engine:
        wait_until(lambda: engine.stats().t >= 3.3, 30, "3.3 s of audio")
    status = [(t, types, v) for t, a, types, v in dump.stop() if a == "/sonolux/status"]
    assert 3 <= len(status) <= 5
    t, types, v = status[-1]
    assert types == "iiffiiiiiisiiiiiff" and v[0] == 0 and v[3] == -1.0 and v[5] == 0  # no drops, no models, input fine
    assert v[7] == 0 and v[8] == 0 and v[9] == 0 and v[10] == ""  # no blackout, no override, no failing target
    assert v[13:] == [0, -1, -1, -1.0, -1.0]  # no cut judge without models
    assert np.diff([s[0] for s in status]).min() > 0.8


def test_input_at_another_rate_is_resampled_before_the_hops():
    """After a reconnect at the device's own rate (44.1 kHz here) the analysis still sees the
    engine rate: a 1 kHz tone keeps its level and lands in the mid band."""
    from sonolux import Analyzer, Mailbox, RingBuffer
    from sonolux.ringbuffer import BlockWriter
    from sonolux.worker import AnalysisWorker

    analyzer = Analyzer(SPEC)
    ring = RingBuffer(SPEC.ring_capacity())
    frames = []
    worker = AnalysisWorker(ring, analyzer, Mailbox(analyzer.layout), drop_stale=False,
                            on_frame=lambda f: frames.append(f.copy()))
    worker.set_input_rate(44100)
    writer = BlockWriter(ring, np.array([0]), 512)
    tone = sine(1000, 44100, 2.0, 0.5)
    for i in range(0, len(tone), 441):
        writer.write(tone[i:i + 441].reshape(-1, 1))
        while worker.step():
            pass
    assert abs(len(frames) - 2.0 * SPEC.frame_rate) <= 3  # 2 s of audio → 2 s of frames
    steady = frames[40:-5]
    assert np.median([f["level_db"] for f in steady]) == pytest.approx(-9.03, abs=0.3)
    bands = {b: np.median([f[f"band_{b}_db"] for f in steady]) for b in ("bass", "mid", "high")}
    assert max(bands, key=bands.get) == "mid"
