"""OS2L (Open Sound to Light, os2l.org): beat events as JSON over TCP to DMX software.

In OS2L the DMX software (a lighting controller) is the service provider: it listens on a
TCP port and registers ``_os2l._tcp`` on DNS-SD; the audio software — VirtualDJ, and here
sonolux — browses for that service, connects, and sends one JSON object per beat::

    {"evt":"beat","change":false,"pos":226,"bpm":134.0,"strength":0.7}

``pos`` counts beats since sonolux started, ``change`` is true on the first beat and when
the tempo moved by more than ``bpm_change`` since the last beat, ``strength`` is the
tracker's confidence (0..1). ``Os2lOutput`` browses with ``zeroconf`` and connects to every
provider it finds, or to the ``HOST:PORT`` peers it is given (QLC+'s OS2L plugin listens on
9996 without advertising, like VirtualDJ's ``os2lDirectIp``). Connections are non-blocking
and come back with backoff; a beat for a peer that is down is counted as failed.

>>> out = Os2lOutput(mailbox)                                   # discover # doctest: +SKIP
>>> out = Os2lOutput(mailbox, peers=[("10.0.0.9", 9996)])        # direct   # doctest: +SKIP
"""
from __future__ import annotations

import json
import logging
import queue

from ..frame import Mailbox
from .osc_transport import TcpTransport
from .polled import PolledOutput, require

SERVICE_TYPE = "_os2l._tcp.local."
log = logging.getLogger("sonolux.os2l")


def beat_message(pos: int, bpm: float, strength: float, change: bool) -> bytes:
    """One OS2L beat event, as VirtualDJ sends it (no separator between objects)."""
    return json.dumps({"evt": "beat", "change": bool(change), "pos": int(pos), "bpm": round(float(bpm), 2),
                       "strength": round(min(max(float(strength), 0.0), 1.0), 3)},
                      separators=(",", ":")).encode()


class Os2lOutput(PolledOutput):
    """Sends a beat event to every OS2L provider, found on DNS-SD or given as ``peers``."""

    def __init__(self, mailbox: Mailbox, *, peers=(), discover: bool = True, interfaces=None,
                 bpm_change: float = 0.5, rate_hz: float = 250.0):
        """``interfaces``: addresses zeroconf browses on (default: all)."""
        super().__init__(mailbox, name="os2l", transport="os2l/tcp", rate_hz=rate_hz)
        self._i_count, self._i_bpm = self.field_indices("OS2L", "beat_count", "bpm")
        self._i_conf = mailbox.layout.scalars.get("bpm_confidence")
        self.bpm_change = bpm_change
        self.peers: dict[tuple, TcpTransport] = {}
        for host, port in peers:
            self._add_peer(host, port, "given")
        self._found: queue.SimpleQueue = queue.SimpleQueue()
        self._zc = self._browser = None
        if discover:
            self._browse(interfaces)
        self._last_count = None
        self._last_bpm = 0.0
        self.pos = 0
        self.waiting = True

    def _browse(self, interfaces) -> None:
        zc = require("zeroconf", "OS2L discovery")
        InterfaceChoice, IPVersion, Zeroconf = zc.InterfaceChoice, zc.IPVersion, zc.Zeroconf
        ServiceBrowser, ServiceStateChange = zc.ServiceBrowser, zc.ServiceStateChange
        self._zc = Zeroconf(interfaces=interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only)

        def on_change(zeroconf, service_type, name, state_change):  # zeroconf's thread: hand over only
            if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
                self._found.put(name)

        self._browser = ServiceBrowser(self._zc, SERVICE_TYPE, handlers=[on_change])

    def _resolve_found(self) -> None:
        from zeroconf import ServiceInfo

        while not self._found.empty():
            name = self._found.get()
            info = ServiceInfo(SERVICE_TYPE, name)
            if not info.request(self._zc, 2000):
                self.count_error(f"{name}: no answer to the DNS-SD lookup")
                continue
            for addr in info.parsed_addresses():
                self._add_peer(addr, info.port, name)
                break

    def _add_peer(self, host: str, port: int, source: str) -> None:
        if (host, port) not in self.peers:
            log.info("OS2L: sending beats to %s:%d (%s)", host, port, source)
            self.peers[(host, port)] = TcpTransport(host, port, framing="raw")

    def step(self, frame, fresh, now) -> None:
        if self._zc is not None:
            self._resolve_found()
        for t in self.peers.values():
            t.poll()
        self.waiting = not any(t.connected for t in self.peers.values())
        count = float(frame.values[self._i_count])
        new_beat = self._last_count is not None and count > self._last_count
        self._last_count = count
        bpm = float(frame.values[self._i_bpm])
        if not new_beat or self.blackout or bpm <= 0.0:
            return
        strength = float(frame.values[self._i_conf]) if self._i_conf is not None else 1.0
        change = self.pos == 0 or abs(bpm - self._last_bpm) > self.bpm_change
        msg = beat_message(self.pos, bpm, strength, change)
        self.pos += 1
        self._last_bpm = bpm
        for (host, port), t in self.peers.items():
            if t.send(msg):
                self.count_sent()
            else:
                self.count_error(f"{host}:{port}: not connected")

    def close(self) -> None:
        for t in self.peers.values():
            t.close()
        if self._zc is not None:
            self._browser.cancel()
            self._zc.close()
