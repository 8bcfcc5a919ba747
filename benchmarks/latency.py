"""Latency benchmark: per-hop analysis time and audio-in → OSC-out time.

    python benchmarks/latency.py [--seconds 20] [--hop 256] [--samplerate 48000] [--out FILE]

* ``hop``: the analysis of one hop (ring read, levels, STFT, bands, onsets, publish), timed
  in the analysis thread, next to a plain-NumPy reference doing part of the per-hop work
  (np.fft.rfft, band sums, flux) measured in the same run, paced one hop per hop period
  like the live thread (a hop after a sleep runs on cold caches: several times slower).
* ``audio_to_osc``: from a block entering the callback path (``BlockWriter.write``, paced in
  real time like a sound card) to each OSC datagram carrying that audio leaving the socket
  (``sendto`` returned), over a real UDP socket to a loopback receiver.
* ``audio_to_dmx_sacn``: for every block, from entering the callback path to the first sACN
  packet (44 Hz, the shipped ``wash`` map, unicast to a loopback receiver on port 5568)
  built from a frame that contains it: includes the wait for the next DMX tick (up to one
  DMX period, 22.7 ms). Skipped when port 5568 is taken.
* ``midi_clock_send_lateness``: each MIDI clock tick's send time against its own schedule,
  the clock on a virtual port (ALSA sequencer, or a private JACK server as in
  ``midi_clock.py``), in the same run. Skipped without a MIDI system.

Prints and writes JSON (p50 / p99 / max in ms, ratios). No pass/fail: numbers only.
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time

import numpy as np

from _common import machine, summary_ms, write_result

from sonolux import Engine, StreamSpec
from sonolux.outputs.dmx_config import DmxTarget, load_map
from sonolux.outputs.dmx_output import DmxOutput
from sonolux.outputs.osc import build_targets
from sonolux.ringbuffer import BlockWriter
from sonolux.sources.base import AudioSource
from sonolux.sources.synth import demo_track


class TimedSource(AudioSource):
    """Plays a signal in real time through the callback path and records when each block
    entered it."""

    name = "timed"

    def __init__(self, signal, spec: StreamSpec):
        super().__init__()
        self.signal, self.spec = signal, spec
        self.n_blocks = len(signal) // spec.block_size
        self.t_in = np.full(self.n_blocks, np.nan)
        self._done = threading.Event()
        self._stop = threading.Event()

    @property
    def finished(self):
        return self._done.is_set()

    def start(self, ring):
        self.writer = BlockWriter(ring, np.array([0]), self.spec.block_size)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        bs, sr = self.spec.block_size, self.spec.sample_rate
        blocks = self.signal[:self.n_blocks * bs].reshape(self.n_blocks, bs, 1)
        t0 = time.perf_counter()
        for i in range(self.n_blocks):
            if self._stop.is_set():
                break
            due = t0 + (i + 1) * bs / sr  # a block is ready when its last sample has arrived
            while True:
                d = due - time.perf_counter()
                if d <= 0:
                    break
                time.sleep(min(d, 0.0005) if d < 0.002 else d - 0.001)
            self.t_in[i] = time.perf_counter()
            self.writer.write(blocks[i])
        self._done.set()

    def stop(self):
        self._stop.set()


def numpy_reference_hop_times(signal, spec: StreamSpec, n_hops: int) -> list[float]:
    """Per-hop cost of the same features written with plain NumPy (allocating per hop),
    paced like the live engine (one hop per hop period, the thread sleeping in between): in
    a tight loop it would run with warm caches, which the live analysis never has."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(spec.n_fft) / spec.n_fft)
    hist = np.zeros(spec.n_fft)
    prev = np.zeros(spec.n_fft // 2 + 1)
    edges = [int(f * spec.n_fft / spec.sample_rate) for f in (20, 250, 4000, 20000)]
    times = []
    start = time.perf_counter()
    for i in range(n_hops):
        due = start + i * spec.hop / spec.sample_rate
        time.sleep(max(0.0, due - time.perf_counter()))
        x = signal[i * spec.hop:(i + 1) * spec.hop].astype(np.float64)
        t0 = time.perf_counter()
        rms = np.sqrt(np.mean(x ** 2)); peak = np.max(np.abs(x))
        hist = np.concatenate([hist[spec.hop:], x])
        p = np.abs(np.fft.rfft(hist * window)) ** 2
        bands = [p[a:b].sum() for a, b in zip(edges, edges[1:])]
        lg = np.log1p(100 * np.sqrt(p)); flux = np.maximum(lg - prev, 0).mean(); prev = lg
        _ = (20 * np.log10(rms + 1e-12), 20 * np.log10(peak + 1e-12), 10 * np.log10(np.array(bands) + 1e-12), flux)
        times.append(time.perf_counter() - t0)
    return times


#: the messages that follow the sound itself (levels and onsets): the latency that matters on stage
LIVE_ADDRESSES = ("/sonolux/level", "/sonolux/band/", "/sonolux/onset")


def measure_live(spec: StreamSpec, signal, *, models=None, inference=None, midi: bool = False) -> dict:
    """Play ``signal`` in real time through the engine (OSC to a loopback receiver) and
    return per-hop analysis times, audio→OSC latencies (s) and the run's stats."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.2)
    port = receiver.getsockname()[1]
    received = [0]
    done = threading.Event()

    def drain():
        while True:
            try:
                receiver.recv(2048)
                received[0] += 1
            except socket.timeout:
                if done.is_set():
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    sends = []  # (address, sample_end, t_sent)
    source = TimedSource(signal, spec)
    engine = Engine(spec, source, osc_targets=build_targets([f"127.0.0.1:{port}"]), models=models,
                    inference=inference,
                    on_send=lambda addr, v, seq, sample_end, t: sends.append((addr, sample_end, t)))
    dmx_sends = []  # (sample_end of the frame sent, send time)
    dmx_receiver = _bind_or_none(5568)
    if dmx_receiver is not None:
        threading.Thread(target=_drain, args=(dmx_receiver, done), daemon=True).start()
        engine.add_output(DmxOutput(engine.mailbox, load_map("wash"), DmxTarget("sacn", 1, host="127.0.0.1"),
                                    on_send=lambda seq, sample_end, t: dmx_sends.append((sample_end, t))))
    clock = None
    if midi:
        from sonolux.outputs.midi import MidiClock, open_midi_output

        clock = MidiClock(engine.mailbox, open_midi_output("virtual:sonolux latency clock"), history=100000)
        engine.add_output(clock)
    hop_times = []
    inner = engine.worker.step

    def timed_step():
        t0 = time.perf_counter()
        ok = inner()
        if ok:
            hop_times.append(time.perf_counter() - t0)
        return ok

    engine.worker.step = timed_step
    with engine:
        engine.wait(len(signal) / spec.sample_rate + 30)
    done.set()
    lat, live_lat = [], []
    for address, sample_end, t_sent in sends:
        block = (sample_end - 1) // spec.block_size
        if 0 <= block < source.n_blocks and np.isfinite(source.t_in[block]):
            lat.append(t_sent - source.t_in[block])
            if address.startswith(LIVE_ADDRESSES):
                live_lat.append(lat[-1])
    dmx_lat = []
    if dmx_sends:
        covered = np.maximum.accumulate(np.array([e for e, _ in dmx_sends]))  # newest audio sent so far
        t_sent = np.array([t for _, t in dmx_sends])
        for block in range(source.n_blocks):
            first = np.searchsorted(covered, (block + 1) * spec.block_size)  # first packet with it
            if first < len(covered) and np.isfinite(source.t_in[block]):
                dmx_lat.append(t_sent[first] - source.t_in[block])
    return {"hop_times": hop_times, "latencies": lat, "live_latencies": live_lat, "dmx_latencies": dmx_lat,
            "midi_lateness": list(clock.lateness) if clock is not None else [],
            "stats": engine.stats(), "received": received[0], "inference": engine.inference}


def _bind_or_none(port: int):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    s.settimeout(0.2)
    return s


def _drain(sock, done) -> None:
    while not done.is_set():
        try:
            sock.recv(2048)
        except (socket.timeout, OSError):
            continue
    sock.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the real-time run (default 20)")
    ap.add_argument("--hop", type=int, default=256)
    ap.add_argument("--blocksize", type=int, default=256)
    ap.add_argument("--samplerate", type=int, default=48000)
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/latency.json)")
    args = ap.parse_args(argv)

    spec = StreamSpec(sample_rate=args.samplerate, block_size=args.blocksize, hop=args.hop,
                      n_fft=max(1024, args.hop))
    signal = demo_signal(spec, args.seconds)
    print(f"running {args.seconds:g} s of audio in real time (hop {spec.hop} @ {spec.sample_rate} Hz) …",
          file=sys.stderr)
    from midi_clock import start_midi_system

    midi_system, jackd = start_midi_system()
    try:
        run = measure_live(spec, signal, midi=midi_system is not None)
    finally:
        if jackd is not None:
            jackd.terminate()
    hop_times, stats = run["hop_times"], run["stats"]
    ref = numpy_reference_hop_times(signal, spec, min(len(hop_times), 5000))
    hop_summary, ref_summary = summary_ms(hop_times), summary_ms(ref)
    hop_budget_ms = 1e3 * spec.hop / spec.sample_rate
    result = {
        "benchmark": "latency",
        "machine": machine(),
        "spec": {"sample_rate": spec.sample_rate, "block_size": spec.block_size, "hop": spec.hop,
                 "n_fft": spec.n_fft, "seconds": args.seconds},
        "hop": hop_summary,
        "hop_numpy_reference": ref_summary,
        "ratio_numpy_over_sonolux_p50": round(ref_summary["p50_ms"] / hop_summary["p50_ms"], 2),
        "ratio_numpy_over_sonolux_p99": round(ref_summary["p99_ms"] / hop_summary["p99_ms"], 2),
        "hop_budget_ms": round(hop_budget_ms, 3),
        "audio_to_osc": summary_ms(run["latencies"]),
        "audio_to_osc_levels_onsets": summary_ms(run["live_latencies"]),
        "audio_to_osc_budget_ms": round(hop_budget_ms + 3.0, 3),
        "audio_to_dmx_sacn": summary_ms(run["dmx_latencies"]),
        "audio_to_dmx_budget_ms": round(hop_budget_ms + 1e3 / 44, 3),
        "midi_system": midi_system or "none (no ALSA sequencer, no jackd): MIDI clock not measured",
        "midi_clock_send_lateness": summary_ms(run["midi_lateness"]),
        "osc_messages": stats.osc_messages, "osc_received": run["received"], "osc_errors": stats.osc_errors,
        "dropped_blocks": stats.dropped_blocks, "skipped_samples": stats.skipped_samples,
    }
    path = write_result("latency", result, args.out)
    import json

    print(json.dumps(result, indent=2))
    print(f"wrote {path}", file=sys.stderr)


def demo_signal(spec: StreamSpec, seconds: float) -> np.ndarray:
    bars = max(int(np.ceil(seconds / 2.0)), 1)
    return demo_track(spec.sample_rate, bars=bars)[:int(seconds * spec.sample_rate)]


if __name__ == "__main__":
    main()
