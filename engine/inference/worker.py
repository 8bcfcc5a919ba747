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
from .models import WINDOW_KIND
from .smoothing import QuadrantHysteresis, make_smoother
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
                 tau_s: float = 2.0, margin: float = 0.1, hold_s: float = 1.0, keep_results: bool = False):
        self.stage = stage
        self.models = models  # task → OnnxModel
        self.features = FeatureStream()
        self._buf = np.zeros(1 << 16, dtype=np.float32)
        self.resampler: StreamResampler | None = None  # made once the stage knows its rate
        self._smooth = {k: make_smoother(smoothing, tau_s) for k in ("va", "probs", "tags", "latent")}
        self._hysteresis = QuadrantHysteresis(margin, hold_s)
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

    def stop(self) -> None:
        self._stop.set()
        self.stage.marked.set()
        if self._thread.is_alive():
            self._thread.join(3.0)

    def _feed_until(self, pos: int) -> None:
        ring = self.stage.ring
        if self.resampler is None:
            self.resampler = StreamResampler(self.stage.sample_rate, FEATURE_CONTRACT["sample_rate"],
                                             self._buf.shape[0], release_gil=True)
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
            out = model.run(self.features.window(WINDOW_KIND[task]))
            raw[task] = {k: v[0] for k, v in out.items()}
        ms = (time.perf_counter() - t0) * 1e3
        self.compute_ms.append(ms)
        pred = self._smooth_and_publish(seq, t, raw, ms)
        if self.keep_results:
            self.results.append({"t": t, "raw": raw, "prediction": pred})
        self.windows += 1
        return pred

    def _smooth_and_publish(self, seq, t, raw, ms) -> Prediction:
        kw = {}
        if "emotion" in raw:
            va = self._smooth["va"](np.clip(raw["emotion"]["va"], -1, 1), t)
            probs = self._smooth["probs"](raw["emotion"]["quadrant_probs"], t)
            quadrant = self._hysteresis(probs, t)
            kw.update(valence=float(va[0]), arousal=float(va[1]), probs=probs.astype(np.float64),
                      quadrant=quadrant, scalars=np.array([va[0], va[1], quadrant, *probs]))
        if "tags" in raw:
            kw["tags"] = self._smooth["tags"](raw["tags"]["tags"], t).astype(np.float32)
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
