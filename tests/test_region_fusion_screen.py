"""The dev replay of the region fusion with a second judge (benchmarks/segmentation.fuse's
``decide``, used by benchmarks/fusion_screen.py): a judge that keeps every cut must give the
fusion's own cuts, one that drops them must give none and must not restart the cues, and
what the judge is shown must be the cues as fused."""
from __future__ import annotations

import math
import sys

import numpy as np

from conftest import ROOT
from sonolux import StreamSpec
from sonolux.analysis import AnalysisConfig

sys.path.insert(0, str(ROOT / "benchmarks"))
import _regionsdata as D  # noqa: E402
import segmentation as S  # noqa: E402


def _three_songs(spec: StreamSpec, rng) -> D.Frames:
    """Analysed frames of 3 × 25 s of different steady log-mel spectra (no model: quadrant 0)."""
    n_mels, per = 64, int(round(25.0 / spec.hop_seconds))
    shapes = [np.full(n_mels, -40.0), np.linspace(-70, -10, n_mels), np.linspace(-10, -70, n_mels)]
    mel = np.vstack([s + rng.normal(0, 2, (per, n_mels)) for s in shapes]).astype(np.float32)
    names = ["level_db", "quadrant", "prediction_id", "q1", "q2", "q3", "q4"]
    values = np.zeros((mel.shape[0], len(names)))
    values[:, 0] = -20.0
    return D.Frames(names, values, mel)


def _base():
    c = AnalysisConfig()
    return {"w_novelty": c.region_weights[0], "w_mood": c.region_weights[2], "threshold": c.region_threshold,
            "contrast_min_past_s": c.region_contrast_min_past_s, "min_region_s": c.region_min_s}


def test_a_judge_that_keeps_every_cut_changes_nothing(rng):
    spec = StreamSpec()
    cap = S.capture_cues(_three_songs(spec, rng), spec)
    plain = S.fuse(cap, **_base())
    assert [round(c) for c in plain] == [25, 50]  # the two joins, at block resolution
    shown = []

    def keep(cut, k, seen, start_block, start_t, peak):
        shown.append((cut, k, seen[:k + 1].copy(), start_block, start_t, peak))
        return True

    assert S.fuse(cap, **_base(), decide=keep) == plain
    assert [c for c, *_ in shown] == plain
    # at the second cut the region began at the first one, and the fused peak is the score there
    cut, k, seen, start_block, start_t, peak = shown[1]
    assert start_t == plain[0] and start_block == int(round(plain[0] / cap["block_s"]))
    kp = k - int(round((cap["rows"][k, 0] - cut) / cap["block_s"]))
    w = np.array([_base()["w_novelty"], 0.0, _base()["w_mood"], 1.0])
    assert math.isclose(peak, float((np.nan_to_num(np.clip(seen[kp], 0, None)) * w).sum()), rel_tol=1e-9)
    # after the first cut the contrast waits for 15 s of the new region (withheld: NaN)
    k1 = shown[0][1]
    assert np.isfinite(seen[k1 - 10:k1, 3]).all() and np.isnan(seen[k1 + 1:k1 + 100, 3]).all()


def test_a_judge_that_drops_cuts_leaves_the_region_going(rng):
    spec = StreamSpec()
    cap = S.capture_cues(_three_songs(spec, rng), spec)
    asked = []

    def drop(cut, k, seen, start_block, start_t, peak):
        asked.append((cut, start_t))
        return False

    assert S.fuse(cap, **_base(), decide=drop) == []
    assert asked and all(start_t == 0.0 for _, start_t in asked)  # nothing restarted the region
    # dropping only the first join: the second is still cut (the minimum length counts from the start)
    cuts = S.fuse(cap, **_base(), decide=lambda cut, *_: cut > 40.0)
    assert [round(c) for c in cuts] == [50]


def test_a_shorter_contrast_past_sees_the_start_of_a_stream(rng):
    """The sweep's ``contrast_min_past_s`` below the captured 15 s must judge boundaries in a
    stream's first 15 s too (before, the shortened past was recomputed only after a cut, and
    the first join of a recording was blind to it)."""
    spec = StreamSpec()
    n_mels, per = 64, int(round(12.0 / spec.hop_seconds))
    shapes = [np.linspace(-70, -10, n_mels), np.linspace(-10, -70, n_mels)]
    mel = np.vstack([shapes[0] + rng.normal(0, 2, (per, n_mels)),
                     shapes[1] + rng.normal(0, 2, (3 * per, n_mels))]).astype(np.float32)
    names = ["level_db", "quadrant", "prediction_id", "q1", "q2", "q3", "q4"]
    values = np.zeros((mel.shape[0], len(names)))
    values[:, 0] = -20.0
    cap = S.capture_cues(D.Frames(names, values, mel), spec)
    base = {**_base(), "w_novelty": 0.0, "w_mood": 0.0}  # the contrast alone
    assert S.fuse(cap, **base) == []  # 15 s of past: the join at 12 s is never judged
    shown = []

    def keep(cut, k, seen, start_block, start_t, peak):
        shown.append(seen[:k + 1, 3].copy())
        return True

    cuts = S.fuse(cap, **{**base, "contrast_min_past_s": 10.0}, decide=keep)
    assert [round(c) for c in cuts] == [12]
    # the contrast was judged from 10 s of past on, before any cut
    t = cap["rows"][:len(shown[0]), 0]
    assert np.isnan(shown[0][t < 9.5]).all() and np.isfinite(shown[0][(t > 10.5) & (t < 11.5)]).all()


def test_the_diagnosis_replays_the_benchmarks_stage(rng):
    """benchmarks/region_misses.py runs the live region stage over cached frames through the
    benchmark's own hop feeder: on the same recording and settings it cuts where
    segmentation.replay cuts (both at the two joins of three steady songs)."""
    import region_misses as M

    spec = StreamSpec()
    fr = _three_songs(spec, rng)
    regions, decisions, _ = S.replay(fr, spec, ("contrast", "novelty"))
    cuts, cues = M.run(fr, spec, AnalysisConfig(region_cues=("contrast", "novelty")), None)
    assert cuts == [r["start"] for r in regions[1:]] and len(cuts) == 2
    assert all(abs(c - t) < 0.5 for c, t in zip(cuts, (25.0, 50.0)))
    assert [round(b, 4) for b, _ in decisions] == [round(c, 4) for c in cuts]


def test_the_dev_false_cut_limit_holds_for_each_kind_of_song():
    """The judge's threshold choice admits a point only when every kind of recording played
    alone stays within the limit (the whole-song target is per kind): 3 cuts in 10 min of
    POP909 songs are 0.3 / min however clean 100 min of 4Q clips are."""
    import fusion_screen as F

    class Rec:
        def __init__(self, kind, minutes, cuts):
            self.rec, self.minutes, self.cuts, self.bounds = D.Recording(kind, None, kind=kind), minutes, cuts, []

    clips = [Rec("clip", 100.0, [5.0, 9.0]), Rec("pop909", 6.0, [3.0, 50.0]), Rec("pop909", 4.0, [7.0])]
    t = F.tally(None, [], clips, lambda r: r.cuts)
    assert t["clip_false_cuts_per_min"] == round(5 / 110, 3)  # pooled, as before
    assert t["false_cuts_by_kind"]["clip"]["per_min"] == 0.02
    assert t["false_cuts_by_kind"]["pop909"] == {"cuts": 3, "minutes": 10.0, "per_min": 0.3}
    assert t["worst_false_cuts_per_min"] == 0.3
    assert F.tally(None, [], [], lambda r: r.cuts)["worst_false_cuts_per_min"] == 0.0


def test_the_join_peak_reads_only_outputs_computed_when_the_fusion_decides():
    """The judge's ``join_net_peak`` in training: the net's highest output within 0.5 s of the
    cut among the frames whose output exists at the decision (boundary + the cues' future),
    0 where none does — what the live stage reads from its stream."""
    import fusion_screen as F

    net = F.default_join_net()
    judge = object.__new__(F.Judge)
    judge.n_future, judge.block_s = 60, 0.1  # the decision hears 6 s past the boundary

    class Rec:
        join_net, hop_s = net, 256 / 48000
        join = np.full(3000, 0.05)
        cap = {"rows": np.array([[30.0]])}  # the boundary of block 0: 30 s

    r = Rec()
    n_done = int(36.0 / r.hop_s) // net.pool_hops - net.delay_frames  # outputs by 36 s
    assert judge.join_peak(r, 10.0, 0) == 0.05
    r.join[n_done - 3] = 0.7  # computed in time
    r.join[n_done + 2] = 0.9  # not yet
    assert judge.join_peak(r, (n_done - 3) * net.frame_s, 0) == 0.7
    assert judge.join_peak(r, (n_done + 2) * net.frame_s, 0) == 0.7  # within 0.5 s, only what exists
    assert judge.join_peak(r, (n_done + 20) * net.frame_s, 0) == 0.0  # nothing computed there
