"""The operator's emotion override, applied as the last stage of the chain.

When the control input forces a quadrant, the frame's mood fields say so (one-hot quadrant
probabilities, valence/arousal at ±0.5 on the quadrant's side) and ``emotion_override``
holds the forced quadrant, so every output — OSC, presets, recorder — follows the operator.
Without models the stage declares the mood fields itself (neutral until overridden). With
models it marks the frame's ``prediction_id`` -1 while it overrides, so the inference stage
writes the prediction back into that slot when the operator lets go.
"""
from __future__ import annotations

import numpy as np

from .base import Processor

MOOD_FIELDS = ("valence", "arousal", "quadrant", "q1", "q2", "q3", "q4")
# quadrant → (valence sign, arousal sign): Q1 +V+A, Q2 −V+A, Q3 −V−A, Q4 +V−A
SIGNS = {1: (1.0, 1.0), 2: (-1.0, 1.0), 3: (-1.0, -1.0), 4: (1.0, -1.0)}


class NoOverride:
    """The control state of a run nobody can steer (offline analysis): never overrides."""

    emotion_override = 0


class EmotionOverride(Processor):
    """``state.emotion_override`` (0: the models decide, 1..4: the forced quadrant) is read
    every hop; the control thread writes it (one int, no lock)."""

    def __init__(self, state=None):
        self.state = NoOverride() if state is None else state

    def prepare(self, spec, layout, facts):
        for name in MOOD_FIELDS:
            if name not in layout.scalars:
                layout.add_scalar(name)
        self._idx = {n: layout.scalars[n] for n in MOOD_FIELDS}
        self._i_override = layout.add_scalar("emotion_override")
        self._q = np.array([self._idx[f"q{k}"] for k in range(1, 5)])
        self._i_prediction = layout.scalars.get("prediction_id")

    blockwise = True

    def process_block(self, block):
        """Every hop of the block as ``process`` (offline: the override does not change
        within a block; it is read once)."""
        self._apply(block.values[:block.n], self.state.emotion_override)

    def process(self, ctx, frame):
        self._apply(frame.values, self.state.emotion_override)

    def _apply(self, v, q) -> None:
        """Write the override ``q`` into the frame row ``v`` or a block's rows (``v[..., i]``
        is one field of every row)."""
        v[..., self._i_override] = q
        if q:
            sv, sa = SIGNS[q]
            v[..., self._idx["valence"]] = 0.5 * sv
            v[..., self._idx["arousal"]] = 0.5 * sa
            v[..., self._idx["quadrant"]] = q
            v[..., self._q] = 0.0
            v[..., self._q[q - 1]] = 1.0
            if self._i_prediction is not None:
                v[..., self._i_prediction] = -1
