"""OSC control input: the operator steers sonolux from a console, a tablet or a script.

``ControlServer`` receives UDP packets (bound to 127.0.0.1 unless told otherwise), checks
the optional sender allow-list, parses them with python-osc and hands each message to
:class:`Controls`, which the web panel uses too: argument counts checked, one clean line per
distinct problem (rate-limited), counted, never fatal. ``engine_controls`` builds the handler
table for an Engine: preset, tap tempo, BPM range, thresholds, gain, emotion override,
blackout; ``open_control`` starts a server for a running engine::

    server = open_control(engine, "127.0.0.1", 9001)   # then: oscsend ... /sonolux/tap
    ...
    server.stop()
"""
from __future__ import annotations

import collections
import inspect
import logging
import socket
import threading
import time

from pythonosc.osc_packet import OscPacket

from ..config import did_you_mean, number, parse_list, parse_range
from ..errors import ParameterError, SonoluxError
from ..gain import parse_gain
from ..features.silence import SilenceGate

log = logging.getLogger("sonolux.control")

QUADRANT_NAMES = {"q1": 1, "happy": 1, "cheerful": 1, "q2": 2, "tense": 2, "anxious": 2, "fierce": 2,
                  "q3": 3, "sad": 3, "low": 3, "q4": 4, "calm": 4, "relaxed": 4, "gentle": 4}


def arity(handler) -> tuple[int, int | None, list[str]]:
    """(required, maximum or None, names) of a handler's positional arguments."""
    params = [p for p in inspect.signature(handler).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = any(p.kind == p.VAR_POSITIONAL for p in inspect.signature(handler).parameters.values())
    required = sum(1 for p in params if p.default is p.empty)
    return required, None if star else len(params), [p.name for p in params]


class Controls:
    """The control addresses and their handlers, for every way in (OSC, the web panel).

    ``apply(address, args)`` checks the argument count, calls the handler and returns None,
    or a one-line message saying what is wrong (never Python internals). Problems are logged
    once per distinct (address, message), at most ``max_lines_per_s`` lines a second.
    """

    def __init__(self, handlers: dict, *, max_lines_per_s: int = 5):
        self.handlers = dict(handlers)
        self.counts = {"messages": 0, "unknown": 0, "bad_args": 0}
        self.max_lines_per_s = max_lines_per_s
        self.on_applied = None  # called with (address, args) after a change was applied
        self._reported: set = set()
        self._recent: collections.deque = collections.deque()
        self.suppressed = 0

    def report(self, key, line: str) -> None:
        """Log ``line`` unless this problem was logged before or the rate limit is reached."""
        if key in self._reported:
            return
        now = time.monotonic()
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.max_lines_per_s:
            self.suppressed += 1  # not marked as reported: it may be told once the burst is over
            return
        self._recent.append(now)
        self._reported.add(key)
        log.warning("%s", line)

    def apply(self, address: str, args=(), *, log: bool = True) -> str | None:
        self.counts["messages"] += 1
        handler = self.handlers.get(address)
        if handler is None:
            self.counts["unknown"] += 1
            msg = f"unknown address {address}" + did_you_mean(address, self.handlers)
            if log:
                self.report(("unknown", address), f"control: {msg} ignored")
            return msg
        required, most, names = arity(handler)
        if len(args) < required or (most is not None and len(args) > most):
            want = f"{required}" if most == required else f"{required}-{most}" if most is not None else f"at least {required}"
            msg = (f"{address} needs {want} argument(s)" + (f" ({', '.join(names)})" if names else "")
                   + f", got {len(args)}")
        else:
            try:
                handler(*args)
                if self.on_applied is not None:
                    self.on_applied(address, args)
                return None
            except (SonoluxError, ValueError) as e:
                msg = str(e)
                if not msg.startswith(address):
                    msg = f"{address} {list(args)}: {msg}"
            except Exception as e:  # noqa: BLE001 - a handler bug must not reach the operator as a traceback
                log.debug("control handler %s failed", address, exc_info=True)
                msg = f"{address} {list(args)}: could not be applied ({type(e).__name__})"
        self.counts["bad_args"] += 1
        if log:
            self.report(("bad", address, msg), f"control: {msg}")
        return msg


class ControlServer:
    def __init__(self, host: str, port: int, handlers: dict, *, allow=None):
        self.controls = handlers if isinstance(handlers, Controls) else Controls(handlers)
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
        self.packet_counts = {"packets": 0, "malformed": 0, "refused": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-control", daemon=True)

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def counts(self) -> dict:
        """packets, malformed, refused (senders), messages, unknown (addresses), bad_args."""
        return {**self.packet_counts, **self.controls.counts}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()

    def handle_packet(self, data: bytes, sender: str = "127.0.0.1") -> None:
        self.packet_counts["packets"] += 1
        if self.allow is not None and sender not in self.allow:
            self.packet_counts["refused"] += 1
            self.controls.report(("refused", sender), f"control: ignoring packets from {sender} (not in the allow-list)")
            return
        try:
            messages = [m.message for m in OscPacket(data).messages]
        except Exception:  # python-osc raises ParseError, and sometimes others, on junk
            self.packet_counts["malformed"] += 1
            self.controls.report("malformed", f"control: malformed OSC packet from {sender} ignored "
                                              "(further ones are only counted)")
            return
        for msg in messages:
            self.controls.apply(msg.address, list(msg.params))

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


#: what sonolux receives: address | arguments | what it does (``sonolux osc addresses`` prints
#: it; a test keeps it in step with the handler table)
CONTROL_TABLE = """
/sonolux/preset            | s name                     | switch the visuals to this preset (crossfaded)
/sonolux/tap               |                            | tap tempo: 3+ taps < 2 s apart lock tempo and phase
/sonolux/tap/release       |                            | end a tap lock: the audio decides tempo and phase again
/sonolux/phase/nudge       | f -0.5-0.5                 | move the beat phase by this much of a beat (positive: later)
/sonolux/bpm/range         | f low, f high              | the beat tracker's tempo range (high >= 1.5 x low)
/sonolux/emotion/override  | i 0-4 or s Q1-Q4/mood/auto | force the mood quadrant (0/auto: the models)
/sonolux/emotion/calibration/reset |                   | forget what the overrides taught: the model's own mood again (saved at stop)
/sonolux/blackout          | [i 0/1]                    | outputs to rest, visuals dark; no argument toggles
/sonolux/threshold/onset   | f 0.1-20                   | onset sensitivity k (lower: more onsets)
/sonolux/threshold/gate    | f -120-0                   | no onsets below this level (dBFS)
/sonolux/threshold/osc     | f 0-1                      | every mapping's on-change threshold
/sonolux/threshold/silence | f -120-0                   | silence threshold (dBFS)
/sonolux/gain              | f -24-24 or s auto         | input gain in dB, or automatic gain
/sonolux/region/sensitivity | f 0-1                     | how readily regions cut (0.5: as tuned; higher: more cuts)
/sonolux/region/min_s      | f seconds                  | no region shorter than this
/sonolux/region/cues       | s contrast,novelty,mood,energy | which region cues are on (comma-separated)
/sonolux/region/judge      | i 0/1                      | the learned cut judge keeps or drops each cut (needs the emotion model's tags)
/sonolux/region/placer     | i 0/1                      | the learned cut placer moves each cut to where the join lies (no models needed)
/sonolux/show/save         | [s path]                   | save the show file (with --show; the old one kept as .bak)
"""
CONTROL_ADDRESSES = tuple(tuple(cell.strip() for cell in line.split("|"))
                          for line in CONTROL_TABLE.strip().splitlines())


def thresholds(engine) -> dict:
    """Setters for ``/sonolux/threshold/<name>``, each validating its value: ``onset`` (k of
    the onset detector), ``gate`` (dBFS below which no onset fires), ``osc`` (the outputs'
    on-change threshold) and ``silence`` (dBFS below which the show holds still)."""
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
    silence = engine.analyzer.find(SilenceGate)
    if silence is not None:
        def silence_db(v, *_):
            silence.threshold_db = number(v, "/sonolux/threshold/silence (dBFS)", lo=-120, hi=0)

        out["silence"] = silence_db
    return out


def engine_controls(engine) -> dict:
    """Handler table acting on a running Engine."""
    analyzer = engine.analyzer

    def preset(name, *rest):
        if not isinstance(name, str) or not name:
            raise ParameterError(f"preset name must be a string, got {name!r}")
        if engine.preset_handler is None:
            raise ParameterError(f"preset {name!r} ignored: this run shows no visuals (no window)")
        names = engine.preset_names
        if names is not None and name not in names:
            raise ParameterError(f"no preset named {name!r}" + did_you_mean(name, names)
                                 + f"; available: {', '.join(sorted(names))}")
        engine.request_preset(name)

    def tap(*_):
        if not hasattr(analyzer, "tap"):
            raise ParameterError("tap tempo is not available in this analysis chain")
        analyzer.tap()

    def release_tap(*_):
        if not hasattr(analyzer, "release_tap"):
            raise ParameterError("tap tempo is not available in this analysis chain")
        analyzer.release_tap()

    def nudge(beats, *rest):
        analyzer.nudge_phase(number(beats, "/sonolux/phase/nudge (beats)", lo=-0.5, hi=0.5))

    def bpm_range(lo, hi, *rest):
        lo, hi = parse_range([lo, hi], "/sonolux/bpm/range", lo=20, hi=400, min_ratio=1.5)
        if not hasattr(analyzer, "set_bpm_range"):
            raise ParameterError("the BPM range cannot be set in this analysis chain")
        analyzer.set_bpm_range(lo, hi)

    def override(q=0, *rest):
        engine.control_state.emotion_override = parse_quadrant(q)

    def calibration_reset(*_):
        if engine.inference is None or "emotion" not in engine.inference.models:
            raise ParameterError("no emotion model runs (--no-models?): there is no mood calibration to reset")
        engine.control_state.calibration_resets += 1

    def blackout(on=None, *rest):
        state = engine.control_state
        engine.set_blackout((not state.blackout) if on is None
                            else bool(number(on, "/sonolux/blackout", lo=0, hi=1)))

    def gain(value, *rest):
        engine.set_gain(parse_gain(value, "/sonolux/gain"))

    def regions(**knob):
        if not hasattr(analyzer, "set_region_controls"):
            raise ParameterError("the region knobs are not available in this analysis chain")
        analyzer.set_region_controls(**knob)

    def region_sensitivity(v, *rest):
        regions(sensitivity=number(v, "/sonolux/region/sensitivity", lo=0, hi=1))

    def region_min_s(v, *rest):
        regions(min_region_s=number(v, "/sonolux/region/min_s (s)", lo=0, hi=600))

    def region_judge(on=1, *rest):
        """1: the learned cut judge decides (where an emotion model with tags runs), 0: the fixed fusion."""
        regions(judge=bool(number(on, "/sonolux/region/judge", lo=0, hi=1)))

    def region_placer(on=1, *rest):
        """1: the learned cut placer moves each region cut (where its file loaded), 0: the ramp fit places them."""
        regions(placer=bool(number(on, "/sonolux/region/placer", lo=0, hi=1)))

    def region_cues(*names):
        """One comma-separated string or one cue name per argument; none: every cue off."""
        cues = [c for n in names for c in parse_list(str(n), "/sonolux/region/cues")]
        regions(cues=tuple(cues))

    handlers = {"/sonolux/preset": preset, "/sonolux/tap": tap, "/sonolux/bpm/range": bpm_range,
                "/sonolux/region/sensitivity": region_sensitivity, "/sonolux/region/min_s": region_min_s,
                "/sonolux/region/cues": region_cues, "/sonolux/region/judge": region_judge,
                "/sonolux/region/placer": region_placer,
                "/sonolux/emotion/override": override, "/sonolux/emotion/calibration/reset": calibration_reset,
                "/sonolux/blackout": blackout,
                "/sonolux/gain": gain, "/sonolux/tap/release": release_tap, "/sonolux/phase/nudge": nudge}
    for name, setter in thresholds(engine).items():
        handlers[f"/sonolux/threshold/{name}"] = setter
    return handlers


def open_control(engine, host: str, port: int, allow=None, controls: Controls | None = None) -> ControlServer:
    """Listen for OSC control messages for ``engine`` (started; ``stop()`` when done)."""
    server = ControlServer(host, port, controls or Controls(engine_controls(engine)), allow=allow)
    server.start()
    return server
