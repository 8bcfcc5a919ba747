"""Run FILE through the same analysis as the live engine, as fast as possible, and print
tempo, beats, onsets (and, where models are installed, mood and tags). --json prints the
document described in docs/architecture.md."""
from __future__ import annotations

import sys
from .. import options


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="analyse an audio file through the live path", description=__doc__)
    p.add_argument("file", metavar="FILE", help="audio file (anything soundfile reads)")
    p.add_argument("--json", action="store_true", help="print the full JSON document")
    p.add_argument("--output", "-o", default=None, metavar="PATH",
                   help="write the JSON document to PATH (atomically) instead of printing it")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar (it shows on stderr for inputs longer than a few seconds)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="draw waveform, energy, z-coefficients with their bands, valence/arousal and "
                        "the labelled emotion regions on one timeline")
    options.add_stream_options(p)
    options.add_show_options(p, live=False)
    options.add_model_options(p, offline=True)


def models_while_kernels_load(args, spec, config):
    """(models, inference config) of ``args``, with onnxruntime opening the sessions in a
    second thread (it releases the GIL) while this thread loads the chain's Numba kernels
    (building an Analyzer loads them; the run's own Analyzer then finds them loaded): the
    two biggest start-up steps overlap, ~0.1 s less per run with models."""
    from concurrent.futures import ThreadPoolExecutor

    from ...analysis import Analyzer

    if args.no_models:
        return options.inference_setup(args)
    with ThreadPoolExecutor(1, thread_name_prefix="sonolux-models") as pool:
        loading = pool.submit(options.inference_setup, args)
        Analyzer(spec, config)
        return loading.result()


def run(args) -> int:
    from ...offline import run_analysis, write_document
    from ..startup import StartupNotice

    spec, config = options.stream_spec(args), options.analysis_config(args)
    with StartupNotice(quiet=args.quiet) as notice:  # a first run compiles the kernels: say so
        models, inference = models_while_kernels_load(args, spec, config)
        result = run_analysis(args.file, spec=spec, config=config, models=models, inference=inference,
                              progress=not args.quiet, on_first_block=notice.cancel)
    doc = result.doc
    note = doc["region_settings"]["judge_note"]
    if note and (args.region_judge or (args.region_judge is None and not args.no_models)):
        print(f"sonolux: warning: {note}", file=sys.stderr)  # --no-models alone: fixed fusion, as documented
    if doc["region_settings"]["placer_note"]:
        print(f"sonolux: warning: {doc['region_settings']['placer_note']}", file=sys.stderr)
    if args.plot:
        from ..plot import plot_analysis

        print(f"sonolux: plot written to {plot_analysis(result, args.plot)}", file=sys.stderr)
    if args.output:
        write_document(doc, args.output)
        print(f"sonolux: JSON written to {args.output}", file=sys.stderr)
        return 0
    if args.json:
        write_document(doc, sys.stdout)
        return 0
    t = doc["tempo"]
    print(f"{doc['file']}: {doc['duration_s']:.1f} s, tempo {t['bpm']:.1f} BPM "
          f"(confidence {t['confidence']:.2f}), {len(doc['beats'])} beats, {len(doc['onsets'])} onsets")
    if doc["emotion"]:
        e = doc["emotion"]
        print(f"mood: {e['quadrant']} (valence {e['valence']:+.2f}, arousal {e['arousal']:+.2f})")
    if doc["tags"]:
        top = sorted(doc["tags"].items(), key=lambda kv: -kv[1])[:5]
        print("tags: " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    return 0
