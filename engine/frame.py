"""FeatureFrame: one record per analysis hop, and the mailbox that hands frames to outputs.

Frames are preallocated. The analysis thread fills the next slot in place and publishes it
by bumping a sequence number; readers copy the newest slot and check that it was not
overwritten meanwhile (a seqlock). Nobody ever waits for anybody.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError


@dataclass
class FrameLayout:
    """Names and positions of a frame's fields, fixed once the processor chain is prepared.

    Scalars live in one float64 array (so a hop writes numbers, not Python objects);
    vectors (mel bands, wavelet energies, …) get one preallocated float32 array each.
    """

    scalars: dict[str, int] = field(default_factory=dict)
    vectors: dict[str, int] = field(default_factory=dict)
    labels: dict[str, list] = field(default_factory=dict)  # names of a vector's entries (tags)

    def add_scalar(self, name: str) -> int:
        if name in self.scalars or name in self.vectors:
            raise ParameterError(f"frame field {name!r} is declared twice")
        self.scalars[name] = len(self.scalars)
        return self.scalars[name]

    def add_vector(self, name: str, size: int, labels=None) -> None:
        if name in self.scalars or name in self.vectors:
            raise ParameterError(f"frame field {name!r} is declared twice")
        self.vectors[name] = int(size)
        if labels is not None:
            self.labels[name] = list(labels)

    def new_frame(self) -> "FeatureFrame":
        return FeatureFrame(self)


class FeatureFrame:
    """Features of one hop. ``t`` is the audio time (s) of the hop's last sample.

    ``frame["name"]`` reads a scalar as float or a vector as an array view;
    ``frame.values`` and ``frame.vectors`` are the raw storage processors write into.
    """

    __slots__ = ("layout", "seq", "sample_end", "t", "wall_time", "values", "vectors")

    def __init__(self, layout: FrameLayout):
        self.layout = layout
        self.seq = -1
        self.sample_end = 0
        self.t = 0.0
        self.wall_time = 0.0
        self.values = np.zeros(len(layout.scalars), dtype=np.float64)
        self.vectors = {n: np.zeros(s, dtype=np.float32) for n, s in layout.vectors.items()}

    def __getitem__(self, name: str):
        i = self.layout.scalars.get(name)
        if i is not None:
            return float(self.values[i])
        if name in self.vectors:
            return self.vectors[name]
        raise KeyError(f"frame has no field {name!r}; fields: {', '.join(self.field_names())}")

    def __contains__(self, name: str) -> bool:
        return name in self.layout.scalars or name in self.vectors

    def get(self, name: str, default=None):
        return self[name] if name in self else default

    def field_names(self) -> list[str]:
        return list(self.layout.scalars) + list(self.vectors)

    def copy_into(self, other: "FeatureFrame") -> None:
        other.seq = self.seq
        other.sample_end = self.sample_end
        other.t = self.t
        other.wall_time = self.wall_time
        other.values[:] = self.values
        for n, v in self.vectors.items():
            other.vectors[n][:] = v

    def copy(self) -> "FeatureFrame":
        out = FeatureFrame(self.layout)
        self.copy_into(out)
        return out

    def as_dict(self) -> dict:
        d = {"seq": self.seq, "t": self.t}
        d.update({n: float(self.values[i]) for n, i in self.layout.scalars.items()})
        d.update({n: v.tolist() for n, v in self.vectors.items()})
        return d


class Mailbox:
    """Latest-frame slots: one writer (the analysis thread), any number of readers."""

    def __init__(self, layout: FrameLayout, slots: int = 8):
        self.layout = layout
        self._slots = [layout.new_frame() for _ in range(slots)]
        self.seq = -1  # sequence number of the newest published frame

    def begin(self) -> FeatureFrame:
        """The slot the writer fills next (not visible to readers until ``publish``)."""
        return self._slots[(self.seq + 1) % len(self._slots)]

    def publish(self, frame: FeatureFrame) -> None:
        frame.seq = self.seq + 1
        frame.wall_time = time.perf_counter()
        self.seq = frame.seq

    def read_latest(self, out: FeatureFrame) -> bool:
        """Copy the newest frame into ``out``; False when nothing was published yet."""
        for _ in range(4):
            seq = self.seq
            if seq < 0:
                return False
            self._slots[seq % len(self._slots)].copy_into(out)
            # the slot is only rewritten after len(slots) - 1 newer publishes
            if self.seq - seq < len(self._slots) - 1 and out.seq == seq:
                return True
        return False
