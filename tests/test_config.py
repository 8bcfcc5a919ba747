"""sonolux.config: every value check names where the value came from, the key and the value."""
import pytest

from sonolux import ConfigError, ParameterError
from sonolux import config


@pytest.mark.parametrize("call,message", [
    (lambda: config.number("big", "x.json: gain.max"), "x.json: gain.max: 'big' must be a number"),
    (lambda: config.number(float("nan"), "--gain"), "--gain: nan must be a finite number"),
    (lambda: config.number(0, "--osc-rate", positive=True), "--osc-rate: 0 must be > 0"),
    (lambda: config.number(5, "--speed", lo=0.05, hi=2), "--speed: 5 is outside 0.05..2"),
    (lambda: config.number(1.5, "port", integer=True), "port: 1.5 must be an integer"),
    (lambda: config.number(True, "gate"), "gate: True must be a number"),
    (lambda: config.number_text("abc", "--hop", integer=True), "--hop: 'abc' must be an integer"),
    (lambda: config.choice("levle", "map[0].type", ("level", "float")), "'levle' is not one of level, float (did you mean 'level'?)"),
    (lambda: config.parse_range("180..70", "--bpm-range"), "--bpm-range: 180..70 must have low < high"),
    (lambda: config.parse_range([100, 120], "/sonolux/bpm/range", min_ratio=1.5), "too narrow"),
    (lambda: config.parse_range("fast", "--bpm-range"), "'fast' must look like LOW..HIGH"),
    (lambda: config.parse_port("99999", "--control"), "--control: port 99999 is outside 1..65535"),
    (lambda: config.parse_host_port("localhost", "--osc"), "--osc: 'localhost' must look like HOST:PORT"),
    (lambda: config.parse_host_port("h:x", "--osc"), "--osc 'h:x': port 'x' is not a number"),
])
def test_bad_values_name_where_and_what(call, message):
    with pytest.raises(ParameterError) as e:
        call()
    assert message in str(e.value), str(e.value)


def test_good_values_and_the_error_class():
    assert config.number(3, "x", lo=0, hi=5) == 3.0
    assert config.number(3, "x", integer=True) == 3
    assert config.parse_range("70..180", "r") == (70.0, 180.0)
    assert config.parse_range([60, 200], "r", lo=20, hi=400, min_ratio=1.5) == (60.0, 200.0)
    assert config.parse_host_port("9001", "--control", default_host="127.0.0.1") == ("127.0.0.1", 9001)
    assert config.parse_host_port("[::1]:9000", "--osc") == ("::1", 9000)
    assert config.parse_host_port("0.0.0.0:0", "--panel", allow_zero=True) == ("0.0.0.0", 0)
    with pytest.raises(ConfigError, match="show.toml: input.gain: 'x' must be a number"):
        config.number("x", "show.toml: input.gain", error=ConfigError)


def test_read_text_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        config.read_text(tmp_path / "missing.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.read_text(bad)


def test_public_api_analyze_takes_a_path_or_an_array(tmp_path):
    import numpy as np
    import soundfile as sf

    import sonolux

    sr = 48000
    t = np.arange(3 * sr) / sr
    x = (0.5 * np.sin(2 * np.pi * 1000 * t) * ((t % 0.5) < 0.02)).astype(np.float32)  # clicks, 120 BPM
    wav = tmp_path / "clicks.wav"
    sf.write(wav, x, sr)
    from_array = sonolux.analyze(x, sr, models=None)
    from_file = sonolux.analyze(wav, models=None)
    assert from_array["file"] == "<array>" and from_file["file"] == str(wav)
    assert from_array["onsets"] == from_file["onsets"] and len(from_array["onsets"]) >= 4
    assert set(from_array) >= {"tempo", "beats", "onsets", "emotion", "tags", "timeline", "regions"}
    with pytest.raises(ParameterError, match="needs its sample_rate"):
        sonolux.analyze(x)
