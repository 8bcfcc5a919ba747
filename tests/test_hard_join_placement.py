"""The hard-join placement diagnosis (benchmarks/hard_join_placement.py) on constructed rings
of log-mel hops: two noise "songs" of different spectra, 11 empty bands at the floor (as the
16 kHz 4Q clips leave above 8 kHz), joined by a one-hop splice (with or without its click in
the empty bands) or a linear crossfade."""
from __future__ import annotations

import sys

import numpy as np

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import fade_screen as FS  # noqa: E402
import hard_join_placement as H  # noqa: E402

from sonolux.analysis import AnalysisConfig  # noqa: E402

HOP_S = 256 / 48000
N_BANDS, SOUNDING = 64, 53
JOIN = 6.0


def _ring(kind: str, t_cue: float, click: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ts = np.arange(0.0, 13.0, HOP_S)
    a = rng.uniform(-40, -20, SOUNDING)  # the two songs' mean log-mel (dB)
    b = a + rng.choice([-1, 1], SOUNDING) * rng.uniform(4, 10, SOUNDING)
    if kind == "hard":
        r = (ts >= JOIN).astype(float)
    else:  # a 1.5 s linear crossfade in amplitude, its middle at the join
        r = np.clip((ts - JOIN) / 1.5 + 0.5, 0.0, 1.0)
    power = (1 - r[:, None]) ** 2 * 10 ** (a / 10) + r[:, None] ** 2 * 10 ** (b / 10)
    mel = np.full((len(ts), N_BANDS), -100.0)
    mel[:, :SOUNDING] = 10 * np.log10(power) + rng.normal(0, 3, (len(ts), SOUNDING))
    if kind == "hard" and click:
        mel[np.argmin(abs(ts - JOIN)), SOUNDING:] = -40.0  # the splice's click where nothing else sounds
    return {"ts": ts, "mel": mel, "t": t_cue, "t_step": t_cue, "placed": t_cue, "bounds": [JOIN],
            "xf": [0.0 if kind == "hard" else 1.5], "step_s": 0.25, "seed": 7}


def _prepared(*a, **k) -> dict:
    c = _ring(*a, **k)
    H.prepare(c, FS.Placer(HOP_S), HOP_S)
    return c


def test_the_broadband_hop_is_the_splices_click_in_the_empty_bands():
    hard = _prepared("hard", JOIN + 3.0)  # the cue 3 s late: the live refine cannot reach the join
    assert hard["sounding"].sum() == SOUNDING
    assert abs(H.broadband(hard, "broad_all") - JOIN) < 0.05
    # without the click no hop moves 90 % of the bands (the 11 empty ones never move): the cut stays
    silent = _prepared("hard", JOIN + 3.0, click=False)
    assert H.broadband(silent, "broad_all") == silent["placed"]
    fade = _prepared("crossfade", JOIN + 0.4)
    assert H.broadband(fade, "broad_all") == fade["placed"]


def test_the_crossfade_model_finds_the_middle_of_a_linear_crossfade():
    fade = _prepared("crossfade", JOIN + 0.3)  # the cue late, as the unequal windows place it
    assert fade["ratio"] < 1.0  # judged gradual
    assert abs(H.crossfade_model(fade) - JOIN) < 0.15
    hard = _prepared("hard", JOIN)
    hard["t_step"] = H.refine(hard, 0.15, 1.0, 3.0)
    hard["ratio"] = FS.Placer(HOP_S).ratio(hard)
    assert abs(hard["t_step"] - JOIN) < 0.02 and hard["ratio"] >= 1.0
    assert H.crossfade_model(hard) == hard["t_step"]  # a hard join keeps its step


def test_each_hard_join_placed_off_gets_one_cause():
    config = AnalysisConfig()
    far = _prepared("hard", JOIN + 2.0)
    far["t_step"] = far["placed"] = H.refine(far, 0.15, 1.0, 3.0)
    assert H.diagnose(far, config)["cause"] == "cue peak over 1 s off"
    # the refined step on the join, but taken for gradual: the ramp moved it off
    gradual = _prepared("hard", JOIN + 0.1)
    gradual["t_step"], gradual["placed"], gradual["ratio"] = JOIN, JOIN - 0.7, 0.8
    assert H.diagnose(gradual, config)["cause"] == "judged gradual"
    # the join's step the sharpest within 1 s, the cue 0.7 s off: the wide window needs 3x the near step
    near = _prepared("hard", JOIN + 0.7)
    row = H.diagnose(near, config)
    assert row["step_at_join_db"] >= row["sharpest_within_1_s_db"] - 1e-6
    assert row["cause"] == "wide step under the ratio"
