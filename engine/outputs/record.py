"""Crash-safe recording of a show: the FeatureFrame stream (and optionally the input audio),
so a gig can be analysed or replayed afterwards.

Layout of a recording folder:

* ``meta.json`` — the frame layout (column names, vector sizes, labels), stream spec, start
  time; written atomically before the first frame.
* ``frames.sfr`` — append-only chunks, one per second: ``b"SLXF"``, rows, columns, CRC-32,
  then rows × columns float64 (``t``, ``seq``, scalars, vector entries).
* ``audio.sfa`` (``--record-audio``) — the same chunking, float32 mono samples.

The analysis thread only copies a row into a preallocated chunk buffer (no allocation, no
I/O); a writer thread appends each full chunk, flushes and fsyncs it. After a crash or a
``kill -9`` every chunk written before is intact; a chunk cut off mid-write is detected by
its length and CRC and reported, never mistaken for data.
"""
from __future__ import annotations

import json
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AudioFileError, SonoluxError

FRAME_MAGIC, AUDIO_MAGIC = b"SLXF", b"SLXA"
HEADER = struct.Struct("<4sIII")  # magic, rows, columns, crc32 of the payload
FORMAT_VERSION = 1


def layout_columns(layout) -> list[str]:
    cols = ["t", "seq", *layout.scalars]
    for name, size in layout.vectors.items():
        cols += [f"{name}[{i}]" for i in range(size)]
    return cols


class _ChunkFile:
    """Double-buffered chunk appender: ``put`` on the producer thread, I/O on a writer thread."""

    def __init__(self, path: Path, magic: bytes, rows: int, cols: int, dtype):
        self.path, self.magic, self.cols = path, magic, cols
        self._bufs = [np.zeros((rows, cols), dtype=dtype) for _ in range(2)]
        self._cur = 0
        self._fill = 0
        self._pending: tuple | None = None  # (buffer index, rows) handed to the writer
        self.dropped_chunks = 0
        self.chunks = 0
        self._fh = open(path, "ab", buffering=0)

    def row(self) -> np.ndarray | None:
        """The next row to fill (None when the buffer is full and the writer is still busy)."""
        buf = self._bufs[self._cur]
        if self._fill == buf.shape[0]:
            if self._pending is not None:
                self.dropped_chunks += 1  # the disk is too slow: lose a chunk, not the show
                self._fill = 0
            else:
                self._pending = (self._cur, self._fill)
                self._cur ^= 1
                self._fill = 0
                buf = self._bufs[self._cur]
        r = buf[self._fill]
        self._fill += 1
        return r

    @property
    def has_pending(self) -> bool:
        return self._pending is not None

    def write_pending(self) -> bool:
        p = self._pending
        if p is None:
            return False
        self._write(self._bufs[p[0]][:p[1]])
        self._pending = None
        return True

    def _write(self, rows: np.ndarray) -> None:
        if rows.shape[0] == 0:
            return
        payload = np.ascontiguousarray(rows).tobytes()
        self._fh.write(HEADER.pack(self.magic, rows.shape[0], self.cols, zlib.crc32(payload)) + payload)
        os.fsync(self._fh.fileno())
        self.chunks += 1

    def close(self) -> None:
        """Write what is pending and the partial buffer (producer stopped), then close."""
        self.write_pending()
        self._write(self._bufs[self._cur][:self._fill])
        self._fill = 0
        self._fh.close()


class Recorder:
    """Records frames (and audio) of one run into ``folder``; see the module docstring."""

    def __init__(self, folder, layout, spec, *, audio: bool = False, chunk_s: float = 1.0):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SonoluxError(f"--record {self.folder}: cannot create the folder ({e.strerror})") from None
        if (self.folder / "frames.sfr").exists():
            raise SonoluxError(f"--record {self.folder}: already holds a recording; choose a new folder")
        self.columns = layout_columns(layout)
        self._scalars = len(layout.scalars)
        rows = max(1, int(round(chunk_s * spec.frame_rate)))
        meta = {"format": "sonolux-recording", "version": FORMAT_VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "sample_rate": spec.sample_rate, "hop": spec.hop, "n_fft": spec.n_fft,
                "block_size": spec.block_size, "columns": self.columns,
                "scalars": list(layout.scalars), "vectors": dict(layout.vectors),
                "labels": layout.labels, "audio": audio, "chunk_s": chunk_s}
        tmp = self.folder / "meta.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, self.folder / "meta.json")
        self._frames = _ChunkFile(self.folder / "frames.sfr", FRAME_MAGIC, rows, len(self.columns), np.float64)
        self._audio = (_ChunkFile(self.folder / "audio.sfa", AUDIO_MAGIC, rows, spec.hop, np.float32)
                       if audio else None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sonolux-recorder", daemon=True)
        self._thread.start()
        self.frames = 0

    def capture(self, frame, hop_samples) -> None:
        """Called on the analysis thread after each hop: copies, never blocks."""
        if self._audio is not None:  # audio first: a pending frame chunk implies its audio chunk
            self._audio.row()[:] = hop_samples
        r = self._frames.row()
        r[0] = frame.t
        r[1] = frame.seq
        n = self._scalars
        r[2:2 + n] = frame.values
        i = 2 + n
        for v in frame.vectors.values():
            r[i:i + v.shape[0]] = v
            i += v.shape[0]
        self.frames += 1

    @property
    def dropped_chunks(self) -> int:
        return self._frames.dropped_chunks + (self._audio.dropped_chunks if self._audio else 0)

    def _run(self) -> None:
        """Writes a second's audio before its frames, so a kill between the two writes leaves
        at most extra audio (which the reader sets aside), never frames without their audio."""
        while not self._stop.is_set():
            if not self._frames.has_pending:
                self._stop.wait(0.02)
                continue
            if self._audio is not None:
                self._audio.write_pending()
            self._frames.write_pending()

    def close(self) -> None:
        """Stop the writer and flush everything (call after the analysis has stopped)."""
        self._stop.set()
        self._thread.join(5.0)
        if self._audio is not None:
            self._audio.close()
        self._frames.close()


# -- reading ---------------------------------------------------------------------------------

@dataclass
class Recording:
    folder: Path
    meta: dict
    frames: np.ndarray  # (n, columns)
    audio: np.ndarray | None
    problems: list = field(default_factory=list)

    @property
    def t(self) -> np.ndarray:
        return self.frames[:, 0]

    def column(self, name: str) -> np.ndarray:
        return self.frames[:, self.meta["columns"].index(name)]

    def summary(self) -> dict:
        t = self.t
        return {"folder": str(self.folder), "created": self.meta.get("created"),
                "frames": int(self.frames.shape[0]),
                "duration_s": round(float(t[-1] - t[0] + self.meta["hop"] / self.meta["sample_rate"]), 3) if t.size else 0.0,
                "last_t": round(float(t[-1]), 4) if t.size else None,
                "audio_s": round(self.audio.size / self.meta["sample_rate"], 3) if self.audio is not None else None,
                "columns": len(self.meta["columns"]), "problems": self.problems}


def _read_chunks(path: Path, magic: bytes, cols: int, dtype, problems: list) -> np.ndarray:
    data = path.read_bytes()
    pos, rows, k = 0, [], 0
    item = np.dtype(dtype).itemsize
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            problems.append(f"{path.name}: chunk {k} cut off in its header ({len(data) - pos} bytes)")
            break
        m, n, c, crc = HEADER.unpack_from(data, pos)
        size = n * c * item
        if m != magic or c != cols:
            problems.append(f"{path.name}: chunk {k} at byte {pos} is damaged (bad header); the rest is skipped")
            break
        payload = data[pos + HEADER.size:pos + HEADER.size + size]
        if len(payload) < size:
            problems.append(f"{path.name}: chunk {k} cut off after {len(payload)} of {size} bytes "
                            "(the recording stopped while writing it)")
            break
        if zlib.crc32(payload) != crc:
            problems.append(f"{path.name}: chunk {k} fails its checksum; skipped")
        else:
            rows.append(np.frombuffer(payload, dtype=dtype).reshape(n, c))
        pos += HEADER.size + size
        k += 1
    return np.concatenate(rows) if rows else np.zeros((0, cols), dtype=dtype)


def read_recording(folder) -> Recording:
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        raise AudioFileError(f"{folder}: not a sonolux recording (no meta.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise AudioFileError(f"{meta_path}: damaged ({e})") from None
    if meta.get("format") != "sonolux-recording":
        raise AudioFileError(f"{meta_path}: not a sonolux recording")
    problems: list = []
    fpath = folder / "frames.sfr"
    frames = (_read_chunks(fpath, FRAME_MAGIC, len(meta["columns"]), np.float64, problems)
              if fpath.exists() else np.zeros((0, len(meta["columns"]))))
    if not fpath.exists():
        problems.append("frames.sfr is missing")
    audio = None
    apath = folder / "audio.sfa"
    if meta.get("audio") and apath.exists():
        audio = _read_chunks(apath, AUDIO_MAGIC, meta["hop"], np.float32, problems).ravel()
        extra = audio.size - frames.shape[0] * meta["hop"]
        if extra > 0:  # killed between a second's audio write and its frames write
            problems.append(f"audio.sfa: {extra / meta['sample_rate']:.3f} s of audio past the last frame "
                            "chunk (the recording stopped between the two writes); not read")
            audio = audio[:frames.shape[0] * meta["hop"]]
    return Recording(folder, meta, frames, audio, problems)
