"""OSC control input: the operator steers sonolux from a console, a tablet or a script.

``ControlServer`` receives UDP packets (bound to 127.0.0.1 unless told otherwise), checks
the optional sender allow-list, parses them with python-osc and calls the handler for each
address. Unknown addresses, malformed packets, refused senders and bad arguments are counted
and logged once per address — never fatal. ``engine_controls`` builds the handler table for
an Engine: preset, tap tempo, BPM range, thresholds, emotion override, blackout.
"""
from __future__ import annotations

import logging
import socket
import threading

from pythonosc.osc_packet import OscPacket

from .errors import ParameterError

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


def _number(name, v, lo, hi) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ParameterError(f"{name} must be a number, got {v!r}")
    if not lo <= v <= hi:
        raise ParameterError(f"{name}={v} is outside {lo}..{hi}")
    return float(v)


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


class ControlState:
    """What the operator has set. Written by the control thread (one reference or number
    at a time), read by the analysis and output threads."""

    def __init__(self):
        self.emotion_override = 0  # 0 = the models decide; 1..4 = forced quadrant
        self.blackout = False
        self.preset_request = None


def engine_controls(engine) -> dict:
    """Handler table acting on a running Engine."""
    state = engine.control_state
    analyzer = engine.analyzer

    def preset(name, *rest):
        if not isinstance(name, str) or not name:
            raise ParameterError(f"preset name must be a string, got {name!r}")
        state.preset_request = name
        if engine.preset_handler is not None:
            engine.preset_handler(name)

    def tap(*_):
        if not hasattr(analyzer, "tap"):
            raise ParameterError("tap tempo is not available in this analysis chain")
        analyzer.tap()

    def bpm_range(lo, hi, *rest):
        lo, hi = _number("bpm low", lo, 20, 400), _number("bpm high", hi, 20, 400)
        if hi < lo * 1.5:
            raise ParameterError(f"bpm range {lo:g}..{hi:g} is too narrow (high must be at least 1.5 × low)")
        if not hasattr(analyzer, "set_bpm_range"):
            raise ParameterError("the BPM range cannot be set in this analysis chain")
        analyzer.set_bpm_range(lo, hi)

    def override(q=0, *rest):
        state.emotion_override = parse_quadrant(q)

    def blackout(on=None, *rest):
        state.blackout = (not state.blackout) if on is None else bool(_number("blackout", on, 0, 1))
        if engine.osc is not None:
            engine.osc.blackout = state.blackout
        for out in getattr(engine, "extra_outputs", ()):
            out.blackout = state.blackout
        if engine.blackout_handler is not None:
            engine.blackout_handler(state.blackout)

    handlers = {"/sonolux/preset": preset, "/sonolux/tap": tap, "/sonolux/bpm/range": bpm_range,
                "/sonolux/emotion/override": override, "/sonolux/blackout": blackout}
    for name, setter in engine.thresholds().items():
        handlers[f"/sonolux/threshold/{name}"] = setter
    return handlers
