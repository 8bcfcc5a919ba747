"""One batch worker: a callable class that loads the ONNX models once and then runs track
after track through the same analysis as ``sonolux analyze``.

Ray runs one instance per actor (``ray.remote(AnalysisWorker)``); nothing here needs Ray, so
the class also runs in-process. Thread counts are set before anything heavy loads: Ray passes
``NUMBA_NUM_THREADS`` / ``OMP_NUM_THREADS`` in the actor's environment (:func:`thread_env`),
and onnxruntime, which ignores those and otherwise sizes its pool to every core of the host,
gets ``intra_op_num_threads`` from ``InferenceConfig.threads`` (inter-op is 1).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import __version__
from ..analysis import AnalysisConfig
# The one analysis entry point: the function behind `sonolux analyze FILE --json`. Every
# batch row comes from it; point this line elsewhere when the analysis moves.
from ..offline import analyze_file as analyze_track
from ..errors import SonoluxError
from ..features.cutjudge import shipped_judge
from ..features.cutplacer import shipped_placer
from ..features.joinnet import shipped_join_net
from ..features.placechoice import shipped_place_choice
from ..inference.runtime import InferenceConfig
from ..spec import StreamSpec


@dataclass(frozen=True)
class AnalysisOptions:
    """Everything a worker needs to analyse a track exactly as ``sonolux analyze`` would."""

    spec: StreamSpec = StreamSpec()
    config: AnalysisConfig | None = None
    inference: InferenceConfig = InferenceConfig()
    use_models: bool = True  # False: --no-models
    max_duration_s: float = 3600.0  # longer tracks are recorded as failed, not analysed

    @property
    def threads(self) -> int:
        return self.inference.threads


def resolve_model_dir(options: AnalysisOptions) -> AnalysisOptions:
    """The same options with the model folder made absolute (workers on this machine then load
    the very files the driver hashed for the analysis version)."""
    from ..inference.models import default_model_dir

    folder = options.inference.model_dir or default_model_dir()
    return replace(options, inference=replace(options.inference, model_dir=os.path.abspath(folder)))


# the package's folders that compute nothing of a track's row: the command line, the live
# outputs, the visuals (everything else — features, inference, decoding, the rows — counts)
NOT_ANALYSIS = ("app", "outputs", "visual", "imagery")


def code_digest(root: Path | None = None) -> str:
    """SHA-256 of the package's analysis source (every ``.py`` below ``root``, default the
    installed package, but :data:`NOT_ANALYSIS`), by relative path and bytes. Why: the
    package's version string stays the same across code changes between releases, and a
    change of how cuts are placed (say) must not leave the rows made before it in a catalogue
    that a rerun skips; any edit counts, docstrings too (a needless rerun beats a stale row)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in NOT_ANALYSIS or "__pycache__" in rel.parts:
            continue
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def analysis_version(options: AnalysisOptions) -> str:
    """``<sonolux version>+<digest>`` of everything that changes a track's result: the
    analysis code (:func:`code_digest`), the stream and analysis settings, the inference
    cadence and smoothing, and the model files.
    A rerun skips a track only when its content hash and this version are both in the output.
    With models and the region judge on, the judge file (it decides the region cuts) counts too;
    with the region placer on, the placer file and the join-net file (they move them; the judge
    reads the join net as well).

    >>> analysis_version(AnalysisOptions(use_models=False))  # doctest: +SKIP
    '0.1.0+3f9a1c0b2e'
    """
    from ..inference.models import find_models

    inf = options.inference
    config = options.config or AnalysisConfig()
    settings = {"code": code_digest(), "spec": asdict(options.spec), "config": repr(config),
                "every_s": inf.every_s, "smoothing": inf.smoothing, "tau_s": inf.tau_s,
                "margin": inf.margin, "hold_s": inf.hold_s, "models": {}}
    if options.use_models:
        for task, path in sorted(find_models(inf.model_dir).items()):
            settings["models"][task] = hashlib.sha256(path.read_bytes()).hexdigest()
        judge = _file_sha256(config.region_judge_file, shipped_judge())
        if config.region_judge and judge:
            settings["region_judge"] = judge
    placer = _file_sha256(config.region_placer_file, shipped_placer())
    if config.region_placer and placer:  # the placer moves cuts with or without models
        settings["region_placer"] = placer
    join_net = _file_sha256(config.region_join_net_file, shipped_join_net())
    judging = options.use_models and config.region_judge  # the judge reads the join net ...
    if join_net and (judging or (config.region_placer and config.region_join_net)):  # ... the placer too
        settings["region_join_net"] = join_net
    choice = _file_sha256(config.region_place_choice_file, shipped_place_choice())
    if choice and config.region_placer and config.region_join_net and config.region_place_choice:
        settings["region_place_choice"] = choice
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    return f"{__version__}+{digest[:10]}"


def _file_sha256(given: str, shipped: Path) -> str | None:
    """The SHA-256 of the file a setting names (``given``; "" means ``shipped``), None when it is not there."""
    path = Path(given) if given else shipped
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def thread_env(threads: int) -> dict[str, str]:
    """Environment for a worker process: thread pools sized to its CPU reservation (Numba
    reads NUMBA_NUM_THREADS at import, so it must be in the environment, not set later)."""
    n = str(max(1, int(threads)))
    return {"NUMBA_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n}


def _node_id() -> str | None:
    try:
        import ray
    except ImportError:
        return None
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def _too_long(path, max_duration_s: float) -> str | None:
    """An error when the header says the track is longer than the limit (a header that cannot
    be read is left to the analysis, which names the problem)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:
        return None
    if info.samplerate > 0 and info.frames / info.samplerate > max_duration_s:
        return (f"{path}: {info.frames / info.samplerate / 60:.1f} min long, over the "
                f"--max-duration of {max_duration_s / 60:.1f} min; not analysed")
    return None


class AnalysisWorker:
    """Loads the models once, then ``worker(path)`` analyses one track.

    >>> worker = AnalysisWorker(AnalysisOptions(use_models=False))
    >>> result = worker("song.wav")  # doctest: +SKIP
    >>> result["doc"]["tempo"]  # doctest: +SKIP
    {'bpm': 127.84, 'confidence': 0.827}

    The result is ``{"doc": the analyze document or None, "error": None or a message,
    "node_id", "pid", "seconds"}``: a track that cannot be analysed is a result with its error,
    never an exception, so one bad file costs one row, not the batch.
    """

    def __init__(self, options: AnalysisOptions):
        import numba

        self.options = options
        self.models: dict = {}
        self.warnings: list[str] = []
        self.load_error: str | None = None
        numba.set_num_threads(min(max(1, options.threads), numba.config.NUMBA_NUM_THREADS))
        if options.use_models:
            from ..inference.runtime import load_models

            try:
                self.models, self.warnings = load_models(options.inference)
            except SonoluxError as e:  # a corrupt or mismatched model: the driver stops the batch
                self.load_error = str(e)

    def ready(self) -> dict:
        """Where this worker runs, whether its models loaded and the thread counts it runs
        with (the driver asks once)."""
        import numba

        threads = {"numba": numba.get_num_threads(), "numba_pool": numba.config.NUMBA_NUM_THREADS}
        for task, model in self.models.items():
            opts = model.session.get_session_options()
            threads[f"onnx_{task}"] = [opts.intra_op_num_threads, opts.inter_op_num_threads]
        return {"node_id": _node_id(), "pid": os.getpid(), "version": __version__, "threads": threads,
                "models": sorted(self.models),
                "warnings": self.warnings, "error": self.load_error}

    def analyze(self, path: str) -> dict:
        start = time.perf_counter()
        doc, error = None, _too_long(path, self.options.max_duration_s)
        if error is None:
            try:
                doc = analyze_track(path, spec=self.options.spec, config=self.options.config,
                                    models=self.models, inference=self.options.inference)
            except SonoluxError as e:
                error = str(e)
            except MemoryError:
                error = f"{path}: out of memory while analysing"
            except Exception as e:  # a bug on this input: recorded, and the batch goes on
                error = f"{path}: analysis failed ({type(e).__name__}: {e})"
        return {"doc": doc, "error": error, "node_id": _node_id(), "pid": os.getpid(),
                "seconds": time.perf_counter() - start}

    __call__ = analyze
