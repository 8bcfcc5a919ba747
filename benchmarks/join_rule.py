"""Why hard joins are judged gradual: the hard/gradual rule of the region placement, measured
on the development medleys (issue 17).

    nice -n 10 python benchmarks/join_rule.py [--data ../shared/data] [--cache /work/cache/regions]

When the fused cues decide a cut, :meth:`RegionStage.place_fade` compares the sharpest
step of the sound at the refined cut (mean log-mel spectrum ``region_step_window_s`` before
vs. after) with the whole change between the song before and the song after (their means
1.5–4.5 s either side): a step at least ``HARD_STEP_RATIO`` (1.0) of the change is a hard
join and keeps the step; a smaller one is taken for a crossfade and the cut goes to the
middle of a fitted ramp. This script replays the live region stage over the cached frames of
the development medleys (folds 0–1), records every placement — the step / change ratio, the
level (dB) of the song bodies and of the 0.5 s on either side of the join (a 4Q preview's own
fade-out or fade-in shows there), and where the step and the ramp would put the cut — matches
each to the nearest true join within 1.5 s, and reports per kind of join how often each rule
puts the cut within ±0.5 s: the current rule, other ratios (also on the spectra without
their mean over the bands — a fade lowers every band alike), the step always, the ramp
always; the joins the step placed and the rule did not, with their levels; how many
placements show a level dip of ``DIP_DB`` or more next to the step (a preview's fade) for
each kind of join and verdict. A few ratios are then replayed with the live stage
(``HARD_STEP_RATIO`` set) for the whole development F. ``--seeds 7,8`` adds 24 more medleys
of the same folds (another seed; analysed with the emotion model on first use) to the 24
of the benchmark's development set: one development set holds too few lost joins to judge a
rule by.

Writes ``benchmarks/results/join_rule.json`` (the committed run: ``--seeds 7,8``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402
from _common import machine, write_result  # noqa: E402

from sonolux import StreamSpec  # noqa: E402
from sonolux.analysis import AnalysisConfig  # noqa: E402
from sonolux.features import regions as R  # noqa: E402
from sonolux.features.hopring import mel_order, ring_order, window_mean  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **_):
        return x

DIP_DB = 6.0  # a level this far under the song body next to the step counts as a fade
RATIOS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, math.inf)  # 0: the step always; inf: the ramp always


def _mean(stage, feats, lo, hi):
    """Mean of the stage's ring rows (``feats``: its mel history or level) with times in [lo, hi)."""
    order, ts = np.zeros_like(stage._refine_buffers[0]), np.zeros_like(stage._refine_buffers[1])
    if feats is stage._mel_hist:  # a log-mel row's time is its window's centre
        n = mel_order(stage._level_t, stage._level_pos, stage._mel_shift_s, order, ts)
    else:
        n = ring_order(stage._level_t, stage._level_pos, order, ts)
    out = np.zeros(feats.shape[1])
    return out if window_mean(ts, feats, order, n, lo, hi, out) else out * np.nan


class Recorder:
    """Wraps ``RegionStage.place_fade``: records each placement and what the rule saw."""

    def __init__(self):
        self.rows, self.key = [], None
        self._orig = R.RegionStage.place_fade

    def __enter__(self):
        rec = self

        def place_fade(stage, t, t_step):
            out = rec._orig(stage, t, t_step)
            mel, lvl = stage._mel_hist, stage._level_db[:, None]
            g, w, s = R.FADE_GAP_S, R.FADE_WINDOW_S, stage.step_window_s
            before, after = _mean(stage, mel, t - g - w, t - g), _mean(stage, mel, t + g, t + g + w)
            a, b = _mean(stage, mel, t_step - s, t_step), _mean(stage, mel, t_step, t_step + s)
            change = float(np.sum((after - before) ** 2))
            step = float(np.sum((b - a) ** 2))
            # the same without each side's mean over the bands: a fade moves every band alike
            d_change, d_step = after - before, b - a
            shape_change = float(np.sum((d_change - d_change.mean()) ** 2))
            shape_step = float(np.sum((d_step - d_step.mean()) ** 2))
            saved = R.HARD_STEP_RATIO
            R.HARD_STEP_RATIO = math.inf
            try:
                ramp = rec._orig(stage, t, t_step)
            finally:
                R.HARD_STEP_RATIO = saved
            levels = [float(_mean(stage, lvl, lo, hi)[0]) for lo, hi in
                      ((t - g - w, t - g), (t_step - 0.5, t_step), (t_step, t_step + 0.5), (t + g, t + g + w))]
            rec.rows.append({"key": rec.key, "cue_t": t, "step_t": t_step, "placed_t": out, "ramp_t": ramp,
                             "ratio": math.sqrt(step / change) if change > 0 else math.nan,
                             "shape_ratio": math.sqrt(shape_step / shape_change) if shape_change > 0 else math.nan,
                             "level_db": levels})
            return out

        R.RegionStage.place_fade = place_fade
        return self

    def __exit__(self, *exc):
        R.RegionStage.place_fade = self._orig


def summarise(placements: list[dict]) -> dict:
    """Per kind of join: how each rule places the cuts the cues put within 1.5 s of a join."""
    def within(p, t):
        return abs(p[t] - p["join_t"]) <= S.TOLERANCE_S

    summary = {}
    for kind in ("hard", "crossfade"):
        ps = [p for p in placements if p["kind"] == kind]
        judged_gradual = [p for p in ps if p["placed_t"] != p["step_t"]]
        summary[kind] = {
            "cuts_within_1.5_s": len(ps),
            "judged_gradual": len(judged_gradual),
            "step_within_0.5_s": sum(within(p, "step_t") for p in ps),
            "ramp_within_0.5_s": sum(within(p, "ramp_t") for p in ps),
            "placed_within_0.5_s": sum(within(p, "placed_t") for p in ps),
            "judged_gradual_placed_within_0.5_s": sum(within(p, "placed_t") for p in judged_gradual),
            "judged_gradual_step_within_0.5_s": sum(within(p, "step_t") for p in judged_gradual),
            "ratio_median": round(float(np.nanmedian([p["ratio"] for p in ps])), 3) if ps else None,
            "shape_ratio_median": round(float(np.nanmedian([p["shape_ratio"] for p in ps])), 3) if ps else None,
            "by_rule": {str(r): sum(within(p, "step_t" if p["ratio"] >= r else "ramp_t") for p in ps)
                        for r in RATIOS},
            "by_shape_rule": {str(r): sum(within(p, "step_t" if p["shape_ratio"] >= r else "ramp_t") for p in ps)
                              for r in RATIOS},
            "judged_gradual_by_shape_rule": {str(r): sum(1 for p in ps if not p["shape_ratio"] >= r)
                                             for r in RATIOS},
        }
        # the level just before / after the step under the song body before / after it: a 4Q
        # preview's own fade-out or fade-in shows as a dip of several dB
        for judged, group in (("judged_gradual", judged_gradual), ("judged_hard", [p for p in ps if p not in judged_gradual])):
            dips = np.array([[p["level_db"][0] - p["level_db"][1], p["level_db"][3] - p["level_db"][2]] for p in group])
            summary[kind][f"level_dip_db_{judged}"] = {
                "median_before_after": [round(float(x), 1) for x in np.median(dips, 0)] if len(group) else None,
                f"dip_at_least_{DIP_DB}_db": int(np.sum(dips.max(1) >= DIP_DB)) if len(group) else 0}
        summary[kind]["step_right_rule_wrong"] = [
            {k: p[k] for k in ("key", "join_t", "step_t", "ramp_t", "ratio", "shape_ratio", "level_db")}
            for p in ps if within(p, "step_t") and not within(p, "placed_t")]
        summary[kind]["rule_right_step_wrong"] = sum(1 for p in ps if within(p, "placed_t") and not within(p, "step_t"))
    summary["both_kinds_by_rule"] = {r: summary["hard"]["by_rule"][r] + summary["crossfade"]["by_rule"][r]
                                     for r in summary["hard"]["by_rule"]}
    summary["both_kinds_by_shape_rule"] = {r: summary["hard"]["by_shape_rule"][r] + summary["crossfade"]["by_shape_rule"][r]
                                           for r in summary["hard"]["by_shape_rule"]}
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    D.add_data_args(ap, "analysed frames (frames/)")
    ap.add_argument("--seeds", default="7",
                    help="medley seeds, comma-separated (7: the benchmark's development medleys; others: more "
                         "medleys of the same folds 0-1, analysed with the emotion model and cached on first use)")
    ap.add_argument("--out", default=None, help="result JSON (default benchmarks/results/join_rule.json)")
    args = ap.parse_args(argv)
    data = D.data_folder(args)
    spec, config = StreamSpec(), AnalysisConfig()
    audio = D.AudioCache(data)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds {args.seeds!r}: comma-separated whole numbers, e.g. 7,8")
    models = {"emotion": None}  # the cached frames were analysed with it (the cache key's "m")
    if seeds != [7]:
        from sonolux.inference.runtime import InferenceConfig, load_models

        models = {k: v for k, v in load_models(InferenceConfig(device="cpu"))[0].items() if k == "emotion"}
    an = D.Analysed(Path(args.cache) / "frames", models, spec, config)
    dev = []
    for seed in seeds:
        for rec in tqdm(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=seed),
                        desc=f"medleys seed {seed}", file=sys.stderr):
            D.medley_truth(rec, audio)
            dev.append((rec, an.frames(rec)))

    # 1. every placement of the default live stage, matched to its join
    recorder = Recorder()
    with recorder:
        for rec, fr in tqdm(dev, desc="dev medleys", file=sys.stderr):
            recorder.key = rec.key
            S.replay(fr, spec, config.region_cues)
    truth = {rec.key: rec for rec, _ in dev}
    placements = []
    for row in recorder.rows:
        rec = truth[row["key"]]
        near = min(rec.bounds, key=lambda b: abs(b - row["cue_t"]))
        if abs(near - row["cue_t"]) > S.LOOSE_S:
            continue
        kind = "crossfade" if any(rec.meta["crossfade_s"]) else "hard"
        placements.append({**{k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()},
                           "level_db": [round(x, 1) for x in row["level_db"]],
                           "join_t": round(near, 3), "kind": kind})
    result = {"benchmark": "join_rule", "machine": machine(), "hard_step_ratio": R.HARD_STEP_RATIO,
              "development": {"folds": [0, 1], "medleys": len(dev), "seeds": seeds,
                              "joins": {k: sum(len(r.bounds) for r, _ in dev if (any(r.meta["crossfade_s"]) ==
                                                                                 (k == "crossfade")))
                                        for k in ("hard", "crossfade")}},
              "placements": placements}

    summary = summarise(placements)
    result["summary"] = summary
    print(json.dumps(summary, indent=1), file=sys.stderr)

    # 3. the live stage with other ratios (whole dev F: a placement moves the restart too)
    live = {}
    saved = R.HARD_STEP_RATIO
    for r in (0.7, 0.8, 1.0):
        R.HARD_STEP_RATIO = r
        tal = S.Tally()
        for rec, fr in tqdm(dev, desc=f"live ratio {r}", file=sys.stderr):
            regions, decisions, _ = S.replay(fr, spec, config.region_cues)
            tal.add_medley(rec, regions, decisions)
        b = tal.boundary()
        live[str(r)] = {k: b[k] for k in ("precision", "recall", "f", "recall_by_join", "median_error_ms_by_join")}
    R.HARD_STEP_RATIO = saved
    result["live_dev"] = live
    print(json.dumps(live, indent=1), file=sys.stderr)
    print(f"wrote {write_result('join_rule', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
