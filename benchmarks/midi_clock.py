"""MIDI clock jitter: the 120 BPM demo through the live engine, MidiClock on a virtual port,
a mido input in the same process reading it back.

Reports, in milliseconds, p50 / p99 / max of
* ``send_lateness``: how late each tick left against its own schedule (the clock thread's
  wake-up error; what sonolux adds),
* ``interval_error``: |tick interval − the mean interval| as received while the clock runs
  (adds the MIDI system's delivery: with JACK ticks arrive per period, 64 frames = 1.33 ms),
and the received tempo. Without /dev/snd/seq it starts a private JACK server (jackd2, dummy
driver). Writes benchmarks/results/midi_clock.json.

    python benchmarks/midi_clock.py [--seconds 30]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time

import numpy as np

from _common import machine, summary_ms, write_result


def start_midi_system():
    import mido

    if os.path.exists("/dev/snd/seq"):
        return "alsa", None
    if shutil.which("jackd") is None:
        return None, None
    os.environ["JACK_DEFAULT_SERVER"] = "sonolux-bench"
    proc = subprocess.Popen(["jackd", "-n", "sonolux-bench", "--no-realtime", "-d", "dummy", "-r", "48000",
                             "-p", "64"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")
    for _ in range(100):
        try:
            mido.open_output("probe", virtual=True).close()
            return "jack (dummy driver, 64-frame period at 48 kHz)", proc
        except Exception:
            time.sleep(0.1)
    proc.terminate()
    return None, None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    system, jackd = start_midi_system()
    if system is None:
        print("skipped: no ALSA sequencer and no jackd (apt-get install jackd2)")
        return 0
    import mido

    from sonolux import Engine, StreamSpec
    from sonolux.outputs.midi import PPQN, MidiClock, open_midi_output
    from sonolux.sources import SynthSource

    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))
    clock = MidiClock(engine.mailbox, open_midi_output("virtual:sonolux bench clock"), history=100000)
    engine.add_output(clock)
    got, other = [], []
    try:
        with engine:
            name = next(n for n in mido.get_input_names() if "sonolux bench clock" in n)
            port = mido.open_input(name, callback=lambda m: (got if m.type == "clock" else other).append(
                (time.perf_counter(), m.type)))
            time.sleep(args.seconds)
            port.close()
    finally:
        if jackd is not None:
            jackd.terminate()
    ticks = np.asarray([t for t, _ in got])
    settled = ticks[4 * PPQN:]  # from the third beat after Start: the phase lock has settled
    intervals = np.diff(settled)
    running = intervals[intervals < 0.1]  # gaps while the clock was stopped (tempo lost) are not jitter
    nominal = float(running.mean()) if running.size else 0.0  # JACK's per-period delivery skews a median
    result = {
        "benchmark": "midi_clock", "machine": machine(), "midi_system": system, "seconds": args.seconds,
        "source": "synth demo, 120 BPM (a 4-bar breakdown without drums from 16 s)",
        "ticks_received": int(ticks.size),
        "transport_messages": [kind for _, kind in other],
        "received_bpm": round(60.0 / (PPQN * nominal), 3) if nominal else None,
        "send_lateness": summary_ms(np.asarray(clock.lateness)),
        "interval_error": summary_ms(np.abs(running - nominal)) if running.size else {"n": 0},
        "send_errors": clock.errors,
    }
    path = write_result("midi_clock", result, args.out)
    print(f"MIDI clock over {system}: {result['ticks_received']} ticks, {result['received_bpm']} BPM "
          f"(mean interval), transport {result['transport_messages']}")
    for k in ("send_lateness", "interval_error"):
        r = result[k]
        print(f"  {k:15s} p50 {r.get('p50_ms')} ms  p99 {r.get('p99_ms')} ms  max {r.get('max_ms')} ms  (n={r['n']})")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
