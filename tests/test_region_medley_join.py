"""The benchmark medleys' joins (benchmarks/_regionsdata.join): a plain splice is a step in
the waveform (a click across every band), the ``splice_s`` micro-crossfade removes it and
keeps the boundary at the join; crossfades and the truth are unchanged by it."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import _regionsdata as D  # noqa: E402


def _parts():
    t = np.arange(D.SR) / D.SR
    return [np.full(D.SR, 0.5, np.float32), (-0.5 * np.cos(2 * np.pi * 3 * t)).astype(np.float32),
            np.full(D.SR, 0.2, np.float32)]


def test_a_splice_clicks_and_the_micro_crossfade_does_not():
    parts = _parts()
    plain, bounds, _ = D.join(parts, [0.0, 1.0])
    assert bounds[0] == 1.0 and np.max(np.abs(np.diff(plain))) >= 0.99  # 0.5 -> -0.5 in one sample
    smooth, sb, spans = D.join(parts, [0.0, 1.0], splice_s=0.005)
    n = int(0.005 * D.SR)
    assert np.max(np.abs(np.diff(smooth[:int(1.5 * D.SR)]))) < 2.0 / n  # the step spread over n samples
    assert sb[0] == (D.SR - n / 2) / D.SR  # the boundary: the micro-fade's middle
    # the 1 s crossfade is as before, one micro-fade's length earlier (the overlap shortened it)
    assert sb[1] - bounds[1] == pytest.approx(-n / D.SR) and len(smooth) == len(plain) - n
    assert spans[-1][1] == len(smooth) / D.SR


def test_medley_keys_change_only_with_a_micro_crossfade(tmp_path):
    class Audio:
        def clip(self, c):
            return np.zeros(30 * D.SR, np.float32)

    clips = [{"song": f"s{i}", "quadrant": q, "fold": 0, "path": ""} for i, q in enumerate(D.QUADRANTS * 4)]
    D_clips, D.clips = D.clips, lambda data, folds: clips
    try:
        plain = D.medleys(tmp_path, Audio(), 4, folds=(0,), seed=7, splice_s=0.0)
        again = D.medleys(tmp_path, Audio(), 4, folds=(0,), seed=7, splice_s=0.0)
        faded = D.medleys(tmp_path, Audio(), 4, folds=(0,), seed=7, splice_s=0.005)
        default = D.medleys(tmp_path, Audio(), 4, folds=(0,), seed=7)
    finally:
        D.clips = D_clips
    # plain splices keep the keys of the results cached before the micro-fade became the default
    assert [r.key for r in plain] == [r.key for r in again]
    assert D.SPLICE_MS == 5.0 and [r.key for r in default] == [r.key for r in faded]
    assert not {r.key for r in plain} & {r.key for r in faded}
    assert [r.meta["crossfade_s"] for r in plain] == [r.meta["crossfade_s"] for r in faded]


def test_the_frame_cache_refuses_a_model_it_was_not_made_with(tmp_path):
    """The cached frames hold the shipped emotion model's mood: another model stops the
    screens with what to bump, instead of mixing two models' frames."""
    from sonolux import StreamSpec
    from sonolux.analysis import AnalysisConfig

    class Model:
        def __init__(self, version):
            self.contract = {"version": version}

    D.Analysed(tmp_path, {"emotion": Model(D.CACHE_EMOTION_VERSION)}, StreamSpec(), AnalysisConfig())
    D.Analysed(tmp_path, {}, StreamSpec(), AnalysisConfig())  # no model: frames without mood
    with pytest.raises(SystemExit, match="bump CACHE_VERSION and CACHE_EMOTION_VERSION"):
        D.Analysed(tmp_path, {"emotion": Model("9.9.9")}, StreamSpec(), AnalysisConfig())
