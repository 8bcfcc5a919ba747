"""`sonolux batch` on a real Ray (embedded, and a two-node cluster on loopback) and
`sonolux catalogue query` on what it wrote.

Every Ray process a test starts is ended by the test: the embedded Ray by the batch itself
(checked), the `sonolux batch` subprocesses and `ray start --block` nodes by their session
(each is started in a new session, which then holds exactly what it spawned). `ray stop` is
not used: it would stop every Ray on the machine, other users' included.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("duckdb")
sf = pytest.importorskip("soundfile")

from conftest import wait_until  # noqa: E402
from rig_peers import free_port  # noqa: E402
from sonolux.app import cli  # noqa: E402
from sonolux.batch.rows import document_of  # noqa: E402
from sonolux.batch.reaper import descendants  # noqa: E402
from sonolux.batch.runner import BatchSettings, plan, run_batch  # noqa: E402
from sonolux.batch.sources import find_tracks  # noqa: E402
from sonolux.batch.store import CatalogueStore  # noqa: E402
from sonolux.batch.worker import AnalysisWorker  # noqa: E402
from sonolux.sources.synth import click_track, demo_track  # noqa: E402

SR = 22050
RAY = Path(sys.executable).with_name("ray")


# ---------------------------------------------------------------- helpers

def _proc_stat(pid: int):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return {"state": fields[0], "ppid": int(fields[1]), "session": int(fields[3])}


def _live_pids():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st and st["state"] != "Z":
                yield int(entry), st


def session_pids(sid: int) -> list[int]:
    """The live processes of a session (Ray puts each worker into a process group of its
    own, but they stay in the session of the process that started Ray)."""
    return [pid for pid, st in _live_pids() if st["session"] == sid]


def end_sessions(*sids: int, grace: float = 45.0) -> None:
    """End sessions this test started (each subprocess is started in a session of its own):
    SIGTERM to each leader that still runs (a `ray start --block` then drains and stops its
    node) and wait for the sessions to empty; SIGKILL what is left (what a killed driver's
    embedded Ray leaves behind: Ray's per-node agents outlive a SIGKILLed driver); then check
    nothing of them runs."""
    alive = [s for s in sids if (_proc_stat(s) or {}).get("state", "Z") != "Z"]
    for s in alive:
        os.kill(s, signal.SIGTERM)
    deadline = time.monotonic() + (grace if alive else 0.0)
    while any(session_pids(s) for s in sids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in [p for s in sids for p in session_pids(s)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not any(session_pids(s) for s in sids), 15, f"sessions {sids} to end", poll=0.2)


def read_rows(out: Path, table: str = "tracks") -> list[dict]:
    parts = sorted((out / table).glob("part-*.parquet"))
    return [r for p in parts for r in pq.read_table(p).to_pylist()]


def analyze_json(path: Path, capsys) -> dict:
    """What `sonolux analyze FILE --json` prints (the CLI's own code path, in-process)."""
    capsys.readouterr()
    assert cli.main(["analyze", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def sonolux_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "sonolux", *map(str, args)]


def write_tracks(folder: Path, bpms) -> list[Path]:
    """Short generated tracks: the demo groove at different tempi, a calm pad without drums
    and a tense one (noise bursts on fast clicks)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, bpm in enumerate(bpms):
        p = folder / f"groove_{bpm}.wav"
        sf.write(p, demo_track(SR, bars=2, bpm=bpm, seed=i), SR)
        paths.append(p)
    t = np.arange(int(5.0 * SR)) / SR
    pad = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 3
    p = folder / "calm_pad.wav"
    sf.write(p, (0.3 * pad * np.minimum(t / 1.5, 1.0)).astype(np.float32), SR)
    paths.append(p)
    rng = np.random.default_rng(5)
    clicks = click_track(SR, 170, 5.0)
    bursts = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 170 / 60 * t) > 0.7)
    p = folder / "tense_noise.wav"
    sf.write(p, np.clip(clicks + 0.4 * bursts, -1, 1).astype(np.float32), SR)
    paths.append(p)
    return paths


@pytest.fixture(scope="module")
def ray_env():
    """Environment for the Ray processes of this module: its own short temp dir (Unix socket
    paths) and no usage stats, here and in subprocesses; the subprocesses (batch drivers and
    `ray start` nodes) also share a token of their own for Ray's token authentication."""
    tmp = tempfile.mkdtemp(prefix="slx", dir="/tmp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_TMPDIR", tmp)
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------- local batch: 2 workers, bad input, a dying worker

@pytest.fixture(scope="module")
def local_batch(ray_env, tmp_path_factory):
    """One embedded-Ray batch with 2 workers over generated tracks, a corrupt file, an empty
    file, a track whose worker dies on every try (os._exit: as under the OOM killer) and one
    whose analysis never ends (as on a stalled network mount)."""

    class DiesOnCrashTracks(AnalysisWorker):  # defined here: Ray ships it to the workers by value
        def analyze(self, path):
            if Path(path).name.startswith("crash"):
                os._exit(3)
            if Path(path).name.startswith("hang"):
                threading.Event().wait()  # forever: only --track-timeout ends it
            return super().analyze(path)

    folder = tmp_path_factory.mktemp("music")
    good = write_tracks(folder, (96, 128, 160))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64)))
    sf.write(folder / "crash.wav", demo_track(SR, bars=1, bpm=120), SR)
    sf.write(folder / "hang.wav", demo_track(SR, bars=1, bpm=120), SR)
    (folder / "notes.txt").write_text("not audio: folders contribute audio files only")
    out = tmp_path_factory.mktemp("catalogue")
    settings = BatchSettings([folder], str(out), workers=2, retries=1, batch_size=2, progress=False,
                             track_timeout_s=45.0)  # the good tracks take a few seconds
    report = run_batch(settings, worker_class=DiesOnCrashTracks)
    # the embedded Ray (started in this process by the batch) and its watchdog are gone again
    wait_until(lambda: not [p for p in descendants(os.getpid())
                            if re.search(r"ray|reaper", Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace"))],
               60, "the embedded Ray's processes to end", poll=0.2)
    return {"folder": folder, "good": good, "out": out, "report": report,
            "rows": {r["path"]: r for r in read_rows(out)}, "timelines": read_rows(out, "timelines")}


def test_one_row_per_track_and_bad_input_recorded(local_batch):
    b = local_batch
    rows = b["rows"]
    raw = read_rows(b["out"])
    assert len(raw) == len(rows) == 9  # 5 tracks + empty + corrupt + crash + hang; notes.txt is no track
    assert {Path(p).name for p in rows} == {p.name for p in b["good"]} | {"empty.wav", "corrupt.wav",
                                                                          "crash.wav", "hang.wav"}
    for p in b["good"]:
        r = rows[str(p)]
        assert r["status"] == "ok" and r["error"] is None, r["error"]
        assert r["attempts"] == 1 and r["node_id"] and r["worker_pid"]
        assert len(r["content_hash"]) == 64 and r["analysis_version"] == b["report"].version
    empty, corrupt, crash = (rows[str(b["folder"] / n)] for n in ("empty.wav", "corrupt.wav", "crash.wav"))
    assert empty["status"] == "failed" and "empty file" in empty["error"]
    assert corrupt["status"] == "failed" and "cannot read audio" in corrupt["error"]
    assert crash["status"] == "failed" and "died 2 times" in crash["error"] and crash["attempts"] == 2
    hang = rows[str(b["folder"] / "hang.wav")]
    assert hang["status"] == "failed" and "not finished after 45 s (--track-timeout)" in hang["error"]
    assert hang["attempts"] == 1  # a hang is not retried
    assert b["report"].ok == 5 and b["report"].failed == 4
    # every worker ran its pools with the threads it reserved (1): Numba and onnxruntime
    infos = b["report"].worker_info
    assert len(infos) >= 2 and all(i["models"] for i in infos)
    for info in infos:
        t = info["threads"]
        assert t["numba"] == t["numba_pool"] == 1, t
        assert all(t[f"onnx_{m}"] == [1, 1] for m in info["models"]), t
    # the tracks differ in tempo, so the rows do too
    assert len({rows[str(p)]["bpm"] for p in b["good"][:3]}) == 3
    assert len({r["worker_pid"] for r in rows.values() if r["worker_pid"]}) >= 2  # both workers did work


def test_rows_equal_sonolux_analyze(local_batch, capsys):
    b = local_batch
    for p in b["good"]:
        row = b["rows"][str(p)]
        windows = [w for w in b["timelines"] if w["path"] == str(p)]
        expected = analyze_json(p, capsys)
        assert expected["timeline"] and expected["emotion"], "the models must be installed for this test"
        assert document_of(row, windows) == expected


def test_query_and_playlist(local_batch, capsys, tmp_path):
    b = local_batch
    ok = [r for r in b["rows"].values() if r["status"] == "ok"]
    pick = ok[0]
    lo, hi = pick["bpm"] - 1, pick["bpm"] + 1
    condition = f"mood = '{pick['mood']}' AND bpm BETWEEN {lo} AND {hi}"
    expected = {r["path"] for r in ok if r["mood"] == pick["mood"] and lo <= r["bpm"] <= hi}
    capsys.readouterr()
    assert cli.main(["catalogue", "query", str(b["out"]), condition, "--format", "json",
                     "--columns", "path,bpm,mood"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines, "the query printed nothing"
    assert {json.loads(ln)["path"] for ln in lines} == expected

    playlist = tmp_path / "set.m3u"
    assert cli.main(["catalogue", "query", str(b["out"]), "bpm > 0", "--order-by", "bpm DESC",
                     "--m3u", str(playlist)]) == 0
    text = playlist.read_text().splitlines()
    assert text[0] == "#EXTM3U"
    entries = text[2::2]
    by_bpm = sorted((r for r in ok if r["bpm"] > 0), key=lambda r: -r["bpm"])
    assert entries == [r["path"] for r in by_bpm] and entries
    assert all(ln.startswith("#EXTINF:") for ln in text[1::2])

    capsys.readouterr()
    assert cli.main(["catalogue", "query", str(b["out"]), "moood = 'calm'"]) == 2
    err = capsys.readouterr().err
    assert "unknown column 'moood'" in err and "did you mean 'mood'" in err and "Traceback" not in err
    assert cli.main(["catalogue", "query", str(b["out"]), "status = 'failed'", "--columns", "path,error",
                     "--format", "json"]) == 0
    failed = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert sorted(Path(f["path"]).name for f in failed) == ["corrupt.wav", "crash.wav", "empty.wav", "hang.wav"]
    assert all(f["error"] for f in failed)


# ------------------------------------------------------- kill the driver, rerun, nothing twice

def test_killed_batch_resumes_without_duplicates(ray_env, tmp_path):
    folder = tmp_path / "music"
    tracks = write_tracks(folder, (90, 104, 118, 132, 146))
    out = tmp_path / "catalogue"
    cmd = sonolux_cmd("batch", folder, "--out", out, "--workers", "1", "--batch-size", "1", "-q")
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(cmd, env=ray_env, start_new_session=True, stdout=log, stderr=log)
    try:
        def two_parts_committed():
            assert proc.poll() is None, "the batch ended before the kill: " + (tmp_path / "first.log").read_text()
            return len(list((out / "tracks").glob("part-*.parquet"))) >= 2

        wait_until(two_parts_committed, 180, "two committed parts", poll=0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # Ray's agents outlive a killed driver: the batch's watchdog ends them (grace 10 s)
        wait_until(lambda: not session_pids(proc.pid), 60,
                   lambda: "the watchdog to end the killed batch's Ray; left: " + ", ".join(
                       Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:80]
                       for p in session_pids(proc.pid)), poll=0.2)
    finally:
        end_sessions(proc.pid)  # a safety net: the watchdog left nothing
    before = {r["path"]: r for r in read_rows(out)}
    assert 2 <= len(before) < len(tracks), (tmp_path / "first.log").read_text()

    second = subprocess.Popen(cmd, env=ray_env, start_new_session=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        _, err = second.communicate(timeout=300)
    finally:
        end_sessions(second.pid)
    assert second.returncode == 0, err
    assert f"{len(before)} already in the catalogue" in err
    after = read_rows(out)
    paths = [r["path"] for r in after]
    assert len(paths) == len(set(paths)) == len(tracks)  # nothing twice, nothing missing
    assert set(paths) == {str(p) for p in tracks}
    for r in after:
        if r["path"] in before:  # finished rows are kept as they were
            assert r == before[r["path"]]
    windows = read_rows(out, "timelines")
    assert {(w["path"], w["analyzed_at"]) for w in windows} <= {(r["path"], r["analyzed_at"]) for r in after}
    assert len(windows) == len({(w["path"], w["t"]) for w in windows})


# ------------------------------------------------------------- a two-node cluster on loopback

def _ray_start(args, env, log: Path) -> subprocess.Popen:
    """`ray start --block` with every port it listens on chosen here (free ones) rather than
    Ray's fixed defaults and random picks, which can collide with another session on the
    machine (the minimal Ray has no client server: no port for it)."""
    ports = [f"--{name}-port={free_port()}" for name in
             ("node-manager", "object-manager", "metrics-export", "runtime-env-agent",
              "dashboard-agent-grpc", "dashboard-agent-listen")]
    if "--head" in args:
        ports.append(f"--dashboard-port={free_port()}")
    return subprocess.Popen([str(RAY), "start", "--block", "--node-ip-address", "127.0.0.1",
                             "--num-cpus", "1", "--object-store-memory", str(128 * 2**20),
                             "--disable-usage-stats", *ports, *args],
                            env=env, start_new_session=True, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _wait_node_up(node: subprocess.Popen, log: Path, what: str) -> None:
    """Wait for `ray start` to say the node runs; fail at once, with its log, if it exits."""
    def said():
        return f"{what} (its log ends: {log.read_text(errors='replace')[-3000:]!r})"

    def up():
        if "Ray runtime started" in log.read_text(errors="replace"):
            return True
        if node.poll() is not None:
            pytest.fail(f"`ray start` for {said()} exited with {node.returncode}")
        return False
    wait_until(up, 120, said, poll=0.2)


def _cluster_nodes(address: str, env) -> dict[str, str] | None:
    """node id -> its resource lines, from `ray status -v` (None until two nodes are up)."""
    res = subprocess.run([str(RAY), "status", "-v", "--address", address], env=env,
                         capture_output=True, text=True, timeout=60)
    blocks = re.findall(r"Node: ([0-9a-f]+) \(node_[0-9a-f]+\)\n(.*?)(?=\nNode: |\Z)", res.stdout, re.S)
    return dict(blocks) if len(blocks) == 2 else None


def test_batch_joins_a_two_node_cluster(ray_env, tmp_path):
    folder = tmp_path / "music"
    tracks = write_tracks(folder, (100, 124, 148))
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = []
    try:
        nodes.append(_ray_start(["--head", "--port", str(port), "--include-dashboard=false",
                                 "--temp-dir", ray_env["RAY_TMPDIR"]], ray_env, tmp_path / "head.log"))
        _wait_node_up(nodes[-1], tmp_path / "head.log", "the head node")
        nodes.append(_ray_start(["--address", address, "--resources", '{"second_node": 1}'],
                                ray_env, tmp_path / "second.log"))
        _wait_node_up(nodes[-1], tmp_path / "second.log", "the second node")
        found = wait_until(lambda: _cluster_nodes(address, ray_env), 120, "two nodes in the cluster", poll=1.0)
        second_id = next(n for n, text in found.items() if "second_node" in text)
        out = tmp_path / "catalogue"
        res = subprocess.run(sonolux_cmd("batch", folder, "--out", out, "--ray", address,
                                         "--workers", "2", "--batch-size", "1", "-q"),
                             env=ray_env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert "2 node(s)" in res.stderr
        rows = read_rows(out)
        assert sorted(r["path"] for r in rows) == sorted(map(str, tracks))
        assert all(r["status"] == "ok" for r in rows)
        assert {r["node_id"] for r in rows} == set(found)  # rows from both nodes
        assert any(r["node_id"] == second_id for r in rows)
    finally:
        end_sessions(*(node.pid for node in nodes))


# ------------------------------------------------------------------ pieces without Ray

def test_find_tracks_and_plan_limits(tmp_path):
    (tmp_path / "a").mkdir()
    sf.write(tmp_path / "a" / "x.wav", np.zeros(SR, np.float32), SR)
    sf.write(tmp_path / "y.flac", np.zeros(SR, np.float32), SR)
    (tmp_path / "a" / "cover.jpg").write_bytes(b"\xff\xd8")
    found = find_tracks([tmp_path, str(tmp_path / "*.flac")])
    assert found == [tmp_path / "y.flac", tmp_path / "a" / "x.wav"]  # no repeats, no cover art
    with pytest.raises(Exception, match="no such file or folder"):
        find_tracks([tmp_path / "missing"])
    settings = BatchSettings([tmp_path], str(tmp_path / "out"), max_size_mb=0.0001)
    todo, skipped, failed = plan(found, {}, "v", settings)
    assert not todo and not skipped
    assert all("over --max-size" in err for _, err in failed) and len(failed) == 2
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    todo, skipped, failed = plan([fifo], {}, "v", BatchSettings([tmp_path], str(tmp_path / "out")))
    assert not todo and not skipped and "not a regular file" in failed[0][1]


def test_store_removes_uncommitted_parts(tmp_path):
    store = CatalogueStore(tmp_path)
    (store.timelines_dir / "part-x-00000.parquet").write_bytes(b"half a batch")
    (store.tracks_dir / ".part-x-00001.parquet.tmp").write_bytes(b"cut off")
    with store.lock():
        assert not list(store.timelines_dir.iterdir()) and not list(store.tracks_dir.iterdir())
        with pytest.raises(Exception, match="another sonolux batch"):
            with CatalogueStore(tmp_path).lock():
                pass


def test_live_engine_does_not_import_the_batch_stack():
    code = ("import sys, sonolux, sonolux.engine, sonolux.app.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('ray', 'pyarrow', 'duckdb') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_catalogue_shows_the_newest_row_per_path(tmp_path):
    """After --force or a change of content a path has two rows; queries see the newest."""
    from datetime import datetime, timedelta, timezone

    from sonolux.batch.catalogue import Catalogue
    from sonolux.batch.rows import TrackTask, track_rows

    store = CatalogueStore(tmp_path)
    doc = {"sample_rate": 48000, "duration_s": 4.0, "frames": 750, "name": "x.wav",
           "tempo": {"bpm": 120.0, "confidence": 0.8}, "beats": [0.5, 1.0], "onsets": [0.5],
           "emotion": None, "tags": {}, "timeline": [], "regions": []}
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    for i, bpm in enumerate((120.0, 96.0)):
        task = TrackTask(str(tmp_path / "x.wav"), 10, 1, f"hash{i}")
        row, timeline = track_rows(task, "v", {"doc": {**doc, "tempo": {"bpm": bpm, "confidence": 0.8}},
                                               "error": None, "node_id": "n", "pid": 1, "seconds": 0.1})
        row["analyzed_at"] = t0 + timedelta(hours=i)
        store.write_part([row], timeline)
    assert len(read_rows(tmp_path)) == 2
    cat = Catalogue(tmp_path)
    names, rows = cat.query(columns=["path", "bpm", "content_hash"])
    assert rows == [(str(tmp_path / "x.wav"), 96.0, "hash1")]
    assert store.done()[str(tmp_path / "x.wav")].content_hash == "hash1"
