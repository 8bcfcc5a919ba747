"""OSC for the rig, proven with real peers: every shipped profile into liblo's oscdump, Eos
over TCP (length prefix and SLIP), oscsend driving the control input, a 10,000-packet fuzz,
bundles on/off, delay_ms, and the rate cap / on-change threshold over a 10 s run."""
import logging
import socket
import subprocess
import threading
import time
from collections import defaultdict

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_packet import OscPacket

from conftest import assert_rate_cap, free_udp_port, run_sonolux, udp_port_bound, wait_until
from sonolux import ConfigError, Engine, StreamSpec
from sonolux.analysis import Analyzer
from sonolux.app.control import open_control
from sonolux.outputs.osc import build_targets
from sonolux.outputs.osc_config import load_profile, profile_names
from sonolux.outputs.osc_monitor import decode_stream
from sonolux.sources import SynthSource
from sonolux.sources.synth import demo_track

UDP_PROFILES = ["sonolux", "grandma3", "qlcplus", "resolume", "touchdesigner", "lightjams"]
TYPE_TAGS = {"float": "f", "int": "i", "none": "", "string": "s", "bool": "T"}


@pytest.fixture(scope="module")
def demo_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "demo.wav"
    # 32 s of drums, beats and a breakdown (sections), then 12 s of another sound (a region change)
    other = np.diff(np.random.default_rng(3).standard_normal(12 * 48000 + 1)) * 0.05
    sf.write(path, np.concatenate([demo_track(48000, bars=16), other]).astype(np.float32), 48000)
    return path


def produced_fields():
    layout = Analyzer(StreamSpec()).layout
    return set(layout.scalars) | set(layout.vectors)


def expected_maps(profile):
    fields = produced_fields()
    return [m for m in load_profile(profile).maps
            if m.field_name in fields or f"{m.field_name}_count" in fields]


def test_profiles_listed_name_first():
    res = run_sonolux("osc", "profiles")
    assert res.returncode == 0
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert names == profile_names()
    assert {"eos", "grandma3", "qlcplus", "resolume", "touchdesigner", "lightjams"} <= set(names)
    shown = run_sonolux("osc", "profiles", "--show", "grandma3")
    assert shown.returncode == 0 and "Fader201" in shown.stdout


def test_every_udp_profile_reaches_oscdump(oscdump, demo_wav):
    dumps = {p: oscdump() for p in UDP_PROFILES}
    args = []
    for p, d in dumps.items():
        args += ["--osc", f"127.0.0.1:{d.port}@{p}"]
    res = run_sonolux("run", "--input", str(demo_wav), "--fast", *args, "-q", timeout=90)
    assert res.returncode == 0, res.stderr
    for profile, dump in dumps.items():
        msgs = defaultdict(list)
        for _, addr, types, vals in dump.stop():
            msgs[addr].append((types, vals))
        for m in expected_maps(profile):
            assert m.address in msgs, f"{profile}: nothing on {m.address} ({m.field}); got {sorted(msgs)}"
            tag = TYPE_TAGS[m.type]
            lo, hi = sorted(m.out)
            for types, vals in msgs[m.address]:
                assert types.startswith(tag) if tag else types == "", (profile, m.address, types)
                if m.type in ("float", "int"):
                    assert lo - 1e-6 <= vals[0] <= hi + 1e-6, (profile, m.address, vals)
                if m.labels and m.type == "string":  # the name alone, e.g. /sonolux/section "drop"
                    assert types == "s" and vals[0] in m.labels, (profile, m.address, vals)
                elif m.labels:
                    want = vals[1] in m.labels if m.label_field else vals[1] == m.labels[vals[0]]
                    assert types == "is" and want, (profile, m.address, vals)


class TcpReceiver:
    """A TCP OSC peer in the test: accepts one connection, decodes the byte stream."""

    def __init__(self, framing):
        self.framing = framing
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.packets = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.srv.settimeout(30)
        conn, _ = self.srv.accept()
        conn.settimeout(2)
        buf = bytearray()
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
                self.packets += decode_stream(buf, self.framing)

    def messages(self):
        self.thread.join(35)
        return [(tm.message.address, tm.message.params) for p in self.packets for tm in OscPacket(p).messages]


@pytest.mark.parametrize("framing", ["len", "slip"])
def test_eos_over_tcp_both_framings(tmp_path, demo_wav, framing):
    profile = tmp_path / f"eos_{framing}.toml"
    profile.write_text(profile_path("eos").read_text().replace(
        'framing = "len"', f'framing = "{framing}"'))
    rx = TcpReceiver(framing)
    res = run_sonolux("run", "--input", str(demo_wav), "--fast", "--osc", f"127.0.0.1:{rx.port}@{profile}",
                      "-q", timeout=90)
    assert res.returncode == 0, res.stderr
    msgs = rx.messages()
    addrs = {a for a, _ in msgs}
    assert {"/eos/user/0/sub/1", "/eos/user/0/sub/2", "/eos/user/0/sub/5/fire", "/eos/user/0/chan/101"} <= addrs, addrs
    chan = [p[0] for a, p in msgs if a == "/eos/user/0/chan/101"]
    assert max(chan) > 1.0 and all(0 <= v <= 100 for v in chan)  # 0..1 scaled to Eos 0..100
    fires = [p[0] for a, p in msgs if a == "/eos/user/0/sub/5/fire"]
    assert fires[0] == 1.0 and fires[-1] == 0.0 and all(a != b for a, b in zip(fires, fires[1:])), fires
    bpm_cmds = [a for a, p in msgs if a.startswith("/eos/user/0/newcmd/Effect/1/BPM/")]
    assert bpm_cmds and all(a.endswith("/#") and 40 <= int(a.split("/")[-2]) <= 240 for a in bpm_cmds), bpm_cmds
    assert ("/eos/user/0/macro/fire", [101]) in msgs  # a region change fires macro 101


def profile_path(name):
    from sonolux.outputs.osc_config import PROFILE_DIR

    return PROFILE_DIR / f"{name}.toml"


def udp_receiver():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    return s


def drain(sock, until):
    out = []
    while time.monotonic() < until:
        try:
            out.append((time.monotonic(), sock.recv(65536)))
        except socket.timeout:
            pass
    return out


@pytest.mark.parametrize("bundle", [False, True])
def test_bundles_on_and_off(bundle):
    rx = udp_receiver()
    port = rx.getsockname()[1]
    targets = build_targets([f"127.0.0.1:{port}"], bundle=True if bundle else None)
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size), osc_targets=targets)
    with engine:
        got = drain(rx, time.monotonic() + 2.0)
    rx.close()
    assert got
    is_bundle = [d.startswith(b"#bundle\x00") for _, d in got]
    assert all(is_bundle) if bundle else not any(is_bundle)
    if bundle:  # several messages ride in one bundle, and no bundle goes out empty
        assert max(len(OscPacket(d).messages) for _, d in got) > 1
        assert min(len(OscPacket(d).messages) for _, d in got) >= 1


def test_delay_ms_holds_a_target_back(tmp_path):
    delayed_profile = tmp_path / "late.toml"
    delayed_profile.write_text(profile_path("sonolux").read_text().replace("bundle = false", "bundle = false\ndelay_ms = 150"))
    a, b = udp_receiver(), udp_receiver()
    targets = build_targets([f"127.0.0.1:{a.getsockname()[1]}"]) + build_targets(
        [f"127.0.0.1:{b.getsockname()[1]}"], profile=str(delayed_profile))
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size), osc_targets=targets)
    results = {}

    def collect(name, sock):
        results[name] = drain(sock, time.monotonic() + 2.5)

    threads = [threading.Thread(target=collect, args=(n, s)) for n, s in (("now", a), ("late", b))]
    with engine:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    now, late = results["now"], results["late"]
    # the same datagrams, in the same order, ~150 ms later
    n = min(len(now), len(late)) - 5
    assert n > 50
    assert [d for _, d in now[:n]] == [d for _, d in late[:n]]
    lag = np.median([tl - tn for (tn, _), (tl, _) in zip(now[:n], late[:n])])
    assert 0.13 < lag < 0.2, lag


def test_rate_cap_and_threshold_hold_over_ten_seconds(oscdump, tmp_path):
    wav = tmp_path / "ten.wav"
    sf.write(wav, demo_track(48000, bars=5), 48000)  # 10 s, paced in real time
    dump = oscdump()
    res = run_sonolux("run", "--input", str(wav), "--osc", f"127.0.0.1:{dump.port}",
                      "--osc-rate", "20", "--osc-threshold", "0.05", "-q", timeout=60)
    assert res.returncode == 0, res.stderr
    per = defaultdict(list)
    for t, addr, types, vals in dump.stop():
        per[addr].append((t, vals[0] if vals else None))
    assert {"/sonolux/level", "/sonolux/band/bass", "/sonolux/onset"} <= set(per)
    for addr, items in per.items():
        times = np.array([t for t, _ in items])
        assert len(items) <= 10 * 20 + 2, (addr, len(items))
        if len(times) > 1:
            assert_rate_cap(times, 20, addr)
        if addr in ("/sonolux/level", "/sonolux/band/bass", "/sonolux/band/mid", "/sonolux/band/high"):
            vals = np.array([v for _, v in items])
            assert np.all(np.abs(np.diff(vals)) >= 0.05 - 1e-6), addr


@pytest.fixture
def live_engine_with_control(oscdump):
    dump = oscdump()
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size),
                    osc_targets=build_targets([f"127.0.0.1:{dump.port}"]))
    presets = []
    engine.preset_handler = presets.append
    engine.start()
    ctl = open_control(engine, "127.0.0.1", 0)
    yield engine, ctl, dump, presets
    ctl.stop()
    engine.stop()


def oscsend(port, address, *typed):
    subprocess.run(["oscsend", "localhost", str(port), address, *typed], check=True, timeout=10)


def test_oscsend_drives_control(live_engine_with_control):
    engine, ctl, dump, presets = live_engine_with_control
    dump.wait_for(lambda m: any(a == "/sonolux/level" for _, a, _, _ in m), what="the first levels")
    oscsend(ctl.port, "/sonolux/preset", "s", "kaleidoscope")
    oscsend(ctl.port, "/sonolux/emotion/override", "s", "Q3")
    wait_until(lambda: presets and engine.control_state.emotion_override == 3, what="preset and override")
    dump.wait_for(lambda m: [3, "sad"] in [v for _, a, _, v in m if a == "/sonolux/emotion/quadrant"],
                  what="the overridden quadrant at oscdump")
    oscsend(ctl.port, "/sonolux/threshold/osc", "f", "0.2")
    oscsend(ctl.port, "/sonolux/blackout", "i", "1")
    wait_until(lambda: engine.osc.blackout, what="blackout")
    dump.wait_for(lambda m: [v[0] for _, a, _, v in m if a == "/sonolux/level"][-1:] == [0.0]
                  and [v[0] for _, a, _, v in m if a == "/sonolux/emotion/valence"][-1:] == [0.0],
                  what="levels at 0 and mood neutral in blackout")
    assert presets == ["kaleidoscope"]
    assert engine.osc.blackout and engine.control_state.emotion_override == 3
    assert all(st.m.threshold == pytest.approx(0.2) for st in engine.osc.targets[0].states)
    msgs = dump.stop()
    assert msgs
    quad = [v for _, a, _, v in msgs if a == "/sonolux/emotion/quadrant"]
    assert [3, "sad"] in quad, quad
    q3 = [v[0] for _, a, _, v in msgs if a == "/sonolux/emotion/q3"]
    assert 1.0 in q3
    # blackout pulls the levels to the bottom of their range
    level = [v[0] for _, a, _, v in msgs if a == "/sonolux/level"]
    assert level[-1] == 0.0
    # ... but the mood to neutral (0, 0), not to the "sad" corner (-1, -1)
    valence = [v[0] for _, a, _, v in msgs if a == "/sonolux/emotion/valence"]
    assert valence and valence[-1] == 0.0, valence
    assert ctl.counts["unknown"] == ctl.counts["malformed"] == ctl.counts["bad_args"] == 0


def test_bad_control_values_are_counted_not_fatal(live_engine_with_control):
    engine, ctl, dump, presets = live_engine_with_control
    oscsend(ctl.port, "/sonolux/emotion/override", "i", "7")
    oscsend(ctl.port, "/sonolux/bpm/range", "ff", "200", "100")
    oscsend(ctl.port, "/sonolux/threshold/osc", "f", "5")
    oscsend(ctl.port, "/sonolux/no/such/thing", "i", "1")
    wait_until(lambda: ctl.counts["messages"] == 4, what="four control messages handled")
    assert ctl.counts["bad_args"] == 3 and ctl.counts["unknown"] == 1
    assert engine.control_state.emotion_override == 0
    hops = engine.worker.hops
    wait_until(lambda: engine.worker.hops > hops, what="more hops")  # still analysing


def test_allow_list_refuses_other_senders():
    from sonolux.app.control import ControlServer

    seen = []
    srv = ControlServer("127.0.0.1", 0, {"/x": lambda *a: seen.append(a)}, allow=["10.9.9.9"])
    from sonolux.outputs.osc import encode_message

    srv.handle_packet(encode_message("/x", 1.0), "127.0.0.1")
    srv.handle_packet(encode_message("/x", 2.0), "10.9.9.9")
    srv.sock.close()
    assert seen == [(2.0,)] and srv.counts["refused"] == 1


def test_fuzz_ten_thousand_packets(live_engine_with_control):
    from sonolux.outputs.osc import encode_message

    engine, ctl, dump, presets = live_engine_with_control
    rng = np.random.default_rng(1234)
    valid = [encode_message("/sonolux/emotion/override", 2), encode_message("/sonolux/tap", None),
             encode_message("/sonolux/threshold/onset", 3.0), encode_message("/sonolux/blackout", 0)]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    for i in range(10_000):
        kind = i % 4
        if kind == 0:
            pkt = rng.bytes(int(rng.integers(1, 200)))
        elif kind == 1:  # mutate a valid packet
            b = bytearray(valid[i % len(valid)])
            for _ in range(int(rng.integers(1, 6))):
                b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
            pkt = bytes(b)
        elif kind == 2:  # truncate a valid packet
            v = valid[i % len(valid)]
            pkt = v[:int(rng.integers(1, len(v)))]
        else:  # random address, random args
            pkt = encode_message("/" + "".join(chr(c) for c in rng.integers(97, 123, 6)), float(rng.standard_normal()))
        tx.sendto(pkt, ("127.0.0.1", ctl.port))
        sent += 1
        if i % 200 == 0:
            time.sleep(0.005)  # let the server keep up (kernel buffers would drop the rest)
    tx.close()
    # still responsive afterwards: a valid message after the fuzz is applied. The server may
    # still be working through the fuzz on a loaded machine, and UDP may drop the message when
    # the socket's buffer is full, so it is sent again each second until it lands (a deadline
    # of a minute: a hang guard, not a speed limit)
    sent_at = [-1.0]

    def override_applied():
        if engine.control_state.emotion_override == 4:
            return True
        if time.monotonic() - sent_at[0] >= 1.0:
            oscsend(ctl.port, "/sonolux/emotion/override", "i", "4")
            sent_at[0] = time.monotonic()
        return False

    wait_until(override_applied, timeout=60.0, what="the override after the fuzz")
    assert ctl._thread.is_alive() and engine.worker.error is None
    c = ctl.counts
    assert c["packets"] > 5000 and c["malformed"] > 1000 and c["unknown"] > 1000, c
    hops = engine.worker.hops
    wait_until(lambda: engine.worker.hops > hops, what="more hops")


@pytest.mark.parametrize("text,where", [
    ("[target]\nport = 'x'\n[[map]]\nfield='level'\naddress='/a'\n", "target.port: 'x' must be an integer"),
    ("[target]\n[[map]]\nfield='level'\n", "map[0].address: is required"),
    ("[[map]]\nfield='level'\naddress='/a'\ntype='double'\n", "map[0].type: 'double' is not one of"),
    ("[[map]]\nfield='level'\naddress='/a'\nrange=[1,1]\n", "map[0].range"),
    ("[[map]]\nfield='level'\naddress='/a'\nbogus=1\n", "map[0].bogus: unknown key"),
    ("[[map]]\nfield='level'\naddress='no-slash'\n", "map[0].address: 'no-slash' must start with '/'"),
    ("[[map]\nfield='level'\n", "invalid TOML"),
    ("[target]\nport = 3\n", "map: a profile needs at least one"),
])
def test_malformed_profiles_name_file_and_key(tmp_path, text, where):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_profile(str(p))
    assert str(p) in str(e.value) and where in str(e.value), str(e.value)
    res = run_sonolux("run", "--input", "synth", "--osc-profile", str(p), "--duration", "0.5", timeout=60)
    assert res.returncode == 2 and where in res.stderr and "Traceback" not in res.stderr


def test_osc_monitor_prints_messages():
    port = free_udp_port()
    from conftest import sonolux_cmd

    mon = subprocess.Popen(sonolux_cmd("osc", "monitor", "--port", str(port), "--count", "3"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: udp_port_bound(port), 30, "sonolux osc monitor listening")
    for args in (("/a", "f", "0.5"), ("/b", "i", "3"), ("/c", "s", "hi")):
        oscsend(port, *args)
    out, err = mon.communicate(timeout=20)
    lines = out.splitlines()
    assert len(lines) == 3
    assert "/a ,f 0.5000" in lines[0] and "/b ,i 3" in lines[1] and '/c ,s "hi"' in lines[2]


def test_oscsend_tap_tempo_sets_the_bpm(oscdump):
    """Taps at 100 BPM over OSC on a drumless pad: the tracker follows the operator."""
    dump = oscdump()
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("sine:220:0.2", spec.sample_rate, spec.block_size),
                    osc_targets=build_targets([f"127.0.0.1:{dump.port}"]))
    frame = engine.mailbox.layout.new_frame()

    def bpm_now():
        return engine.mailbox.read_latest(frame) and frame["bpm"]

    with engine:
        ctl = open_control(engine, "127.0.0.1", 0)
        wait_until(lambda: engine.worker.hops > 0, what="the first hop")
        t0 = time.monotonic()
        for i in range(8):
            while time.monotonic() < t0 + i * 0.6:  # the taps' own rhythm, not a wait
                time.sleep(0.001)
            oscsend(ctl.port, "/sonolux/tap")
        wait_until(lambda: abs(bpm_now() - 100) <= 3, what="the tracker at the tapped tempo")
        dump.wait_for(lambda m: [v[0] for _, a, _, v in m if a == "/sonolux/bpm"][-1:] != []
                      and abs([v[0] for _, a, _, v in m if a == "/sonolux/bpm"][-1] - 100) <= 3,
                      what="the tapped tempo at oscdump")
        ctl.stop()
    assert frame["bpm"] == pytest.approx(100, abs=3), frame["bpm"]
    bpm = [v[0] for _, a, _, v in dump.stop() if a == "/sonolux/bpm"]
    assert bpm and bpm[-1] == pytest.approx(100, abs=3), bpm


def test_rate_cap_is_exact_at_the_sender():
    """The send times themselves (the probe fires as the datagram leaves): per address no two
    sends closer than 1 / max_rate, whatever the receiver's scheduling. The cap is enforced on
    the sender's decision times; the probe stamps after the send, so a thread preempted in
    between shows up as up to a few ms of jitter."""
    spec = StreamSpec()
    sends = defaultdict(list)
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size),
                    osc_targets=build_targets(["127.0.0.1:9"], max_rate_hz=30.0),
                    on_send=lambda a, v, seq, se, t: sends[a].append(t))
    with engine:
        wait_until(lambda: engine.stats().t >= 3.0, 30, "3 s of audio")
    assert sends["/sonolux/level"]
    for addr, times in sends.items():
        if len(times) > 1:
            assert np.diff(times).min() >= 1 / 30.0 - 3e-3, addr


def test_control_errors_are_one_clean_line_per_distinct_problem(live_engine_with_control, caplog):
    """A wrong argument count, two different bad values on one address, an unknown preset:
    each is one line naming the address and the problem (no Python internals), repeats are
    not logged again."""
    engine, ctl, dump, presets = live_engine_with_control
    engine.preset_names = {"kaleidoscope", "particles"}
    with caplog.at_level(logging.WARNING, logger="sonolux.control"):
        for _ in range(3):
            oscsend(ctl.port, "/sonolux/bpm/range", "f", "120")  # one argument of two
        oscsend(ctl.port, "/sonolux/blackout", "i", "5")
        oscsend(ctl.port, "/sonolux/blackout", "i", "7")
        oscsend(ctl.port, "/sonolux/preset", "s", "kaleidoscop")
        wait_until(lambda: ctl.counts["messages"] == 6, what="six control messages handled")
        wait_until(lambda: len([r for r in caplog.records if r.name == "sonolux.control"]) >= 4,
                   what="the four problems logged")
    lines = [r.getMessage() for r in caplog.records if r.name == "sonolux.control"]
    assert lines, "no control problem was logged"
    assert len(lines) == 4, lines
    assert "/sonolux/bpm/range needs at least 2 argument(s) (lo, hi), got 1" in lines[0]
    assert "/sonolux/blackout: 5 is outside 0..1" in lines[1] and "/sonolux/blackout: 7 is outside" in lines[2]
    assert "no preset named 'kaleidoscop' (did you mean 'kaleidoscope'?)" in lines[3]
    assert not any("positional argument" in line or "Traceback" in line for line in lines)
    assert presets == [] and ctl.counts["bad_args"] == 6


def test_control_log_is_rate_limited():
    from sonolux.app.control import Controls

    controls = Controls({"/x": lambda v: (_ for _ in ()).throw(ValueError(f"bad {v}"))}, max_lines_per_s=5)
    import logging as _logging

    records = []

    class Grab(_logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    h = Grab()
    _logging.getLogger("sonolux.control").addHandler(h)
    try:
        for i in range(100):
            assert controls.apply("/x", [i]) is not None
    finally:
        _logging.getLogger("sonolux.control").removeHandler(h)
    assert records and len(records) == 5 and controls.suppressed == 95
