"""A cue cut whose peak missed a hard join by up to ``region_refine_wide_s``: the refinement
takes the sharpest log-mel step within that radius when it is at least
``region_refine_wide_ratio`` times the step near the peak (RegionStage.refine, regions.refine_cut)."""
import pytest

from sonolux import ParameterError, StreamSpec
from sonolux.analysis import AnalysisConfig
from sonolux.features.base import ChainFacts, HopContext
from sonolux.features.regions import RegionStage
from sonolux.frame import FrameLayout
from sonolux.segment import Segmenter

SPEC = StreamSpec()
HOP_S = SPEC.hop / SPEC.sample_rate


def stage_heard(rng, join_s=6.0, hit_s=5.6, seconds=9.0, **config):
    """A region stage that has heard a hard join at ``join_s`` (a different spectrum, 5 dB
    louder) with a drum hit (three hops, +8 dB in the low bands) at ``hit_s`` before it."""
    layout = FrameLayout()
    for name in ("energy", "level_db"):
        layout.add_scalar(name)
    layout.add_vector("mel_db", 64)
    stage = RegionStage(Segmenter(), AnalysisConfig(**config))
    stage.prepare(SPEC, layout, ChainFacts())
    frame, ctx = layout.new_frame(), HopContext(SPEC)
    a, b = -50.0 + 10.0 * rng.random(64), -45.0 + 10.0 * rng.random(64)
    hit = int(round(hit_s / HOP_S))
    for i in range(int(seconds / HOP_S)):
        after = (i + 1) * HOP_S >= join_s
        mel = (b if after else a) + rng.normal(0, 0.5, 64)
        if hit <= i < hit + 3:
            mel[:16] += 8.0
        frame.values[1] = (-25.0 if after else -30.0) + rng.normal(0, 0.2)
        frame.vectors["mel_db"][:] = mel
        ctx.sample_end = (i + 1) * SPEC.hop
        stage.process(ctx, frame)
    return stage


def test_a_hard_join_missed_by_the_peak_is_found_by_the_wide_search(rng):
    stage = stage_heard(rng)
    narrow = stage.refine(5.6, 0.15)
    assert abs(narrow - 5.6) < 0.2  # the step near the peak: the drum hit, 0.4 s before the join
    wide = stage.refine(5.6, 0.15, 1.0, 3.0)
    assert abs(wide - 6.0) < 0.05, wide
    assert stage.refine(5.6, 0.15, 1.0, 1000.0) == narrow  # not that many times larger
    early = stage_heard(rng, hit_s=5.0)  # a hit 1 s before the join: beyond a 0.5 s search
    assert early.refine(5.0, 0.15, 0.5, 3.0) == early.refine(5.0, 0.15)
    assert abs(early.refine(5.0, 0.15, 1.2, 3.0) - 6.0) < 0.05


def test_the_cue_path_uses_the_wide_search_by_default(rng):
    config = AnalysisConfig()
    assert config.region_refine_wide_s == 1.0 and config.region_refine_wide_ratio == 3.0
    stage = stage_heard(rng)
    assert (stage.wide_refine_s, stage.wide_refine_ratio) == (1.0, 3.0)
    off = stage_heard(rng, region_refine_wide_s=0.0)
    assert off.wide_refine_s == 0.0


@pytest.mark.parametrize("key,value", [("region_refine_wide_s", -1.0), ("region_refine_wide_s", float("nan")),
                                       ("region_refine_wide_ratio", 0.5), ("region_refine_wide_ratio", "x")])
def test_bad_wide_refinement_parameters_are_refused(key, value):
    with pytest.raises(ParameterError, match=key):
        RegionStage(Segmenter(), AnalysisConfig(**{key: value}))
