"""``sonolux catalogue query DIR "CONDITION"`` (and ``catalogue columns DIR``): search a
catalogue made by ``sonolux batch`` with DuckDB; ``--m3u`` writes the matches as a playlist."""
from __future__ import annotations

import argparse
import csv
import json
import sys

from ...errors import ParameterError

QUERY_DESCRIPTION = """\
Search the tracks of a catalogue made by `sonolux batch`. CONDITION is an SQL condition on
the tracks table (DuckDB), e.g. "mood = 'calm' AND bpm BETWEEN 118 AND 126"; a whole
SELECT ... FROM tracks (or timelines) query works too. Without CONDITION every track is
listed. `sonolux catalogue columns DIR` lists the columns.

Useful columns: path, name, duration_s, bpm, bpm_confidence, mood (happy | tense | sad |
calm), mood_confidence, quadrant (Q1..Q4), valence, arousal, p_q1..p_q4, top_tags (list),
tags (map: tags['guitar']), regions (list of {start, end, label, quadrant}), status (ok |
failed), error."""

QUERY_EPILOG = """\
examples:
  sonolux catalogue query cat "mood = 'calm' AND bpm BETWEEN 118 AND 126"
  sonolux catalogue query cat "list_contains(top_tags, 'techno')" --order-by "bpm" --m3u techno.m3u
  sonolux catalogue query cat "status = 'failed'" --columns path,error
  sonolux catalogue query cat "SELECT mood, count(*) AS n, avg(bpm) FROM tracks GROUP BY mood\""""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("catalogue", help="search a catalogue made by `sonolux batch` (DuckDB), make playlists",
                              description="Search a catalogue made by `sonolux batch`.")
    sub = p.add_subparsers(dest="catalogue_command", metavar="SUBCOMMAND")
    q = sub.add_parser("query", help="tracks matching an SQL condition; --m3u writes a playlist",
                       description=QUERY_DESCRIPTION, epilog=QUERY_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("folder", metavar="DIR", help="the catalogue folder (`sonolux batch --out DIR`)")
    q.add_argument("condition", nargs="?", default=None, metavar="CONDITION",
                   help="SQL condition on the tracks, or a whole SELECT query")
    q.add_argument("--columns", "-c", default=None, metavar="A,B,...",
                   help="columns to show (default name,status,duration_s,bpm,mood,mood_confidence,top_tags; * for all)")
    q.add_argument("--order-by", default=None, metavar="EXPR", help="sort order, e.g. 'bpm DESC' (default path)")
    q.add_argument("--limit", type=int, default=None, metavar="N", help="at most N rows")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="output format (default table; json prints one object per line)")
    q.add_argument("--m3u", default=None, metavar="FILE",
                   help="write the matching tracks (status ok) as an extended M3U playlist, in order")
    c = sub.add_parser("columns", help="list the columns of the tracks and timelines tables",
                       description="List the columns (and their types) a query can use.")
    c.add_argument("folder", metavar="DIR", help="the catalogue folder")
    p.set_defaults(run=run)
    return p


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def print_rows(names, rows, fmt: str, out=None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        for r in rows:
            print(json.dumps(dict(zip(names, r)), default=str), file=out)
        return
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(names)
        w.writerows([_cell(v) for v in r] for r in rows)
        return
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [min(60, max([len(n)] + [len(c[i]) for c in cells])) for i, n in enumerate(names)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip(), file=out)
    for c in cells:
        print("  ".join(v[:w].ljust(w) for v, w in zip(c, widths)).rstrip(), file=out)


def run(args) -> int:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        raise ParameterError("`sonolux catalogue` needs duckdb: install the extra with "
                             "`pip install 'sonolux[batch]'`") from None
    from ...batch.catalogue import Catalogue, write_m3u

    if args.catalogue_command is None:
        print("usage: sonolux catalogue {query,columns} DIR (see sonolux catalogue --help)", file=sys.stderr)
        return 2
    cat = Catalogue(args.folder)
    try:
        if args.catalogue_command == "columns":
            for view in ("tracks", "timelines"):
                print(f"{view}:")
                for name, kind in cat.columns(view):
                    print(f"  {name:<18} {kind}")
            return 0
        if args.limit is not None and args.limit < 0:
            raise ParameterError(f"--limit={args.limit} must not be negative")
        if args.m3u:  # a playlist of what matched (analysed tracks only), in the query's order
            names, rows = cat.query(args.condition, columns=["path", "duration_s", "name"],
                                    order_by=args.order_by, limit=args.limit, only_ok=True)
            n = write_m3u(names, rows, args.m3u)
            print(f"sonolux: {n} tracks written to {args.m3u}", file=sys.stderr)
            return 0
        columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
        names, rows = cat.query(args.condition, columns=columns, order_by=args.order_by, limit=args.limit)
        print_rows(names, rows, args.format)
        return 0
    finally:
        cat.close()
