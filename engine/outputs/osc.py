"""OSC output: FeatureFrames → typed messages to one or more targets.

A sender thread polls the mailbox. Per target and mapping it sends a value when it moved by
at least the mapping's ``threshold`` (on the normalised 0..1 scale) since the last send and
the address's rate cap allows it. Event fields (onsets, beats, region changes) are read from
their cumulative ``_count`` counters, so no event is lost between frames, and sent as a pulse
(on, then off after ``hold_ms``) or a single message. Messages of one poll go out one by one
or, where the target asks for it, in one bundle; ``delay_ms`` holds a target's packets back
to line lights up with a PA or a projector. Sockets are non-blocking; failures are counted.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from ..config import parse_host_port
from ..frame import Mailbox
from .osc_config import Mapping, TargetConfig, load_profile, with_overrides
from .osc_transport import open_transport

log = logging.getLogger("sonolux.osc")
DEFAULT_PROFILE = "sonolux"


def parse_target(text: str, where: str = "OSC target") -> tuple[str, int]:
    """``HOST:PORT`` (or ``[v6addr]:PORT``) → (host, port). The host is resolved by the
    transport, which keeps retrying (a console that is not on the network yet is no reason
    to stop the show); the status line says so meanwhile."""
    return parse_host_port(text, where)


def build_targets(addresses, profile: str = DEFAULT_PROFILE, **overrides) -> list[TargetConfig]:
    """One TargetConfig per ``HOST:PORT`` string, all using ``profile`` (name or .toml)."""
    cfg = load_profile(profile)
    return [with_overrides(cfg, host=h, port=p, **overrides) for h, p in map(parse_target, addresses)]


def build_message(address: str, value):
    """A message with no argument (None), one, or several (a tuple)."""
    b = OscMessageBuilder(address=address)
    for v in (() if value is None else value if isinstance(value, tuple) else (value,)):
        b.add_arg(v)
    return b.build()


def encode_message(address: str, value) -> bytes:
    return build_message(address, value).dgram


def _resolve_index(idx, name, layout):
    """An int index, a label looked up in the layout, or None if it does not exist."""
    if isinstance(idx, str):
        labels = layout.labels.get(name, [])
        return labels.index(idx) if idx in labels else None
    return idx if idx < layout.vectors.get(name, 0) else None


class _MapState:
    __slots__ = ("m", "index", "vector", "event", "last_u", "last_time", "last_count", "off_due",
                 "labels", "last_top", "label_index", "last_label", "seen")

    def __init__(self, m: Mapping, layout):
        self.m = m
        name, idx = m.field_name, m.field_index
        self.event = idx is None and f"{name}_count" in layout.scalars
        self.labels = layout.labels.get(name) or [str(i) for i in range(layout.vectors.get(name, 0))]
        if self.event:
            self.vector, self.index = None, layout.scalars[f"{name}_count"]
        elif idx is None and name in layout.vectors:  # a whole vector: top_k
            self.vector, self.index = name, None
        elif idx is None:
            self.vector, self.index = None, layout.scalars[name]
        else:
            self.vector, self.index = name, _resolve_index(idx, name, layout)
        self.last_u = None
        self.last_time = -1e9
        self.last_count = None
        self.off_due = None  # time the pulse's "off" is due
        self.last_top: dict = {}  # top_k: label → last normalised value sent
        self.label_index = layout.scalars.get(m.label_field) if m.label_field else None
        self.last_label = None
        self.seen = None  # the input of the last full evaluation: the same input, the same decision

    @staticmethod
    def available(m: Mapping, layout) -> bool:
        name, idx = m.field_name, m.field_index
        if m.label_field and m.label_field not in layout.scalars:
            return False
        if idx is None:
            if m.top_k:
                return name in layout.vectors
            return name in layout.scalars or f"{name}_count" in layout.scalars
        return name in layout.vectors and _resolve_index(idx, name, layout) is not None


class TargetSender:
    """Per-target state: transport, mapping states, delayed packets, counters."""

    def __init__(self, cfg: TargetConfig, layout):
        self.cfg = cfg
        self.transport = open_transport(cfg)
        self.states = [_MapState(m, layout) for m in cfg.maps if _MapState.available(m, layout)]
        self.skipped = [m.field for m in cfg.maps if not _MapState.available(m, layout)]
        self.event_states = [st for st in self.states if st.event]
        self.delayed: deque = deque()
        self.messages = 0
        self.rate_hz = 0.0  # messages per second, measured over about a second
        self._rate_mark = (time.perf_counter(), 0)

    def count_rate(self, now: float) -> None:
        t0, n0 = self._rate_mark
        if now - t0 >= 1.0:
            self.rate_hz = (self.messages - n0) / (now - t0)
            self._rate_mark = (now, self.messages)

    def collect(self, frame, fresh: bool, now: float, blackout: bool) -> list[tuple[str, object]]:
        """Messages this poll calls for, as (address, argument or None)."""
        out = []
        values, vectors = frame.values, frame.vectors
        # between frames only pulses can fall due: the ~2 kHz idle polls stay short, so they
        # hold the GIL (and the analysis thread) up as little as possible
        for st in self.states if fresh else self.event_states:
            m = st.m
            if st.event:
                count = values[st.index]
                if st.last_count is None:
                    st.last_count = count
                if st.off_due is not None and now >= st.off_due:
                    out.append((m.format_address(m.off), m.event_output(False)))
                    st.off_due, st.last_time = None, now
                    continue
                if count > st.last_count and st.off_due is not None:
                    # a new event while the pulse is still on: keep it on a little longer
                    st.last_count = count
                    st.off_due = now + max(m.hold_ms / 1e3, 1.0 / m.max_rate_hz)
                    continue
                if count > st.last_count and now - st.last_time >= 1.0 / m.max_rate_hz:
                    st.last_count = count
                    if blackout:
                        continue
                    out.append((m.format_address(m.on), m.event_output(True)))
                    st.last_time = now
                    if m.trigger == "pulse":
                        st.off_due = now + max(m.hold_ms / 1e3, 1.0 / m.max_rate_hz)
                continue
            if not fresh or now - st.last_time < 1.0 / m.max_rate_hz:
                continue
            if st.index is None:  # top_k entries of a vector
                vec = vectors[st.vector]
                if self._seen_before(st, vec.tobytes(), blackout):
                    continue
                self._collect_top(st, vec, now, blackout, out)
                continue
            raw = float(values[st.index] if st.vector is None else vectors[st.vector][st.index])
            label = None if st.label_index is None else float(values[st.label_index])
            if self._seen_before(st, (raw, label), blackout):
                continue
            if m.valid is not None and not m.valid[0] <= raw <= m.valid[1] and not blackout:
                continue
            u = m.rest if blackout else m.normalise(raw)
            if st.last_u is not None and label == st.last_label and (
                    u == st.last_u or abs(u - st.last_u) < m.threshold):
                continue  # unchanged: on-change sending never repeats a value
            st.last_label = label
            arg = m.output(u, raw, label)
            addr = m.format_address(m.out[0] + (m.out[1] - m.out[0]) * u) if m.type == "none" else m.address
            out.append((addr, arg))
            st.last_u, st.last_time = u, now
        return out

    @staticmethod
    def _seen_before(st, seen, blackout: bool) -> bool:
        """True when ``seen`` is what the last full evaluation of ``st`` saw (it would decide
        the same again: most fields change a few times a second, mood and tags every 0.5 s),
        so the sender skips the work and keeps the GIL free for the analysis thread."""
        if blackout:
            st.seen = None
            return False
        if seen == st.seen:
            return True
        st.seen = seen
        return False

    @staticmethod
    def _collect_top(st, vec, now, blackout, out) -> None:
        m = st.m
        top = np.argsort(vec)[::-1][:m.top_k]
        for i in top:
            raw = float(vec[i])
            u = m.rest if blackout else m.normalise(raw)
            label = st.labels[i]
            last = st.last_top.get(label)
            if last is not None and abs(u - last) < m.threshold:
                continue
            out.append((m.format_address(raw, label), m.output(u, raw)))
            st.last_top[label] = u
            st.last_time = now

    def packets(self, messages):
        """(datagram, the messages it carries) pairs, lazily: without bundles each message is
        encoded just before it is sent, so the first mappings of a profile (levels, triggers)
        leave before the later ones (mood, tags) are even encoded."""
        if not self.cfg.bundle:
            for a, v in messages:
                yield encode_message(a, v), ((a, v),)
            return
        if not messages:  # nothing to say: no empty bundle
            return
        b = OscBundleBuilder(IMMEDIATELY)
        for a, v in messages:
            b.add_content(build_message(a, v))
        yield b.build().dgram, messages

    def emit(self, packet: bytes, now: float) -> None:
        """Send now, or queue it for ``delay_ms``."""
        if self.cfg.delay_ms > 0:
            self.delayed.append((now + self.cfg.delay_ms / 1e3, packet))
        else:
            self.transport.send(packet)

    @property
    def errors(self) -> int:
        return self.transport.errors


@dataclass(frozen=True)
class TargetHealth:
    """How one output target is doing, for the status line, the panel and ``/sonolux/status``."""

    name: str  # e.g. "udp://10.0.0.5:3032 (eos)"
    transport: str  # "udp" | "tcp"
    state: str  # "ok" | "waiting" (nothing to send yet) | "connecting" | "refused" | "unresolved" | "error"
    last_error: str | None
    messages: int
    errors: int
    rate_hz: float  # messages per second since the previous health() call

    @property
    def failing(self) -> bool:
        return self.state not in ("ok", "waiting")


class OscSender:
    """The sender thread over all targets. ``blackout`` (set by the control input) sends
    every value to its rest — the bottom of its range, or 0 for a range around 0 (valence and
    arousal go to neutral, not to the "sad" corner) — and holds events back.
    ``on_send(address, value, frame_seq, sample_end, t_sent)`` is an optional probe."""

    STATUS_ADDRESS = "/sonolux/status"

    def __init__(self, mailbox: Mailbox, targets: list[TargetConfig], *, poll_s: float = 0.0005,
                 on_send=None, status=None):
        """``status()``: optional, returns the engine-health arguments sent once a second as
        ``/sonolux/status`` to targets whose profile has ``status = true``."""
        self.status = status
        self._last_status = 0.0
        self.mailbox = mailbox
        layout = mailbox.layout
        self.targets = [TargetSender(cfg, layout) for cfg in targets]
        for t in self.targets:
            if t.skipped:
                log.info("OSC %s: %d mapping(s) idle, fields not produced by this run: %s",
                         t.cfg.label, len(t.skipped), ", ".join(sorted(set(t.skipped))))
        self._frame = layout.new_frame()
        self.poll_s = poll_s
        self.on_send = on_send
        self.blackout = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-osc", daemon=True)
        self._last_seq = -1

    @property
    def messages(self) -> int:
        return sum(t.messages for t in self.targets)

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.targets)

    def set_threshold(self, threshold: float) -> None:
        """The on-change threshold of every mapping of every target (0..1 of its range)."""
        for t in self.targets:
            for st in t.states:
                st.m = replace(st.m, threshold=threshold)

    def health(self) -> list[TargetHealth]:
        """Each target's health (any thread may ask; ``rate_hz`` is over the last second)."""
        return [TargetHealth(t.cfg.label, t.cfg.transport, t.transport.state, t.transport.last_error,
                             t.messages, t.transport.errors, t.rate_hz) for t in self.targets]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the sender thread, then, on this thread alone, send what the last frame calls
        for, release held triggers, flush delayed packets and close the transports (a
        transport is not thread-safe: nothing may poll it while the sender thread runs)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.poll_once()
        for t in self.targets:
            pending = [st for st in t.states if st.off_due is not None]
            offs = [(st.m.format_address(st.m.off), st.m.event_output(False)) for st in pending]
            if offs:  # no trigger is left "on" when sonolux stops (rate cap kept, ≤ 0.25 s wait)
                wait = max(st.last_time + 1.0 / st.m.max_rate_hz for st in pending) - time.perf_counter()
                time.sleep(min(max(wait, 0.0), 0.25))
                for pkt, _ in t.packets(offs):
                    t.delayed.append((0.0, pkt))
                for st in t.states:
                    st.off_due = None
            while t.delayed:  # flush what was held back for delay_ms
                t.transport.send(t.delayed.popleft()[1])
            t.transport.close()

    def poll_once(self) -> None:
        """Send what the newest frame calls for (also used directly by tests)."""
        now = time.perf_counter()
        fresh = self.mailbox.seq != self._last_seq and self.mailbox.read_latest(self._frame)
        if fresh:
            self._last_seq = self._frame.seq
        if self._last_seq < 0:
            return
        send_status = self.status is not None and now - self._last_status >= 1.0
        if send_status:
            self._last_status = now
        for t in self.targets:
            msgs = t.collect(self._frame, fresh, now, self.blackout)
            t.messages += len(msgs)
            f = self._frame
            for pkt, carried in t.packets(msgs):
                t.emit(pkt, now)
                if self.on_send is not None:  # the probe sees each datagram's own send time
                    ts = time.perf_counter()
                    for a, v in carried:
                        self.on_send(a, v, f.seq, f.sample_end, ts)
            if send_status and t.cfg.status:
                for pkt, _ in t.packets([(self.STATUS_ADDRESS, tuple(self.status()))]):
                    t.emit(pkt, now)
            while t.delayed and t.delayed[0][0] <= now:
                t.transport.send(t.delayed.popleft()[1])
            t.transport.poll()
            t.count_rate(now)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            time.sleep(self.poll_s)
