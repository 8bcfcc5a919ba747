"""The rig outputs' tables in a show file ([dmx], [midi], [os2l], [link]): applied to the
run's options, flags win, and a bad value names the file, the key and the value."""
from __future__ import annotations

import pytest

from sonolux.app import cli
from sonolux.errors import ConfigError

SHOW = """
[input]
name = "synth"

[dmx]
targets = ["sacn:7@127.0.0.1"]
rate_hz = 30

[link]
enabled = true
"""


def _args(argv):
    parser = cli.build_parser()
    return cli.with_show(parser, parser.parse_args(argv), argv)


def test_rig_tables_become_run_options(tmp_path):
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    args = _args(["run", "--show", str(show)])
    assert args.dmx == ["sacn:7@127.0.0.1"] and args.dmx_rate == 30 and args.link is True


def test_flags_win_over_the_rig_tables(tmp_path):
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    args = _args(["run", "--show", str(show), "--dmx", "artnet:127.0.0.1:0"])
    assert args.dmx == ["artnet:127.0.0.1:0"]


@pytest.mark.parametrize("table, line, key", [
    ("dmx", "targets = 5", "dmx.targets"),
    ("midi", "clokc = 'x'", "midi.clokc"),
])
def test_bad_rig_values_name_file_and_key(tmp_path, table, line, key):
    show = tmp_path / "show.toml"
    show.write_text(f"[{table}]\n{line}\n")
    with pytest.raises(ConfigError) as e:
        _args(["run", "--show", str(show)])
    assert str(show) in str(e.value) and key in str(e.value)


def test_unknown_section_suggests_the_rig_tables(tmp_path):
    show = tmp_path / "show.toml"
    show.write_text("[dmxx]\nmap = 'x'\n")
    with pytest.raises(ConfigError) as e:
        _args(["run", "--show", str(show)])
    assert "did you mean 'dmx'" in str(e.value)
