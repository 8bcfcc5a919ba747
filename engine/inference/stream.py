"""A streaming emotion model: the encoder's trunk runs over the stream once, not per window.

A window model (``OnnxModel``) recomputes its whole 4 s window at every mark, so most of its
work repeats the previous mark's. The streaming model (emotion v2.1, ``models_onnx/emotion.onnx``)
is a convolutional trunk evaluated "valid" in time: each frame's features are computed once,
when all the input they depend on has arrived (``lookahead`` frames after the frame, the
stated delay), kept in a window of the newest ``pool`` feature columns, and pooled by a small
head into the quadrant probabilities (and tags). Per mark it costs the new frames only.

The graph carries its own state in and out, so the engine holds three arrays and no
framework: inputs ``mel`` (the ``mel_context`` frames before the new ones + the new ones),
``front_past`` and ``features_past``; outputs ``front`` and ``features`` (the next call's
pasts), then ``va``, ``quadrant_probs`` and optionally ``tags``. Its contract's ``stream``
table gives the sizes. The state starts as the model's own answer to silence, which is what
precedes a stream, so a clip analysed offline (``export/musicnn_embed.py``: silence, then the
clip, in one call) and the same audio streamed in any chunk sizes give the same windows.

Input level (emotion v2.2): a contract with an ``input_normalisation`` entry asks for the
causal running-level normaliser of :mod:`sonolux.inference.level` in front of the graph, so
the mixer's gain does not change the mood. Its running level is stream state, held here next
to the graph's pasts (not in the graph). The graph re-reads the ``mel_context`` frames before
the new ones at each call; each must come with the shift it got when it was new, so the state
also keeps those frames already normalised, and a call normalises only its new frames. A
model without the entry (v2.1, the tests' tiny models) reads the raw log-mel.

Example::

    model = load_model("models_onnx/emotion.onnx")          # a StreamingModel
    stream = FeatureStream(model.history_frames)            # the state lives per stream
    stream.push(samples_16k)
    out = model.infer(stream)                               # va, quadrant_probs, tags
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..modelinput import silence_features
from .level import input_normalisation
from .models import SessionModel

STREAM_INPUTS = ("mel", "front_past", "features_past")
STATE_OUTPUTS = ("front", "features")
STREAM_KEYS = ("mel_context", "front_dim", "front_context", "feature_dim", "pool", "lookahead")


def stream_layout(contract: dict, path) -> dict:
    """The contract's ``stream`` table with every size a positive integer, or ModelError."""
    table = contract.get("stream")
    if not isinstance(table, dict):
        raise ModelError(f"{path}: contract has no 'stream' table")
    out = {}
    for key in STREAM_KEYS:
        try:
            out[key] = int(table[key])
        except (KeyError, TypeError, ValueError):
            raise ModelError(f"{path}: contract stream.{key} must be an integer") from None
        if out[key] < 0 or (out[key] == 0 and key != "lookahead"):
            raise ModelError(f"{path}: contract stream.{key}={out[key]} must be positive")
    return out


class StreamState:
    """One stream's state of a streaming model: what the next call feeds back. With an input
    normaliser also its running ``level`` and ``mel_in``: (1, max_frames, 96) float32 whose
    first ``mel_context`` rows are the normalised frames the next call re-reads (silence at
    the start: the normaliser leaves it as it is); the new frames are written after them."""

    __slots__ = ("front", "features", "last", "frames_done", "generation", "level", "mel_in")

    def __init__(self, primed: tuple, generation: int, level=None, max_frames: int = 0):
        front, features, last = primed
        self.front, self.features, self.last = front.copy(), features.copy(), dict(last)
        self.frames_done = 0
        self.generation = generation
        self.level = level
        self.mel_in = None
        if level is not None:
            self.mel_in = np.repeat(silence_features()["mel"][None, None, :], max_frames, axis=1).astype(np.float32)


@dataclass
class StreamingModel(SessionModel):
    """An emotion model whose trunk streams (see module docstring); duck-types OnnxModel.

    The model (its session) may be shared; the state belongs to each FeatureStream it is
    asked about, so an offline analysis and a live run on the same loaded model, or two
    runs one after the other, never see each other's past."""

    labels: list = field(default_factory=list)
    tag_labels: list = field(default_factory=list)
    #: one session per ``mel`` length, up to this many (None: on a GPU provider only). A mark
    #: every 0.5 s brings 31 or 32 new frames in turn, and onnxruntime's CUDA convolutions
    #: keep the cuDNN algorithm of the last input shape only: with one session every call
    #: re-ran cuDNN's algorithm search — 43 / 95 ms per call (p50 / p99) on an H200 against
    #: 1.4 / 1.9 ms with one shape (benchmarks/results/gpu/cuda_options.json).
    shape_sessions: int | None = None

    def __post_init__(self):
        self.layout = stream_layout(self.contract, self.path)
        self.level = input_normalisation(self.contract, self.path)  # None: the raw log-mel (v2.1)
        self._primed = self._prime()
        self._states = weakref.WeakKeyDictionary()  # FeatureStream → StreamState
        if self.shape_sessions is None:
            on_gpu = self.provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
            self.shape_sessions = 4 if on_gpu else 0
        self._by_length: dict = {}  # mel length → its own session (the priming length: the first)

    def run(self, inputs: dict) -> dict:
        """One call, on the session kept for this ``mel`` length where there is one (see
        :attr:`shape_sessions`); a length beyond the first few (a catch-up after a gap) runs
        on the model's own session."""
        if self.shape_sessions:
            n = inputs["mel"].shape[1]
            session = self._by_length.get(n)
            if session is None and len(self._by_length) < self.shape_sessions:
                session = self._by_length[n] = self._same_session()
            if session is not None:
                outs = session.run(None, inputs)
                return {o.name: v for o, v in zip(session.get_outputs(), outs)}
        return super().run(inputs)

    def _same_session(self):
        """A second session of this model with the first one's options and providers."""
        import onnxruntime as ort

        s = self.session
        options = s.get_provider_options()
        providers = [(p, options.get(p, {})) for p in s.get_providers()]
        return ort.InferenceSession(str(self.path), sess_options=s.get_session_options(), providers=providers)

    @property
    def window_frames(self) -> int:
        """Input frames one prediction covers (pooled frames and their context): the
        denominator of ``emotion_fill``."""
        return int(self.contract["window_frames"])

    @property
    def input_shapes(self) -> dict:
        """Input name → shape without the batch axis (``mel``: context + new frames)."""
        lay = self.layout
        return {"mel": (f"{lay['mel_context']}+new", 96),
                "front_past": (lay["front_dim"], lay["front_context"]),
                "features_past": (lay["feature_dim"], lay["pool"])}

    @property
    def history_frames(self) -> int:
        """Feature frames the FeatureStream must keep so a late call still finds its input."""
        return 4 * self.window_frames

    # -- the stream -----------------------------------------------------------------------
    def _prime(self) -> tuple:
        """(front, features, outputs) of a stream that has heard only silence."""
        lay = self.layout
        n = lay["front_context"] + lay["pool"]  # enough new frames to flush every past
        sil = silence_features()["mel"]
        mel = np.repeat(sil[None, None, :], lay["mel_context"] + n, axis=1).astype(np.float32)
        out = self.run({"mel": mel,
                        "front_past": np.zeros((1, lay["front_dim"], lay["front_context"]), np.float32),
                        "features_past": np.zeros((1, lay["feature_dim"], lay["pool"]), np.float32)})
        return out["front"], out["features"], self._heads(out)

    def _heads(self, out: dict) -> dict:
        return {k: v for k, v in out.items() if k not in STATE_OUTPUTS}

    def silence_outputs(self) -> dict:
        """What the model says before a stream has heard anything."""
        return dict(self._primed[2])

    def state_of(self, stream) -> StreamState:
        """This model's state for ``stream``; new (silence) for a new or reset stream."""
        state = self._states.get(stream)
        if state is None or state.generation != stream.generation:
            level = self.level.fresh() if self.level is not None else None
            state = self._states[stream] = StreamState(self._primed, stream.generation, level,
                                                       stream.max_frames)
        return state

    def infer(self, stream) -> dict:
        """Outputs (batch axis 1) for the newest frames of ``stream`` (a FeatureStream):
        runs the trunk on the frames since the last call only. Frames beyond the stream's
        history are lost (a gap, as after a lapped ring): the trunk continues from the
        oldest it still has (with a normaliser: after the context of the last frames it saw)."""
        state = self.state_of(stream)
        total = stream.n_frames
        new = total - state.frames_done
        if new > 0:
            ctx = self.layout["mel_context"]
            new = min(new, stream.max_frames - ctx)
            out = self.run({"mel": self._mel_input(stream, state, new, ctx), "front_past": state.front,
                            "features_past": state.features})
            state.front, state.features = out["front"], out["features"]
            state.last = self._heads(out)
            state.frames_done = total
            if state.level is not None:  # the newest ctx normalised frames: the next call's context
                buf = state.mel_in[0]
                buf[:ctx] = buf[new:new + ctx]
        return state.last

    def _mel_input(self, stream, state: StreamState, new: int, ctx: int) -> np.ndarray:
        """The graph's ``mel``: ``ctx`` context frames + ``new`` new ones, (1, ctx + new, 96).
        Raw, or normalised: the kept normalised context, then the new frames copied from the
        stream and shifted by the running level (each frame once, when it is new)."""
        if state.level is None:
            return stream.mel_frames(new + ctx)
        fresh = state.mel_in[0, ctx:ctx + new]
        stream.mel_frames(new, out=fresh)
        state.level.process(fresh)
        return state.mel_in[:, :ctx + new]


def check_stream_model(model: StreamingModel, path, outputs: list[str], required: tuple) -> None:
    """ModelError unless the session's names and the state sizes match the contract."""
    inputs = [i.name for i in model.session.get_inputs()]
    if tuple(inputs) != STREAM_INPUTS:
        raise ModelError(f"{path}: inputs are {inputs}, a streaming emotion model must take "
                         f"{list(STREAM_INPUTS)}")
    want = [*STATE_OUTPUTS, *required]
    if outputs[:len(want)] != want or not set(outputs[len(want):]) <= {"tags"}:
        raise ModelError(f"{path}: outputs are {outputs}, a streaming emotion model must give "
                         f"{want} (optionally followed by ['tags'])")
    lay = model.layout
    front, features, _ = model._primed
    if front.shape != (1, lay["front_dim"], lay["front_context"]) or \
            features.shape != (1, lay["feature_dim"], lay["pool"]):
        raise ModelError(f"{path}: state shapes {front.shape}/{features.shape} do not "
                         f"match the contract's stream table {lay}")
    span = lay["pool"] + lay["mel_context"] + lay["front_context"]
    if int(model.contract.get("window_frames", -1)) != span:
        raise ModelError(f"{path}: window_frames={model.contract.get('window_frames')!r}, its stream "
                         f"table makes one window {span} frames")
