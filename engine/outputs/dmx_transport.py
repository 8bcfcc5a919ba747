"""DMX over the network: one universe per target, sACN (E1.31) or Art-Net.

Packets are encoded by well-kept libraries — ``sacn`` (E1.31 data, universe discovery and
stream-termination packets, MIT) and ``stupidArtnet`` (the ArtDmx header, MIT) — and sent
from the DMX output's own thread through a non-blocking UDP socket that counts failures
(``osc_transport.UdpTransport``), so no library thread runs beside ours and a network
error is counted and named, never raised into the engine.

* sACN: multicast to 239.255.<hi>.<lo> when no host is given, unicast otherwise; priority
  0..200; sequence numbers per universe; universe discovery every 10 s to 239.255.250.214;
  three stream-terminated packets on stop so receivers release the universe at once.
* Art-Net: ArtDmx to a node (unicast) or a subnet's broadcast address (x.x.x.255); the
  universe is the 15-bit port-address (net · subnet · universe); sequence 1..255.

>>> t = open_dmx_transport(DmxTarget("sacn", 1, host="127.0.0.1"))   # doctest: +SKIP
>>> t.send(bytearray(512))                                          # doctest: +SKIP
True
"""
from __future__ import annotations

import random
import time

from ..errors import ConfigError
from .dmx_config import PROTOCOLS, UNIVERSE_RANGE, DmxTarget
from .osc_transport import UdpTransport
from .polled import require

SACN_PORT = 5568
ARTNET_PORT = 6454
SACN_DISCOVERY_GROUP = "239.255.250.214"  # universe 64214 (E1.31 §9.3)
SACN_DISCOVERY_INTERVAL_S = 10.0
SOURCE_NAME = "sonolux"


def sacn_multicast_group(universe: int) -> str:
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


class _UniverseSender:
    """What both transports share: one UDP socket (``self.udp``) and its failure counters."""

    udp: UdpTransport

    @property
    def errors(self) -> int:
        return self.udp.errors

    @property
    def last_error(self) -> str | None:
        return self.udp.last_error


class SacnTransport(_UniverseSender):
    """One sACN universe; ``send`` encodes with ``sacn.DataPacket`` and bumps the sequence."""

    protocol = "sacn"

    def __init__(self, target: DmxTarget, cid: tuple | None = None):
        DataPacket = require("sacn.messages.data_packet", "sACN output").DataPacket
        self.target = target
        self.cid = cid or tuple(random.randrange(256) for _ in range(16))
        self.packet = DataPacket(cid=self.cid, sourceName=SOURCE_NAME, universe=target.universe,
                                 dmxData=tuple(bytes(512)), priority=target.priority)
        host = target.host or sacn_multicast_group(target.universe)
        self.udp = UdpTransport(host, SACN_PORT, ttl=target.ttl, bind=target.bind)
        self.discovery = UdpTransport(SACN_DISCOVERY_GROUP, SACN_PORT, ttl=target.ttl, bind=target.bind)
        self._next_discovery = 0.0

    def send(self, data: bytes) -> bool:
        now = time.monotonic()
        if now >= self._next_discovery:
            self._next_discovery = now + SACN_DISCOVERY_INTERVAL_S
            self._send_discovery()
        self.packet.dmxData = tuple(data)
        ok = self.udp.send(bytes(self.packet.getBytes()))
        self.packet.sequence_increase()
        return ok

    def _send_discovery(self) -> None:
        from sacn.messages.universe_discovery import UniverseDiscoveryPacket  # loaded by __init__

        for p in UniverseDiscoveryPacket.make_multiple_uni_disc_packets(
                cid=self.cid, sourceName=SOURCE_NAME, universes=[self.target.universe]):
            self.discovery.send(bytes(p.getBytes()))  # best effort: a receiver may not listen

    def close(self) -> None:
        self.packet.option_StreamTerminated = True
        for _ in range(3):
            self.udp.send(bytes(self.packet.getBytes()))
            self.packet.sequence_increase()
        self.udp.close()
        self.discovery.close()


class ArtnetTransport(_UniverseSender):
    """One Art-Net universe (port-address 0..32767) to a node or a broadcast address."""

    protocol = "artnet"

    def __init__(self, target: DmxTarget):
        StupidArtnet = require("stupidArtnet", "Art-Net output").StupidArtnet
        self.target = target
        # the library builds the ArtDmx header (ID, OpCode, version, port-address, length);
        # its own socket is not used: sending is ours, non-blocking and counted
        art = StupidArtnet(target.host, target.universe, 512, 44, True, False)
        self.header = bytearray(art.packet_header)
        art.close()
        self.sequence = 0
        self.udp = UdpTransport(target.host, ARTNET_PORT, ttl=target.ttl, bind=target.bind)

    def send(self, data: bytes) -> bool:
        self.sequence = self.sequence % 255 + 1  # 1..255; 0 would mean "no sequencing"
        self.header[12] = self.sequence
        return self.udp.send(bytes(self.header) + bytes(data))

    def close(self) -> None:
        self.udp.close()


def open_dmx_transport(target: DmxTarget):
    if target.protocol not in PROTOCOLS:
        raise ConfigError(f"DMX target {target.label}: protocol {target.protocol!r} is not one of {', '.join(PROTOCOLS)}")
    lo, hi = UNIVERSE_RANGE[target.protocol]
    if not lo <= target.universe <= hi:
        raise ConfigError(f"DMX target {target.label}: universe {target.universe} is outside {lo}..{hi} for {target.protocol}")
    return SacnTransport(target) if target.protocol == "sacn" else ArtnetTransport(target)
