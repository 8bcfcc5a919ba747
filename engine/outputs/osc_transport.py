"""OSC transports. Everything here is non-blocking: a send either goes out now, is buffered
(TCP, bounded), or is counted as an error — the sender thread never waits on the network.

* UDP: unicast, broadcast (``x.x.x.255`` / ``255.255.255.255``) and multicast (224/4).
* TCP: OSC 1.0 framing (int32 big-endian length prefix) or OSC 1.1 SLIP framing, as ETC Eos
  accepts on port 3032; reconnects with backoff when the peer goes away.

Each transport says how it is doing in ``state`` ("ok", "connecting", "refused",
"unresolved", "error") and ``last_error`` (a short cause, or None), read by
:meth:`sonolux.outputs.osc.OscSender.health`.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import threading
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


def describe_error(e: OSError) -> str:
    """A short cause for the status line: "connection refused", "host not found" ..."""
    if isinstance(e, socket.gaierror):
        return f"cannot resolve host ({e.strerror})"
    return (e.strerror or type(e).__name__).lower()


def length_prefix(packet: bytes) -> bytes:
    return struct.pack(">i", len(packet)) + packet


class Resolver:
    """A target's host name → socket address, without ever holding up the sender thread:
    tried once at start (instant for addresses and known names); if that fails (no DNS yet,
    a typo, a console not on the network) a daemon thread retries with backoff, and the
    transport counts its sends as errors, state "unresolved", until it succeeds."""

    def __init__(self, host: str, port: int, socktype):
        self.host, self.port, self.socktype = host, port, socktype
        self.info = None  # (family, sockaddr) once resolved
        self.error: str | None = None
        self._stop = threading.Event()
        if not self._try():
            threading.Thread(target=self._retry, name=f"sonolux-resolve-{host}", daemon=True).start()

    def _try(self) -> bool:
        try:
            info = socket.getaddrinfo(self.host, self.port, type=self.socktype)[0]
        except (socket.gaierror, UnicodeError) as e:
            self.error = f"cannot resolve host {self.host!r} ({getattr(e, 'strerror', None) or e})"
            return False
        self.info = (info[0], info[4])
        return True

    def _retry(self) -> None:
        backoff = 0.5
        while not self._stop.wait(backoff) and not self._try():
            backoff = min(backoff * 2, 10.0)

    def close(self) -> None:
        self._stop.set()


class UdpTransport:
    """``bind``: a local address to send from (for multicast it also picks the interface)."""

    def __init__(self, host: str, port: int, ttl: int = 1, bind: str = ""):
        self.ttl = ttl
        self.bind = bind
        self.resolver = Resolver(host, port, socket.SOCK_DGRAM)
        self.sock = None
        self.address = None
        self.sent = 0
        self.errors = 0
        self.state = "ok"
        self.last_error = None
        self._open()

    def _open(self) -> bool:
        """The socket, once the host is resolved."""
        if self.sock is not None:
            return True
        if self.resolver.info is None:
            self.state, self.last_error = "unresolved", self.resolver.error
            return False
        family, self.address = self.resolver.info
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        if self.bind:
            self.sock.bind((self.bind, 0))
        try:
            ip = ipaddress.ip_address(self.address[0])
        except ValueError:
            ip = None
        if ip is not None and ip.version == 4 and (str(ip).endswith(".255")):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if ip is not None and ip.is_multicast:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            if self.bind:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.bind))
        self.state, self.last_error = "ok", None
        return True

    def send(self, packet: bytes) -> bool:
        if not self._open():
            self.errors += 1
            return False
        try:
            self.sock.sendto(packet, self.address)
            self.sent += 1
            self.state = "ok"
            return True
        except OSError as e:  # BlockingIOError, ICMP refusals, network down
            self.errors += 1
            self.state, self.last_error = "error", describe_error(e)
            return False

    def poll(self) -> None:
        pass

    def close(self) -> None:
        self.resolver.close()
        if self.sock is not None:
            self.sock.close()


class TcpTransport:
    """Stream transport with a bounded send buffer and non-blocking (re)connects."""

    def __init__(self, host: str, port: int, framing: str = "len"):
        """``framing``: "len" (OSC 1.0), "slip" (OSC 1.1) or "raw" (bytes as they are: OS2L)."""
        self.host, self.port = host, port
        self.resolver = Resolver(host, port, socket.SOCK_STREAM)
        self.frame = slip_encode if framing == "slip" else length_prefix if framing == "len" else bytes
        self.sock: socket.socket | None = None
        self.connected = False
        self.out = bytearray()
        self.sent = 0
        self.errors = 0
        self.reconnects = 0
        self.state = "connecting"
        self.last_error = None
        self._next_attempt = 0.0
        self._backoff = 0.25
        self.poll()

    def _connect(self) -> None:
        if self.resolver.info is None:
            self.state, self.last_error = "unresolved", self.resolver.error
            return
        family, address = self.resolver.info
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect_ex(address)
            self.sock = s
        except OSError as e:
            self._fail(e)

    def _fail(self, error: OSError | None = None) -> None:
        if error is not None:
            self.last_error = describe_error(error)
            self.state = ("unresolved" if isinstance(error, socket.gaierror)
                          else "refused" if isinstance(error, ConnectionRefusedError) else "error")
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
                self._fail(OSError(err, os.strerror(err)) if err != errno.ECONNREFUSED
                           else ConnectionRefusedError(err, os.strerror(err)))
                return
            try:
                self.sock.getpeername()
            except OSError:
                if now >= self._next_attempt + 2.0:  # connect did not complete in time
                    self._fail(TimeoutError(errno.ETIMEDOUT, "connection timed out"))
                return
            self.connected = True
            self.state, self.last_error = "ok", None
            self.reconnects += 1
            self._backoff = 0.25
        if self.out:
            try:
                n = self.sock.send(self.out)
                del self.out[:n]
            except BlockingIOError:
                pass
            except OSError as e:
                self.errors += 1
                self._fail(e)

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
        self.resolver.close()
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
