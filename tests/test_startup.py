"""Start-up work of the ``sonolux`` command (issue 21): what it skips and what it overlaps
must not change a result."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, run_sonolux

SR = 48000


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """6 s of clicks at 120 BPM over a chord: beats, onsets and a mood to compare."""
    t = np.arange(6 * SR) / SR
    chord = 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    clicks = np.sin(2 * np.pi * 1000 * t) * (np.mod(t, 0.5) < 0.01)
    path = tmp_path_factory.mktemp("startup") / "clip.wav"
    sf.write(path, (chord + clicks).astype(np.float32), SR)
    return path


CHECK_MODULES = r"""
import json, sys
from sonolux.app.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "pycparser": "pycparser" in sys.modules,
                  "cffi_supported": sys.modules["numba.core.typing.cffi_utils"].SUPPORTED}))
"""


def test_command_loads_kernels_without_pycparser(clip, tmp_path):
    """The command hides cffi from Numba's typing (no kernel uses it): pycparser, ~0.09 s of
    set-up, is never imported, and the kernels still run."""
    out = tmp_path / "doc.json"
    res = subprocess.run([sys.executable, "-c", CHECK_MODULES, "analyze", str(clip), "--no-models",
                          "-q", "-o", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    state = json.loads(res.stdout.strip().splitlines()[-1])
    assert state == {"rc": 0, "pycparser": False, "cffi_supported": False}
    assert len(json.loads(out.read_text())["beats"]) >= 6


def test_library_import_keeps_numba_cffi_support():
    """``import sonolux`` alone leaves Numba's cffi support as it is (a user's jitted code may
    call cffi functions)."""
    code = ("import sonolux.features, numba.core.typing.cffi_utils as c; "
            "import importlib.util as u; print(c.SUPPORTED == (u.find_spec('cffi') is not None))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "True", res.stderr


def test_analyze_model_threads_do_not_change_the_document(clip, tmp_path):
    """``analyze`` gives onnxruntime the free cores by default; one thread or two, the
    document (mood, tags, regions) is the same."""
    from sonolux.app.options import offline_threads
    from sonolux.inference.models import default_model_dir, find_models

    if "emotion" not in find_models(default_model_dir()):
        pytest.skip(f"no emotion model in {default_model_dir()}")
    docs = []
    for threads in ("1", "2"):
        out = tmp_path / f"doc{threads}.json"
        res = run_sonolux("analyze", str(clip), "-q", "--model-threads", threads, "-o", str(out), timeout=300)
        assert res.returncode == 0, res.stderr
        docs.append(json.loads(out.read_text()))
    assert docs[0]["emotion"] is not None and docs[0]["timeline"]
    assert docs[0] == docs[1]
    helptext = run_sonolux("analyze", "--help").stdout
    assert f"here {offline_threads()}" in " ".join(helptext.split())


# -- the notice of a slow (first) start ----------------------------------------------------

def test_a_slow_start_says_why_and_then_how_long_it_took():
    import io

    from conftest import wait_until
    from sonolux.app.startup import StartupNotice

    out = io.StringIO()
    with StartupNotice(after_s=0.05, out=out) as notice:
        wait_until(lambda: notice.shown, 10, "the start-up notice")
        notice.done()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "first run after installing or upgrading compiles" in lines[0]
    assert lines[1].startswith("sonolux: ready (start-up took")


def test_a_fast_or_failed_start_prints_nothing():
    import io

    from sonolux.app.startup import StartupNotice

    out = io.StringIO()
    with StartupNotice(after_s=0.2, out=out) as fast:
        fast.done()
    with pytest.raises(KeyboardInterrupt):
        with StartupNotice(after_s=0.2, out=out) as failed:
            raise KeyboardInterrupt
    quiet = StartupNotice(after_s=0.0, quiet=True, out=out)
    for notice in (fast, failed):
        assert notice._timer is None and not notice.shown  # cancelled: it can never fire
    quiet.done()
    assert out.getvalue() == "" and not quiet.shown


def test_analysis_says_once_when_its_first_block_is_done():
    """``analyze`` ends its start-up notice when the first block has been analysed (the
    kernels are loaded by then): the hook runs exactly once, whatever the progress option."""
    from sonolux.offline import run_analysis

    t = np.arange(12 * SR) / SR
    signal = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for progress in (None, True, lambda done, total: None):
        calls = []
        run_analysis(signal, SR, progress=progress, on_first_block=lambda: calls.append(1))
        assert calls == [1]
