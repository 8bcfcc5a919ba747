"""The operator's region knobs — sensitivity, minimum region length, which cues are on —
from OSC control, the command line and the show file, all through one path."""
from __future__ import annotations

import numpy as np
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


def test_a_knob_the_engine_refuses_names_where_it_was_given(tmp_path):
    """The judge switched on by a show file, in a run without models: the warning names the
    file's key (the operator never typed --region-judge); given as a flag too, the flag."""
    show = tmp_path / "show.toml"
    show.write_text("[analysis]\nregion_judge = true\n")
    base = ("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window", "--show", str(show))
    for extra, named in (((), f"{show}: analysis.region_judge: "), (("--region-judge",), "--region-judge: ")):
        res = run_sonolux(*base, *extra, timeout=120)
        assert res.returncode == 0, res.stderr
        warning = [line for line in res.stderr.splitlines() if "fixed fusion" in line]
        assert len(warning) == 1 and named in warning[0] and "Traceback" not in res.stderr, res.stderr
        assert ("--region-judge" in warning[0]) == bool(extra)
    show.write_text('[analysis]\nregion_cues = ["novelty", "colour"]\n')  # refused: the key is named
    bad = run_sonolux(*base, timeout=120)
    assert bad.returncode == 2 and f"{show}: analysis.region_cues: " in bad.stderr and "colour" in bad.stderr
    assert "--region-cues" not in bad.stderr and "Traceback" not in bad.stderr


def test_a_run_takes_the_region_flags_and_refuses_bad_ones():
    ok = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                     "--region-sensitivity", "0.9", "--region-cues", "novelty,energy", timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                      "--region-cues", "novelty,colour", timeout=120)
    assert bad.returncode == 2 and "colour" in bad.stderr and "Traceback" not in bad.stderr


def show_then_flag(tmp_path, key: str, value: bool) -> tuple:
    """A switch as a show file sets it (``key = value``), then with the opposite flag given
    too (the flag wins): the two values ``run`` would start with."""
    show = tmp_path / "show.toml"
    show.write_text(f"[analysis]\n{key} = {str(value).lower()}\n")
    parser = cli.build_parser()
    flag = "--" + ("no-" if value else "") + key.replace("_", "-")
    values = []
    for argv in (["run", "--show", str(show)], ["run", "--show", str(show), flag]):
        values.append(getattr(cli.with_show(parser, parser.parse_args(argv), argv), key))
    return tuple(values)


def test_the_judge_switch_from_osc_flags_and_show_file(engine, tmp_path):
    """Without an emotion model there are no tags: turning the judge on is one clean line
    saying so (the fixed fusion keeps cutting); off always works; flags and the show file
    reach the same address."""
    error = Controls(engine_controls(engine)).apply("/sonolux/region/judge", [1], log=False)
    assert error and "tags" in error and "fixed fusion" in error and "Traceback" not in error
    assert Controls(engine_controls(engine)).apply("/sonolux/region/judge", [0], log=False) is None
    assert not engine.analyzer.find(RegionStage).cues.judge_on
    assert "/sonolux/region/judge" in {a for a, _, _ in CONTROL_ADDRESSES}
    assert show_then_flag(tmp_path, "region_judge", True) == (True, False)


def test_a_run_with_the_judge_but_no_models_warns_and_runs():
    ok = run_sonolux("run", "--input", "synth", "--duration", "0.5", "--no-models", "--no-window",
                     "--region-judge", timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "--region-judge" in ok.stderr and "fixed fusion" in ok.stderr and "Traceback" not in ok.stderr


def test_the_placer_switch_from_osc_flags_and_show_file(engine, tmp_path):
    """The learned placer needs no models: off and on again from OSC, the state the panel
    reads follows, and flags and the show file reach the same address."""
    stage = engine.analyzer.find(RegionStage)
    controls = Controls(engine_controls(engine))
    assert stage.placer_on and engine.analyzer.knobs()["regions"]["placer"] is True
    assert controls.apply("/sonolux/region/placer", [0], log=False) is None
    assert not stage.placer_on and engine.analyzer.knobs()["regions"]["placer"] is False
    assert controls.apply("/sonolux/region/placer", [1], log=False) is None
    assert stage.placer_on
    assert "/sonolux/region/placer" in {a for a, _, _ in CONTROL_ADDRESSES}
    assert show_then_flag(tmp_path, "region_placer", False) == (False, True)


def test_a_placer_started_off_can_be_switched_on_and_a_corrupt_one_cannot(tmp_path):
    """Started with the placer off it is loaded all the same (no file read mid-show), so
    the operator can switch it on; a corrupt placer file turns the switch into one clean
    line naming the file, and the cuts go on where the ramp fit puts them."""
    from sonolux.features.config import AnalysisConfig

    off = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size), config=AnalysisConfig(region_placer=False))
    stage = off.analyzer.find(RegionStage)
    assert not stage.placer_on and stage.placer is not None
    assert Controls(engine_controls(off)).apply("/sonolux/region/placer", [1], log=False) is None
    assert stage.placer_on
    bad = tmp_path / "placer.json"
    bad.write_text("{ not json")
    broken = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size),
                    config=AnalysisConfig(region_placer_file=str(bad)))
    error = Controls(engine_controls(broken)).apply("/sonolux/region/placer", [1], log=False)
    assert error and str(bad) in error and "Traceback" not in error
    knobs = broken.analyzer.knobs()["regions"]
    assert knobs["placer"] is False and knobs["placer_available"] is False and str(bad) in knobs["placer_note"]


def test_knobs_report_what_the_engine_runs_with(engine):
    """The panel's source of truth: every knob as set, whoever set it."""
    handlers = engine_controls(engine)
    handlers["/sonolux/bpm/range"](90, 160)
    handlers["/sonolux/threshold/gate"](-50)
    handlers["/sonolux/threshold/silence"](-70)
    handlers["/sonolux/threshold/onset"](1.5)
    handlers["/sonolux/region/sensitivity"](0.25)
    handlers["/sonolux/region/cues"]("contrast,novelty")
    engine.analyzer.process_hop(np.zeros(SPEC.hop, dtype=np.float32), engine.analyzer.layout.new_frame())
    knobs = engine.analyzer.knobs()
    assert knobs["bpm_range"] == [90.0, 160.0]  # taken by the tracker at the next hop
    assert (knobs["gate_db"], knobs["silence_db"], knobs["onset_sensitivity"]) == (-50.0, -70.0, 1.5)
    regions = knobs["regions"]
    assert regions["sensitivity"] == 0.25 and regions["cues"] == ["contrast", "novelty"]
    assert regions["judge"] is False and regions["judge_available"] is False and "tags" in regions["judge_note"]
    assert regions["placer"] is True and regions["placer_available"] is True and regions["placer_note"] is None


def test_a_corrupt_placer_file_is_said_once_with_or_without_the_flag(tmp_path, capsys):
    """What `run` does at start: the knobs given as flags go through the control path (a
    placer that cannot run is a warning naming the flag, not an exit), and the start-up
    notice says the placer note only when no flag has said it already."""
    import argparse

    from sonolux.app.options import apply_knobs, region_judge_notice
    from sonolux.features.config import AnalysisConfig

    bad = tmp_path / "placer.json"
    bad.write_text("{ not json")
    broken = Engine(SPEC, SynthSource("", SPEC.sample_rate, SPEC.block_size),
                    config=AnalysisConfig(region_placer_file=str(bad)))
    controls = Controls(engine_controls(broken))
    for flag in (True, None):
        args = argparse.Namespace(region_placer=flag, region_judge=None)
        apply_knobs(controls, args)
        region_judge_notice(broken, args)
        err = capsys.readouterr().err
        assert err.count(str(bad)) == 1 and "Traceback" not in err
        assert ("--region-placer" in err) == bool(flag)


def test_a_refused_call_changes_no_knob(engine):
    """Validated before anything changes: a bad sensitivity in the same call leaves the placer as it was."""
    stage = engine.analyzer.find(RegionStage)
    with pytest.raises(ParameterError, match="sensitivity"):
        engine.analyzer.set_region_controls(placer=False, sensitivity=3.0)
    assert stage.placer_on
