"""``sonolux osc monitor``: print what an OSC target would receive.

The first tool an operator reaches for when nothing lights up: point sonolux (or anything
else) at this port and see every address, type tag and value as it arrives.
"""
from __future__ import annotations

import socket
import struct
import sys
import time

from pythonosc.osc_packet import OscPacket

from .osc_transport import slip_decode_stream


def describe(data: bytes) -> list[str]:
    """One printable line per message in ``data`` (a message or a bundle)."""
    try:
        packet = OscPacket(data)
    except Exception:
        return [f"(malformed packet, {len(data)} bytes)"]
    bundled = data.startswith(b"#bundle")
    lines = []
    for tm in packet.messages:
        m = tm.message
        types = "".join(_tag(p) for p in m.params)
        args = " ".join(_fmt(p) for p in m.params)
        lines.append(f"{m.address} ,{types} {args}".rstrip() + ("  [bundle]" if bundled else ""))
    return lines


def _tag(p) -> str:
    if isinstance(p, bool):
        return "T" if p else "F"
    if isinstance(p, int):
        return "i"
    if isinstance(p, float):
        return "f"
    if isinstance(p, str):
        return "s"
    if p is None:
        return "N"
    return "b"


def _fmt(p) -> str:
    if isinstance(p, float):
        return f"{p:.4f}"
    if isinstance(p, str):
        return f'"{p}"'
    return str(p)


def monitor(host: str, port: int, *, tcp: bool = False, framing: str = "len",
            duration: float | None = None, count: int | None = None, out=sys.stdout) -> int:
    """Print messages until ``duration`` seconds or ``count`` messages; return the count."""
    t0 = time.monotonic()
    n = 0

    def emit(data: bytes) -> bool:
        nonlocal n
        for line in describe(data):
            print(f"{time.monotonic() - t0:9.3f}  {line}", file=out, flush=True)
            n += 1
            if count is not None and n >= count:
                return False
        return True

    def time_left() -> bool:
        return duration is None or time.monotonic() - t0 < duration

    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not tcp:
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.bind((host, port))
            s.settimeout(0.2)
            print(f"listening for OSC on udp://{host}:{s.getsockname()[1]} (Ctrl-C to stop)", file=sys.stderr)
            while time_left():
                try:
                    data, _ = s.recvfrom(65536)
                except socket.timeout:
                    continue
                if not emit(data):
                    break
        return n
    with socket.socket(fam, socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(4)
        srv.settimeout(0.2)
        print(f"listening for OSC on tcp://{host}:{srv.getsockname()[1]} ({framing} framing)", file=sys.stderr)
        while time_left():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(0.2)
                buf = bytearray()
                while time_left():
                    try:
                        chunk = conn.recv(65536)
                    except socket.timeout:
                        continue
                    if not chunk:
                        break
                    buf += chunk
                    for pkt in decode_stream(buf, framing):
                        if not emit(pkt):
                            return n
    return n


def decode_stream(buf: bytearray, framing: str) -> list[bytes]:
    """Pop complete packets from a TCP byte stream (length-prefixed or SLIP)."""
    if framing == "slip":
        return slip_decode_stream(buf)
    out = []
    while len(buf) >= 4:
        size = struct.unpack(">i", buf[:4])[0]
        if size < 0 or size > 1 << 20:
            buf.clear()  # not a length prefix: resynchronising is impossible, start over
            break
        if len(buf) < 4 + size:
            break
        out.append(bytes(buf[4:4 + size]))
        del buf[:4 + size]
    return out
