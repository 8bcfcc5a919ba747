"""Screen the window the crossfade ramp is fitted over, development medleys only (issue 17).

    nice -n 10 python benchmarks/fade_window_screen.py [--data ../shared/data] [--cache /work/cache/regions] \
        [--seeds 7,8,9,10,11,12,13,14] [--out benchmarks/results/fade_window_screen.json]

``region_false_cuts.py`` found most false cuts on the dev medleys to be joins placed 0.5–1.5 s
off, most of them crossfades cut 0.5–1 s late. The live stage fits the ramp of a gradual join
to the hops within ``region_fade_radius_s`` (1 s) either side of the cue's cut; the cue's peak
of a crossfade comes late (its unequal windows), so the window reaches into the new song after
the fade. This screen records what ``RegionStage.place_fade`` sees at every decided cut (the
live stage with its defaults and the judge; ``fade_screen.capture``: only hops heard before the
decision, so every variant is causal and adds no delay) and places each cut again with the
ramp fitted from R1 s before the cue's cut to R2 s after it (the default before this screen:
1 / 1 s; after it ``region_fade_after_s`` 0.5 s) (the two songs' mean spectra and
the hard-join test as live). Per kind of join: cuts within 1.5 s of a join, within ±0.5 s,
median / p90 error; for the seeds that choose (7–12, ``--choose``) and the held-out ones
(13–14) apart. The cut count does not change (placement moves a decided cut only).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402


import fade_screen as FS  # noqa: E402

from sonolux.features import regions as R  # noqa: E402

BEFORE_S = (0.75, 1.0, 1.25, 1.5, 2.0)
AFTER_S = (0.25, 0.4, 0.5, 0.6, 0.75, 1.0)


def place(pl: FS.Placer, c: dict, before: float, after: float) -> float:
    """The live placement (``regions.fade_cut``) with the ramp window [t - before, t + after)."""
    return c["t_step"] if c["_ratio"] >= R.HARD_STEP_RATIO else pl.fit(c, before, after=after)


def main(argv=None):
    args, choose = FS.seed_screen_args(argv, __doc__, "fade_window_screen", "the seeds the window is chosen on")
    t0 = time.perf_counter()
    spec, config, cases, pl = FS.capture_defaults(args)
    for c in cases:
        c["_ratio"] = pl.ratio(c)
    result = {"benchmark": "fade_window_screen", "machine": machine(), "seeds": args.seeds,
              "choose_seeds": sorted(choose), "medleys_each_seed": args.dev_medleys, "cuts_recorded": len(cases),
              "live_check": {}, "variants": {}}
    parts = {"all": cases, "choose": [c for c in cases if c["seed"] in choose],
             "held_out": [c for c in cases if c["seed"] not in choose]}
    # the capture ran the stage with its defaults: the recomputation must give what it placed
    live = (config.region_fade_radius_s, config.region_fade_after_s)
    result["live_check"] = {"window": live, **{k: FS.score(v, lambda c: c["placed"]) == FS.score(
        v, lambda c: place(pl, c, *live)) for k, v in parts.items()}}
    for before in BEFORE_S:
        for after in AFTER_S:
            name = f"before {before} after {after}"
            result["variants"][name] = {k: FS.score(v, lambda c: place(pl, c, before, after))
                                        for k, v in parts.items()}

    def joins(v, part):
        return v[part]["hard"]["within_0.5_s"] + v[part]["crossfade"]["within_0.5_s"]

    best = max(result["variants"].items(), key=lambda kv: joins(kv[1], "choose"))
    result["best_on_choose_seeds"] = {"variant": best[0], **best[1]}
    for name, v in result["variants"].items():
        print(name, {k: (x["hard"]["within_0.5_s"], x["crossfade"]["within_0.5_s"]) for k, x in v.items()},
              file=sys.stderr)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('fade_window_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
