"""The rig outputs from the command line and the show file: `sonolux dmx maps`, a whole
`sonolux run --dmx ...` into a UDP receiver (decoded with the sacn library), the status
line naming the outputs, and one clear error (no traceback) per bad value."""
import argparse
import socket

import pytest

from conftest import run_sonolux
from rig_peers import in_private_netns
from sonolux.errors import ConfigError
from sonolux.outputs.dmx_config import load_map, map_names
from sonolux.outputs.rig_options import add_rig_options, apply_show_file


def test_dmx_maps_listed_and_shown():
    res = run_sonolux("dmx", "maps")
    assert res.returncode == 0 and [line.split()[0] for line in res.stdout.splitlines()] == map_names()
    shown = run_sonolux("dmx", "maps", "--show", "movers")
    assert shown.returncode == 0 and 'template = "pan_tilt"' in shown.stdout


@pytest.mark.parametrize("args, msg", [
    (["--dmx", "sacn:0"], "--dmx 'sacn:0': universe 0 is outside 1..63999 for sacn"),
    (["--dmx", "artnet:10.0.0.7"], "must look like artnet:HOST:UNIVERSE"),
    (["--dmx", "sacn:1", "--dmx-map", "nosuchmap"], "unknown DMX fixture map 'nosuchmap'; shipped: movers, wash"),
    (["--dmx", "sacn:1", "--dmx-rate", "500"], "--dmx-rate 500 is outside 1..100 Hz"),
    (["--midi-clock", "Volca Beats"], "MIDI port 'Volca Beats'|no MIDI output port matches 'Volca Beats'"),
    (["--os2l", "lights"], "--os2l: 'lights' must look like HOST:PORT"),
])
def test_bad_rig_option_is_one_line(args, msg):
    res = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window", *args, timeout=60)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("sonolux: error:")]
    assert len(err) == 1 and any(m in err[0] for m in msg.split("|")), res.stderr


def test_bad_map_field_names_file_key_and_value(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[channel]]\naddress = 3\nfield = "levle"\n')
    res = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                      "--dmx", "sacn:1@127.0.0.1", "--dmx-map", str(bad), timeout=60)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert f"{bad}: channel[0].field: 'levle' is not a frame field (did you mean 'level'" in res.stderr


def parse(*argv):
    p = argparse.ArgumentParser()
    add_rig_options(p)
    return p.parse_args(list(argv))


def test_show_file_fills_what_the_flags_leave(tmp_path):
    (tmp_path / "rig.toml").write_text(open(load_map("wash").source).read())
    show = {"dmx": {"map": "rig.toml", "targets": ["sacn:1"], "rate_hz": 30},
            "midi": {"clock": "virtual:sonolux clock"}, "os2l": {"discover": True, "peers": ["10.0.0.9:9996"]},
            "link": {"enabled": True}}
    args = parse("--dmx", "artnet:10.0.0.7:0")
    apply_show_file(args, show, str(tmp_path / "show.toml"))
    assert args.dmx == ["artnet:10.0.0.7:0"]  # the flag wins
    assert args.dmx_map == str(tmp_path / "rig.toml") and args.dmx_rate == 30
    assert args.midi_clock == "virtual:sonolux clock" and args.link is True
    assert args.os2l == ["dns-sd", "10.0.0.9:9996"]
    with pytest.raises(ConfigError, match=r"show.toml: dmx.universe: unknown key"):
        apply_show_file(parse(), {"dmx": {"universe": 1}}, "show.toml")
    with pytest.raises(ConfigError, match=r"show.toml: link.enabled: 'yes' has the wrong type"):
        apply_show_file(parse(), {"link": {"enabled": "yes"}}, "show.toml")


@in_private_netns
def test_run_sends_sacn_and_names_the_output():
    from sacn.messages.data_packet import DataPacket

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 5568))
    rx.settimeout(5)
    res = run_sonolux("run", "--input", "synth", "--duration", "3", "--no-models", "--no-window",
                      "--dmx", "sacn:5@127.0.0.1", "--dmx-map", "wash", "--dmx-rate", "20", timeout=60)
    assert res.returncode == 0, res.stderr
    assert "rig outputs: dmx sacn:5@127.0.0.1" in res.stderr
    packets = []
    rx.settimeout(0.2)
    try:
        while True:
            packets.append(DataPacket.make_data_packet(rx.recv(1024)))
    except socket.timeout:
        pass
    data = [p for p in packets if not p.option_StreamTerminated]
    assert 40 <= len(data) <= 62  # 20 Hz for 3 s (plus start-up)
    assert {p.universe for p in data} == {5} and all(p.priority == 100 for p in data)
    seqs = [p.sequence for p in data]
    assert all((b - a) % 256 == 1 for a, b in zip(seqs, seqs[1:]))  # sequence numbers count up
    assert max(max(p.dmxData[:12]) for p in data) > 100  # the pars light up with the demo
    assert sum(p.option_StreamTerminated for p in packets) == 3  # released on exit
