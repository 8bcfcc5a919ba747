"""Stopping the engine never drives the OSC targets from two threads at once: a transport
(a TCP buffer above all) is not thread-safe — a concurrent send and flush raised BufferError
in a CI run. The last frame's changes are still sent, by the stopping thread, once the
sender's own thread has ended."""
from __future__ import annotations

import threading

from conftest import wait_until
from sonolux import Engine, StreamSpec
from sonolux.outputs import osc
from sonolux.sources import SynthSource


def test_nothing_polls_the_targets_beside_the_sender_thread(monkeypatch):
    spec = StreamSpec()
    engine = Engine(spec, SynthSource("", spec.sample_rate, spec.block_size),
                    osc_targets=osc.build_targets(["127.0.0.1:9"]))
    calls, beside = [], []
    real_poll = osc.OscSender.poll_once

    def poll_once(self):
        me = threading.current_thread()
        calls.append(me.name)
        if me is not self._thread and self._thread.is_alive():
            beside.append(me.name)
        real_poll(self)

    monkeypatch.setattr(osc.OscSender, "poll_once", poll_once)
    engine.start()
    wait_until(lambda: "sonolux-osc" in calls, 30, "the sender thread to poll")
    engine.stop()
    assert not beside, f"polled from {beside} while the sender thread ran"
    assert calls[-1] != "sonolux-osc"  # the final flush ran after the thread ended
    assert not engine.osc._thread.is_alive()
