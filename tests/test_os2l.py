"""OS2L: the test plays the DMX software — a TCP server that registers ``_os2l._tcp`` with
zeroconf, as os2l.org asks of a provider — and sonolux, like VirtualDJ, finds it by DNS-SD,
connects and sends one JSON beat event per tracked beat (position, BPM, strength). Also a
peer given as HOST:PORT (QLC+'s OS2L plugin does not advertise). mDNS runs in a private
network namespace so nothing leaves the test."""
import json
import socket
import threading
import time

import numpy as np
import pytest

from conftest import wait_until
from rig_peers import NETNS_ADDR, in_private_netns
from sonolux import Engine, StreamSpec
from sonolux.outputs.os2l import SERVICE_TYPE, Os2lOutput
from sonolux.sources import SynthSource


class DmxSoftware:
    """A minimal OS2L provider: accepts connections, decodes the JSON objects that arrive."""

    def __init__(self, host: str):
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.events = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        buf, dec = "", json.JSONDecoder()
        while chunk := conn.recv(4096):
            buf += chunk.decode()
            while buf.strip():
                try:
                    obj, end = dec.raw_decode(buf.lstrip())
                except json.JSONDecodeError:
                    break  # an object split across two reads: wait for the rest
                self.events.append((time.perf_counter(), obj))
                buf = buf.lstrip()[end:]

    def beats(self):
        return [(t, e) for t, e in self.events if e.get("evt") == "beat"]


def engine_with(out_factory):
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))  # 120 BPM demo
    out = out_factory(engine.mailbox)
    engine.add_output(out)
    return engine, out


def check_beats(peer, out, n):
    beats = peer.beats()
    assert len(beats) >= n
    events = [e for _, e in beats]
    pos = [e["pos"] for e in events]  # consecutive; a peer found after the first beat starts later
    assert pos == list(range(pos[0], pos[0] + len(pos))), pos
    if pos[0] == 0:
        assert events[0]["change"] is True  # the first beat is a change
    assert all(set(e) == {"evt", "change", "pos", "bpm", "strength"} for e in events)
    assert all(e["bpm"] == pytest.approx(120.0, abs=2.0) for e in events[1:]), events
    assert all(0.0 <= e["strength"] <= 1.0 for e in events)
    gaps = np.diff([t for t, _ in beats])
    assert np.median(gaps) == pytest.approx(0.5, abs=0.05)
    # the sender counts a message once its send returned: the peer may have read it first
    wait_until(lambda: out.health().messages >= n, 5,
               lambda: f"the output's health to count {n} messages: {out.health()}")
    h = out.health()
    assert h.state == "ok" and h.errors == 0


@in_private_netns
def test_found_by_dns_sd_and_beats_arrive():
    from zeroconf import IPVersion, ServiceInfo, Zeroconf

    peer = DmxSoftware(NETNS_ADDR)
    zc = Zeroconf(interfaces=[NETNS_ADDR], ip_version=IPVersion.V4Only)
    info = ServiceInfo(SERVICE_TYPE, f"test lights.{SERVICE_TYPE}", addresses=[socket.inet_aton(NETNS_ADDR)],
                       port=peer.port, server="test-lights.local.")
    zc.register_service(info)
    try:
        engine, out = engine_with(lambda box: Os2lOutput(box, interfaces=[NETNS_ADDR]))
        with engine:
            wait_until(lambda: len(peer.beats()) >= 6, 25, "6 OS2L beats from a DNS-SD-discovered peer")
            check_beats(peer, out, 6)
    finally:
        zc.unregister_service(info)
        zc.close()


def test_direct_peer_and_a_dead_one_counted():
    peer = DmxSoftware("127.0.0.1")
    dead = socket.create_server(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nobody listens there: every beat to it is a counted failure
    engine, out = engine_with(lambda box: Os2lOutput(box, peers=[("127.0.0.1", peer.port), ("127.0.0.1", dead_port)],
                                                         discover=False))
    with engine:
        wait_until(lambda: len(peer.beats()) >= 4, 25, "4 OS2L beats")
        h = out.health()
    assert h.errors >= 4 and f"127.0.0.1:{dead_port}" in h.last_error
    events = [e for _, e in peer.beats()]
    assert [e["pos"] for e in events] == list(range(len(events)))
