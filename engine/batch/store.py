"""The catalogue on disk: Parquet parts written atomically, batch by batch.

Layout of ``DIR``::

    DIR/tracks/part-<id>.parquet      one row per track of a batch
    DIR/timelines/part-<id>.parquet   the timeline windows of the same tracks

A part is written to a hidden temporary file, fsynced and renamed into place: readers (and a
rerun) see whole parts or nothing, so a kill loses at most the batch in flight. The timelines
part is renamed first and the tracks part commits the batch; a timelines part without its
tracks part (a kill between the two renames) is removed on the next open, as are temporary
files, so nothing is ever counted twice.
"""
from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from .rows import schemas

TRACKS = "tracks"
TIMELINES = "timelines"
PART_GLOB = "part-*.parquet"


@dataclass(frozen=True)
class Done:
    """What the catalogue already holds for a path (its newest row)."""

    size: int
    mtime_ns: int
    content_hash: str | None
    analysis_version: str
    status: str


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        pq.write_table(table, f, compression="zstd")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class CatalogueStore:
    """The Parquet parts under ``out_dir``; created when missing.

    >>> store = CatalogueStore("catalogue")  # doctest: +SKIP
    >>> store.write_part(track_rows, timeline_rows)  # doctest: +SKIP
    PosixPath('catalogue/tracks/part-20261203T051700-1234-00000.parquet')
    """

    def __init__(self, out_dir):
        self.root = Path(out_dir)
        if self.root.exists() and not self.root.is_dir():
            raise ParameterError(f"--out {out_dir}: exists and is not a folder")
        self.tracks_dir = self.root / TRACKS
        self.timelines_dir = self.root / TIMELINES
        try:
            self.tracks_dir.mkdir(parents=True, exist_ok=True)
            self.timelines_dir.mkdir(exist_ok=True)
        except OSError as e:
            raise ParameterError(f"--out {out_dir}: cannot create the catalogue folder ({e.strerror})") from None
        self._prefix = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        self._seq = 0

    @contextmanager
    def lock(self):
        """Hold the catalogue for one batch (a second batch into the same folder is refused;
        the kernel releases the lock when a killed batch dies), tidying up leftovers first."""
        import fcntl

        with open(self.root / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ParameterError(f"--out {self.root}: another sonolux batch is writing to "
                                     "this catalogue") from None
            self.remove_leftovers()
            yield self

    def remove_leftovers(self) -> list[Path]:
        """Delete temporary files and timelines parts whose batch never committed."""
        removed = [p for d in (self.tracks_dir, self.timelines_dir) for p in d.glob(".part-*.tmp")]
        committed = {p.name for p in self.tracks_dir.glob(PART_GLOB)}
        removed += [p for p in self.timelines_dir.glob(PART_GLOB) if p.name not in committed]
        for p in removed:
            p.unlink(missing_ok=True)
        return removed

    def track_parts(self) -> list[Path]:
        return sorted(self.tracks_dir.glob(PART_GLOB))

    def done(self) -> dict[str, Done]:
        """path → its newest row's identity and status, over every committed part."""
        import pyarrow.parquet as pq

        newest: dict[str, tuple] = {}
        columns = ["path", "size_bytes", "mtime_ns", "content_hash", "analysis_version", "status",
                   "analyzed_at"]
        for part in self.track_parts():
            try:
                table = pq.read_table(part, columns=columns)
            except Exception as e:
                raise ParameterError(f"{part}: cannot read this catalogue part ({e}); move it "
                                     "away to analyse its tracks again") from None
            for r in table.to_pylist():
                if r["path"] not in newest or r["analyzed_at"] >= newest[r["path"]][0]:
                    newest[r["path"]] = (r["analyzed_at"], Done(r["size_bytes"], r["mtime_ns"],
                                                                 r["content_hash"], r["analysis_version"],
                                                                 r["status"]))
        return {path: done for path, (_, done) in newest.items()}

    def write_part(self, track_rows: list[dict], timeline_rows: list[dict]) -> Path:
        """Commit one batch: its timelines part, then its tracks part (each atomic)."""
        import pyarrow as pa

        tracks_schema, timelines_schema = schemas()
        name = f"{self._prefix}-{self._seq:05d}.parquet"
        self._seq += 1
        _write_atomic(pa.Table.from_pylist(timeline_rows, schema=timelines_schema),
                      self.timelines_dir / name)
        _write_atomic(pa.Table.from_pylist(track_rows, schema=tracks_schema), self.tracks_dir / name)
        return self.tracks_dir / name


class BatchBuffer:
    """Rows waiting for their part: flushed every ``batch_size`` tracks or ``max_wait_s``
    seconds, whichever comes first, so the driver's memory stays flat and a kill loses little."""

    def __init__(self, store: CatalogueStore, batch_size: int = 16, max_wait_s: float = 30.0):
        self.store = store
        self.batch_size = max(1, batch_size)
        self.max_wait_s = max_wait_s
        self.tracks: list[dict] = []
        self.timelines: list[dict] = []
        self._since = time.monotonic()
        self.parts_written = 0

    def add(self, row: dict, timeline: list[dict]) -> None:
        if not self.tracks:
            self._since = time.monotonic()
        self.tracks.append(row)
        self.timelines.extend(timeline)
        if len(self.tracks) >= self.batch_size:
            self.flush()

    def flush_if_due(self) -> None:
        if self.tracks and time.monotonic() - self._since >= self.max_wait_s:
            self.flush()

    def flush(self) -> None:
        if self.tracks:
            self.store.write_part(self.tracks, self.timelines)
            self.parts_written += 1
            self.tracks, self.timelines = [], []
