"""OSC output: typed messages to one or more UDP targets, sent on change and rate-capped.

A sender thread polls the mailbox for new frames. For each mapping it sends the field's
value when it moved by at least ``threshold`` since the last send and the address's rate
cap allows it; event fields (onsets, beats) are read from their cumulative counters so no
event is lost between frames, and sent as 1 then 0. Sockets are non-blocking; a failed send
is counted, never raised.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from pythonosc.osc_message_builder import OscMessageBuilder

from ..errors import ParameterError
from ..frame import Mailbox

DEFAULT_MAX_RATE_HZ = 44.0
DEFAULT_THRESHOLD = 0.01


@dataclass(frozen=True)
class OscMapping:
    """``address`` ← frame ``field``. ``kind``: "value" (float, on change) or "event"
    (``field`` is a cumulative counter; each increase sends 1.0, then 0.0)."""

    address: str
    field: str
    kind: str = "value"
    threshold: float = DEFAULT_THRESHOLD
    max_rate_hz: float = DEFAULT_MAX_RATE_HZ


def default_mappings(threshold: float = DEFAULT_THRESHOLD, max_rate_hz: float = DEFAULT_MAX_RATE_HZ):
    """The live-path addresses: level, band levels and onsets, all 0..1 floats."""
    m = [OscMapping("/sonolux/level", "level", "value", threshold, max_rate_hz)]
    for b in ("bass", "mid", "high"):
        m.append(OscMapping(f"/sonolux/band/{b}", f"band_{b}", "value", threshold, max_rate_hz))
    m.append(OscMapping("/sonolux/onset", "onset_count", "event", threshold, max_rate_hz))
    return m


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[v6addr]:PORT``) → (host, port), resolved now so typos fail early."""
    host, sep, port_s = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise ParameterError(f"OSC target {text!r} must look like HOST:PORT, e.g. 127.0.0.1:9000")
    try:
        port = int(port_s)
    except ValueError:
        raise ParameterError(f"OSC target {text!r}: port {port_s!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise ParameterError(f"OSC target {text!r}: port {port} is outside 1..65535")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise ParameterError(f"OSC target {text!r}: cannot resolve host {host!r} ({e.strerror})") from None
    return host, port


class UdpTarget:
    def __init__(self, host: str, port: int):
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.address = info[4]
        self.label = f"{host}:{port}"
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        if host.endswith(".255") or host == "255.255.255.255":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.sent = 0
        self.errors = 0

    def send(self, datagram: bytes) -> bool:
        try:
            self.sock.sendto(datagram, self.address)
            self.sent += 1
            return True
        except OSError:  # BlockingIOError, ConnectionRefused (ICMP), network down …
            self.errors += 1
            return False

    def close(self) -> None:
        self.sock.close()


def encode_message(address: str, value) -> bytes:
    b = OscMessageBuilder(address=address)
    b.add_arg(value)
    return b.build().dgram


class _AddressState:
    __slots__ = ("mapping", "index", "last_value", "last_time", "last_count", "pending_zero")

    def __init__(self, mapping: OscMapping, index: int):
        self.mapping = mapping
        self.index = index
        self.last_value = None
        self.last_time = -1e9
        self.last_count = None
        self.pending_zero = False


class OscSender:
    """Sender thread. ``on_send(address, value, frame_seq, sample_end, t_sent)`` is an
    optional probe (benchmarks use it to time audio-in → OSC-out)."""

    def __init__(self, mailbox: Mailbox, targets: list[tuple[str, int]], mappings=None, *,
                 poll_s: float = 0.0005, on_send=None):
        self.mailbox = mailbox
        self.targets = [UdpTarget(h, p) for h, p in targets]
        mappings = list(mappings) if mappings is not None else default_mappings()
        layout = mailbox.layout
        missing = [m.field for m in mappings if m.field not in layout.scalars]
        if missing:
            raise ParameterError(f"OSC mapping field(s) {', '.join(missing)} not produced by the "
                                 f"analysis; known: {', '.join(layout.scalars)}")
        self._states = [_AddressState(m, layout.scalars[m.field]) for m in mappings]
        self._frame = layout.new_frame()
        self.poll_s = poll_s
        self.on_send = on_send
        self.messages = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-osc", daemon=True)
        self._last_seq = -1

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.targets)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        for t in self.targets:
            t.close()

    def _send(self, address: str, value: float) -> None:
        dgram = encode_message(address, value)
        for t in self.targets:
            t.send(dgram)
        self.messages += 1
        if self.on_send is not None:
            f = self._frame
            self.on_send(address, value, f.seq, f.sample_end, time.perf_counter())

    def poll_once(self) -> None:
        """Send what the newest frame calls for (also used directly by tests)."""
        now = time.perf_counter()
        seq = self.mailbox.seq
        fresh = seq != self._last_seq and self.mailbox.read_latest(self._frame)
        if fresh:
            self._last_seq = self._frame.seq
        values = self._frame.values
        for st in self._states:
            m = st.mapping
            if now - st.last_time < 1.0 / m.max_rate_hz:
                continue
            if m.kind == "event":
                if not fresh and not st.pending_zero:
                    continue
                count = values[st.index]
                if st.last_count is None:
                    st.last_count = count
                if count > st.last_count:
                    st.last_count = count
                    self._send(m.address, 1.0)
                    st.pending_zero, st.last_time = True, now
                elif st.pending_zero:
                    self._send(m.address, 0.0)
                    st.pending_zero, st.last_time = False, now
            elif fresh:
                v = float(values[st.index])
                if st.last_value is None or abs(v - st.last_value) >= m.threshold:
                    self._send(m.address, v)
                    st.last_value, st.last_time = v, now

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            time.sleep(self.poll_s)
