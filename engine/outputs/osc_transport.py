"""OSC transports. Everything here is non-blocking: a send either goes out now, is buffered
(TCP, bounded), or is counted as an error — the sender thread never waits on the network.

* UDP: unicast, broadcast (``x.x.x.255`` / ``255.255.255.255``) and multicast (224/4).
* TCP: OSC 1.0 framing (int32 big-endian length prefix) or OSC 1.1 SLIP framing, as ETC Eos
  accepts on port 3032; reconnects with backoff when the peer goes away.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
import time

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
TCP_BUFFER_LIMIT = 64 * 1024


def slip_encode(packet: bytes) -> bytes:
    """OSC 1.1 stream framing: END, packet with END/ESC escaped, END."""
    body = packet.replace(bytes([SLIP_ESC]), bytes([SLIP_ESC, SLIP_ESC_ESC])).replace(
        bytes([SLIP_END]), bytes([SLIP_ESC, SLIP_ESC_END]))
    return bytes([SLIP_END]) + body + bytes([SLIP_END])


def slip_decode_stream(buf: bytearray) -> list[bytes]:
    """Pop every complete SLIP packet from ``buf`` (in place)."""
    out = []
    while True:
        start = buf.find(bytes([SLIP_END]))
        if start < 0:
            buf.clear()
            return out
        end = buf.find(bytes([SLIP_END]), start + 1)
        if end < 0:
            del buf[:start]
            return out
        body = bytes(buf[start + 1:end])
        del buf[:end]  # keep the closing END: it may open the next packet
        if body:
            out.append(body.replace(bytes([SLIP_ESC, SLIP_ESC_END]), bytes([SLIP_END])).replace(
                bytes([SLIP_ESC, SLIP_ESC_ESC]), bytes([SLIP_ESC])))


def length_prefix(packet: bytes) -> bytes:
    return struct.pack(">i", len(packet)) + packet


class UdpTransport:
    """``bind``: a local address to send from (for multicast it also picks the interface)."""

    def __init__(self, host: str, port: int, ttl: int = 1, bind: str = ""):
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.address = info[4]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        if bind:
            self.sock.bind((bind, 0))
        try:
            ip = ipaddress.ip_address(self.address[0])
        except ValueError:
            ip = None
        if ip is not None and ip.version == 4 and (str(ip).endswith(".255")):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if ip is not None and ip.is_multicast:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            if bind:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(bind))
        self.sent = 0
        self.errors = 0
        self.last_error = ""

    def send(self, packet: bytes) -> bool:
        try:
            self.sock.sendto(packet, self.address)
            self.sent += 1
            return True
        except OSError as e:  # BlockingIOError, ICMP refusals, network down
            self.errors += 1
            self.last_error = f"{self.address[0]}:{self.address[1]}: {e.strerror or e}"
            return False

    def poll(self) -> None:
        pass

    def close(self) -> None:
        self.sock.close()


class TcpTransport:
    """Stream transport with a bounded send buffer and non-blocking (re)connects."""

    def __init__(self, host: str, port: int, framing: str = "len"):
        """``framing``: "len" (OSC 1.0), "slip" (OSC 1.1) or "raw" (bytes as they are: OS2L)."""
        self.host, self.port = host, port
        self.frame = slip_encode if framing == "slip" else length_prefix if framing == "len" else bytes
        self.sock: socket.socket | None = None
        self.connected = False
        self.out = bytearray()
        self.sent = 0
        self.errors = 0
        self.reconnects = 0
        self._next_attempt = 0.0
        self._backoff = 0.25
        self.poll()

    def _connect(self) -> None:
        try:
            info = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0]
            s = socket.socket(info[0], socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect_ex(info[4])
            self.sock = s
        except OSError:
            self._fail()

    def _fail(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.connected = False
        self.out.clear()
        self._next_attempt = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, 5.0)

    def poll(self) -> None:
        """Advance the connection and flush buffered bytes; never blocks."""
        now = time.monotonic()
        if self.sock is None:
            if now >= self._next_attempt:
                self._connect()
            return
        if not self.connected:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err not in (0,):
                self._fail()
                return
            try:
                self.sock.getpeername()
            except OSError:
                if now >= self._next_attempt + 2.0:  # connect did not complete in time
                    self._fail()
                return
            self.connected = True
            self.reconnects += 1
            self._backoff = 0.25
        if self.out:
            try:
                n = self.sock.send(self.out)
                del self.out[:n]
            except BlockingIOError:
                pass
            except OSError:
                self.errors += 1
                self._fail()

    def send(self, packet: bytes) -> bool:
        if not self.connected:
            self.poll()
            if not self.connected:
                self.errors += 1
                return False
        data = self.frame(packet)
        if len(self.out) + len(data) > TCP_BUFFER_LIMIT:
            self.errors += 1  # peer not reading: drop rather than grow without bound
            return False
        self.out += data
        self.sent += 1
        self.poll()
        return True

    def close(self) -> None:
        if self.sock is not None:
            try:
                if self.connected and self.out:
                    self.sock.setblocking(True)
                    self.sock.settimeout(0.2)
                    self.sock.sendall(self.out)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
            self.connected = False


def open_transport(cfg):
    if cfg.transport == "tcp":
        return TcpTransport(cfg.host, cfg.port, cfg.framing)
    return UdpTransport(cfg.host, cfg.port, cfg.ttl)
