"""Ableton Link: a second Link peer in the test process joins sonolux's session (in a private
network namespace: Link discovers peers by multicast) and sees the tracked tempo of the
120 BPM demo within 0.5 BPM and its beat phase within 10 ms of the tracker's."""
import time

import numpy as np
import pytest

from conftest import wait_until
from rig_peers import in_private_netns
from sonolux import Engine, StreamSpec
from sonolux.sources import SynthSource

pytest.importorskip("aalink", reason="aalink (GPL-3) is the optional 'link' extra: pip install 'sonolux[link]'")


@in_private_netns
def test_a_link_peer_follows_tempo_and_phase():
    from sonolux.outputs.link import LinkOutput, _new_link

    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))  # 120 BPM demo
    out = LinkOutput(engine.mailbox)
    engine.add_output(out)
    peer = _new_link(90.0)
    peer.enabled = True
    try:
        with engine:
            wait_until(lambda: peer.num_peers >= 1, 10, "the Link peer to join")
            wait_until(lambda: out.sent > 0, 20, "the tracker to lock and sonolux to publish its tempo")
            wait_until(lambda: abs(peer.tempo - 120.0) < 0.5, 10, "the session tempo near 120 BPM", hold=1.0)
            offsets, tempos = [], []
            for _ in range(40):  # 2 s of samples: the peer's phase against the tracker's
                offsets.append(abs(out.session_offset_ms(time.perf_counter(), beat=peer.beat)))
                tempos.append(peer.tempo)
                time.sleep(0.05)
            health = out.health()
    finally:
        peer.enabled = False
    assert np.all(np.abs(np.array(tempos) - 120.0) < 0.5), tempos
    assert np.median(offsets) < 10.0, offsets
    print(f"phase offset ms: median {np.median(offsets):.2f}, max {np.max(offsets):.2f}; phase moves {out.phase_moves}")
    assert health.state == "ok" and "1 peers" in health.transport


@in_private_netns
def test_follow_takes_a_peers_tempo_as_the_trackers_prior():
    from sonolux.outputs.link import LinkOutput, _new_link

    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size))  # 120 BPM demo
    ranges = []

    def follow(bpm):
        ranges.append((bpm / 1.25, bpm * 1.25))
        engine.analyzer.set_bpm_range(*ranges[-1])

    out = LinkOutput(engine.mailbox, follow=follow, follow_hold_s=1.5)
    engine.add_output(out)
    peer = _new_link(120.0)
    peer.enabled = True
    frame = engine.mailbox.layout.new_frame()

    def tracked_bpm():
        engine.mailbox.read_latest(frame)
        return frame["bpm"]

    try:
        with engine:
            wait_until(lambda: peer.num_peers >= 1 and out.sent > 0, 20, "sonolux publishing to the peer")
            wait_until(lambda: abs(peer.tempo - 120.0) < 0.5, 10, "the session at the tracked 120 BPM")
            peer.tempo = 60.0  # the DJ halves the session tempo
            wait_until(lambda: out.followed >= 1, 5, "sonolux to notice the peer's tempo")
            wait_until(lambda: abs(tracked_bpm() - 60.0) < 1.0, 15, "the tracker re-locked at 60 BPM", hold=1.0)
            wait_until(lambda: abs(peer.tempo - 60.0) < 1.0, 5, "the session still at 60 after the hold", hold=2.0)
    finally:
        peer.enabled = False
    assert ranges[0] == (48.0, 75.0)
