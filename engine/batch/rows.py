"""The catalogue's two tables and how an ``analyze`` document becomes their rows.

``tracks``: one row per track (identity, status and error, where it ran, tempo, beats and
onsets, mood, quadrant probabilities, tags, regions and sections as nested lists). ``timelines``: one row
per inference window of each track (the ``timeline`` of the document). Both carry ``path``,
``content_hash``, ``analysis_version`` and ``analyzed_at``, which tie a window to its track.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

QUADRANT_MOODS = {"Q1": "happy", "Q2": "tense", "Q3": "sad", "Q4": "calm"}
TOP_TAGS = 5


@dataclass(frozen=True)
class TrackTask:
    """One track to analyse: where it is and what it is (its stat and content hash)."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    attempts: int = 0  # analyses started for it (more than one when a worker died)


def _schemas():
    import pyarrow as pa

    tags = pa.map_(pa.string(), pa.float64())
    region = pa.struct([("start", pa.float64()), ("end", pa.float64()),
                        ("label", pa.string()), ("quadrant", pa.string())])
    section = pa.struct([("t", pa.float64()), ("label", pa.string()), ("decided", pa.float64())])
    region_settings = pa.struct([("method", pa.string()), ("sensitivity", pa.float64()),
                                 ("min_s", pa.float64()), ("cues", pa.list_(pa.string())),
                                 ("judge", pa.bool_()), ("judge_note", pa.string()),
                                 ("placer", pa.bool_()), ("placer_note", pa.string()),
                                 ("join_net", pa.bool_()), ("place_choice", pa.bool_())])
    identity = [("path", pa.string()), ("content_hash", pa.string()),
                ("analysis_version", pa.string()), ("analyzed_at", pa.timestamp("us", tz="UTC"))]
    tracks = pa.schema(identity + [
        ("name", pa.string()), ("size_bytes", pa.int64()), ("mtime_ns", pa.int64()),
        ("status", pa.string()), ("error", pa.string()), ("attempts", pa.int32()),
        ("node_id", pa.string()), ("worker_pid", pa.int32()), ("analysis_s", pa.float64()),
        ("sample_rate", pa.int32()), ("duration_s", pa.float64()), ("frames", pa.int64()),
        ("bpm", pa.float64()), ("bpm_confidence", pa.float64()),
        ("n_beats", pa.int32()), ("n_onsets", pa.int32()),
        ("beats", pa.list_(pa.float64())), ("onsets", pa.list_(pa.float64())),
        ("mood", pa.string()), ("mood_confidence", pa.float64()), ("mood_fill", pa.float64()),
        ("quadrant", pa.string()),
        ("valence", pa.float64()), ("arousal", pa.float64()),
        ("p_q1", pa.float64()), ("p_q2", pa.float64()), ("p_q3", pa.float64()), ("p_q4", pa.float64()),
        ("top_tags", pa.list_(pa.string())), ("tags", tags),
        ("regions", pa.list_(region)), ("n_regions", pa.int32()),
        ("region_settings", region_settings),
        ("sections", pa.list_(section)), ("n_sections", pa.int32()),
    ])
    timelines = pa.schema(identity + [
        ("t", pa.float64()), ("valence", pa.float64()), ("arousal", pa.float64()),
        ("quadrant", pa.string()), ("confidence", pa.float64()), ("fill", pa.float64()),
        ("tags", tags), ("latent", pa.list_(pa.float64())),
    ])
    return tracks, timelines


def schemas():
    """(tracks schema, timelines schema) as pyarrow schemas (imports pyarrow on first use)."""
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = _schemas()
    return _SCHEMAS


_SCHEMAS = None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _identity(task: TrackTask, version: str, at: datetime) -> dict:
    return {"path": task.path, "content_hash": task.content_hash, "analysis_version": version,
            "analyzed_at": at}


def _base_row(task: TrackTask, version: str, status: str, error: str | None, *, node_id=None,
              pid=None, seconds=None) -> dict:
    return {**_identity(task, version, now_utc()), "name": Path(task.path).name,
            "size_bytes": task.size, "mtime_ns": task.mtime_ns, "status": status, "error": error,
            "attempts": task.attempts, "node_id": node_id, "worker_pid": pid, "analysis_s": seconds}


def failed_row(task: TrackTask, version: str, error: str, **where) -> dict:
    """The row of a track that could not be analysed: identity, where it was tried
    (``node_id``, ``pid``, ``seconds``), and why."""
    return _base_row(task, version, "failed", error, **where)


def track_rows(task: TrackTask, version: str, result: dict) -> tuple[dict, list[dict]]:
    """(tracks row, timeline rows) from a worker's result (see AnalysisWorker.analyze)."""
    if result["doc"] is None:
        return failed_row(task, version, result["error"], node_id=result["node_id"],
                          pid=result["pid"], seconds=result["seconds"]), []
    doc = result["doc"]
    row = _base_row(task, version, "ok", None, node_id=result["node_id"], pid=result["pid"],
                    seconds=result["seconds"])
    row.update(name=doc.get("name"), sample_rate=doc["sample_rate"],
               duration_s=doc["duration_s"], frames=doc.get("frames"),
               bpm=doc["tempo"]["bpm"], bpm_confidence=doc["tempo"]["confidence"],
               n_beats=len(doc["beats"]), n_onsets=len(doc["onsets"]),
               beats=doc["beats"], onsets=doc["onsets"],
               tags=list(doc["tags"].items()),
               top_tags=[k for k, _ in sorted(doc["tags"].items(), key=lambda kv: -kv[1])[:TOP_TAGS]],
               regions=doc["regions"], n_regions=len(doc["regions"]),
               region_settings=doc.get("region_settings"),
               sections=doc.get("sections", []), n_sections=len(doc.get("sections", [])))
    emotion = doc.get("emotion")
    if emotion:
        probs = emotion["probs"]
        row.update(mood=QUADRANT_MOODS[emotion["quadrant"]], quadrant=emotion["quadrant"],
                   mood_confidence=emotion.get("confidence", probs[emotion["quadrant"]]),
                   mood_fill=emotion.get("fill"), valence=emotion["valence"],
                   arousal=emotion["arousal"], **{f"p_{q.lower()}": p for q, p in probs.items()})
    identity = _identity(task, version, row["analyzed_at"])
    timeline = [{**identity, "t": w["t"], "valence": w.get("valence"), "arousal": w.get("arousal"),
                 "quadrant": w.get("quadrant"), "confidence": w.get("confidence"), "fill": w.get("fill"),
                 "tags": list(w["tags"].items()) if w.get("tags") is not None else None,
                 "latent": w.get("latent")} for w in doc["timeline"]]
    return row, timeline


def document_of(row: dict, timeline: list[dict]) -> dict:
    """The ``analyze`` document's keys rebuilt from a tracks row and its timeline rows (read
    back from Parquet): what a consumer of ``sonolux analyze --json`` would have had."""
    if row["status"] != "ok":
        raise ValueError(f"{row['path']}: no analysis in the catalogue ({row['error']})")
    emotion = None
    if row.get("quadrant"):
        emotion = {"valence": row["valence"], "arousal": row["arousal"], "quadrant": row["quadrant"],
                   "probs": {q: row[f"p_{q.lower()}"] for q in QUADRANT_MOODS},
                   "confidence": row["mood_confidence"], "fill": row["mood_fill"]}
    windows = []
    for w in sorted(timeline, key=lambda w: w["t"]):
        entry = {"t": w["t"]}
        if w["quadrant"] is not None or w["valence"] is not None:
            entry.update(valence=w["valence"], arousal=w["arousal"], quadrant=w["quadrant"],
                         confidence=w["confidence"], fill=w["fill"])
        if w["tags"] is not None:
            entry["tags"] = dict(w["tags"])
        if w["latent"] is not None:
            entry["latent"] = list(w["latent"])
        windows.append(entry)
    return {"file": row["path"], "sample_rate": row["sample_rate"], "duration_s": row["duration_s"],
            "tempo": {"bpm": row["bpm"], "confidence": row["bpm_confidence"]},
            "beats": list(row["beats"]), "onsets": list(row["onsets"]), "emotion": emotion,
            "tags": dict(row["tags"] or []), "timeline": windows, "regions": list(row["regions"]),
            "region_settings": row.get("region_settings"),
            "sections": list(row["sections"]),
            "frames": row["frames"], "name": row["name"]}
