"""Running a batch on Ray: plan the tracks, keep a pool of analysis actors busy, write rows.

Why actors rather than Ray tasks: an actor is a long-lived worker process that loads the ONNX
models once (:class:`~.worker.AnalysisWorker`), and one track at a time per actor lets the
driver tell exactly which track a dying worker took with it. Every actor reserves
``threads`` CPUs and runs its pools with that many threads; actors are spread over the nodes.

The driver holds only the plan, the tracks in flight and the rows of the batch being
buffered, so its memory stays flat however large the library.
"""
from __future__ import annotations

import logging
import os
import re
import stat
import sys
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import __version__
from ..errors import ParameterError, SonoluxError
from .rows import TrackTask, failed_row, track_rows
from .sources import content_hash, find_tracks
from .store import BatchBuffer, CatalogueStore
from .worker import AnalysisOptions, AnalysisWorker, analysis_version, resolve_model_dir, thread_env

OBJECT_STORE_BYTES = 512 * 1024 * 1024  # results are small documents; leave the rest of /dev/shm
START_TIMEOUT_S = 600.0  # no worker ready after this long: the cluster cannot place one
START_GRACE_S = 30.0  # the first tracks wait this long for the other workers to come up


@dataclass
class BatchSettings:
    """What ``sonolux batch`` was asked to do (see ``sonolux batch --help``)."""

    sources: list
    out_dir: str
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    workers: int | None = None  # None: one per CPU (of this machine, or of the cluster)
    ray_address: str | None = None  # None: an embedded Ray on this machine
    force: bool = False  # analyse again what the catalogue already holds
    retry_failed: bool = False  # analyse again the tracks recorded as failed
    retries: int = 2  # more tries for a track whose worker died
    batch_size: int = 16  # tracks per Parquet part
    max_size_mb: float = 2048.0
    track_timeout_s: float = 600.0  # a track still running after this long is stopped (0: never)
    progress: bool = True


@dataclass
class BatchReport:
    version: str = ""  # the analysis version the batch ran
    found: int = 0
    skipped: int = 0  # already in the catalogue …
    skipped_failed: int = 0  # … of which recorded as failed
    nodes: set = field(default_factory=set)  # Ray node ids that analysed tracks
    ok: int = 0
    failed: int = 0
    parts: int = 0
    workers: int = 0
    seconds: float = 0.0
    failures: list = field(default_factory=list)  # (path, error)
    worker_info: list = field(default_factory=list)  # each started worker's ready() answer

    @property
    def analysed(self) -> int:
        return self.ok + self.failed


def _skip(prev, digest, version: str, settings: BatchSettings) -> bool:
    """Whether the catalogue's newest row for a path already answers for this content."""
    return (not settings.force and prev is not None and prev.content_hash == digest
            and prev.analysis_version == version
            and (prev.status == "ok" or not settings.retry_failed))


def plan(paths: list[Path], done: dict, version: str, settings: BatchSettings,
         progress=None) -> tuple[list[TrackTask], list[TrackTask], list[tuple[TrackTask, str]]]:
    """(tracks to analyse, tracks already in the catalogue, tracks failed before analysis).

    A track is skipped when the catalogue's newest row for its path has the same content hash
    and analysis version (and succeeded, unless ``retry_failed``). The hash is taken from the
    catalogue when the file's size and mtime are unchanged, so a rerun need not re-read a
    library that did not change (an oversized file is never read: its stat is its identity)."""
    todo, skipped, failed = [], [], []
    max_bytes = settings.max_size_mb * 1024 * 1024
    for path in paths:
        if progress is not None:
            progress.update(1)
        key = str(path)
        prev = done.get(key)
        try:
            st = path.stat()
        except OSError as e:
            failed.append((TrackTask(key, 0, 0, None), f"{path}: cannot read ({e.strerror})"))
            continue
        task = TrackTask(key, st.st_size, st.st_mtime_ns, None)
        if not stat.S_ISREG(st.st_mode):  # reading a FIFO or a device would never end
            failed.append((task, f"{path}: not a regular file (a pipe, device or socket); not read"))
            continue
        same_stat = prev is not None and (prev.size, prev.mtime_ns) == (st.st_size, st.st_mtime_ns)
        if st.st_size > max_bytes:
            if not (same_stat and _skip(prev, None, version, settings)):
                failed.append((task, f"{path}: {st.st_size / 2**20:.0f} MB, over --max-size of "
                                     f"{settings.max_size_mb:g} MB; not analysed"))
            else:
                skipped.append(task)
            continue
        try:
            digest = prev.content_hash if same_stat and prev.content_hash else content_hash(path)
        except OSError as e:
            failed.append((task, f"{path}: cannot read ({e.strerror})"))
            continue
        task = replace(task, content_hash=digest)
        if _skip(prev, digest, version, settings):
            skipped.append(task)
        elif st.st_size == 0:
            failed.append((task, f"{path}: empty file (0 bytes)"))
        else:
            todo.append(task)
    return todo, skipped, failed


def _last_error_line(error: BaseException) -> str:
    """The ``SomeError: message`` line at the bottom of a remote traceback."""
    lines = [ln.strip() for ln in str(error).splitlines()]
    found = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception)\b", ln)]
    return found[-1] if found else _short(error)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def start_ray(settings: BatchSettings, workers: int):
    """Join ``settings.ray_address`` or start an embedded single-machine Ray (bound to the
    loopback interface). Returns True when this call started Ray (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    # the notice that token authentication is on (good: keep it on) is noise on every run
    logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(
        lambda record: not record.getMessage().startswith("Token authentication is enabled"))
    common = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
    with _keep_sigterm_handler():
        _init(ray, settings, workers, common)
    return True


def start_ray_with_reaper(settings: BatchSettings, workers: int):
    """:func:`start_ray`, plus for an embedded Ray the watchdog that ends what it would leave
    if this process were killed (see :mod:`.reaper`). Returns (started Ray, the watchdog or None)."""
    from .reaper import start_reaper

    if not start_ray(settings, workers):
        return False, None
    if settings.ray_address:
        return True, None  # joined a cluster: its nodes are not ours to end
    return True, start_reaper()


@contextmanager
def _keep_sigterm_handler():
    """ray.init installs a SIGTERM handler that exits at once; keep the caller's (the CLI's
    turns SIGTERM into the same clean stop as Ctrl-C: flush the finished rows, stop Ray)."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _init(ray, settings: BatchSettings, workers: int, common: dict) -> None:
    if settings.ray_address:
        try:
            ray.init(address=settings.ray_address, **common)
        except (ConnectionError, ValueError, RuntimeError, ray.exceptions.RayError) as e:
            hint = ("; is it running, and when it uses token authentication (Ray's default), "
                    "are RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or ~/.ray/auth_token) set?")
            raise ParameterError(f"--ray {settings.ray_address}: cannot join this Ray cluster "
                                 f"({_last_error_line(e)}){hint}") from None
    else:
        ray.init(address="local", num_cpus=workers * settings.options.threads,
                 include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                 _node_ip_address="127.0.0.1", **common)


class _Pool:
    """Analysis actors, each busy with at most one track; a dead one is replaced."""

    def __init__(self, worker_class, options: AnalysisOptions, size: int, report: BatchReport):
        import ray

        self.ray = ray
        self.remote = ray.remote(worker_class).options(
            num_cpus=options.threads, scheduling_strategy="SPREAD", max_restarts=0,
            max_task_retries=0, runtime_env={"env_vars": thread_env(options.threads)})
        self.options = options
        self.size = size
        self.report = report
        self.idle: deque = deque()
        self.starting: dict = {}  # ready() ref -> actor
        self.busy: dict = {}  # analyze() ref -> (task, actor, when it was sent: time.monotonic)
        self.where: dict = {}  # actor -> node id
        self.warnings: set = set()
        self.start_failures = 0
        self.waiting_since = time.monotonic()
        self.first_ready = None
        self.dispatching = False
        for _ in range(size):
            self.spawn()

    def spawn(self) -> None:
        actor = self.remote.remote(self.options)
        self.starting[actor.ready.remote()] = actor

    def replace(self, actor) -> None:
        self.where.pop(actor, None)
        self.ray.kill(actor, no_restart=True)
        self.spawn()

    def submit(self, task: TrackTask) -> None:
        actor = self.idle.popleft()
        self.busy[actor.analyze.remote(task.path)] = (task, actor, time.monotonic())

    def take(self, ref) -> tuple:
        """(task, actor) of a finished or abandoned ``analyze`` call, no longer in flight."""
        task, actor, _ = self.busy.pop(ref)
        return task, actor

    def overdue(self, limit_s: float) -> list:
        """The ``analyze`` calls in flight for longer than ``limit_s`` (none when it is 0)."""
        if not limit_s:
            return []
        now = time.monotonic()
        return [ref for ref, (_, _, sent) in self.busy.items() if now - sent > limit_s]

    def wait(self, timeout: float) -> list:
        refs = list(self.starting) + list(self.busy)
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        return ready

    def started(self, ref) -> None:
        """A worker answered ready(): idle it, or stop the batch when its models failed."""
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            if "error raised in its creation task" in str(e):  # an import or set-up error: deterministic
                raise SonoluxError(f"a batch worker cannot start ({_last_error_line(e)}); every Ray "
                                   "node needs sonolux with its batch extra, the same version as "
                                   "here") from None
            self.start_failures += 1
            if self.start_failures > 3 * self.size:
                raise SonoluxError(f"batch workers keep dying while starting ({_short(e)})") from None
            self.replace(actor)
            return
        if info["error"]:
            raise SonoluxError(info["error"])
        if info["version"] != __version__:
            raise SonoluxError(f"a batch worker on node {info['node_id']} runs sonolux "
                               f"{info['version']}, this driver {__version__}: install the same "
                               "version on every node")
        for w in info["warnings"]:
            if w not in self.warnings:
                self.warnings.add(w)
                print(f"sonolux: warning: {w}", file=sys.stderr)
        self.where[actor] = info["node_id"]
        self.report.worker_info.append(info)
        self.idle.append(actor)
        self.waiting_since = time.monotonic()
        self.first_ready = self.first_ready or self.waiting_since

    def may_dispatch(self) -> bool:
        """Whether tracks may go out: once every first worker answered (or START_GRACE_S
        after the first did), so the work spreads over all nodes rather than piling onto the
        worker that happened to load first."""
        if not self.dispatching and self.idle:
            self.dispatching = not self.starting or time.monotonic() - self.first_ready > START_GRACE_S
        return self.dispatching

    def check_progress(self) -> None:
        if self.starting and not self.idle and not self.busy and \
                time.monotonic() - self.waiting_since > START_TIMEOUT_S:
            resources = self.ray.available_resources()
            raise SonoluxError(f"no batch worker could start within {START_TIMEOUT_S:.0f} s; each "
                               f"needs {self.options.threads} CPU and the cluster has "
                               f"{resources.get('CPU', 0):g} free")

    def close(self) -> None:
        for actor in list(self.idle) + [a for _, a, _ in self.busy.values()] + list(self.starting.values()):
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:
                pass


def run_batch(settings: BatchSettings, *, worker_class=AnalysisWorker) -> BatchReport:
    """Analyse every track of ``settings.sources`` into the catalogue ``settings.out_dir``.

    >>> report = run_batch(BatchSettings(["~/Music"], "catalogue", workers=2))  # doctest: +SKIP
    >>> report.ok, report.failed, report.skipped  # doctest: +SKIP
    (312, 2, 0)

    ``worker_class`` is the callable class each actor runs (a subclass of AnalysisWorker).
    """
    from tqdm import tqdm

    start = time.perf_counter()
    options = resolve_model_dir(settings.options)
    version = analysis_version(options)
    paths = find_tracks(settings.sources)  # a wrong source fails before DIR is created
    if not paths:
        raise ParameterError(f"no audio files in {', '.join(map(str, settings.sources))} (folders "
                             "and globs contribute files with an audio suffix: .wav, .flac, .mp3, …)")
    store = CatalogueStore(settings.out_dir)
    with store.lock():
        report = BatchReport(found=len(paths), version=version)
        with tqdm(total=len(paths), desc="checking", unit="file", leave=False, file=sys.stderr,
                  disable=not settings.progress or len(paths) < 200) as bar:
            done = store.done()
            todo, skipped, early = plan(paths, done, version, settings, bar)
        report.skipped = len(skipped)
        report.skipped_failed = sum(done[t.path].status != "ok" for t in skipped)
        buffer = BatchBuffer(store, settings.batch_size)
        for task, error in early:
            _record_failure(report, buffer, failed_row(task, version, error))
        if todo:
            _analyse(settings, options, version, todo, buffer, report, worker_class)
        buffer.flush()
        report.parts = buffer.parts_written
    report.seconds = time.perf_counter() - start
    return report


def _record_failure(report: BatchReport, buffer: BatchBuffer, row: dict) -> None:
    report.failed += 1
    report.failures.append((row["path"], row["error"]))
    buffer.add(row, [])


def _analyse(settings, options, version, todo, buffer, report, worker_class) -> None:
    from tqdm import tqdm

    wanted = settings.workers or max(1, (os.cpu_count() or 1) // options.threads)
    started_ray, reaper = start_ray_with_reaper(settings, wanted)
    import ray

    pool = None
    try:
        capacity = max(1, int(ray.cluster_resources().get("CPU", 0) // options.threads))
        workers = settings.workers or capacity
        if workers > capacity:
            print(f"sonolux: warning: {workers} workers asked for, the Ray cluster has room for "
                  f"{capacity}; using {capacity}", file=sys.stderr)
            workers = capacity
        report.workers = workers = min(workers, len(todo))
        pool = _Pool(worker_class, options, workers, report)
        pending = deque(todo)
        with tqdm(total=len(todo), desc="analysing", unit="track", file=sys.stderr,
                  disable=not settings.progress, dynamic_ncols=True) as bar:
            while pending or pool.busy:
                while pool.idle and pending and pool.may_dispatch():
                    task = pending.popleft()
                    pool.submit(replace(task, attempts=task.attempts + 1))
                for ref in pool.wait(timeout=1.0):
                    if ref in pool.starting:
                        pool.started(ref)
                        continue
                    if _finished(ref, pool, pending, buffer, report, version, settings.retries):
                        bar.update(1)
                        bar.set_postfix(failed=report.failed, refresh=False)
                for ref in pool.overdue(settings.track_timeout_s):
                    _timed_out(ref, pool, buffer, report, version, settings.track_timeout_s)
                    bar.update(1)
                buffer.flush_if_due()
                pool.check_progress()
    finally:
        buffer.flush()  # whatever finished is kept, even on Ctrl-C or an error
        if pool is not None:
            pool.close()
        if started_ray:
            ray.shutdown()
        if reaper is not None:
            reaper.terminate()  # a normal end: Ray stopped its own processes
            reaper.wait()


def _timed_out(ref, pool: _Pool, buffer: BatchBuffer, report: BatchReport, version: str,
               limit_s: float) -> None:
    """A track that is still running after ``--track-timeout`` (a stalled network mount, a
    decoder caught in a loop): stop its worker, start a fresh one, record the track as failed.
    Not retried: a hang is most often the file's own; ``--retry-failed`` with a longer
    timeout tries again."""
    task, actor = pool.take(ref)
    node = pool.where.get(actor)
    pool.replace(actor)
    _record_failure(report, buffer, failed_row(
        task, version, f"{task.path}: not finished after {limit_s:g} s (--track-timeout); its "
                       "worker was stopped", node_id=node))


def _finished(ref, pool: _Pool, pending: deque, buffer: BatchBuffer, report: BatchReport,
              version: str, retries: int) -> bool:
    """Handle one track's outcome; False when it goes back into the queue for another try."""
    ray = pool.ray
    task, actor = pool.take(ref)
    try:
        result = ray.get(ref)
    except ray.exceptions.RayActorError as e:
        node = pool.where.get(actor)
        pool.replace(actor)
        if task.attempts <= retries:
            pending.appendleft(task)
            return False
        _record_failure(report, buffer, failed_row(
            task, version, f"{task.path}: the worker analysing it died {task.attempts} times "
                           f"(last: {_short(e)})", node_id=node))
        return True
    except ray.exceptions.RayError as e:
        pool.idle.append(actor)
        _record_failure(report, buffer, failed_row(task, version, f"{task.path}: {_short(e)}",
                                                   node_id=pool.where.get(actor)))
        return True
    pool.idle.append(actor)
    row, timeline = track_rows(task, version, result)
    report.nodes.add(row["node_id"])
    if row["status"] == "ok":
        report.ok += 1
        buffer.add(row, timeline)
    else:
        _record_failure(report, buffer, row)
    return True
