"""Bad input gets one clear line and a non-zero exit code, never a traceback."""
import pytest

from conftest import run_sonolux


@pytest.mark.parametrize("args,message", [
    (["run", "--input", "definitely-not-a-device-xyz", "--duration", "1"], "no input device matches 'definitely-not-a-device-xyz'"),
    (["run", "--input", "/nonexistent/song.wav"], "/nonexistent/song.wav: no such file"),
    (["run", "--input", "synth", "--osc", "localhost"], "must look like HOST:PORT"),
    (["run", "--input", "synth", "--osc", "127.0.0.1:99999"], "port 99999 is outside 1..65535"),
    (["run", "--input", "synth", "--blocksize", "0"], "block_size=0 must be a positive integer"),
    (["run", "--input", "synth", "--blocksize", "-64"], "block_size=-64 must be a positive integer"),
    (["run", "--input", "synth", "--n-fft", "1000"], "n_fft=1000 must be a power of two"),
    (["run", "--input", "synth", "--hop", "2048", "--n-fft", "1024"], "hop=2048 must not exceed n_fft=1024"),
    (["run", "--input", "synth", "--samplerate", "1000"], "sample_rate=1000 is outside"),
    (["run", "--input", "synth:wobble"], "synthetic input 'wobble' is not understood"),
    (["run", "--input", "synth", "--bands", "4000,250"], "band edges"),
])
def test_bad_input_one_line_error(args, message):
    res = run_sonolux(*args, timeout=60)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert message in res.stderr, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("sonolux: error:")]
    assert len(errors) == 1 and message in errors[0], res.stderr


@pytest.mark.parametrize("flag,value,message", [
    ("--track-timeout", "nan", "nan must be a finite number"),  # nan compares as never overdue
    ("--max-duration", "inf", "inf must be a finite number"),
    ("--workers", "0", "0 must be > 0"),
    ("--workers", "1.5", "'1.5' must be an integer"),
    ("--retries", "-1", "-1 is outside 0..inf"),
])
def test_batch_flags_are_checked_like_every_flag(flag, value, message):
    res = run_sonolux("batch", "x", "--out", "y", flag, value, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{flag}: {message}" in res.stderr, res.stderr


def test_unreadable_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    res = run_sonolux("run", "--input", str(bad), timeout=60)
    assert res.returncode == 2 and "broken.wav: cannot read audio" in res.stderr
    assert "Traceback" not in res.stderr


def test_empty_file(tmp_path):
    import numpy as np
    import soundfile as sf

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 48000)
    res = run_sonolux("run", "--input", str(empty), timeout=60)
    assert res.returncode == 2 and "holds no audio" in res.stderr


def test_help_explains_every_command():
    res = run_sonolux("--help")
    assert res.returncode == 0
    for cmd in ("devices", "run", "demo"):
        assert cmd in res.stdout
    run_help = run_sonolux("run", "--help").stdout
    for opt in ("--input", "--osc", "--samplerate", "--blocksize", "--hop", "--n-fft", "--channels"):
        assert opt in run_help


def test_every_command_is_a_module_with_add_parser_and_run():
    """The CLI's shape: one module per command under sonolux.app.commands."""
    import inspect

    from sonolux.app import cli

    parser = cli.build_parser()
    for name in cli.COMMANDS:
        mod = cli.command_module(name)
        assert callable(mod.add_parser) and callable(mod.run), name
        assert list(inspect.signature(mod.run).parameters) == ["args"], name
        minimal = {"analyze": ["x"], "replay": ["x"], "batch": ["x", "--out", "y"],
                   "catalogue": ["columns", "y"]}.get(name, [])
        assert parser.parse_args([name, *minimal]).command == name


def test_python_dash_m_sonolux_is_the_command():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "sonolux", "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("sonolux "), res.stderr


def test_analyze_output_file_and_progress(tmp_path):
    """`analyze -o FILE` writes the document there and prints no JSON on stdout; a long
    input shows a progress bar on stderr (unless --quiet)."""
    import json

    import numpy as np
    import soundfile as sf

    sr = 48000
    t = np.arange(12 * sr) / sr
    clicks = (np.sin(2 * np.pi * 1000 * t) * (np.mod(t, 0.5) < 0.01)).astype(np.float32)
    wav = tmp_path / "clicks.wav"
    sf.write(wav, clicks, sr)
    out = tmp_path / "doc.json"
    res = run_sonolux("analyze", str(wav), "--no-models", "-o", str(out), timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
    doc = json.loads(out.read_text())
    assert doc["duration_s"] == pytest.approx(12.0, abs=0.01) and len(doc["onsets"]) > 10
    assert "%|" in res.stderr  # the tqdm bar
    quiet = run_sonolux("analyze", str(wav), "--no-models", "--json", "--quiet", timeout=300)
    assert quiet.returncode == 0 and "%|" not in quiet.stderr
    assert json.loads(quiet.stdout)["onsets"] == doc["onsets"]
