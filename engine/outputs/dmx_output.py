"""The DMX output: one thread per target universe that builds the universe from the newest
frame (``dmx.DmxFrameBuilder``) and sends it (``dmx_transport``) at the map's rate, 44 Hz by
default — the refresh rate of a full DMX512 line. Every frame is sent, changed or not, as a
console does, so a node that restarts picks the look up within one frame.

Which universe of the map a target sends: the map's universe with the target's number; a
map that has a single universe goes to whatever universe the target names (so the shipped
maps, written for universe 1, drive Art-Net universe 0 as well).

>>> fmap = load_map("wash")                                              # doctest: +SKIP
>>> out = DmxOutput(mailbox, fmap, DmxTarget("sacn", 1, host="10.0.0.5")) # doctest: +SKIP
>>> out.start(); ...; out.stop()                                         # doctest: +SKIP
"""
from __future__ import annotations

import time

from ..errors import ConfigError
from ..frame import Mailbox
from .dmx import DmxFrameBuilder
from .dmx_config import DmxTarget, FixtureMap
from .dmx_transport import open_dmx_transport
from .polled import PolledOutput


def source_universe(fmap: FixtureMap, target: DmxTarget) -> int:
    universes = fmap.universes
    if target.universe in universes:
        return target.universe
    if len(universes) == 1:
        return universes[0]
    raise ConfigError(f"DMX target {target.label}: the map {fmap.source} has no universe {target.universe} "
                      f"(it fills {', '.join(map(str, universes))})")


class DmxOutput(PolledOutput):
    def __init__(self, mailbox: Mailbox, fmap: FixtureMap, target: DmxTarget, *,
                 rate_hz: float | None = None, on_send=None):
        """``on_send(frame_seq, sample_end, t_sent)``: an optional probe (benchmarks)."""
        super().__init__(mailbox, name=f"dmx {target.label}", transport=target.protocol,
                         rate_hz=rate_hz or fmap.rate_hz)
        self.target = target
        self.universe = source_universe(fmap, target)
        self.builder = DmxFrameBuilder(fmap, mailbox.layout, only=self.universe)
        self.transport = open_dmx_transport(target)
        self.on_send = on_send

    def step(self, frame, fresh, now) -> None:
        data = self.builder.build(frame, now, self.blackout)[self.universe]
        if self.transport.send(data):
            self.count_sent()
            if self.on_send is not None:
                self.on_send(frame.seq, frame.sample_end, time.perf_counter())
        else:
            self.count_error(self.transport.last_error or "send failed")

    def close(self) -> None:
        self.transport.close()
