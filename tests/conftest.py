"""Shared fixtures: seeded rng, synthetic signals, real PulseAudio and oscdump peers."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sonolux.visual.gl import osmesa_available

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SONOLUX_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def rng():
    return np.random.default_rng(440)


def sine(freq, sr, dur, amp=0.5):
    t = np.arange(int(sr * dur)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def assert_rate_cap(times, rate_hz, what=""):
    """At most ``rate_hz`` messages per second, judged on arrival times at a real receiver.
    A receiver that is descheduled for a moment reads queued datagrams back to back, so
    single gaps prove nothing; counts do: no 1-second window may hold more than rate + 2."""
    t = np.sort(np.asarray(times))
    if t.size < 2:
        return
    in_window = np.searchsorted(t, t + 1.0, side="left") - np.arange(t.size)
    assert in_window.max() <= rate_hz + 2, (what, int(in_window.max()), rate_hz)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sonolux_cmd(*args) -> list[str]:
    """The installed console script (fallback: python -m sonolux)."""
    exe = shutil.which("sonolux", path=os.path.dirname(sys.executable)) or shutil.which("sonolux")
    return [exe, *args] if exe else [sys.executable, "-m", "sonolux", *args]


def run_sonolux(*args, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(sonolux_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, stdin=subprocess.DEVNULL, **kw)


class PulseServer:
    """A private PulseAudio daemon with one null sink, for real capture tests."""

    def __init__(self, sink: str, runtime_dir: Path):
        self.sink = sink
        self.monitor = f"{sink}.monitor"
        self.env = dict(os.environ, PULSE_RUNTIME_PATH=str(runtime_dir), XDG_RUNTIME_DIR=str(runtime_dir))
        self.runtime_dir = runtime_dir

    def start(self):
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True)
        res = subprocess.run(
            ["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--daemonize=yes",
             f"--load=module-null-sink sink_name={self.sink} rate=48000",
             "--load=module-native-protocol-unix"],
            env=self.env, capture_output=True, text=True, timeout=20)
        if res.returncode != 0:
            return res.stderr.strip() or f"pulseaudio exited {res.returncode}"
        for _ in range(50):
            r = subprocess.run(["pactl", "list", "short", "sources"], env=self.env,
                               capture_output=True, text=True)
            if r.returncode == 0 and self.monitor in r.stdout:
                return None
            time.sleep(0.1)
        return "pulseaudio started but the null sink monitor did not appear"

    def _pactl(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)

    def remove_sink(self) -> None:
        """Unload the null sink (its monitor source vanishes, as when an interface is unplugged)."""
        mods = self._pactl("list", "short", "modules").stdout
        ids = [line.split()[0] for line in mods.splitlines() if f"sink_name={self.sink}" in line]
        for i in ids:
            self._pactl("unload-module", i)

    def add_sink(self) -> None:
        self._pactl("load-module", "module-null-sink", f"sink_name={self.sink}", "rate=48000")

    def play_loop(self, path) -> subprocess.Popen:
        """Play ``path`` over and over (survives the sink going away and coming back)."""
        return subprocess.Popen(["bash", "-c", f"while true; do paplay -d {self.sink} '{path}' 2>/dev/null; sleep 0.05; done"],
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def play(self, path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "-d", self.sink, str(path)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self):
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True)


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        pytest.skip("PulseAudio is not installed (apt-get install pulseaudio libasound2-plugins)")
    server = PulseServer("sonolux_test", tmp_path_factory.mktemp("pulse"))
    err = server.start()
    if err:
        pytest.skip(f"PulseAudio could not start: {err}")
    old = {k: os.environ.get(k) for k in ("PULSE_RUNTIME_PATH", "XDG_RUNTIME_DIR")}
    os.environ.update(PULSE_RUNTIME_PATH=server.env["PULSE_RUNTIME_PATH"],
                      XDG_RUNTIME_DIR=server.env["XDG_RUNTIME_DIR"])
    yield server
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def wait_until(condition, timeout: float = 10.0, what="condition", *, poll: float = 0.01,
               hold: float = 0.0):
    """Poll ``condition()`` until it is truthy and return that value; fail the test, naming
    ``what``, when ``timeout`` seconds pass first. The one wait helper of the tests: a thread,
    a process or a peer is waited for by polling with a deadline, never by a fixed sleep.
    ``what`` may be a function, called at the failure, to say where things stood then.

    ``hold``: the condition must stay truthy that many seconds without a break (a value that
    has settled, not one passing through); the deadline includes the hold. ``poll``: the pause
    between checks (raise it for a costly condition, e.g. one that runs a command). The
    condition is checked once more after the deadline, so a descheduled test still sees it.

    >>> wait_until(lambda: 6 * 7, 1.0, "the answer")
    42
    """
    deadline = time.monotonic() + timeout
    since = None  # when the condition became true (and stayed so)
    held = 0.0  # the longest unbroken stretch seen, for the failure message
    while True:
        value = condition()
        now = time.monotonic()
        if not value:
            since = None
        else:
            since = now if since is None else since
            held = max(held, now - since)
            if now - since >= hold:
                return value
        if now > deadline:
            note = f" (it must hold for {hold:g} s; it held at most {held:.2f} s)" if hold else ""
            pytest.fail(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}{note}")
        time.sleep(poll)


def call_growths(fn, *, setup=None, warm: int = 200, n: int = 2000) -> np.ndarray:
    """The memory growth (bytes, peak over the call) of each of ``n`` calls of ``fn`` after
    ``warm`` warm-up calls (JIT, caches, freelists); ``setup()`` runs before each call,
    unmeasured. tracemalloc counts every thread's allocations: use it with ``measured_alone``."""
    for _ in range(warm):
        if setup is not None:
            setup()
        fn()
    growth = np.zeros(n, dtype=np.int64)
    tracemalloc.start()
    try:
        for k in range(n):
            if setup is not None:
                setup()
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            fn()
            growth[k] = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return growth


def numba_allocations(kernel, *args):
    """(arrays Numba's allocator counts for calling ``kernel(*args)``, what passing the same
    arguments to an empty compiled function counts — one per array) after a first, compiling
    call: a kernel that allocates nothing of its own counts the same as the arguments."""
    from numba import njit
    from numba.core.runtime import _nrt_python as nrt

    @njit
    def arguments_only(*a):
        return len(a)

    kernel(*args)
    arguments_only(*args)
    enabled = nrt.memsys_stats_enabled()
    nrt.memsys_enable_stats()
    try:
        before = nrt.memsys_get_stats_alloc()
        arguments_only(*args)
        passing = nrt.memsys_get_stats_alloc() - before
        before = nrt.memsys_get_stats_alloc()
        kernel(*args)
        return nrt.memsys_get_stats_alloc() - before, passing
    finally:
        if not enabled:
            nrt.memsys_disable_stats()


@pytest.fixture
def measured_alone(monkeypatch):
    """No other Python thread runs while a test measures allocations: tracemalloc counts every
    thread's, so another thread's would be blamed on the hop it lands in.

    tqdm's monitor thread is the one known to stay: the first progress bar a test process draws
    (``sonolux batch``, ``analyze``, ``render``, the image index) starts it, tqdm 4.70 never ends
    it, and it wakes every 10 s to allocate ~1.4 KB (a full-suite run failed two allocation
    tests on it). It is ended here and kept from restarting during the test; any other thread
    still running after 5 s fails the test, named."""
    for thread in threading.enumerate():
        if type(thread).__name__ == "TMonitor" and thread.is_alive():  # tqdm._monitor.TMonitor
            thread.exit()
    tqdm_std = sys.modules.get("tqdm.std")
    if tqdm_std is not None:
        monkeypatch.setattr(tqdm_std.tqdm, "monitor_interval", 0)

    def others():
        return [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    wait_until(lambda: not others(), 5,
               lambda: f"other threads to end before measuring allocations: {others()} still run")


def udp_port_bound(port: int) -> bool:
    """True when some socket on this machine is bound to UDP ``port`` (/proc/net/udp*)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(int(r.split()[1].rsplit(":", 1)[1], 16) == port for r in rows):
            return True
    return False


class OscDump:
    """liblo's ``oscdump`` on a loopback UDP port, its output parsed into messages.

    Starting waits until oscdump has bound its port; ``stop()`` sends an end marker from
    this process and waits until oscdump has printed it, so every datagram that arrived
    before it has been read (no sleeping and hoping)."""

    END = "/sonolux-test/end"

    def __init__(self, port: int):
        self.port = port
        self.proc = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[str] = []
        self._end = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(lambda: udp_port_bound(port) or self.proc.poll() is not None, 10, f"oscdump on port {port}")
        assert self.proc.poll() is None, f"oscdump could not listen on {port}: {self.proc.stderr.read()}"

    def _read(self) -> None:
        for line in self.proc.stdout:
            if self.END in line:
                self._end.set()
            else:
                self.lines.append(line)

    def messages(self) -> list[tuple[float, str, str, list]]:
        """What arrived so far (oscdump keeps running)."""
        return parse_oscdump("".join(list(self.lines)))

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "OSC messages"):
        """Poll the received messages until ``predicate(messages)`` is truthy."""
        return wait_until(lambda: predicate(self.messages()), timeout, what)

    def stop(self) -> list[tuple[float, str, str, list]]:
        """Stop and return [(t_arrival, address, typetags, args)]."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"/sonolux-test/end\0\0\0,\0\0\0", ("127.0.0.1", self.port))
        self._end.wait(10)
        self.proc.terminate()
        self.proc.wait(timeout=5)
        return parse_oscdump("".join(self.lines))


def parse_oscdump(text: str):
    """oscdump -L prints ``<timetag> <address> <types> <args...>``; timetag is hex sec.frac."""
    msgs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[1].startswith("/"):
            continue
        tt, addr, types = parts[0], parts[1], parts[2]
        args = []
        for typ, raw in zip(types, parts[3:]):
            if typ in "fd":
                args.append(float(raw))
            elif typ in "ih":
                args.append(int(raw))
            else:
                args.append(raw.strip('"'))
        try:
            sec, frac = tt.split(".")
            t = int(sec, 16) + int(frac, 16) / 2**32
        except ValueError:
            t = float("nan")
        msgs.append((t, addr, types, args))
    return msgs


@pytest.fixture
def oscdump():
    if shutil.which("oscdump") is None:
        pytest.skip("oscdump is not installed (apt-get install liblo-tools)")
    dumps = []

    def start(port=None):
        d = OscDump(port or free_udp_port())
        dumps.append(d)
        return d

    yield start
    for d in dumps:
        if d.proc.poll() is None:
            d.proc.kill()


needs_gl = pytest.mark.skipif(not osmesa_available(), reason="OSMesa is not installed (apt-get install libosmesa6): "
                              "headless GL tests need it")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="ffmpeg/ffprobe are not installed (apt-get install ffmpeg)")


def video_frame(path, t: float, size) -> np.ndarray:
    """The RGB frame a video shows at ``t`` seconds (decoded by ffmpeg), ``size`` = (w, h)."""
    w, h = size
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t:.4f}", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)
