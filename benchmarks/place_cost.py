"""What placing a decided cut costs on the analysis thread: the hand rule against the learned place choice (issue 17).

    OMP_NUM_THREADS=1 python benchmarks/place_cost.py [--seeds 7] [--repeat 5] [--out benchmarks/results/place_cost.json]

Why: the place choice (``sonolux.features.placechoice``) computes six candidate times and 31
features for each, where the hand rule fitted one ramp; it runs on the hop a cut is decided (a
few times a minute), not on every hop, so it shows in the analysis hop's maximum, not its p99
(``latency.py``). Each cut of the development medleys of ``--seeds`` (cached frames, the live
stage with the judge and the shipped files) is placed both ways at the moment the stage decides
it, ``--repeat`` times each, the two in alternating order; the stage publishes the choice's
place, as live. Reported: p50 / p99 / max in ms of each, their ratio, the machine's load.
Python's cyclic collector is paused while a cut is timed: this script's heap holds every
medley's cached frames, and a full collection (20–47 ms here) landing inside one timed
placement put the collector's time, not the placement's, in the maximum.
"""
from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, single_thread, summary_ms, write_result  # noqa: E402

single_thread(("OMP_NUM_THREADS",))

import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402
from train_cut_placer import recorded  # noqa: E402

from sonolux.analysis import AnalysisConfig  # noqa: E402
from sonolux.features.regions import RegionStage  # noqa: E402


class TimedStage(RegionStage):
    """The live stage timing both placements of every cut it decides (into ``self.log``)."""

    repeat = 5

    def place_cut(self, t: float, t_step: float) -> float:
        if t <= 0:  # the stage's own warm-up call
            return super().place_cut(t, t_step)
        collecting = gc.isenabled()
        gc.disable()  # a full collection of this script's heap is no placement cost (module doc)
        try:
            for i in range(self.repeat):
                for choosing in ((False, True) if i % 2 == 0 else (True, False)):
                    self.choosing = choosing
                    t0 = time.perf_counter()
                    super().place_cut(t, t_step)
                    self.log.append((choosing, time.perf_counter() - t0))
        finally:
            if collecting:
                gc.enable()
        self.choosing = True
        return super().place_cut(t, t_step)


def main(argv=None):
    ap = D.screen_parser(__doc__, "place_cost", seeds="7")
    ap.add_argument("--repeat", type=int, default=5, help="placements of each cut each way (default %(default)s)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error(f"--repeat {args.repeat}: give 1 or more")
    data, spec, _, audio, models, an, tags, _ = D.setup(args)
    version = str(models["emotion"].contract.get("version"))
    TimedStage.repeat = args.repeat
    load_before = os.getloadavg()
    times = {False: [], True: []}
    for seed, _, _, recs in D.seed_medleys(data, audio, args.seeds, args.dev_medleys, song_disjoint=False):
        for rec, fr in D.analysed(recs, an, audio, f"dev medleys {seed}"):
            source = S.MarkSource(tags.of(rec), spec.hop_seconds, version)
            for choosing, dt in recorded(TimedStage, fr, spec, AnalysisConfig(), source):
                times[choosing].append(dt)
    if not times[True]:
        sys.exit("no cut was decided: nothing to time")
    rule, choice = summary_ms(times[False]), summary_ms(times[True])
    result = {"benchmark": "place_cost", "machine": machine(), "seeds": args.seeds, "repeat": args.repeat,
              "cuts": len(times[True]) // args.repeat, "hand_rule_ms": rule, "place_choice_ms": choice,
              "ratio_choice_over_rule": {k: round(choice[k] / rule[k], 2) for k in ("p50_ms", "p99_ms", "max_ms")},
              "load": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}
    D.log(f"hand rule {rule}, place choice {choice}")
    print(f"wrote {write_result('place_cost', result, args.out)}")


if __name__ == "__main__":
    main()
