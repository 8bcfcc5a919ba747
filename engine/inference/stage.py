"""The analysis thread's side of inference: feed the models' audio, read their results.

Per hop it resamples the hop to the models' rate into a ring (allocation-free Numba), drops
a *mark* every ``every`` hops (a point where a window should be analysed), and writes the
newest published prediction into the frame. It never waits for the worker: the worker
publishes a new Prediction by swapping one reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dsp.resample import StreamResampler
from ..modelinput import FEATURE_CONTRACT
from ..processors.base import Processor
from ..ringbuffer import RingBuffer

MARKS = 64
EMOTION_FIELDS = ("valence", "arousal", "quadrant", "q1", "q2", "q3", "q4")


@dataclass(frozen=True)
class Prediction:
    """One window's result after smoothing. ``t``: audio time (s) of the window's end."""

    seq: int
    t: float
    valence: float = 0.0
    arousal: float = 0.0
    quadrant: int = 0
    probs: np.ndarray | None = None  # (4,) smoothed quadrant probabilities
    tags: np.ndarray | None = None  # (50,) smoothed
    latent: np.ndarray | None = None  # (10,) smoothed 0..1 controls
    compute_ms: float = 0.0


class InferenceStage(Processor):
    def __init__(self, tasks, *, every_s: float = 0.5, tag_labels=None, n_latent: int = 10,
                 buffer_s: float = 16.0):
        self.tasks = set(tasks)
        self.every_s = float(every_s)
        self.tag_labels = list(tag_labels or [])
        self.n_latent = n_latent
        self.model_rate = FEATURE_CONTRACT["sample_rate"]
        self.buffer_s = buffer_s
        self.latest: Prediction | None = None  # written by the worker thread

    def prepare(self, spec, layout):
        self.resampler = StreamResampler(spec.sample_rate, self.model_rate, spec.hop)
        cap = 1 << (int(self.buffer_s * self.model_rate) - 1).bit_length()
        self.ring = RingBuffer(cap)
        self.every = max(1, int(round(self.every_s * spec.frame_rate)))
        self.mark_t = np.zeros(MARKS)
        self.mark_pos = np.zeros(MARKS, dtype=np.int64)
        self.mark_seq = -1
        self.hops = 0
        self._idx = {}
        if "emotion" in self.tasks:
            for n in EMOTION_FIELDS:
                self._idx[n] = layout.add_scalar(n)
            self._q = np.array([self._idx[f"q{k}"] for k in range(1, 5)])
        if "tags" in self.tasks:
            layout.add_vector("tags", len(self.tag_labels), self.tag_labels)
        if "latent" in self.tasks:
            layout.add_vector("latent", self.n_latent)
        self._i_age = layout.add_scalar("prediction_age")

    def process(self, ctx, frame):
        self.ring.write(self.resampler.process(ctx.samples))
        self.hops += 1
        if self.hops % self.every == 0:
            i = (self.mark_seq + 1) % MARKS
            self.mark_t[i] = ctx.t
            self.mark_pos[i] = self.ring.write_pos
            self.mark_seq += 1  # publish after writing the mark
        v = frame.values
        p = self.latest
        if p is None:
            v[self._i_age] = -1.0
            if self._idx:
                for i in self._idx.values():
                    v[i] = 0.0
            for name in ("tags", "latent"):
                if name in frame.vectors:
                    frame.vectors[name][:] = 0.0
            return
        v[self._i_age] = ctx.t - p.t
        if self._idx:
            v[self._idx["valence"]] = p.valence
            v[self._idx["arousal"]] = p.arousal
            v[self._idx["quadrant"]] = p.quadrant
            v[self._q] = p.probs
        if p.tags is not None and "tags" in frame.vectors:
            frame.vectors["tags"][:] = p.tags
        if p.latent is not None and "latent" in frame.vectors:
            frame.vectors["latent"][:] = p.latent

    def reset(self):
        self.resampler.reset()
        self.ring.reset()
        self.mark_seq = -1
        self.hops = 0
        self.latest = None
