"""The inference worker: runs the ONNX encoders on the newest window, off the analysis thread.

All the heavy work lives here: resampling to the models' rate and the model features run as
Numba calls that release the GIL, so the analysis and output threads keep running beside it.
It follows the stage's marks. When it falls behind it jumps to the newest mark (stale
windows are skipped and counted, never queued), but it still feeds every sample into the
feature stream so the features stay continuous. Offline, ``run_mark`` is called in step with
the analysis, which makes ``analyze`` and a live run that keeps up produce the same windows.
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np

from ..features.resample import StreamResampler
from ..modelinput import FEATURE_CONTRACT, FeatureStream
from .calibration import QuadrantCalibration, example_weight
from .mood import AxisHysteresis, confidence, quadrant_of, va_from_probs
from .smoothing import make_smoother
from .stage import MARKS, InferenceStage, Prediction


def lower_thread_priority(niceness: int = 10) -> None:
    """Let the OS prefer the analysis and output threads over this one when cores are
    scarce (Linux applies nice per thread); best effort, silently skipped elsewhere."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


class InferenceWorker:
    def __init__(self, stage: InferenceStage, models: dict, *, smoothing: str = "ema",
                 tau_s: float = 2.0, margin: float = 0.1, hold_s: float = 1.0, keep_results: bool = False,
                 calibration: QuadrantCalibration | None = None):
        self.stage = stage
        # per-show calibration, taught while ``override()`` (the operator's forced quadrant,
        # 0 for none; set by the Engine) says so; applied to every window before smoothing
        self.calibration = calibration or QuadrantCalibration()
        self.override = lambda: 0
        # the operator's resets (a counter, set by the Engine): a new count empties the
        # calibration at the next window; ``calibration_was_reset`` tells the Engine to save
        # the empty calibration over the show's file at stop
        self.calibration_resets = lambda: 0
        self._resets_seen = 0
        self.calibration_was_reset = False
        self.models = models  # task → OnnxModel
        # a streaming model reads the newest frames since its last call: keep enough of them
        self.features = FeatureStream(max([256, *(getattr(m, "history_frames", 0) for m in models.values())]))
        self._buf = np.zeros(1 << 16, dtype=np.float32)
        self.resampler: StreamResampler | None = None  # made once the stage knows its rate
        self._smooth = {k: make_smoother(smoothing, tau_s) for k in ("probs", "tags", "latent")}
        self._axes = AxisHysteresis(margin, hold_s)
        self.keep_results = keep_results
        self.results: list[dict] = []  # raw per-window outputs (offline timeline, tests)
        self.last_mark = -1
        self.windows = 0
        self.skipped = 0
        self.resets = 0
        self.compute_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-inference", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def warm_up(self) -> None:
        """Before the stream opens: one mark's work on a throwaway stream of silence — the
        resampler, the model features and each model once — so that the first run after an
        install compiles those Numba kernels now, not while audio flows (compiling holds the
        GIL: it stalled the analysis thread and the first run lost audio), and onnxruntime's
        slower first run is done too. The worker's own stream is left untouched."""
        stream = FeatureStream(self.features.max_frames)
        silence = np.zeros(min(self.stage.sample_rate // 2, self._buf.shape[0]), np.float32)
        stream.push(self._new_resampler().process(silence))
        for model in self.models.values():
            model.infer(stream)

    def _new_resampler(self) -> StreamResampler:
        """From the ring's rate to the models' (the stage knows the rate once prepared)."""
        return StreamResampler(self.stage.sample_rate, FEATURE_CONTRACT["sample_rate"],
                               self._buf.shape[0], release_gil=True)

    def stop(self) -> None:
        self._stop.set()
        self.stage.marked.set()
        if self._thread.is_alive():
            self._thread.join(3.0)

    def _feed_until(self, pos: int) -> None:
        ring = self.stage.ring
        if self.resampler is None:
            self.resampler = self._new_resampler()
        if ring.lapped():  # we were so late the audio we needed is overwritten
            self.features.reset()
            self.resampler.reset()
            ring.read_pos = ring.write_pos  # start over from the newest audio
            self.resets += 1
        while ring.read_pos < pos:  # both calls release the GIL for the whole chunk
            got = ring.read_into(self._buf[:min(pos - ring.read_pos, self._buf.shape[0])])
            if got == 0:
                break
            self.features.push(self.resampler.process(self._buf[:got]))

    def run_mark(self, seq: int) -> Prediction | None:
        """Analyse the window ending at mark ``seq`` and publish the result."""
        st = self.stage
        i = seq % MARKS
        t, pos = float(st.mark_t[i]), int(st.mark_pos[i])
        if st.mark_seq - seq >= MARKS - 1:
            return None  # overwritten: far too late
        self._feed_until(pos)
        t0 = time.perf_counter()
        raw = {}
        for task, model in self.models.items():
            raw[task] = {k: v[0] for k, v in model.infer(self.features).items()}
        if "tags" not in raw and "tags" in raw.get("emotion", {}):  # the emotion trunk's tags
            raw["tags"] = {"tags": raw["emotion"]["tags"]}
        ms = (time.perf_counter() - t0) * 1e3
        self.compute_ms.append(ms)
        pred = self._smooth_and_publish(seq, t, raw, ms)
        if self.keep_results:
            self.results.append({"t": t, "raw": raw, "prediction": pred})
        self.windows += 1
        return pred

    def _smooth_and_publish(self, seq, t, raw, ms) -> Prediction:
        kw = {}
        if "emotion" in raw:  # one answer: V/A from the probabilities, quadrant from their signs
            raw_probs = raw["emotion"]["quadrant_probs"]
            resets = self.calibration_resets()
            if resets != self._resets_seen:  # the operator reset it: the model's own answer again
                self._resets_seen = resets
                self.calibration.reset()
                self.calibration_was_reset = True
            forced = self.override()
            if forced:  # the operator corrects the mood: learn from this window (one per mark)
                self.calibration.add(raw_probs, forced, example_weight(self.stage.every_s))
                self.calibration.fit()
            probs = self._smooth["probs"](self.calibration.apply(raw_probs), t)
            va = self._axes(va_from_probs(probs), t)
            quadrant = quadrant_of(va)
            fill = min(1.0, self.features.n_frames / self.models["emotion"].window_frames)
            conf = confidence(probs, quadrant, fill)
            kw.update(valence=float(va[0]), arousal=float(va[1]), probs=probs.astype(np.float64),
                      quadrant=quadrant, confidence=conf, fill=fill,
                      scalars=np.array([va[0], va[1], quadrant, *probs, conf, fill]))
        if "tags" in raw:
            kw["tags"] = self._smooth["tags"](raw["tags"]["tags"], t).astype(np.float32)
            kw["raw_tags"] = np.asarray(raw["tags"]["tags"], dtype=np.float32)
        if "latent" in raw:
            kw["latent"] = self._smooth["latent"](raw["latent"]["controls"], t).astype(np.float32)
        pred = Prediction(seq=seq, t=t, compute_ms=ms, **kw)
        self.stage.latest = pred  # one reference swap: the analysis thread picks it up
        return pred

    def poll(self) -> bool:
        """Run the newest pending mark, if any (skipping older ones); True if it ran."""
        newest = self.stage.mark_seq
        if newest <= self.last_mark:
            return False
        if newest - self.last_mark > 1:
            self.skipped += newest - self.last_mark - 1
        self.last_mark = newest
        self.run_mark(newest)
        return True

    def _run(self) -> None:
        lower_thread_priority()
        try:
            while not self._stop.is_set():
                self.stage.marked.clear()
                if not self.poll():  # wait for the next mark without polling: every wake-up
                    self.stage.marked.wait(0.1)  # takes the GIL, maybe mid-hop from the analysis
        except BaseException as e:  # surfaced by Engine.check(); the analysis keeps running
            self.error = e
