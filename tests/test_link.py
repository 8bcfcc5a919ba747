"""Ableton Link: a second Link peer in the test process joins sonolux's session (in a private
network namespace: Link discovers peers by multicast) and sees the tracked tempo of the
120 BPM demo within 0.5 BPM and its beat phase within 10 ms of the tracker's."""
import time

import numpy as np
import pytest

from rig_peers import in_private_netns, wait_for
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
            wait_for(lambda: peer.num_peers >= 1, 10, "the Link peer to join")
            wait_for(lambda: out.sent > 0, 20, "the tracker to lock and sonolux to publish its tempo")
            wait_for(lambda: abs(peer.tempo - 120.0) < 0.5, 10, "the session tempo near 120 BPM", hold=1.0)
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
