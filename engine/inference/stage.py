"""The analysis thread's side of inference: hand the models' audio over, read their results.

Its history ring receives every hop (at the engine's rate: resampling to the models' rate is
the worker's job, off this thread) from the Analyzer, in the call that copies the hop in.
Per hop the stage drops a *mark* every ``every`` hops (a point where a window should be
analysed) and puts the newest published prediction into the frame. It never waits for the
worker: the worker publishes a new Prediction by swapping one reference. This runs inside
every analysis hop, so it does as little as it can: the prediction's values are written into
a mailbox slot only when the slot holds another prediction (``prediction_id``); most hops
write the age and nothing else.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import numpy as np

from ..features.base import Processor
from ..ringbuffer import HistoryRing

MARKS = 64
# emotion_confidence: P(published quadrant) × emotion_fill, the share of the model's window
# that held real audio (low until the window is full; see inference/mood.py)
EMOTION_FIELDS = ("valence", "arousal", "quadrant", "q1", "q2", "q3", "q4", "emotion_confidence",
                  "emotion_fill")
_prediction_ids = itertools.count(1)


@dataclass(frozen=True)
class Prediction:
    """One window's result after smoothing. ``t``: audio time (s) of the window's end;
    ``id``: unique in the process (frames say which prediction they hold, 0 for none)."""

    seq: int
    t: float
    valence: float = 0.0
    arousal: float = 0.0
    quadrant: int = 0
    probs: np.ndarray | None = None  # (4,) smoothed quadrant probabilities
    confidence: float = 0.0  # P(quadrant) × fill, 0..1
    fill: float = 0.0  # share of the emotion window that held real audio
    tags: np.ndarray | None = None  # (50,) smoothed
    raw_tags: np.ndarray | None = None  # (50,) as the model gave them (the region judge's tag cue)
    latent: np.ndarray | None = None  # (10,) smoothed 0..1 controls
    compute_ms: float = 0.0
    scalars: np.ndarray | None = None  # the EMOTION_FIELDS values in order, for one store
    id: int = field(default_factory=lambda: next(_prediction_ids))


RECENT = 64  # raw tags of this many recent predictions, by id (more than a bulk block's marks)


class InferenceStage(Processor):
    def __init__(self, tasks, *, every_s: float = 0.5, tag_labels=None, n_latent: int = 10,
                 buffer_s: float = 16.0, emotion_version: str | None = None):
        """``emotion_version``: the emotion model's contract version (the region judge checks
        its file was trained on the same model's tags)."""
        self.tasks = set(tasks)
        self.every_s = float(every_s)
        self.tag_labels = list(tag_labels or [])
        self.emotion_version = emotion_version
        self.n_latent = n_latent
        self.buffer_s = buffer_s
        self.latest: Prediction | None = None  # written by the worker thread
        self.marked = threading.Event()

    def prepare(self, spec, layout, facts):
        self.sample_rate = spec.sample_rate  # of the ring: the worker resamples from it
        cap = 1 << (int(self.buffer_s * spec.sample_rate) - 1).bit_length()
        self.ring = self.input_history = HistoryRing(cap, spec.hop)  # filled by the Analyzer
        self.every = max(1, int(round(self.every_s * spec.frame_rate)))
        self.mark_t = np.zeros(MARKS)
        self.mark_pos = np.zeros(MARKS, dtype=np.int64)
        self.mark_seq = -1
        self.hops = 0
        self._idx = {}
        if "emotion" in self.tasks:
            for n in EMOTION_FIELDS:
                self._idx[n] = layout.add_scalar(n)
        self._scalar_idx = np.array(list(self._idx.values()), dtype=np.int64)
        if "tags" in self.tasks:
            layout.add_vector("tags", len(self.tag_labels), self.tag_labels)
        if "latent" in self.tasks:
            layout.add_vector("latent", self.n_latent)
        self._i_age = layout.add_scalar("prediction_age")
        # which prediction the slot's mood / tags / latent hold: Prediction.id, 0 for none,
        # -1 when the operator's override wrote over them (EmotionOverride)
        self._i_id = layout.add_scalar("prediction_id")
        # the raw tags of recent predictions by id, for the region stage's cut judge: frames
        # carry only the smoothed tags (a second per-hop vector would cost every bulk table)
        self._recent_id = np.zeros(RECENT, dtype=np.int64)
        self._recent_tags = np.zeros((RECENT, len(self.tag_labels)), dtype=np.float32)
        self._stored_id = 0  # the newest prediction whose raw tags are stored
        if "tags" in self.tasks and facts is not None:
            facts.tag_source = self

    def process(self, ctx, frame):
        self.hops += 1
        if self.hops % self.every == 0:
            i = (self.mark_seq + 1) % MARKS
            self.mark_t[i] = ctx.t
            self.mark_pos[i] = self.ring.write_pos
            self.mark_seq += 1  # publish after writing the mark
            self.marked.set()  # wakes the worker: it sleeps between marks, off the GIL
        v = frame.values
        p = self.latest
        if p is not None and p.id != self._stored_id:  # a new prediction: keep its raw tags
            self._stored_id = p.id  # (compared as a Python int: reading the array per hop allocates)
            if p.raw_tags is not None:
                self._recent_tags[p.id % RECENT] = p.raw_tags
                self._recent_id[p.id % RECENT] = p.id
        v[self._i_age] = -1.0 if p is None else ctx.t - p.t
        if v[self._i_id] != (0 if p is None else p.id):  # the slot holds another prediction
            self._write(p, frame)

    def raw_tags_of(self, prediction_id: float, out: np.ndarray) -> bool:
        """The raw tags of the prediction a frame holds (``prediction_id``) into ``out``;
        False when it has none or is no longer among the recent ones."""
        i = int(prediction_id)
        if i <= 0 or self._recent_id[i % RECENT] != i:
            return False
        out[:] = self._recent_tags[i % RECENT]
        return True

    def _write(self, p: Prediction | None, frame) -> None:
        v, vectors = frame.values, frame.vectors
        v[self._scalar_idx] = 0.0 if p is None or p.scalars is None else p.scalars
        for name in ("tags", "latent"):
            if name in vectors:
                value = None if p is None else getattr(p, name)
                vectors[name][:] = 0.0 if value is None else value
        v[self._i_id] = 0 if p is None else p.id

    def reset(self):
        self.ring.reset()
        self.mark_seq = -1
        self.hops = 0
        self.latest = None
