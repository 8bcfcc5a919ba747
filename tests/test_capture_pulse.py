"""Real capture: a PulseAudio null sink, a known signal played into it with paplay, and the
engine capturing the sink's monitor by device name through PortAudio."""

import numpy as np
import pytest
import soundfile as sf

from conftest import run_sonolux, sine, wait_until
from sonolux import Engine, StreamSpec
from sonolux.errors import DeviceError
from sonolux.sources.live import LiveSource, resolve_device

SPEC = StreamSpec(sample_rate=48000, block_size=256, n_fft=1024, hop=256)


def capture(pulse, wav):
    source = LiveSource(pulse.monitor, SPEC.sample_rate, SPEC.block_size)
    engine = Engine(SPEC, source)
    frames = []
    engine.worker.on_frame = lambda f: frames.append(f.copy())
    with engine:
        player = pulse.play(wav)
        player.wait(10)
        t_end = engine.stats().t  # and the tail still on its way: 0.3 s more of captured audio
        wait_until(lambda: engine.stats().t >= t_end + 0.3, 10, "the end of the playback captured")
    engine.check()
    return frames, engine.stats()


@pytest.mark.parametrize("freq,band", [(100.0, "bass"), (1000.0, "mid"), (8000.0, "high")])
def test_captures_level_and_dominant_band(pulse, tmp_path, freq, band):
    wav = tmp_path / f"sine{int(freq)}.wav"
    amp = 0.5  # RMS 0.354 → -9.03 dBFS
    sf.write(wav, np.tile(sine(freq, 48000, 1.5, amp)[:, None], (1, 2)), 48000)
    frames, stats = capture(pulse, wav)
    loud = [f for f in frames if f["level_db"] > -40]
    assert len(loud) > 100, f"captured {len(frames)} frames, {len(loud)} with signal"
    steady = loud[20:-20]
    level = np.median([f["level_db"] for f in steady])
    assert abs(level - 20 * np.log10(amp / np.sqrt(2))) < 1.5, level
    bands = {b: np.median([f[f"band_{b}_db"] for f in steady]) for b in ("bass", "mid", "high")}
    assert max(bands, key=bands.get) == band, bands
    assert bands[band] - sorted(bands.values())[-2] > 20  # clearly dominant
    assert stats.dropped_blocks == 0


def test_device_found_by_substring_and_listed(pulse):
    dev = resolve_device("sonolux_test.mon")
    assert dev.name == pulse.monitor and dev.pulse_source == pulse.monitor
    out = run_sonolux("devices", env=pulse.env)
    assert out.returncode == 0 and pulse.monitor in out.stdout


def test_unknown_device_is_a_clear_error(pulse):
    with pytest.raises(DeviceError, match="no input device matches 'no-such-card'"):
        resolve_device("no-such-card")


def test_cli_run_captures_from_monitor(pulse, tmp_path):
    wav = tmp_path / "noise.wav"
    sf.write(wav, (0.2 * np.random.default_rng(0).standard_normal((48000 * 3, 2))).astype(np.float32), 48000)
    player = pulse.play(wav)
    out = run_sonolux("run", "--input", pulse.monitor, "--duration", "1.5", env=pulse.env, timeout=60)
    player.wait(10)
    assert out.returncode == 0, out.stderr
    assert "frames" in out.stderr and "dropped blocks 0" in out.stderr, out.stderr
