"""What the operator has set (emotion override, blackout, requested preset).

Written by the control input (OSC, panel) one reference or number at a time and read by the
analysis chain (:class:`~sonolux.features.override.EmotionOverride`) and the outputs, so
it lives apart from the control server: the engine and the analysis need the state, never
the server.
"""
from __future__ import annotations


class ControlState:
    """The operator's settings. Plain attributes: each write is one atomic store."""

    def __init__(self):
        self.emotion_override = 0  # 0 = the models decide; 1..4 = forced quadrant
        self.calibration_resets = 0  # how often the operator reset the per-show mood calibration
        self.blackout = False
        self.preset_request = None
