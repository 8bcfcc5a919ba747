"""OSC control input: the operator steers sonolux from a console, a tablet or a script.

``ControlServer`` receives UDP packets (bound to 127.0.0.1 unless told otherwise), checks
the optional sender allow-list, parses them with python-osc and calls the handler for each
address. Unknown addresses, malformed packets, refused senders and bad arguments are counted
and logged once per address — never fatal. ``engine_controls`` builds the handler table for
an Engine: preset, tap tempo, BPM range, thresholds, emotion override, blackout;
``open_control`` starts a server for a running engine::

    server = open_control(engine, "127.0.0.1", 9001)   # then: oscsend ... /sonolux/tap
    ...
    server.stop()
"""
from __future__ import annotations

import logging
import socket
import threading

from pythonosc.osc_packet import OscPacket

from ..config import number, parse_range
from ..errors import ParameterError

log = logging.getLogger("sonolux.control")

QUADRANT_NAMES = {"q1": 1, "happy": 1, "cheerful": 1, "q2": 2, "tense": 2, "anxious": 2, "fierce": 2,
                  "q3": 3, "sad": 3, "low": 3, "q4": 4, "calm": 4, "relaxed": 4, "gentle": 4}


class ControlServer:
    def __init__(self, host: str, port: int, handlers: dict, *, allow=None):
        self.handlers = dict(handlers)
        self.allow = set(allow) if allow else None
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        try:
            self.sock.bind(info[4])
        except OSError as e:
            self.sock.close()
            raise ParameterError(f"control input {host}:{port}: cannot listen ({e.strerror})") from None
        self.address = self.sock.getsockname()
        self.sock.settimeout(0.2)
        self.counts = {"packets": 0, "messages": 0, "malformed": 0, "unknown": 0, "refused": 0,
                       "bad_args": 0}
        self._warned: set = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-control", daemon=True)

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()

    def _warn_once(self, key, msg, *args) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)

    def handle_packet(self, data: bytes, sender: str = "127.0.0.1") -> None:
        self.counts["packets"] += 1
        if self.allow is not None and sender not in self.allow:
            self.counts["refused"] += 1
            self._warn_once(("refused", sender), "control: ignoring packets from %s (not in the allow-list)", sender)
            return
        try:
            messages = [m.message for m in OscPacket(data).messages]
        except Exception:  # python-osc raises ParseError, and sometimes others, on junk
            self.counts["malformed"] += 1
            self._warn_once("malformed", "control: malformed OSC packet from %s ignored (further ones are only counted)", sender)
            return
        for msg in messages:
            self.counts["messages"] += 1
            handler = self.handlers.get(msg.address)
            if handler is None:
                self.counts["unknown"] += 1
                self._warn_once(("unknown", msg.address), "control: unknown address %s ignored", msg.address)
                continue
            try:
                handler(*msg.params)
            except (ParameterError, TypeError, ValueError) as e:
                self.counts["bad_args"] += 1
                self._warn_once(("bad", msg.address), "control: %s %r: %s", msg.address, list(msg.params), e)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.handle_packet(data, addr[0])


def parse_quadrant(v) -> int:
    """1..4, 'Q1'..'Q4' or a mood name → 1..4; 0, 'auto', 'off' → 0 (no override)."""
    if isinstance(v, str):
        key = v.strip().lower()
        if key in ("auto", "off", "none", "0", ""):
            return 0
        if key in QUADRANT_NAMES:
            return QUADRANT_NAMES[key]
        if key.isdigit():
            v = int(key)
        else:
            raise ParameterError(f"quadrant {v!r} is not 1-4, Q1-Q4, a mood name or 'auto'")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or not 0 <= v <= 4:
        raise ParameterError(f"quadrant {v!r} is not 1-4 (0 = auto)")
    return int(v)


def thresholds(engine) -> dict:
    """Setters for ``/sonolux/threshold/<name>``, each validating its value: ``onset`` (k of
    the onset detector), ``gate`` (dBFS below which no onset fires) and ``osc`` (the outputs'
    on-change threshold)."""
    out = {}
    onsets = next((p for p in engine.analyzer.chain.processors if hasattr(p, "gate_db")), None)
    if onsets is not None:
        def onset(v, *_):
            onsets.k = number(v, "/sonolux/threshold/onset", lo=0.1, hi=20)

        def gate(v, *_):
            onsets.gate_db = number(v, "/sonolux/threshold/gate (dBFS)", lo=-120, hi=0)

        out.update(onset=onset, gate=gate)

    def osc(v, *_):
        engine.set_osc_threshold(number(v, "/sonolux/threshold/osc", lo=0, hi=1))

    out["osc"] = osc
    return out


def engine_controls(engine) -> dict:
    """Handler table acting on a running Engine."""
    analyzer = engine.analyzer

    def preset(name, *rest):
        if not isinstance(name, str) or not name:
            raise ParameterError(f"preset name must be a string, got {name!r}")
        engine.request_preset(name)

    def tap(*_):
        if not hasattr(analyzer, "tap"):
            raise ParameterError("tap tempo is not available in this analysis chain")
        analyzer.tap()

    def bpm_range(lo, hi, *rest):
        lo, hi = parse_range([lo, hi], "/sonolux/bpm/range", lo=20, hi=400, min_ratio=1.5)
        if not hasattr(analyzer, "set_bpm_range"):
            raise ParameterError("the BPM range cannot be set in this analysis chain")
        analyzer.set_bpm_range(lo, hi)

    def override(q=0, *rest):
        engine.control_state.emotion_override = parse_quadrant(q)

    def blackout(on=None, *rest):
        state = engine.control_state
        engine.set_blackout((not state.blackout) if on is None
                            else bool(number(on, "/sonolux/blackout", lo=0, hi=1)))

    handlers = {"/sonolux/preset": preset, "/sonolux/tap": tap, "/sonolux/bpm/range": bpm_range,
                "/sonolux/emotion/override": override, "/sonolux/blackout": blackout}
    for name, setter in thresholds(engine).items():
        handlers[f"/sonolux/threshold/{name}"] = setter
    return handlers


def open_control(engine, host: str, port: int, allow=None) -> ControlServer:
    """Listen for OSC control messages for ``engine`` (started; ``stop()`` when done)."""
    server = ControlServer(host, port, engine_controls(engine), allow=allow)
    server.start()
    return server
