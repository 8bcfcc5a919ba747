"""Real OSC peer: liblo's oscdump receives what `sonolux run --input FILE --osc` sends."""
from collections import defaultdict

import numpy as np
import soundfile as sf

from conftest import assert_rate_cap, run_sonolux
from sonolux.sources.synth import click_track, demo_track

ADDRESSES = {"/sonolux/level", "/sonolux/band/bass", "/sonolux/band/mid", "/sonolux/band/high",
             "/sonolux/onset"}


def by_address(msgs):
    out = defaultdict(list)
    for t, addr, types, args in msgs:
        out[addr].append((t, types, args))
    return out


def test_file_to_oscdump_addresses_types_ranges_and_rate(oscdump, tmp_path):
    wav = tmp_path / "demo.wav"
    sf.write(wav, demo_track(48000, bars=3), 48000)  # 6 s
    dump = oscdump()
    res = run_sonolux("run", "--input", str(wav), "--osc", f"127.0.0.1:{dump.port}", "-q", timeout=60)
    assert res.returncode == 0, res.stderr
    msgs = by_address(dump.stop())
    assert ADDRESSES <= set(msgs), sorted(msgs)
    for addr, items in msgs.items():
        times = np.array([t for t, _, _ in items])
        if len(times) > 1:  # rate cap 44 Hz per address (loopback jitter can only shorten gaps a little)
            assert_rate_cap(times, 44, addr)
        assert len(items) <= 6.5 * 44 + 2, (addr, len(items))
        if addr not in ADDRESSES:
            continue
        assert all(types == "f" for _, types, _ in items), addr
        values = [args[0] for _, _, args in items]
        assert all(0.0 <= v <= 1.0 for v in values), (addr, min(values), max(values))
        if addr != "/sonolux/onset":
            # on change: consecutive values differ by at least the threshold (float32 slack)
            assert np.all(np.abs(np.diff(values)) >= 0.01 - 1e-6), addr
    onset_values = [a[0] for _, _, a in msgs["/sonolux/onset"]]
    assert onset_values[0] == 1.0 and all(a != b for a, b in zip(onset_values, onset_values[1:]))
    # the drum loop has a kick on every beat at 120 BPM: about two onsets per second or more
    assert onset_values.count(1.0) >= 10


def test_on_change_sends_nothing_new_for_steady_input(oscdump, tmp_path):
    wav = tmp_path / "steady.wav"
    t = np.arange(48000 * 3) / 48000
    sf.write(wav, (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 48000)
    dump = oscdump()
    res = run_sonolux("run", "--input", str(wav), "--osc", f"127.0.0.1:{dump.port}", "-q", timeout=60)
    assert res.returncode == 0, res.stderr
    msgs = by_address(dump.stop())
    # a steady sine: the level settles after the first window, then stays put
    assert 1 <= len(msgs["/sonolux/level"]) <= 6, msgs["/sonolux/level"]


def test_threshold_and_rate_options(oscdump, tmp_path):
    wav = tmp_path / "clicks.wav"
    sf.write(wav, click_track(48000, 240, 4.0), 48000)
    dump = oscdump()
    res = run_sonolux("run", "--input", str(wav), "--osc", f"127.0.0.1:{dump.port}",
                      "--osc-rate", "5", "--osc-threshold", "0.2", "-q", timeout=60)
    assert res.returncode == 0, res.stderr
    msgs = by_address(dump.stop())
    assert ADDRESSES <= set(msgs), sorted(msgs)
    for addr, items in msgs.items():
        times = np.array([t for t, _, _ in items])
        assert len(items) <= 4.5 * 5 + 2, (addr, len(items))
        if len(times) > 1:
            assert_rate_cap(times, 5, addr)
        if addr in ADDRESSES - {"/sonolux/onset"}:
            vals = [a[0] for _, _, a in items]
            assert np.all(np.abs(np.diff(vals)) >= 0.2 - 1e-6), addr
