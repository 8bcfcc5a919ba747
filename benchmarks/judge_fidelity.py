"""Does the live cut judge see what it was trained on, and does the benchmark see the live chain?

    nice -n 10 python benchmarks/judge_fidelity.py [--data ../shared/data] [--cache /work/cache/regions] [--medleys 8]

Two checks on development medleys (folds 0–1, seed 7; nothing of the reporting folds):

1. **Features**: the judge was trained on ``fusion_screen.py``'s features (whole-recording
   arrays, block resolution); the region stage computes them live (``cutjudge.LiveJudge``).
   With a judge that drops every candidate (so neither side restarts the cues) both see the
   same candidates; the largest difference of each feature over them is reported.
2. **Bulk chain vs replay**: ``Analyzer.analyze`` with the shipped emotion model (its worker
   in step, as ``sonolux analyze`` runs it) against ``segmentation.py``'s replay of the
   cached frames with the tag sidecar's raw tags, the judge on: the region starts of both.

Result: ``benchmarks/results/judge_fidelity.json``.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import fusion_screen as F  # noqa: E402
import segmentation as S  # noqa: E402

from sonolux.analysis import Analyzer  # noqa: E402
from sonolux.features.cutjudge import FEATURES, LiveJudge, load_judge  # noqa: E402
from sonolux.features.regions import RegionStage  # noqa: E402
from sonolux.inference.runtime import InferenceConfig, make_inference  # noqa: E402


def recording_judge(out: list):
    """Make the region stage build a live judge that records each candidate's features into
    ``out`` and drops the candidate; returns the undo."""
    import sonolux.features.regions as R

    real = R.LiveJudge

    class Recorded(LiveJudge):
        def keep(self, cut, boundary_t, peak, start_block, start_t, fixed_threshold=math.inf):
            out.append(self.features(cut, boundary_t, peak, start_block, start_t).copy())
            return False

        def warm(self):
            super().warm()
            out.clear()  # warm-up's candidate is none of the recording's

    R.LiveJudge = Recorded
    return lambda: setattr(R, "LiveJudge", real)


def main(argv=None):
    ap = D.screen_parser(__doc__)
    ap.add_argument("--medleys", type=int, default=8, help="development medleys checked (seed 7)")
    args = ap.parse_args(argv)
    data, spec, config, audio, models, an, tags, t0 = D.setup(args)
    version = str(models["emotion"].contract.get("version"))
    shipped = load_judge(emotion_version=version)
    centre = {"raw": shipped.centre[0], "logit": shipped.centre[1]}
    recs = list(D.analysed(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=7)[:args.medleys],
                           an, audio, "dev medleys"))
    diffs, counts, chains, with_tags = [], [], [], 0
    for rec, fr in recs:
        r = F.Recording(rec, S.capture_cues(fr, spec), tags.of(rec), fr.mel, spec.hop_seconds)
        r.with_centre({**centre, "smooth": np.zeros_like(centre["raw"])}, r.cap["block_s"],
                      int(round(r.cap["block_s"] / spec.hop_seconds)))
        screen = []
        F.Judge(config, r.cap).run(r, shipped.low_threshold, lambda x: False, screen)
        live = []
        undo = recording_judge(live)
        try:
            S.replay(fr, spec, config.region_cues, tags=S.MarkSource(tags.of(rec), spec.hop_seconds, version))
        finally:
            undo()
        counts.append((len(screen), len(live)))
        diffs += [np.abs(x - y) for (x, _), y in zip(screen, live)]
        with_tags += sum(1 for y in live if y[FEATURES.index("tag_cos")] != 0)
        # the bulk chain with the shipped model and judge against the replay of its frames
        inf, worker = make_inference(models, InferenceConfig())
        a = Analyzer(spec, config, inference_stage=inf)
        a.analyze(rec.make(), after_hop=worker.poll)
        rs = a.find(RegionStage)
        bulk = [round(x["start"], 4) for x in rs.finish(fr.values.shape[0] * spec.hop_seconds)]
        regions, _, _ = S.replay(fr, spec, config.region_cues,
                                 tags=S.MarkSource(tags.of(rec), spec.hop_seconds, version))
        chains.append({"medley": rec.key, "judge_on": bool(rs.cues.judge_on), "analyze": bulk,
                       "replay": [round(x["start"], 4) for x in regions]})
    d = np.array(diffs)
    result = {"benchmark": "judge_fidelity", "machine": machine(), "medleys": len(recs),
              "features": {"candidates_screen_live": counts, "compared": len(d),
                           "candidates_with_a_tag_cue": with_tags,
                           "max_abs_diff": ({n: float(d[:, i].max()) for i, n in enumerate(FEATURES)}
                                            if len(d) else None)},
              "chain": {"equal": all(c["analyze"] == c["replay"] for c in chains), "medleys": chains},
              "wall_s": round(time.perf_counter() - t0, 1)}
    print(result["features"], "\nchain equal:", result["chain"]["equal"], file=sys.stderr)
    print(f"wrote {write_result('judge_fidelity', result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
