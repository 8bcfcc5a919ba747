"""One run, one show file, three kinds of gear: a DMX universe (sACN into a UDP receiver
decoded with the sacn library), an Ableton Link session (a second Link peer here) and a
MIDI-clocked device (a mido input on sonolux's virtual clock port, through a private JACK
server). Runs in a private network namespace (Link discovers peers by multicast)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from conftest import sonolux_cmd, wait_until
from jack_rig import Receiver, start_jackd, stop_jackd
from rig_peers import in_private_netns

mido = pytest.importorskip("mido")
pytest.importorskip("sacn")
pytest.importorskip("aalink", reason="aalink (GPL-3) is the optional 'link' extra: pip install 'sonolux[link]'")

JACK = "sonolux-rig-show"
SHOW = """
[input]
name = "synth"

[models]
enabled = false

[visuals]
window = false

[dmx]
targets = ["sacn:5@127.0.0.1"]
map = "wash"
rate_hz = 20

[midi]
clock = "virtual:sonolux-clock"

[link]
enabled = true
"""


@in_private_netns
def test_one_show_drives_dmx_link_and_midi_clock(tmp_path):
    from sacn.messages.data_packet import DataPacket

    from sonolux.outputs.link import _new_link

    if shutil.which("jackd") is None:
        pytest.skip("no JACK server for the virtual MIDI port (apt-get install jackd2)")
    env = dict(os.environ, JACK_DEFAULT_SERVER=JACK, MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK")
    os.environ.update(JACK_DEFAULT_SERVER=JACK)
    jack = start_jackd(JACK, tmp_path / "jackd.log")  # synchronous, see jack_rig
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 5568))
    rx.setblocking(False)
    peer = _new_link(90.0)
    peer.enabled = True
    run = clock = None
    try:
        run = subprocess.Popen(sonolux_cmd("run", "--show", str(show), "--duration", "12"), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: any("sonolux-clock" in n for n in mido.get_input_names())
                   or (run.poll() is not None and pytest.fail(run.stderr.read())), 20,
                   "sonolux's MIDI clock port")
        clock = Receiver("jack", "sonolux-clock")
        wait_until(lambda: len(clock.of("clock")) >= 48, 20, "two beats of MIDI clock")
        wait_until(lambda: abs(peer.tempo - 120.0) < 1.0, 20, "the Link session at the demo's 120 BPM")
        packets = []
        rx.settimeout(5)  # a blocking read with a deadline: sACN comes at 20 Hz
        while len(packets) < 20:
            packets.append(DataPacket.make_data_packet(rx.recv(1024)))
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
    finally:
        peer.enabled = False
        if run is not None and run.poll() is None:
            run.kill()
        if clock is not None:
            clock.close()
        stop_jackd(jack)
    types = [m.type for _, m in clock.got]
    assert types[:2] == ["songpos", "start"], types[:10]  # song position + start once the tracker locked
    assert len(packets) >= 20 and {p.universe for p in packets} == {5}
    assert "dmx sacn:5@127.0.0.1" in err and "link" in err.lower() and "midi" in err.lower()
