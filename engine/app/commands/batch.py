"""``sonolux batch SOURCES... --out DIR``: analyse a whole library on Ray into a Parquet
catalogue (engine/batch/). Thin wiring: options in, a summary out."""
from __future__ import annotations

import argparse
import sys

from ...errors import ParameterError

DESCRIPTION = """\
Run every track of SOURCES (files, folders searched recursively, globs) through the same
analysis as `sonolux analyze` (models included) on Ray, and write the results to DIR as
Parquet: DIR/tracks (one row per track) and DIR/timelines (one row per inference window).
Rows are written atomically every --batch-size tracks, so a killed batch loses at most the
tracks in flight; a rerun skips tracks whose content and analysis version are already in DIR.
Unreadable, empty and oversized files are recorded with their error and the batch goes on.
Search the result with `sonolux catalogue query DIR`. Each worker reserves --model-threads
CPUs and runs onnxruntime and Numba with that many threads.

Exit status: 0 when every track is in the catalogue, 1 when some were recorded as failed,
2 on a usage error."""

EPILOG = """\
examples:
  sonolux batch ~/Music --out ~/catalogue                  # embedded Ray, one worker per core
  sonolux batch 'sets/**/*.flac' --out cat --workers 2     # a glob (quote it)
  sonolux batch /nfs/music --out /nfs/cat --ray 10.0.0.2:6379   # join a cluster (paths must
                                                           # be readable on every node)"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..options import add_analysis_knobs, add_model_options, add_stream_options, number_flag

    p = subparsers.add_parser("batch", help="analyse a music library on Ray into a Parquet catalogue",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="audio files, folders (searched recursively) or glob patterns")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="catalogue folder (created when missing)")
    g = p.add_argument_group("Ray")
    g.add_argument("--workers", "-w", type=number_flag("--workers", integer=True, positive=True), default=None, metavar="N",
                   help="analysis workers, each loading the models once (default: one per CPU of "
                        "this machine, or of the cluster with --ray)")
    g.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="join a running Ray cluster (HOST:PORT of its head, or ray://HOST:10001) "
                        "instead of starting an embedded one on this machine")
    g.add_argument("--retries", type=number_flag("--retries", integer=True, lo=0), default=2,
                   help="when a worker dies on a track, try the track this many more times on a "
                        "fresh worker before recording it as failed (default 2)")
    o = p.add_argument_group("catalogue")
    o.add_argument("--force", action="store_true",
                   help="analyse every track again, even when DIR already holds it")
    o.add_argument("--retry-failed", action="store_true",
                   help="analyse again the tracks DIR holds as failed (default: skip them)")
    o.add_argument("--batch-size", type=number_flag("--batch-size", integer=True, positive=True), default=16, metavar="N",
                   help="tracks per Parquet part; a kill loses at most this many (default 16)")
    o.add_argument("--max-size", type=number_flag("--max-size", positive=True), default=2048.0, metavar="MB",
                   help="record larger files as failed instead of reading them (default 2048)")
    o.add_argument("--max-duration", type=number_flag("--max-duration", positive=True), default=3600.0,
                   metavar="SECONDS", help="record longer tracks as failed (default 3600)")
    o.add_argument("--track-timeout", type=number_flag("--track-timeout", lo=0), default=600.0,
                   metavar="SECONDS", help="stop a track still being analysed after this long "
                                           "(a stalled mount, a decoder in a loop) and record it "
                                           "as failed; 0 = wait forever (default 600)")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_stream_options(p)
    add_analysis_knobs(p, live=False)
    add_model_options(p)
    p.set_defaults(run=run)
    return p


def _options(args):
    from ...batch.worker import AnalysisOptions
    from ...inference.runtime import InferenceConfig
    from ..options import analysis_config, stream_spec

    if not 0 < args.inference_every <= 30:
        raise ParameterError(f"--inference-every={args.inference_every} must be within 0..30 seconds")
    if args.model_threads < 1:
        raise ParameterError(f"--model-threads={args.model_threads} must be at least 1")
    spec, config = stream_spec(args), analysis_config(args)
    inference = InferenceConfig(model_dir=args.models, device=args.device, threads=args.model_threads,
                                every_s=args.inference_every, smoothing=args.smoothing)
    return AnalysisOptions(spec=spec, config=config, inference=inference,
                           use_models=not args.no_models, max_duration_s=args.max_duration)


def _require_extra() -> None:
    missing = []
    for module in ("ray", "pyarrow", "duckdb"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ParameterError(f"`sonolux batch` needs {', '.join(missing)}: install the extra with "
                             "`pip install 'sonolux[batch]'` (or `bash scripts/setup.sh --batch`)")


def run(args) -> int:
    from ...batch.runner import BatchSettings, run_batch

    _require_extra()
    settings = BatchSettings(sources=args.sources, out_dir=args.out, options=_options(args),
                             workers=args.workers, ray_address=args.ray, force=args.force,
                             retry_failed=args.retry_failed, retries=args.retries,
                             batch_size=args.batch_size, max_size_mb=args.max_size,
                             track_timeout_s=args.track_timeout, progress=not args.quiet)
    report = run_batch(settings)
    for path, error in report.failures[:20]:
        print(f"sonolux: failed: {error}", file=sys.stderr)
    if len(report.failures) > 20:
        print(f"sonolux: … and {len(report.failures) - 20} more failures "
              f"(`sonolux catalogue query {args.out} \"status = 'failed'\" --columns path,error`)",
              file=sys.stderr)
    rate = report.analysed / report.seconds * 60 if report.seconds else 0.0
    where = f" on {report.workers} worker(s), {len(report.nodes)} node(s)" if report.workers else ""
    print(f"sonolux: {report.found} tracks: {report.ok} analysed, {report.failed} failed, "
          f"{report.skipped} already in the catalogue"
          f"{f' ({report.skipped_failed} of them failed)' if report.skipped_failed else ''}; {report.seconds:.1f} s{where} "
          f"({rate:.1f} tracks/min); catalogue {args.out} (analysis {report.version})", file=sys.stderr)
    return 1 if report.failed else 0
