"""Why hard joins are cut 0.5–4 s off, and what would place them: every decided cut near a
join on the development medleys, its placement re-done offline (issue 17).

    nice -n 10 python benchmarks/hard_join_placement.py [--data ../shared/data] [--cache /work/cache/regions] \\
        [--seeds 7,8,9,10,11,12,13,14] [--choose 7,8,9,10,11,12] [--out benchmarks/results/hard_join_placement.json]

Development folds only (0–1). The live stage runs with its defaults and the judge over the
dev medleys of ``--seeds`` (``fade_screen.capture``: at every decided cut the cue's cut
``t``, the refined step ``t_step``, what the stage placed and its ring of log-mel hops — only
audio heard before the decision, so every variant below is causal and adds no delay). Cuts
whose cue time lies within ``NEAR_S`` (4 s) of a join count; the truth is the join (a
crossfade's midpoint).

**Diagnosis** (``hard_placed_off``): each cut near a hard join that the stage placed more
than 0.5 s off, with the cue's error, the step's, the placement's, the step / change ratio
of the hard-join test, the join's own step (RMS over the bands of the log-mel means
``region_step_window_s`` after vs before it, the live refine's measure) against the sharpest
step within 0.15 s and 1 s of the cue, and one cause, the first that holds:

* ``judged gradual``: the refined step lies within 0.5 s of the join, but it is smaller than
  the whole change between the songs and the crossfade ramp moved the cut off;
* ``cue peak over 1 s off``: the cue's cut lies more than ``region_refine_wide_s`` (1 s) from
  the join, outside both refine windows;
* ``wide step under the ratio``: the join's step is the sharpest within 1 s of the cue but
  less than ``region_refine_wide_ratio`` (3) times the sharpest within 0.15 s;
* ``join not the sharpest``: a sharper step of the sound lies in the refine windows.

**Variants** (``variants``; within ±0.5 s per kind of join, on the ``--choose`` seeds and the
rest apart; ``by_seed_change_vs_live``: [hard, crossfade] joins gained per seed by a few of
them): the live placement (recomputed: the refine without its level step, then the
live hard-join test and ramp; checked against what the stage placed), the step or the ramp
always, the ceiling of any hard / gradual test (the step for hard joins, the ramp for
crossfades: the truth chooses), wider refine windows and other ratios, the sharpest step
within ±R on the bands that carry sound, the sharpest step of each hop's position between the
two songs (a two-segment change point along the direction the songs differ in), for gradual
joins a fit of the expected log-mel of a linear amplitude crossfade (its middle; alone and
averaged with the live ramp's), and a
broadband discontinuity: the hop where the most mel bands change by more than 1 dB (0.1 s
after vs before; ties to the larger RMS step) within ±4 s, taken when at least 90 % of the
bands do — on all 64 bands and on the bands that carry sound only.

**The clips' bandwidth** (``bandwidth``): the 4Q clips are 16 kHz recordings, so the mel
bands above 8 kHz hold nothing but the floor (``EMPTY_DB``); a hard join — a one-sample
splice — puts a click there. Per kind of join: how many bands are empty, and the share of the
empty bands and of the sounding ones that change by more than 1 dB at the broadband hop, and
the live step measure at the join on all bands over the same on the sounding bands (the
bands' count alone makes it about 0.9: sqrt(53 / 64) with 11 empty bands that do not move).

Committed runs (``benchmarks/results/``): ``hard_join_placement.json`` (the defaults: seeds
7–14, chosen on 7–12) and ``hard_join_placement_seeds15_20.json`` (``--seeds
15,16,17,18,19,20 --choose ""``: 144 more dev medleys, first analysed for this run).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402

import numpy as np  # noqa: E402

import fade_screen as FS  # noqa: E402
import segmentation as S  # noqa: E402

from sonolux.features import regions as R  # noqa: E402

NEAR_S = 4.0  # cuts whose cue time lies this close to a join are scored
JOIN_S = 0.03  # the join's own step: the sharpest within this of it
EMPTY_DB = -90.0  # a band whose mean over the ring stays under this carries no sound (floor -100 dB)
BROAD_S, BROAD_DB, BROAD_SHARE, BROAD_RADIUS_S = 0.1, 1.0, 0.9, 4.0
BY_SEED = ("crossfade model (least squares on the log-mel)", "mean of the crossfade model and the live ramp",
           "broadband discontinuity, all 64 bands")


def band_steps(mel: np.ndarray, w: int) -> np.ndarray:
    """(hops, bands): the mean of the ``w`` rows from each hop on minus the mean of the ``w``
    rows before it (NaN where the ring does not hold both)."""
    c = np.vstack([np.zeros(mel.shape[1]), np.cumsum(mel, 0)])
    out = np.full(mel.shape, np.nan)
    j = np.arange(w, len(mel) - w + 1)
    out[j] = ((c[j + w] - c[j]) - (c[j] - c[j - w])) / w
    return out


def argmax_within(s: np.ndarray, ts: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """(time, value) of the largest of ``s`` with ``lo <= ts <= hi``; (NaN, NaN) when none."""
    m = (ts >= lo) & (ts <= hi) & ~np.isnan(s)
    if not m.any():
        return np.nan, np.nan
    k = np.flatnonzero(m)[np.argmax(s[m])]
    return float(ts[k]), float(s[k])


def prepare(c: dict, pl: FS.Placer, hop_s: float) -> None:
    """The per-hop measures of one captured cut (in place)."""
    b = np.array(c["bounds"])
    c["join"] = float(b[np.argmin(abs(b - c["t"]))]) if len(b) else np.nan
    c["kind"] = "crossfade" if any(c["xf"]) else "hard"
    mel = c["mel"]
    c["sounding"] = mel.mean(0) > EMPTY_DB
    d = band_steps(mel, max(1, int(round(c["step_s"] / hop_s))))
    c["step"] = np.sqrt(np.mean(d * d, 1))  # the live refine's measure (all bands)
    ds = d[:, c["sounding"]]
    c["step_sounding"] = np.sqrt(np.mean(ds * ds, 1))
    db = np.abs(band_steps(mel, max(1, int(round(BROAD_S / hop_s))))) > BROAD_DB
    c["broad_all"], c["broad_sounding"] = db.mean(1), db[:, c["sounding"]].mean(1)
    c["broad_empty"] = db[:, ~c["sounding"]].mean(1) if (~c["sounding"]).any() else np.zeros(len(mel))
    c["ratio"] = pl.ratio(c)
    c["ramp"] = pl.fit(c, 1.0, after=0.5)  # the live window (region_fade_radius_s, region_fade_after_s)
    # each hop's position between the two songs (the ramp's projection, over the whole ring),
    # for the change-point variant; NaN where the ring does not hold both songs
    got = pl.positions(c, np.inf, "db", c["t"])
    pos = got[0] if got is not None else np.full(len(mel), np.nan)
    c["pos_step"] = np.abs(band_steps(pos[:, None], max(1, int(round(c["step_s"] / hop_s))))[:, 0])


def refine(c: dict, near: float, wide: float, ratio: float, key: str = "step") -> float:
    """The live refine's mel step (``regions.refine_cut`` without its level step)."""
    tn, sn = argmax_within(c[key], c["ts"], c["t"] - near, c["t"] + near)
    tw, sw = argmax_within(c[key], c["ts"], c["t"] - wide, c["t"] + wide)
    if tn != tn:
        return tw if tw == tw else c["t"]
    return tw if wide > near and sw >= ratio * sn else tn


def rule(pl: FS.Placer, c: dict, t_step: float) -> float:
    """The live hard-join test at ``t_step``: the step when hard, else the live ramp."""
    return t_step if pl.ratio({**c, "t_step": t_step}) >= R.HARD_STEP_RATIO else c["ramp"]


def broadband(c: dict, key: str) -> float:
    """The broadband-discontinuity variant (module doc) on ``broad_all`` or ``broad_sounding``."""
    s = c[key] + 1e-3 * c["step"]  # ties (every band changes) to the larger step
    t_b, _ = argmax_within(s, c["ts"], c["t"] - BROAD_RADIUS_S, c["t"] + BROAD_RADIUS_S)
    if t_b != t_b:
        return c["placed"]
    k = int(np.argmin(abs(c["ts"] - t_b)))
    return t_b if c[key][k] >= BROAD_SHARE else c["placed"]


def crossfade_model(c: dict, before: float = 1.0, after: float = 0.5, lengths=(1.0, 1.5, 2.0),
                    smooth: int = 17, stride: int = 4) -> float:
    """The middle of the linear amplitude crossfade (length in ``lengths``, middle within
    [t - ``before``, t + ``after``)) whose expected log-mel, 10 log10((1 - r)² A + r² B) with A
    and B the two songs' mean power (their mean log-mel 1.5–4.5 s either side), fits the hops'
    log-mel (averaged over ``smooth`` hops, every ``stride``-th) best in least squares, on the
    sounding bands; the live step when the join is judged hard."""
    if c["ratio"] >= R.HARD_STEP_RATIO:
        return c["t_step"]
    ts, mel, t = c["ts"], c["mel"][:, c["sounding"]], c["t"]
    bm, am = FS.song_masks(ts, t)
    a, b = mel[bm].mean(0), mel[am].mean(0)
    w = (ts >= t - before) & (ts < t + after)
    kernel = np.ones(smooth) / smooth
    x = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, mel[w])[::stride]
    tt = ts[w][::stride]
    pa, pb = 10.0 ** (a / 10.0), 10.0 ** (b / 10.0)
    best, best_m = np.inf, t
    for m in tt:
        for length in lengths:
            r = np.clip((tt - m) / length + 0.5, 0.0, 1.0)[:, None]
            sse = float(((x - 10.0 * np.log10((1 - r) ** 2 * pa + r ** 2 * pb + 1e-10)) ** 2).sum())
            if sse < best:
                best, best_m = sse, float(m)
    return best_m


def diagnose(c: dict, config) -> dict:
    ts, j, t = c["ts"], c["join"], c["t"]
    _, at_join = argmax_within(c["step"], ts, j - JOIN_S, j + JOIN_S)
    _, near = argmax_within(c["step"], ts, t - config.region_refine_s, t + config.region_refine_s)
    _, wide = argmax_within(c["step"], ts, t - config.region_refine_wide_s, t + config.region_refine_wide_s)
    if abs(c["t_step"] - j) <= S.TOLERANCE_S and c["ratio"] < R.HARD_STEP_RATIO:
        cause = "judged gradual"
    elif abs(t - j) > config.region_refine_wide_s:
        cause = "cue peak over 1 s off"
    elif at_join >= wide - 1e-9:
        cause = "wide step under the ratio"
    else:
        cause = "join not the sharpest"
    k = int(np.argmin(abs(ts - j)))

    def r(x):
        return None if x != x else round(float(x), 3)

    return {"seed": c["seed"], "medley": c.get("key"), "join_t": round(j, 3), "cause": cause,
            "cue_error_s": r(t - j), "step_error_s": r(c["t_step"] - j), "placed_error_s": r(c["placed"] - j),
            "step_over_change": r(c["ratio"]), "step_at_join_db": r(at_join), "sharpest_within_0_15_s_db": r(near),
            "sharpest_within_1_s_db": r(wide), "bands_changing_at_join_sounding": r(c["broad_sounding"][k]),
            "bands_changing_at_join_empty": r(c["broad_empty"][k])}


def bandwidth(cases: list[dict]) -> dict:
    """What the broadband hop holds, per kind of join (module doc)."""
    out = {}
    for kind in ("hard", "crossfade"):
        group = [c for c in cases if c["kind"] == kind]
        share_e, share_s, empty, steps = [], [], [], []
        for c in group:
            s = c["broad_all"] + 1e-3 * c["step"]
            t_b, _ = argmax_within(s, c["ts"], c["t"] - BROAD_RADIUS_S, c["t"] + BROAD_RADIUS_S)
            k = int(np.argmin(abs(c["ts"] - t_b)))
            _, all_ = argmax_within(c["step"], c["ts"], c["join"] - JOIN_S, c["join"] + JOIN_S)
            _, snd = argmax_within(c["step_sounding"], c["ts"], c["join"] - JOIN_S, c["join"] + JOIN_S)
            if all_ == all_ and snd > 0:
                steps.append(all_ / snd)
            share_e.append(c["broad_empty"][k])
            share_s.append(c["broad_sounding"][k])
            empty.append(int((~c["sounding"]).sum()))
        out[kind] = {"cuts": len(group), "empty_bands_median": float(np.median(empty)),
                     "at_the_broadband_hop_share_of_empty_bands_changing_median": round(float(np.median(share_e)), 3),
                     "share_of_sounding_bands_changing_median": round(float(np.median(share_s)), 3),
                     "step_at_the_join_all_bands_over_sounding_bands_median": round(float(np.median(steps)), 3),
                     "share_of_all_bands_changing_max": round(float(max(
                         argmax_within(c["broad_all"], c["ts"], c["t"] - BROAD_RADIUS_S, c["t"] + BROAD_RADIUS_S)[1]
                         for c in group)), 3)}
    return out


def variants(pl: FS.Placer, config) -> dict:
    near, wide, ratio = config.region_refine_s, config.region_refine_wide_s, config.region_refine_wide_ratio
    v = {"live (what the stage placed)": lambda c: c["placed"],
         "live, recomputed": lambda c: rule(pl, c, refine(c, near, wide, ratio)),
         "the step always": lambda c: c["t_step"], "the ramp always": lambda c: c["ramp"],
         "ceiling of a hard/gradual test (the truth chooses)":
             lambda c: c["t_step"] if c["kind"] == "hard" else c["ramp"]}
    for w in (1.0, 1.5, 2.0):
        for q in (1.5, 2.0, 3.0, 4.0):
            v[f"refine wide {w} s ratio {q}"] = lambda c, w=w, q=q: rule(pl, c, refine(c, near, w, q))
    for radius in (0.5, 1.0, 2.0):
        v[f"sharpest step of the sounding bands within {radius} s"] = (
            lambda c, radius=radius: rule(pl, c, refine(c, radius, 0.0, 1.0, "step_sounding")))
        v[f"sharpest change point between the songs within {radius} s"] = (
            lambda c, radius=radius: rule(pl, c, refine(c, radius, 0.0, 1.0, "pos_step")))
    v["crossfade model (least squares on the log-mel)"] = lambda c: c["model"]
    v["mean of the crossfade model and the live ramp"] = lambda c: 0.5 * (c["model"] + c["placed"])
    v["broadband discontinuity, all 64 bands"] = lambda c: broadband(c, "broad_all")
    v["broadband discontinuity, the sounding bands"] = lambda c: broadband(c, "broad_sounding")
    return v


def main(argv=None):
    args, choose = FS.seed_screen_args(argv, __doc__, "hard_join_placement", "the seeds a change would be chosen on")
    t0 = time.perf_counter()
    spec, config, cases, pl = FS.capture_defaults(args)
    cases = [c for c in cases if c["bounds"] and min(abs(b - c["t"]) for b in c["bounds"]) <= NEAR_S]
    for c in cases:
        prepare(c, pl, spec.hop_seconds)
        c["model"] = crossfade_model(c)
    parts = {"choose": [c for c in cases if c["seed"] in choose],
             "held_out": [c for c in cases if c["seed"] not in choose]}
    result = {"benchmark": "hard_join_placement", "machine": machine(), "seeds": args.seeds,
              "choose_seeds": sorted(choose), "medleys_each_seed": args.dev_medleys, "near_s": NEAR_S,
              "tolerance_s": S.TOLERANCE_S, "cuts_near_a_join": len(cases), "variants": {}}
    live = variants(pl, config)["live, recomputed"]
    result["live_check_within_25_ms"] = sum(abs(live(c) - c["placed"]) <= 0.025 for c in cases)
    off = [diagnose(c, config) for c in cases
           if c["kind"] == "hard" and abs(c["placed"] - c["join"]) > S.TOLERANCE_S]
    causes = {}
    for row in off:
        d = causes.setdefault(row["cause"], {"all": 0, "choose": 0, "held_out": 0})
        d["all"] += 1
        d["choose" if row["seed"] in choose else "held_out"] += 1
    result["hard_placed_off_causes"] = causes
    for name, fn in variants(pl, config).items():
        result["variants"][name] = {k: FS.score(v, fn, NEAR_S) for k, v in parts.items()}
        got = {k: (x["hard"]["within_0.5_s"], x["crossfade"]["within_0.5_s"])
               for k, x in result["variants"][name].items()}
        print(f"{name:60s} {got}", file=sys.stderr, flush=True)
    # joins within 0.5 s per seed (hard, crossfade), against the live placement
    result["by_seed_change_vs_live"] = {}
    vs = variants(pl, config)
    for name in BY_SEED:
        rows = {}
        for seed in args.seeds:
            got = [sum(abs(fn(c) - c["join"]) <= S.TOLERANCE_S for c in cases if c["seed"] == seed and c["kind"] == k)
                   for fn in (vs[name], vs["live (what the stage placed)"]) for k in ("hard", "crossfade")]
            rows[str(seed)] = [int(got[0] - got[2]), int(got[1] - got[3])]
        result["by_seed_change_vs_live"][name] = rows
    result["bandwidth"] = bandwidth(cases)
    result["hard_placed_off"] = off
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('hard_join_placement', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
