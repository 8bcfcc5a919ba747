"""The operator's region knobs — sensitivity, minimum region length, which cues are on —
from OSC control, the command line and the show file, all through one path."""
from __future__ import annotations

import pytest

from conftest import run_sonolux
from sonolux import Engine, StreamSpec
from sonolux.app import cli
from sonolux.app.control import CONTROL_ADDRESSES, Controls, engine_controls
from sonolux.errors import ParameterError
from sonolux.features.regions import RegionStage
from sonolux.sources import SynthSource

SPEC = StreamSpec()


@pytest.fixture
def engine():
    return Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size))


def test_osc_region_knobs_reach_the_fusion(engine):
    handlers = engine_controls(engine)
    cues = engine.analyzer.find(RegionStage).cues
    handlers["/sonolux/region/sensitivity"](0.8)
    handlers["/sonolux/region/min_s"](20)
    handlers["/sonolux/region/cues"]("novelty")
    assert cues.fusion.sensitivity == pytest.approx(0.8)
    assert cues.fusion.min_region_s == pytest.approx(20.0)
    assert cues.cues == ("novelty",)
    handlers["/sonolux/region/cues"]("novelty", "energy")  # one name per argument works too
    assert cues.cues == ("novelty", "energy")
    assert {a for a, _, _ in CONTROL_ADDRESSES} >= {"/sonolux/region/sensitivity", "/sonolux/region/min_s",
                                                    "/sonolux/region/cues"}


@pytest.mark.parametrize("address, args, said", [
    ("/sonolux/region/sensitivity", [1.5], "/sonolux/region/sensitivity"),
    ("/sonolux/region/min_s", [-1], "/sonolux/region/min_s"),
    ("/sonolux/region/cues", ["novelty,colour"], "colour"),
])
def test_bad_region_knobs_are_one_clean_line(engine, address, args, said):
    error = Controls(engine_controls(engine)).apply(address, args, log=False)
    assert error and said in error and "Traceback" not in error


def test_seed_chain_says_the_knobs_need_the_cues():
    from sonolux.features.config import AnalysisConfig

    engine = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size),
                    config=AnalysisConfig(region_method="seed"))
    with pytest.raises(ParameterError, match="region_method='cues'"):
        engine_controls(engine)["/sonolux/region/sensitivity"](0.5)


def test_show_file_and_flags_set_the_region_knobs(tmp_path):
    show = tmp_path / "show.toml"
    show.write_text('[analysis]\nregion_sensitivity = 0.7\nregion_cues = ["novelty"]\n')
    parser = cli.build_parser()
    argv = ["run", "--show", str(show), "--region-min-s", "8"]
    args = cli.with_show(parser, parser.parse_args(argv), argv)
    assert args.region_sensitivity == 0.7 and args.region_cues == ["novelty"] and args.region_min_s == 8


def test_a_run_takes_the_region_flags_and_refuses_bad_ones():
    ok = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                     "--region-sensitivity", "0.9", "--region-cues", "novelty,energy", timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                      "--region-cues", "novelty,colour", timeout=120)
    assert bad.returncode == 2 and "colour" in bad.stderr and "Traceback" not in bad.stderr


def test_the_judge_switch_from_osc_flags_and_show_file(engine, tmp_path):
    """Without an emotion model there are no tags: turning the judge on is one clean line
    saying so (the fixed fusion keeps cutting); off always works; flags and the show file
    reach the same address."""
    error = Controls(engine_controls(engine)).apply("/sonolux/region/judge", [1], log=False)
    assert error and "tags" in error and "fixed fusion" in error and "Traceback" not in error
    assert Controls(engine_controls(engine)).apply("/sonolux/region/judge", [0], log=False) is None
    assert not engine.analyzer.find(RegionStage).cues.judge_on
    assert "/sonolux/region/judge" in {a for a, _, _ in CONTROL_ADDRESSES}
    show = tmp_path / "show.toml"
    show.write_text('[analysis]\nregion_judge = true\n')
    parser = cli.build_parser()
    argv = ["run", "--show", str(show)]
    assert cli.with_show(parser, parser.parse_args(argv), argv).region_judge is True
    argv = ["run", "--show", str(show), "--no-region-judge"]
    assert cli.with_show(parser, parser.parse_args(argv), argv).region_judge is False


def test_a_run_with_the_judge_but_no_models_warns_and_runs():
    ok = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                     "--region-judge", timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "--region-judge" in ok.stderr and "fixed fusion" in ok.stderr and "Traceback" not in ok.stderr
