"""Web panel benchmark: does a panel with browsers attached cost the analysis anything?

    python benchmarks/panel.py [--seconds 10] [--rounds 3] [--clients 3] [--out FILE]

Runs the live engine on the built-in demo track in real time, ``rounds`` times without the
panel and ``rounds`` times with it (interleaved: off, on, off, on …, so machine noise falls on
both), with ``clients`` WebSocket clients reading every update (what a browser tab does).
Per mode: the per-hop analysis time (timed in the analysis thread, p50 / p99 / max) and, with
the panel, the updates per second each client received (the panel caps them at 30).

Prints and writes JSON. No pass/fail: numbers only.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time

import numpy as np

from _common import machine, summary_ms, write_result

from sonolux import Engine, StreamSpec
from sonolux.app.control import Controls, engine_controls
from sonolux.app.panel import Panel
from sonolux.sources import SynthSource


class HopTimer:
    """Replaces ``worker.step``: the same step, its duration kept when it analysed a hop."""

    def __init__(self, step):
        self.step, self.times = step, []

    def __call__(self) -> bool:
        t0 = time.perf_counter()
        analysed = self.step()
        if analysed:
            self.times.append(time.perf_counter() - t0)
        return analysed


def read_updates(url: str, clients: int, stop: threading.Event, counts: list) -> None:
    """``clients`` WebSocket clients on one event loop, each counting the states it got."""
    import aiohttp

    async def client(i):
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            while not stop.is_set():
                try:
                    await ws.receive(timeout=0.5)
                    counts[i] += 1
                except asyncio.TimeoutError:
                    continue

    async def all_clients():
        await asyncio.gather(*(client(i) for i in range(clients)))

    asyncio.run(all_clients())


def run_once(spec: StreamSpec, seconds: float, panel_clients: int) -> dict:
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size, realtime=True, loop=True))
    timer = HopTimer(engine.worker.step)
    engine.worker.step = timer
    panel = reader = None
    counts = [0] * panel_clients
    stop = threading.Event()
    with engine:
        if panel_clients:
            panel = Panel(engine, Controls(engine_controls(engine)), "127.0.0.1", 0, rate_hz=30)
            panel.start()
            url = panel.url.replace("http", "ws") + "ws"
            reader = threading.Thread(target=read_updates, args=(url, panel_clients, stop, counts), daemon=True)
            reader.start()
        t0 = time.perf_counter()
        while engine.stats().t < seconds:
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        stop.set()
        if reader is not None:
            reader.join(5)
        if panel is not None:
            panel.stop()
    return {"hop_times": timer.times, "updates_per_s": [c / wall for c in counts],
            "dropped_blocks": engine.stats().dropped_blocks, "late_hops": engine.stats().late_hops}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio per run (default 10)")
    ap.add_argument("--rounds", type=int, default=3, help="runs per mode, interleaved (default 3)")
    ap.add_argument("--clients", type=int, default=3, help="WebSocket clients on the panel (default 3)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/panel.json)")
    args = ap.parse_args(argv)

    spec = StreamSpec()
    load_before = os.getloadavg()  # what else the machine ran: the rounds' spread follows it
    runs = {"off": [], "panel": []}
    for r in range(args.rounds):
        for mode in ("off", "panel"):
            print(f"round {r + 1}/{args.rounds}: {mode} …", file=sys.stderr)
            runs[mode].append(run_once(spec, args.seconds, args.clients if mode == "panel" else 0))
    result = {"benchmark": "panel",
              "machine": machine() | {"load_average_before": [round(x, 2) for x in load_before],
                                      "load_average_after": [round(x, 2) for x in os.getloadavg()]},
              "spec": {"sample_rate": spec.sample_rate, "hop": spec.hop, "seconds": args.seconds,
                       "rounds": args.rounds, "clients": args.clients}}
    for mode, rs in runs.items():
        result[mode] = {"hop": summary_ms(np.concatenate([r["hop_times"] for r in rs])),
                        "hop_p99_ms_per_round": [summary_ms(r["hop_times"])["p99_ms"] for r in rs],
                        "dropped_blocks": sum(r["dropped_blocks"] for r in rs),
                        "late_hops": sum(r["late_hops"] for r in rs)}
    ups = [u for r in runs["panel"] for u in r["updates_per_s"]]
    result["panel"]["updates_per_s_per_client"] = {"min": round(min(ups), 1), "max": round(max(ups), 1)}
    result["ratio_hop_p99_panel_over_off"] = round(result["panel"]["hop"]["p99_ms"] / result["off"]["hop"]["p99_ms"], 3)
    result["ratio_hop_p50_panel_over_off"] = round(result["panel"]["hop"]["p50_ms"] / result["off"]["hop"]["p50_ms"], 3)
    path = write_result("panel", result, args.out)
    import json

    print(json.dumps(result, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
