"""The processor protocol, what one hop's processors share, and the chain that runs them.

Lifecycle after JUCE / pedalboard: ``prepare(spec, layout, facts)`` once, ``process(ctx,
frame)`` every hop, ``reset()`` to forget the past. Data passes explicitly:

* per hop, through the declared fields of :class:`HopContext` (``__slots__``: a processor
  cannot invent a field);
* at prepare time, through :class:`ChainFacts`: what an earlier stage knows that a later one
  needs (the analysis window, the mel band edges), handed over once, never looked up per hop.

Offline, the same processors run in bulk (``process_block``): a :class:`HopBlock` carries many
hops at once and each feature processor runs its per-hop kernel over all of them in one Numba
call, on the same state in the same order, so the frames are bit-identical to the live
chain's. Stages whose decisions live in Python (regions, sections) run their quiet hops in
one Numba call and hand the rare hops where something happens (a cue block ends, a cut or an
event is decided) to ``process``. The inference stage has no block kernel: it runs hop by
hop, around the callbacks that step the models in lockstep, and the stages after it then run
over the whole block (:meth:`Chain.process_block`).
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..frame import FeatureFrame, FrameLayout
from ..spec import StreamSpec


class HopContext:
    """What one hop's processors share. Arrays are owned by their producer and valid until
    the next hop; a field is None until its producer ran (and in chains without it)."""

    __slots__ = ("spec", "samples", "sample_end", "power", "mel_db", "onset_flux", "low_flux")

    def __init__(self, spec: StreamSpec):
        self.spec = spec
        #: the hop's input samples (float64; pre-emphasis filters them in place)
        self.samples = np.zeros(spec.hop, dtype=np.float64)
        self.sample_end = 0  # stream position (samples) after this hop
        self.power: np.ndarray | None = None  # |X|², n_fft/2+1 (Spectrum)
        self.mel_db: np.ndarray | None = None  # log-mel dB, n_mels (MelSpectrum)
        self.onset_flux = 0.0  # novelty of this hop (FluxOnsets)
        self.low_flux = 0.0  # log-mel flux of the bands below onset_low_hz (FluxOnsets)

    @property
    def t(self) -> float:
        return self.sample_end / self.spec.sample_rate


class ChainFacts:
    """Facts a stage publishes in ``prepare`` for the stages after it (filled in chain order).

    ``window``: the analysis window of the spectrum (Spectrum); ``mel_fmin`` / ``mel_fmax``
    (Hz) and ``n_mels``: the mel band edges (MelSpectrum); ``onset_flux``: True once a stage
    puts the onset flux into ``ctx.onset_flux`` / ``ctx.low_flux`` (FluxOnsets);
    ``tag_source``: what answers ``raw_tags_of(prediction_id, out)`` for the raw tags of the
    prediction a frame holds, with ``emotion_version`` (InferenceStage, when tags run)."""

    __slots__ = ("window", "mel_fmin", "mel_fmax", "n_mels", "onset_flux", "tag_source")

    def __init__(self):
        self.window: np.ndarray | None = None
        self.mel_fmin: float | None = None
        self.mel_fmax: float | None = None
        self.n_mels = 0
        self.onset_flux = False
        self.tag_source = None

    def require(self, name: str, stage: str, needs: str):
        """The fact ``name``; a ParameterError naming the missing stage when it is not set."""
        value = getattr(self, name)
        if value is None or value is False:
            raise ParameterError(f"{stage} needs the {needs} stage before it in the chain")
        return value


class HopBlock:
    """Many consecutive hops at once (offline bulk runs): row ``i`` of every array is hop
    ``i`` of the block; ``n`` rows are in use (capacity ``samples.shape[0]``).

    ``values`` / ``vectors`` are the frames' fields (as ``FeatureFrame.values`` /
    ``.vectors``, one row per hop); the rest mirror :class:`HopContext`'s fields."""

    __slots__ = ("spec", "n", "samples", "sample_end", "power", "mel_db", "onset_flux",
                 "low_flux", "values", "vectors", "_rows")

    def __init__(self, spec: StreamSpec, layout: FrameLayout, capacity: int):
        self.spec = spec
        self.n = 0
        self.samples = np.zeros((capacity, spec.hop))
        self.sample_end = np.zeros(capacity, dtype=np.int64)
        self.power = np.zeros((capacity, spec.n_fft // 2 + 1))
        self.mel_db = np.zeros((capacity, max(layout.vectors.get("mel_db", 0), 1)))
        self.onset_flux = np.zeros(capacity)
        self.low_flux = np.zeros(capacity)
        self.values = np.zeros((capacity, len(layout.scalars)))
        self.vectors = {k: np.zeros((capacity, n), dtype=np.float32)
                        for k, n in layout.vectors.items()}
        self._rows = None  # per-row views for bind_hop, made on first use

    def bind_hop(self, i: int, ctx: HopContext, frame: FeatureFrame) -> None:
        """Hop ``i`` into a context and a scratch frame, for processors that run hop by hop:
        the hop's samples are copied into ``ctx.samples`` (stages may filter them in place);
        ``frame.values`` and ``frame.vectors`` become views of row ``i``, so what the
        processors write lands in the block with no copy back. ``frame`` must be a frame of
        the bulk run alone (its arrays are re-pointed at every hop). The row views are made
        once per block object, not per hop."""
        if self._rows is None:
            self._rows = [(self.samples[r], self.power[r], self.mel_db[r], self.values[r],
                           {k: v[r] for k, v in self.vectors.items()})
                          for r in range(self.samples.shape[0])]
        samples, power, mel_db, values, vectors = self._rows[i]
        ctx.samples[:] = samples
        ctx.sample_end = end = int(self.sample_end[i])
        ctx.power, ctx.mel_db = power, mel_db
        ctx.onset_flux, ctx.low_flux = float(self.onset_flux[i]), float(self.low_flux[i])
        frame.sample_end = end
        frame.t = end / self.spec.sample_rate
        frame.values = values
        frame.vectors = vectors


class Processor:
    """Base class. Subclasses declare their frame fields in ``prepare`` and fill them in
    ``process`` without allocating.

    A processor that needs the raw input of the last seconds (to hand it to another thread)
    makes an ``input_history`` (a :class:`~sonolux.ringbuffer.HistoryRing`) in ``prepare``:
    the Analyzer writes each hop into it in the call that copies the hop in, no extra pass."""

    input_history = None

    def prepare(self, spec: StreamSpec, layout: FrameLayout, facts: ChainFacts) -> None:
        raise NotImplementedError

    def process(self, ctx: HopContext, frame: FeatureFrame) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the past (state), keep the sizes (buffers)."""

    #: True when ``process_block`` runs the whole block in one call (a feature's Numba
    #: kernel); False: the chain runs this processor hop by hop in bulk runs
    blockwise = False

    def process_block(self, block: HopBlock) -> None:
        """All ``block.n`` hops at once, with results equal to ``process`` hop by hop."""
        raise NotImplementedError


class Chain(Processor):
    """Processors in order; ``prepare`` / ``process`` / ``reset`` forwarded to each."""

    def __init__(self, processors: list[Processor]):
        self.processors = list(processors)

    def prepare(self, spec: StreamSpec, layout: FrameLayout, facts: ChainFacts | None = None) -> None:
        facts = ChainFacts() if facts is None else facts
        for p in self.processors:
            p.prepare(spec, layout, facts)

    def process(self, ctx: HopContext, frame: FeatureFrame) -> None:
        for p in self.processors:
            p.process(ctx, frame)

    def reset(self) -> None:
        for p in self.processors:
            p.reset()

    def process_block(self, block: HopBlock, ctx: HopContext, frame: FeatureFrame,
                      before_hop=None, after_hop=None) -> None:
        """Bulk: the leading blockwise processors over the whole block; then, from the first
        processor without a block kernel (the inference stage) to the last one, hop by hop
        with ``before_hop(i)`` / ``after_hop(i)`` around each hop; then the trailing blockwise
        processors (silence gate, override, regions, sections) over the whole block, before
        the block's last ``after_hop``. A processor reads only what earlier ones wrote into
        the hop's row (and the callbacks feed only the hop-by-hop ones: the models' results),
        so this order gives the live chain's numbers; with one hop per block it is the live
        order itself.

        Controls set from a callback (the override, region controls, tap) reach the leading
        processors at the next block and the trailing ones at the end of the current one."""
        procs = self.processors
        k = 0
        while k < len(procs) and procs[k].blockwise:
            procs[k].process_block(block)
            k += 1
        end = len(procs)
        while end > k and procs[end - 1].blockwise:
            end -= 1
        middle, trailing = procs[k:end], procs[end:]
        if middle or before_hop is not None or after_hop is not None:
            for i in range(block.n):
                if before_hop is not None:
                    before_hop(i)
                if middle:
                    block.bind_hop(i, ctx, frame)
                    for p in middle:
                        p.process(ctx, frame)
                if after_hop is not None and i < block.n - 1:
                    after_hop(i)
        for p in trailing:
            p.process_block(block)
        if after_hop is not None and block.n:
            after_hop(block.n - 1)
