"""Show files: init writes a commented one that checks; a round trip keeps values and
comments; every kind of bad value names file, key and value; flags win over the file;
/sonolux/show/save over real OSC saves atomically and keeps the previous file."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import run_sonolux, wait_until
from sonolux import ConfigError
from sonolux.app import cli
from sonolux.app.show import init_show, load_show


def parse(*argv):
    parser = cli.build_parser()
    args = parser.parse_args(list(argv))
    return cli.with_show(parser, args, list(argv)) if getattr(args, "show_file", None) else args


def test_init_writes_a_commented_show_that_checks(tmp_path):
    p = tmp_path / "show.toml"
    res = run_sonolux("show", "init", str(p))
    assert res.returncode == 0 and p.exists(), res.stderr
    text = p.read_text()
    assert text.count("#") > 20 and "[[osc]]" in text and "[panel]" in text
    show = load_show(p)
    assert show.options["input"] == "synth" and show.options["bpm_range"] == [70.0, 180.0]
    assert [t.target for t in show.targets] == ["127.0.0.1:9000"]
    again = run_sonolux("show", "init", str(p))
    assert again.returncode == 2 and "already exists" in again.stderr
    check = run_sonolux("show", "check", str(p))
    assert check.returncode == 0 and "bpm_range" in check.stdout and "127.0.0.1:9000@sonolux" in check.stdout


def test_round_trip_keeps_values_and_comments(tmp_path):
    p = init_show(tmp_path / "show.toml")
    show = load_show(p)
    show.record("/sonolux/bpm/range", [90, 150])
    show.record("/sonolux/threshold/gate", [-48])
    show.record("/sonolux/preset", ["kaleidoscope"])
    show.record("/sonolux/gain", ["auto"])
    show.record("/sonolux/tap", [])  # momentary: not part of a show
    first = p.read_text()
    show.save()
    again = load_show(p)
    assert again.options["bpm_range"] == [90.0, 150.0] and again.options["gate_db"] == -48.0
    assert again.options["preset"] == "kaleidoscope" and again.options["gain"] == "auto"
    assert Path(str(p) + ".bak").read_text() == first
    assert "# the beat tracker's tempo range" in p.read_text()
    assert not list(tmp_path.glob(".show.toml.*.tmp"))  # no temporary left behind


BAD = [
    ("[analysys]\nbpm_range = [70, 180]\n", "analysys: unknown section (did you mean 'analysis'?)"),
    ("[analysis]\nbpm_rang = [70, 180]\n", "analysis.bpm_rang: unknown key (did you mean 'bpm_range'?)"),
    ("[analysis]\nbpm_range = [180, 70]\n", "analysis.bpm_range: 180..70 must have low < high"),
    ("[analysis]\nbpm_range = [100, 120]\n", "analysis.bpm_range: 100..120 is too narrow"),
    ("[analysis]\nbpm_range = 120\n", "analysis.bpm_range: 120 must be a list of two numbers"),
    ("[analysis]\ngate_db = 'loud'\n", "analysis.gate_db: 'loud' must be a number"),
    ("[analysis]\ngate_db = 6\n", "analysis.gate_db: 6 is outside -120..0"),
    ("[analysis]\nonset_sensitivity = nan\n", "analysis.onset_sensitivity: nan must be a finite number"),
    ("[models]\ndevice = 'gpu'\n", "models.device: 'gpu' is not one of auto, cpu, cuda"),
    ("[models]\nenabled = 'yes'\n", "models.enabled: 'yes' must be true or false"),
    ("[input]\nchannels = [1, 0]\n", "input.channels[1]: 0 is outside 1..64"),
    ("[input]\nname = ''\n", "input.name: '' must be a non-empty string"),
    ("[control]\nlisten = '127.0.0.1:99999'\n", "control.listen '127.0.0.1:99999': port 99999 is outside 0..65535"),
    ("[[osc]]\nprofile = 'eos'\n", "osc[0].target: is required"),
    ("[[osc]]\ntarget = 'console'\n", "osc[0].target: 'console' must look like HOST:PORT"),
    ("[[osc]]\ntarget = '10.0.0.5:3032'\ndelay = 5\n", "osc[0].delay: unknown key (did you mean 'delay_ms'?)"),
    ("[panel\nlisten = 1\n", "invalid TOML"),
    ("[visuals]\nscreen = 1.5\n", "visuals.screen: 1.5 must be an integer"),
    ("[input]\ngain = 'loud'\n", "input.gain: 'loud' must be a number of dB or 'auto'"),
    ("[input]\ngain = 40\n", "input.gain (dB): 40 is outside -24.0..24.0"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_every_kind_of_bad_value_names_file_key_and_value(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_show(p)
    assert str(e.value).startswith(f"{p}: ") and message in str(e.value), str(e.value)


def test_a_bad_show_is_one_line_from_the_cli(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[analysis]\ngate_db = 'loud'\n")
    res = run_sonolux("run", "--show", str(p), "--duration", "0.5")
    errors = [line for line in res.stderr.splitlines() if line.startswith("sonolux: error:")]
    assert res.returncode == 2 and len(errors) == 1 and f"{p}: analysis.gate_db: 'loud'" in errors[0]
    assert "Traceback" not in res.stderr
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    res = run_sonolux("run", "--show", str(binary))
    assert res.returncode == 2 and "not UTF-8" in res.stderr


def test_flags_win_over_the_file(tmp_path):
    p = tmp_path / "show.toml"
    p.write_text("[input]\nname = 'synth:noise'\n[analysis]\nbpm_range = [90, 160]\ngate_db = -50\n"
                 "[visuals]\nwindow = false\n[[osc]]\ntarget = '127.0.0.1:7000'\nprofile = 'resolume'\ndelay_ms = 20\n")
    from sonolux.app.options import osc_targets

    args = parse("run", "--show", str(p))
    assert args.input == "synth:noise" and args.bpm_range == [90.0, 160.0] and args.gate_db == -50.0
    assert args.no_window is True
    (t,) = osc_targets(args)
    assert (t.host, t.port, t.profile, t.delay_ms) == ("127.0.0.1", 7000, "resolume", 20.0)
    args = parse("run", "--show", str(p), "--input", "synth", "--bpm-range", "100..170",
                 "--osc", "127.0.0.1:9100@eos")
    assert args.input == "synth" and args.bpm_range == [100.0, 170.0] and args.gate_db == -50.0
    (t,) = osc_targets(args)
    assert (t.port, t.profile) == (9100, "eos")


def test_show_save_over_osc_writes_the_live_changes(tmp_path):
    from sonolux import Engine, StreamSpec
    from sonolux.app.commands.run import make_controls
    from sonolux.app.control import open_control
    from sonolux.sources import SynthSource

    p = init_show(tmp_path / "show.toml")
    args = parse("run", "--show", str(p))
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))
    controls = make_controls(engine, args)
    with engine:
        server = open_control(engine, "127.0.0.1", 0, controls=controls)
        try:
            for msg in (["/sonolux/threshold/gate", "f", "-42"], ["/sonolux/bpm/range", "ff", "80", "150"],
                        ["/sonolux/show/save"]):
                subprocess.run(["oscsend", "localhost", str(server.port), *msg], check=True, timeout=10)
            wait_until(lambda: Path(str(p) + ".bak").exists() and "gate_db = -42.0" in p.read_text(), 10,
                       "the show saved")
        finally:
            server.stop()
    saved = load_show(p)
    assert saved.options["gate_db"] == -42.0 and saved.options["bpm_range"] == [80.0, 150.0]
    assert controls.counts["bad_args"] == 0


def test_a_new_show_file_is_written_from_the_run_on_save(tmp_path):
    """Set a show up live and save it: `run --show new.toml ...` on a file that does not exist
    yet writes the run's options and the live changes there, and it runs again alone."""
    from sonolux import Engine, StreamSpec
    from sonolux.app.commands.run import make_controls
    from sonolux.sources import SynthSource

    p = tmp_path / "new.toml"
    args = parse("run", "--show", str(p), "--input", "synth:noise", "--osc", "127.0.0.1:7000@resolume",
                 "--no-models", "--no-window", "--gate", "-50", "--control-allow", "10.0.0.7,10.0.0.8")
    assert not p.exists()
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))
    controls = make_controls(engine, args)
    assert controls.apply("/sonolux/bpm/range", [90, 160]) is None
    assert controls.apply("/sonolux/show/save") is None
    show = load_show(p)
    assert show.options["input"] == "synth:noise" and show.options["no_models"] is True
    assert show.options["no_window"] is True and show.options["gate_db"] == -50.0
    assert show.options["bpm_range"] == [90.0, 160.0] and show.options["control_allow"] == "10.0.0.7,10.0.0.8"
    assert [(t.target, t.profile) for t in show.targets] == [("127.0.0.1:7000", "resolume")]
    again = parse("run", "--show", str(p))
    assert again.input == "synth:noise" and again.bpm_range == [90.0, 160.0]
