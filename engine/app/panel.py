"""The web control panel (``sonolux run --panel [HOST:]PORT``): live meters, each output's
health, the operator's state and controls, in any browser (a phone included). The analysis
knobs it shows are the engine's own values (:meth:`~sonolux.analysis.Analyzer.knobs`), so the
page tells the truth whoever set them (flags, the show file, OSC, another browser).

Served by aiohttp on its own thread and event loop. The page opens one WebSocket; the panel
pushes the newest frame's state to every client at most :attr:`Panel.MAX_RATE_HZ` times a
second — read from the mailbox like the OSC sender does, so it never slows the analysis — and
applies the controls the page sends through the very same :class:`~sonolux.app.control.Controls`
as OSC control (same checks, same messages). Bound to 127.0.0.1 unless told otherwise; any
other address needs a token (``?token=...``; printed at start when not given).
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import socket
import threading
from importlib import resources

from aiohttp import WSMsgType, web

from ..errors import ParameterError

log = logging.getLogger("sonolux.panel")

REGION_LABELS = ("", "fierce", "cheerful", "gentle", "low")
TOP_TAGS = 5


def is_loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
    except (socket.gaierror, ValueError):
        return False


class Panel:
    """The panel server for a running engine; ``start()`` returns once it listens."""

    MAX_RATE_HZ = 30.0

    def __init__(self, engine, controls, host: str = "127.0.0.1", port: int = 8080, *,
                 token: str | None = None, rate_hz: float = 20.0, show_path=None):
        self.engine, self.controls = engine, controls
        self.host, self.port = host, port
        self.token = token or (None if is_loopback(host) else secrets.token_urlsafe(16))
        self.interval = 1.0 / min(float(rate_hz), self.MAX_RATE_HZ)
        self.show_path = show_path
        self.frame = engine.mailbox.layout.new_frame()
        self.updates = 0  # state messages sent, all clients
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sonolux-panel", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise ParameterError(f"--panel {self.host}:{self.port}: cannot listen ({self._error})")

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.add_routes([web.get("/", self._page), web.get("/ws", self._socket)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
        except OSError as e:
            self._error = e.strerror or e
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    # -- HTTP ------------------------------------------------------------------------------
    def _allowed(self, request) -> bool:
        return self.token is None or secrets.compare_digest(request.query.get("token", ""), self.token)

    async def _page(self, request):
        if not self._allowed(request):
            return web.Response(status=403, text="sonolux panel: wrong or missing token\n")
        html = resources.files(__package__).joinpath("panel.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html")

    async def _socket(self, request):
        if not self._allowed(request):
            return web.Response(status=403, text="sonolux panel: wrong or missing token\n")
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        sender = asyncio.ensure_future(self._push(ws))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await ws.send_json(self._command(msg.data))
        finally:
            sender.cancel()
        return ws

    async def _push(self, ws) -> None:
        while not ws.closed:
            await ws.send_str(json.dumps(self.state()))
            self.updates += 1
            await asyncio.sleep(self.interval)

    def _command(self, text: str) -> dict:
        """A control from the page: ``{"id": n, "address": "/sonolux/tap", "args": []}``."""
        try:
            msg = json.loads(text)
            address, args = str(msg["address"]), list(msg.get("args", []))
        except (ValueError, KeyError, TypeError):
            return {"reply": None, "error": "malformed control message"}
        return {"reply": msg.get("id"), "address": address, "error": self.controls.apply(address, args)}

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict:
        """What the page shows, from the newest frame and the engine's public state."""
        e = self.engine
        stats = e.stats()
        out = {"type": "state", "t": round(stats.t, 3),
               "operator": {"blackout": stats.blackout, "override": stats.emotion_override,
                            "gain_db": round(stats.gain_db, 2), "gain_auto": stats.gain_auto,
                            "tap_lock": stats.tap_locked,
                            "preset": getattr(e.visual_host, "current", None),
                            "presets": sorted(e.preset_names) if e.preset_names is not None else None},
               "outputs": [{"name": h.name, "transport": h.transport, "state": h.state,
                            "error": h.last_error, "messages": h.messages, "errors": h.errors,
                            "rate": round(h.rate_hz, 1)} for h in e.output_health()],
               "engine": {"dropped": stats.dropped_blocks, "late": stats.late_hops,
                          "input_lost": stats.input_lost, "models": e.inference is not None,
                          "calibration_s": self._calibration_s()},
               "show": str(self.show_path) if self.show_path else None,
               "controls": sorted(self.controls.handlers),
               "knobs": e.analyzer.knobs()}
        f = self.frame
        if not e.mailbox.read_latest(f):
            return out
        g = lambda name, default=0.0: float(f[name]) if name in f else default  # noqa: E731
        q = [g(f"q{k}") for k in range(1, 5)]
        region = int(g("region_label"))
        out["meters"] = {
            "level": g("level"), "level_db": g("level_db", -120.0),
            "bands": {b: g(f"band_{b}") for b in ("bass", "mid", "high")},
            "onsets": g("onset_count"), "beats": g("beat_count"), "phase": g("beat_phase"),
            "bpm": g("bpm"), "bpm_confidence": g("bpm_confidence"),
            "valence": g("valence"), "arousal": g("arousal"), "quadrant": int(g("quadrant")),
            # the published confidence (P of the quadrant × the share of the window that held
            # audio); a chain without it shows the largest quadrant probability
            "mood_confidence": g("emotion_confidence", max(q)),
            "region": REGION_LABELS[region] if 0 <= region < 5 else "",
            "region_start": g("region_start"), "region_cuts": int(g("region_change_count")),
            # the fused cues' score against the level that cuts (with the judge on: proposes a cut)
            "region_score": g("region_score"), "region_threshold": g("region_threshold"),
            "silence": bool(g("silence")), "tags": self._top_tags(f)}
        return out

    def _calibration_s(self) -> float | None:
        """Seconds of music the operator's overrides have taught the per-show calibration (None:
        no emotion model). Read off the worker's list while it may grow: a display only."""
        inference = self.engine.inference
        if inference is None or "emotion" not in inference.models:
            return None
        from ..inference.calibration import EXAMPLE_S

        return round(sum(list(inference.calibration.weights)) * EXAMPLE_S, 1)

    @staticmethod
    def _top_tags(f) -> list:
        if "tags" not in f:
            return []
        vec = f["tags"]
        labels = f.layout.labels.get("tags") or [str(i) for i in range(vec.shape[0])]
        order = sorted(range(vec.shape[0]), key=lambda i: -vec[i])[:TOP_TAGS]
        return [[labels[i], round(float(vec[i]), 3)] for i in order]
