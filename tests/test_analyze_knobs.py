"""`analyze` takes the analysis knobs (flags and a show file's [analysis]) like `run`, and its
document says how the regions were cut."""
import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import run_sonolux
from sonolux.app import options
from sonolux.errors import ParameterError

SR = 48000


def two_songs(path, seconds=20.0):
    """A steady tone, then pulsed noise: one obvious change at ``seconds``."""
    t = np.arange(int(SR * 2 * seconds)) / SR
    noise = np.random.default_rng(0).normal(0, 0.3, t.size) * np.sign(np.sin(2 * np.pi * 3 * t))
    sf.write(path, np.where(t < seconds, 0.3 * np.sin(2 * np.pi * 220 * t), noise).astype(np.float32), SR)
    return path


def parsed(*argv):
    p = argparse.ArgumentParser()
    options.add_show_options(p, live=False)
    return p.parse_args(argv)


def test_knobs_become_the_analysis_config():
    c = options.analysis_config(parsed("--region-sensitivity", "0.8", "--region-min-s", "9",
                                       "--region-cues", "contrast, novelty", "--no-region-judge",
                                       "--bpm-range", "90..160", "--onset-sensitivity", "2", "--gate", "-50",
                                       "--silence-db", "-70"))
    assert (c.region_sensitivity, c.region_min_s, c.region_cues, c.region_judge) == (0.8, 9.0, ("contrast", "novelty"),
                                                                                    False)
    assert (c.bpm_range, c.onset_k, c.onset_gate_db, c.silence_db) == ((90.0, 160.0), 2.0, -50.0, -70.0)
    defaults = options.analysis_config(parsed())
    assert defaults == options.AnalysisConfig()
    ns = parsed()
    ns.region_cues = ["mood", "contrast"]  # a show file gives a list
    assert options.analysis_config(ns).region_cues == ("mood", "contrast")
    with pytest.raises(ParameterError, match="--region-cues: .*unknown \\['drums'\\]"):
        options.analysis_config(parsed("--region-cues", "contrast,drums"))


def test_analyze_cuts_with_the_flags_and_the_show_file(tmp_path):
    wav = two_songs(tmp_path / "two.wav")

    def regions(*extra):
        out = tmp_path / "doc.json"
        res = run_sonolux("analyze", str(wav), "--no-models", "-q", "-o", str(out), *extra, timeout=300)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        doc = json.loads(out.read_text())
        return [r["start"] for r in doc["regions"][1:]], doc["region_settings"]

    cuts, settings = regions()
    assert len(cuts) == 1 and abs(cuts[0] - 20.0) < 0.5
    assert settings["judge"] is False and "tags" in settings["judge_note"]  # --no-models: the fixed fusion
    assert settings["placer"] is True and settings["placer_note"] is None  # the placer needs no models
    assert settings["join_net"] is True and settings["place_choice"] is True
    cuts, settings = regions("--region-min-s", "30")  # the change lies 20 s after the start
    assert cuts == [] and settings["min_s"] == 30.0

    show = tmp_path / "show.toml"
    assert run_sonolux("show", "init", str(show), timeout=120).returncode == 0
    text = show.read_text()
    assert "region_min_s = 6.0" in text
    show.write_text(text.replace("region_min_s = 6.0", "region_min_s = 30.0"))
    cuts, settings = regions("--show", str(show))
    assert cuts == [] and settings["min_s"] == 30.0
    cuts, settings = regions("--show", str(show), "--region-min-s", "6")  # the command line wins
    assert len(cuts) == 1 and settings["min_s"] == 6.0

    missing = run_sonolux("analyze", str(wav), "--show", str(tmp_path / "nope.toml"), timeout=120)
    assert missing.returncode == 2 and "no such show file" in missing.stderr and "Traceback" not in missing.stderr
    bad = run_sonolux("analyze", str(wav), "--no-models", "--region-cues", "drums", timeout=120)
    assert bad.returncode == 2 and "--region-cues" in bad.stderr and "Traceback" not in bad.stderr


def test_batch_version_follows_the_knobs_and_the_judge_file(tmp_path):
    """A rerun of `batch` re-analyses a track when a knob or the judge that cut its regions changed."""
    pytest.importorskip("pyarrow")
    from sonolux.analysis import AnalysisConfig
    from sonolux.batch.worker import AnalysisOptions, analysis_version
    from sonolux.features.cutjudge import shipped_judge

    plain = analysis_version(AnalysisOptions(use_models=False))
    assert analysis_version(AnalysisOptions(config=AnalysisConfig(region_min_s=9.0), use_models=False)) != plain
    judge = tmp_path / "judge.json"
    judge.write_bytes(shipped_judge().read_bytes())
    with_judge = analysis_version(AnalysisOptions(config=AnalysisConfig(region_judge_file=str(judge))))
    judge.write_bytes(shipped_judge().read_bytes() + b"\n")
    assert analysis_version(AnalysisOptions(config=AnalysisConfig(region_judge_file=str(judge)))) != with_judge


def test_batch_version_follows_the_analysis_code_not_the_outputs_code(tmp_path, monkeypatch):
    """A code change between releases (the version string stays 0.1.0) re-analyses a catalogue's
    tracks when it touches the analysis, and only then: a copy of the package, edited."""
    pytest.importorskip("pyarrow")
    import shutil

    import sonolux
    from sonolux.batch import worker

    copy = tmp_path / "sonolux"
    shutil.copytree(Path(sonolux.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    before = worker.code_digest(copy)
    assert before == worker.code_digest(Path(sonolux.__file__).parent)  # profiles' JSON and caches do not count
    placing = copy / "features" / "placechoice.py"
    placing.write_text(placing.read_text().replace("HARD_SNAP_S = 0.25", "HARD_SNAP_S = 0.1"))
    changed = worker.code_digest(copy)
    assert changed != before
    osc = copy / "outputs" / "osc.py"
    osc.write_text(osc.read_text() + "\n# a comment\n")
    assert worker.code_digest(copy) == changed  # the live outputs make no row
    plain = worker.analysis_version(worker.AnalysisOptions(use_models=False))
    monkeypatch.setattr(worker, "code_digest", lambda root=None: changed)
    assert worker.analysis_version(worker.AnalysisOptions(use_models=False)) != plain


def test_batch_version_follows_the_placer_file_with_or_without_models(tmp_path):
    """The learned placer moves region cuts even with --no-models: its file is in the version."""
    pytest.importorskip("pyarrow")
    from sonolux.analysis import AnalysisConfig
    from sonolux.batch.worker import AnalysisOptions, analysis_version
    from sonolux.features.cutplacer import shipped_placer

    placer = tmp_path / "placer.json"
    placer.write_bytes(shipped_placer().read_bytes())
    first = analysis_version(AnalysisOptions(config=AnalysisConfig(region_placer_file=str(placer)), use_models=False))
    placer.write_bytes(shipped_placer().read_bytes() + b"\n")
    again = analysis_version(AnalysisOptions(config=AnalysisConfig(region_placer_file=str(placer)), use_models=False))
    assert again != first
    off = analysis_version(AnalysisOptions(config=AnalysisConfig(region_placer=False), use_models=False))
    assert off not in (first, again)
    from sonolux.features.joinnet import shipped_join_net

    net = tmp_path / "net.json"  # the join net moves gradual cuts: its file counts too
    net.write_bytes(shipped_join_net().read_bytes())
    with_net = analysis_version(AnalysisOptions(config=AnalysisConfig(region_join_net_file=str(net)), use_models=False))
    net.write_bytes(shipped_join_net().read_bytes() + b"\n")
    assert analysis_version(AnalysisOptions(config=AnalysisConfig(region_join_net_file=str(net)), use_models=False)) != with_net


def test_batch_version_follows_the_join_net_the_judge_reads(tmp_path):
    """With the placer off, the judge still reads the join net (a feature of each candidate):
    its file stays in the version when models run, and only then."""
    pytest.importorskip("pyarrow")
    from sonolux.analysis import AnalysisConfig
    from sonolux.batch.worker import AnalysisOptions, analysis_version
    from sonolux.features.joinnet import shipped_join_net

    net = tmp_path / "net.json"
    net.write_bytes(shipped_join_net().read_bytes())

    def version(use_models):
        return analysis_version(AnalysisOptions(config=AnalysisConfig(region_placer=False, region_join_net_file=str(net)),
                                                use_models=use_models))

    judged, plain = version(True), version(False)
    net.write_bytes(shipped_join_net().read_bytes() + b"\n")
    assert version(True) != judged and version(False) == plain
