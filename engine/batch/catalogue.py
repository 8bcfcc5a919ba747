"""Searching a catalogue written by ``sonolux batch``: DuckDB over the Parquet parts, and
playlists (M3U) of what a query finds.

Two views: ``tracks`` (the newest row per path: a track analysed again after ``--force`` or a
change of content replaces its older row) and ``timelines`` (the windows of those rows).
A query is a condition on ``tracks`` (``"mood = 'calm' AND bpm BETWEEN 118 AND 126"``) or a
whole ``SELECT`` over both views. Errors name the unknown column and the ones that exist.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from ..errors import ParameterError
from .store import PART_GLOB, TIMELINES, TRACKS

DEFAULT_COLUMNS = ("name", "status", "duration_s", "bpm", "mood", "mood_confidence", "top_tags")
_UNKNOWN_COLUMN = re.compile(r'Referenced column "?([^"\s]+)"? not found')


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(error: Exception) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return lines[0] if lines else type(error).__name__


class Catalogue:
    """A catalogue folder opened for queries.

    >>> cat = Catalogue("catalogue")  # doctest: +SKIP
    >>> names, rows = cat.query("mood = 'calm' AND bpm BETWEEN 118 AND 126", columns=["path", "bpm"])  # doctest: +SKIP
    >>> write_m3u(*cat.query("mood = 'calm'", columns=["path", "duration_s", "name"]), "calm.m3u")  # doctest: +SKIP
    """

    def __init__(self, folder):
        import duckdb

        self.folder = Path(folder)
        tracks = self.folder / TRACKS
        if not any(tracks.glob(PART_GLOB)):
            raise ParameterError(f"{folder}: no catalogue here (no {TRACKS}/{PART_GLOB}); "
                                 f"make one with `sonolux batch MUSIC --out {folder}`")
        self.duckdb = duckdb
        self.con = duckdb.connect(":memory:")
        self.con.execute(
            "CREATE VIEW tracks AS SELECT * FROM read_parquet("
            f"{_sql_text(str(tracks / PART_GLOB))}, union_by_name = true) "
            "QUALIFY row_number() OVER (PARTITION BY path ORDER BY analyzed_at DESC) = 1")
        timelines = self.folder / TIMELINES
        if any(timelines.glob(PART_GLOB)):
            self.con.execute(
                "CREATE VIEW timelines AS SELECT * FROM read_parquet("
                f"{_sql_text(str(timelines / PART_GLOB))}, union_by_name = true) "
                "WHERE (path, analyzed_at) IN (SELECT path, analyzed_at FROM tracks)")
        else:
            from .rows import schemas

            self.con.register("timelines", schemas()[1].empty_table())

    def columns(self, view: str = "tracks") -> list[tuple[str, str]]:
        """(name, DuckDB type) of each column of ``view``."""
        return [(r[0], r[1]) for r in self.con.execute(f"DESCRIBE {view}").fetchall()]

    def sql(self, text: str) -> tuple[list[str], list[tuple]]:
        """Run one SELECT; errors become a ParameterError that names the problem."""
        try:
            cur = self.con.execute(text)
            return [d[0] for d in cur.description], cur.fetchall()
        except self.duckdb.BinderException as e:
            raise ParameterError(self._binder_message(e)) from None
        except self.duckdb.ParserException as e:
            raise ParameterError(f"query is not valid SQL: {_first_line(e)}") from None
        except self.duckdb.Error as e:
            raise ParameterError(f"query failed: {_first_line(e)}") from None

    def _binder_message(self, error: Exception) -> str:
        m = _UNKNOWN_COLUMN.search(str(error))
        if not m:
            return f"query failed: {_first_line(error)}"
        bad = m.group(1).split(".")[-1]
        names = [n for n, _ in self.columns()]
        close = difflib.get_close_matches(bad, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown column {bad!r} in the query{hint}; the columns are: {', '.join(names)}"

    def query(self, condition: str | None = None, *, columns=None, order_by: str | None = None,
              limit: int | None = None, only_ok: bool = False) -> tuple[list[str], list[tuple]]:
        """Rows of ``tracks`` matching ``condition`` (SQL), or the result of a whole
        ``SELECT``/``WITH`` query given as ``condition``."""
        text = (condition or "").strip()
        if re.match(r"(?is)^(select|with)\b", text):
            return self.sql(text)
        where = [f"({text})"] if text else []
        if only_ok:
            where.append("status = 'ok'")
        cols = ", ".join(columns or DEFAULT_COLUMNS)
        sql = f"SELECT {cols} FROM tracks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order_by}" if order_by else " ORDER BY path"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.sql(sql)

    def close(self) -> None:
        self.con.close()


def write_m3u(names: list[str], rows: list[tuple], out_path) -> int:
    """Write an extended M3U playlist of the rows' ``path`` (with ``duration_s`` and ``name``
    for the #EXTINF line when present), atomically. Returns the number of entries."""
    if "path" not in names:
        raise ParameterError("--m3u needs a 'path' column in the query's result")
    i_path = names.index("path")
    i_dur = names.index("duration_s") if "duration_s" in names else None
    i_name = names.index("name") if "name" in names else None
    lines = ["#EXTM3U"]
    for r in rows:
        duration = round(r[i_dur]) if i_dur is not None and r[i_dur] is not None else -1
        title = r[i_name] if i_name is not None and r[i_name] else Path(r[i_path]).stem
        lines += [f"#EXTINF:{duration},{title}", str(r[i_path])]
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        raise ParameterError(f"--m3u {out_path}: cannot write the playlist ({e.strerror})") from None
    return len(rows)
