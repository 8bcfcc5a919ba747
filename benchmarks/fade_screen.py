"""Screen ways to place a crossfade's cut, development medleys only (issue 17).

    nice -n 10 python benchmarks/fade_screen.py [--data ../shared/data] [--cache /work/cache/regions] \
        [--seeds 7,8,9,10] [--out benchmarks/results/fade_screen.json]

The live stage places a gradual join at the middle of a ramp (0, a linear rise, 1) fitted to
each hop's position between the two songs (the projection of its log-mel spectrum on the
line between the mean log-mel spectra 1.5–4.5 s either side of the cue's cut), within
``region_fade_radius_s`` (1 s) of it (``RegionStage.place_fade``). This screen runs the live
stage with its defaults (the judge on) over dev medleys (folds 0–1, ``--seeds``), records at
every decided cut what ``place_fade`` sees — the cue's cut ``t``, the sharpest step
``t_step`` and the stage's ring of log-mel hops (only audio heard before the decision: every
variant is causal) — and places each cut near a join (within 1.5 s) again with:

- ``live``: what the stage placed (checked: ``db r1.0`` recomputes it);
- ``t_step`` / ``cue t``: the sharpest step, the cue's cut;
- ``db rR``: the live fit with radius R s;
- ``power rR``: each hop's mixing weights of the two songs' mean mel power spectra (least
  squares on band-normalised power; a linear crossfade in amplitude mixes power by (1-r)²,
  r², so the position is √wb / (√wa + √wb));
- ``cube-root rR``: the projection in cube-root power instead of dB;
- ``recentred db/power``: a second fit whose two songs are taken 1.5–4.5 s either side of the
  first fit's middle (the cue's cut can be off by up to a fade's half, so its windows can
  reach into the fade);
- ``ramp always`` / ``ramp if fitted ≥ L s``: the hard-join test (the step over
  ``region_step_window_s`` at least the whole change keeps ``t_step``) replaced by the
  fitted ramp's length;
- ``offset −0.1 s``: the gradual placements moved 0.1 s earlier (their signed median error
  is about +0.1 s).

Per kind of join (hard / crossfade): cuts near a join, within ±0.5 s, median and p90 error.
The truth of a crossfade is the fade's midpoint.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result  # noqa: E402

import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402

from sonolux import StreamSpec  # noqa: E402
from sonolux.analysis import AnalysisConfig  # noqa: E402
from sonolux.features import regions as R  # noqa: E402
from sonolux.features.hopring import ring_order  # noqa: E402


def capture(args, data, spec, config):
    audio = D.AudioCache(data)
    models, an, _ = D.emotion_caches(args, spec, config)
    mt = D.MarkTags(Path(args.cache), models, spec)
    version = str(models["emotion"].contract.get("version"))
    orig, cases, cur = R.RegionStage.place_fade, [], {}

    def recording(self, t, t_step):
        placed = orig(self, t, t_step)
        order = np.empty(self._level_t.shape[0], np.int64)
        ts = np.empty(self._level_t.shape[0])
        n = ring_order(self._level_t, self._level_pos, order, ts)
        if n > 100 and cur:
            cases.append({**cur, "t": t, "t_step": t_step, "placed": placed,
                          "ts": ts[:n] + self._mel_shift_s[0] - self._mel_shift_s[1],
                          "mel": self._mel_hist[order[:n]].astype(np.float64), "step_s": self.step_window_s,
                          "level_db": self._level_db[order[:n]].copy(), "key": cur.get("key")})
        return placed

    R.RegionStage.place_fade = recording
    try:
        for s in args.seeds:
            for rec, fr in D.analysed(D.medleys(data, audio, args.dev_medleys, folds=(0, 1), seed=s), an, audio,
                                      f"dev medleys {s}"):
                cur.clear()
                cur.update(seed=s, bounds=list(rec.bounds), xf=list(rec.meta["crossfade_s"]), key=rec.key)
                S.replay(fr, spec, config.region_cues, tags=S.MarkSource(mt.of(rec), spec.hop_seconds, version))
                cur.clear()
    finally:
        R.RegionStage.place_fade = orig
    return cases


def seed_screen_args(argv, doc: str, name: str, choose_help: str):
    """The command line of the screens over dev medley seeds that choose on some and hold the
    rest out (``fade_window_screen``, ``hard_join_placement``): (args — ``args.seeds`` a list —,
    the set of seeds chosen on)."""
    ap = D.screen_parser(doc, name, seeds="7,8,9,10,11,12,13,14")
    ap.add_argument("--choose", type=D.seed_list, default="7,8,9,10,11,12", help=choose_help)
    args = ap.parse_args(argv)
    return args, set(args.choose)


def capture_defaults(args):
    """(spec, config, captured cuts, a :class:`Placer`): the live stage with its defaults over
    ``args.seeds`` (:func:`capture`)."""
    spec, config = StreamSpec(), AnalysisConfig()
    return spec, config, capture(args, D.data_folder(args), spec, config), Placer(spec.hop_seconds)


def smoothed(pos, pt, smooth, stride):
    half, a, at = smooth // 2, [], []
    for j in range(0, len(pos), stride):
        lo, hi = max(0, j - half), min(len(pos), j + half + 1)
        a.append(pos[lo:hi].mean())
        at.append(pt[j])
    return np.array(a), np.array(at)


def ramp_fit(a, t, max_len):
    """(middle, length) of the least-squares ramp (as ``regions._ramp_middle``, with its length)."""
    idx, best = np.arange(len(a)), (np.inf, t[0], 0.0)
    for s in range(len(a)):
        for e in range(s, min(len(a), s + max_len)):
            r = np.where(idx < s, 0.0, np.where(idx < e, (idx - s + 0.5) / max(e - s, 1), 1.0))
            sse = float(((a - r) ** 2).sum())
            if sse < best[0]:
                best = (sse, 0.5 * (t[s] + t[e]) if e > s else t[s], t[e] - t[s])
    return best[1], best[2]


def song_masks(ts: np.ndarray, centre: float) -> tuple[np.ndarray, np.ndarray]:
    """The hops of the song before and of the song after ``centre``: 1.5–4.5 s either side
    (``FADE_GAP_S``, ``FADE_WINDOW_S``), as ``RegionStage.place_fade`` takes them."""
    return ((ts >= centre - R.FADE_GAP_S - R.FADE_WINDOW_S) & (ts < centre - R.FADE_GAP_S),
            (ts >= centre + R.FADE_GAP_S) & (ts < centre + R.FADE_GAP_S + R.FADE_WINDOW_S))


class Placer:
    def __init__(self, hop_s):
        self.smooth = max(1, int(round(R.FADE_SMOOTH_S / hop_s)))
        self.stride = R.FADE_STRIDE

    def positions(self, c, radius, mode, centre, after=None):
        """Each hop's position between the two songs, over [centre − radius, centre + after)
        (``after`` None: ``radius``)."""
        ts, mel = c["ts"], c["mel"]
        bm, am = song_masks(ts, centre)
        w = (ts >= centre - radius) & (ts < centre + (radius if after is None else after))
        if bm.sum() < 10 or am.sum() < 10 or w.sum() < 2:
            return None
        if mode == "db":
            before, after = mel[bm].mean(0), mel[am].mean(0)
            d = after - before
            return (mel[w] - before) @ d / (d @ d), ts[w]
        power = 10.0 ** (mel / 10.0)
        if mode == "cube-root":
            q = power ** (1 / 3)
            before, after = q[bm].mean(0), q[am].mean(0)
            d = after - before
            return (q[w] - before) @ d / (d @ d), ts[w]
        pa, pb = power[bm].mean(0), power[am].mean(0)
        norm = pa + pb
        coef = np.linalg.lstsq(np.stack([pa / norm, pb / norm], 1), (power[w] / norm).T, rcond=None)[0]
        ra, rb = np.sqrt(np.clip(coef[0], 0, None)), np.sqrt(np.clip(coef[1], 0, None))
        return np.where(ra + rb > 0, rb / np.maximum(ra + rb, 1e-12), 0.5), ts[w]

    def ratio(self, c):
        ts, mel, t, ts_ = c["ts"], c["mel"], c["t"], c["t_step"]
        bm, am = song_masks(ts, t)
        before, after = mel[bm].mean(0), mel[am].mean(0)
        sa = mel[(ts >= ts_ - c["step_s"]) & (ts < ts_)].mean(0)
        sb = mel[(ts >= ts_) & (ts < ts_ + c["step_s"])].mean(0)
        return float(np.sqrt(((sb - sa) ** 2).sum() / ((after - before) ** 2).sum()))

    def fit(self, c, radius=1.0, mode="db", centre=None, length=False, after=None):
        got = self.positions(c, radius, mode, c["t"] if centre is None else centre, after)
        if got is None:
            return (c["t_step"], 0.0) if length else c["t_step"]
        a, at = smoothed(*got, self.smooth, self.stride)
        hop = (got[1][-1] - got[1][0]) / (len(got[1]) - 1)
        max_len = max(1, int(R.FADE_MAX_S / (hop * self.stride)))
        if length:
            return ramp_fit(a, at, max_len)
        return float(R._ramp_middle(a, at, len(a), max_len))

    def place(self, c, radius=1.0, mode="db", hard_test=True):
        if hard_test and self.ratio(c) >= R.HARD_STEP_RATIO:
            return c["t_step"]
        return self.fit(c, radius, mode)

    def recentred(self, c, mode, radius=1.0):
        first = self.place(c, radius, mode)
        if first == c["t_step"] or abs(first - c["t"]) >= 2.0:
            return first
        return self.fit(c, 1.0, mode, centre=first)


def score(cases, fn, near: float = S.LOOSE_S) -> dict:
    """Per kind of join: the cuts whose cue time lies within ``near`` of a join, how many
    ``fn`` places within ±0.5 s of it, the median and p90 error."""
    errs = {"hard": [], "crossfade": []}
    for c in cases:
        b = np.array(c["bounds"])
        if not len(b):
            continue
        i = int(np.argmin(abs(b - c["t"])))
        if abs(b[i] - c["t"]) > near:
            continue
        errs["crossfade" if any(c["xf"]) else "hard"].append(abs(fn(c) - b[i]))
    out = {}
    for k, e in errs.items():
        e = np.array(e)
        out[k] = {"cuts_near_a_join": len(e), "within_0.5_s": int((e <= S.TOLERANCE_S).sum()),
                  "median_error_ms": round(float(np.median(e)) * 1000, 1) if len(e) else None,
                  "p90_error_ms": round(float(np.quantile(e, 0.9)) * 1000, 1) if len(e) else None}
    return out


def main(argv=None):
    args = D.screen_parser(__doc__, "fade_screen", seeds="7,8,9,10").parse_args(argv)
    t0 = time.perf_counter()
    spec, config, cases, pl = capture_defaults(args)
    for c in cases:
        c["_ramp"] = pl.fit(c, length=True)
        c["_ratio"] = pl.ratio(c)

    def ramp_if(lmin):
        return lambda c: c["_ramp"][0] if (c["_ratio"] < R.HARD_STEP_RATIO or c["_ramp"][1] >= lmin) else c["t_step"]

    variants = {"live": lambda c: c["placed"], "t_step": lambda c: c["t_step"], "cue t": lambda c: c["t"]}
    for r in (1.0, 1.5, 2.0):
        variants[f"db r{r}"] = lambda c, r=r: pl.place(c, r)
        variants[f"power r{r}"] = lambda c, r=r: pl.place(c, r, "power")
        variants[f"cube-root r{r}"] = lambda c, r=r: pl.place(c, r, "cube-root")
    for mode in ("db", "power"):
        for r in (1.0, 1.5):
            variants[f"recentred {mode} r{r}"] = lambda c, mode=mode, r=r: pl.recentred(c, mode, r)
    variants["ramp always"] = lambda c: c["_ramp"][0]
    for lmin in (0.5, 0.75, 1.0):
        variants[f"ramp if fitted >= {lmin} s"] = ramp_if(lmin)
    variants["offset -0.1 s"] = lambda c: c["placed"] - (0.1 if c["placed"] != c["t_step"] else 0.0)
    result = {"benchmark": "fade_screen", "machine": machine(), "seeds": args.seeds,
              "medleys_each_seed": args.dev_medleys, "cuts_recorded": len(cases),
              "variants": {}, "by_seed_live": {}}
    for name, fn in variants.items():
        result["variants"][name] = score(cases, fn)
        print(name, result["variants"][name], file=sys.stderr, flush=True)
    for s in args.seeds:
        result["by_seed_live"][str(s)] = score([c for c in cases if c["seed"] == s], variants["live"])
    signed = [c["placed"] - min(c["bounds"], key=lambda b: abs(b - c["t"])) for c in cases
              if any(c["xf"]) and c["bounds"] and min(abs(b - c["t"]) for b in c["bounds"]) <= S.LOOSE_S]
    result["crossfade_signed_error_s"] = {"median": round(float(np.median(signed)), 3),
                                          "q10": round(float(np.quantile(signed, 0.1)), 3),
                                          "q90": round(float(np.quantile(signed, 0.9)), 3)}
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"wrote {write_result('fade_screen', result, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
