"""Real peers for the rig outputs: a private network namespace (multicast and fixed ports
without touching the machine's network) and OLA's olad as the DMX receiver.

``@in_private_netns`` runs a test again inside ``unshare -n`` with its own loopback and a
veth pair 10.77.0.1 <-> (peer) carrying the multicast route, so sACN multicast, Link and
mDNS never leave the test and fixed ports (5568, 6454, 9010) never collide with anything.
The outer test passes, fails or skips as the inner one did.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
NETNS_ENV = "SONOLUX_TEST_NETNS"
NETNS_ADDR = "10.77.0.1"
_SETUP = (f"ip link set lo up && ip link set lo multicast on && ip link add rig0 type veth peer name rig1 "
          f"&& ip addr add {NETNS_ADDR}/24 dev rig0 && ip link set rig1 up && ip link set rig0 up "
          "&& ip link set rig0 multicast on && ip route add 224.0.0.0/4 dev rig0")


def netns_unavailable() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare (util-linux) and ip (iproute2) for a private network namespace"
    res = subprocess.run(["unshare", "-n", "sh", "-c", _SETUP], capture_output=True, text=True)
    if res.returncode != 0:
        return f"cannot create a private network namespace (unshare -n needs root): {res.stderr.strip()}"
    return None


def in_private_netns(test):
    """Decorator: run ``test`` inside a private network namespace (see the module docstring)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if os.environ.get(NETNS_ENV) == "1":
            return test(*args, **kwargs)
        reason = netns_unavailable()
        if reason:
            pytest.skip(reason)
        nodeid = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]
        env = dict(os.environ, **{NETNS_ENV: "1"})
        cmd = f"{_SETUP} && exec {sys.executable} -m pytest -q -rs -p no:cacheprovider '{nodeid}'"
        res = subprocess.run(["unshare", "-n", "sh", "-c", cmd], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        out = res.stdout + res.stderr
        skipped = re.search(r"SKIPPED \[\d+\] [^:]+:\d+: (.*)", out)
        if res.returncode == 0 and skipped and " passed" not in out:
            pytest.skip(skipped.group(1))
        assert res.returncode == 0, f"inside the private network namespace:\n{out[-6000:]}"

    return wrapper


class Olad:
    """OLA's daemon with its E1.31 and Art-Net plugins on the namespace's veth address;
    ``record()`` reads universes back through ``ola_recorder``. olad refuses to run as root,
    so it runs as ``nobody`` (a root test process drops privileges for it)."""

    PLUGINS_OFF = ("dummy espnet gpio karate kinet milinst opendmx openpixelcontrol osc renard pathport "
                   "sandnet shownet spi stageprofi uartdmx usbdmx usbserial dmx4linux ftdidmx nanoleaf").split()

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sonolux-ola-"))
        self.proc = None

    def __enter__(self):
        if shutil.which("olad") is None:
            pytest.skip("OLA is not installed (apt-get install ola; scripts/setup.sh --dev does it)")
        cfg = self.dir / "cfg"
        cfg.mkdir()
        (cfg / "ola-e131.conf").write_text(f"enabled = true\nip = {NETNS_ADDR}\ninput_ports = 4\noutput_ports = 0\n")
        (cfg / "ola-artnet.conf").write_text(f"enabled = true\nip = {NETNS_ADDR}\n")
        for p in self.PLUGINS_OFF:
            (cfg / f"ola-{p}.conf").write_text("enabled = false\n")
        os.chmod(self.dir, 0o777)
        os.chmod(cfg, 0o777)
        for f in cfg.iterdir():
            os.chmod(f, 0o666)
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
        self.log = open(self.dir / "olad.log", "w")
        self.proc = subprocess.Popen([*drop, "olad", "-c", str(cfg), "-l", "3", "--no-register-with-dns-sd",
                                      "-p", "9090"], stdout=self.log, stderr=subprocess.STDOUT)
        log = self.dir / "olad.log"

        def devices():
            assert self.proc.poll() is None, f"olad exited: {log.read_text()[-3000:]}"
            info = subprocess.run(["ola_dev_info"], capture_output=True, text=True).stdout
            return info if "E1.31" in info and "ArtNet" in info else None
        info = wait_until(devices, 20, lambda: f"olad's E1.31 and ArtNet devices; its log:\n{log.read_text()[-3000:]}",
                          poll=0.1)
        self.devices = {name: int(d) for d, name in re.findall(r"Device (\d+): (E1\.31|ArtNet)", info)}
        return self

    def patch(self, plugin: str, port: int, universe: int) -> None:
        """Patch input ``port`` of the E1.31 / ArtNet device to OLA universe ``universe``
        (E1.31 listens on sACN universe ``universe``; Art-Net on port-address ``universe & 0xF``)."""
        subprocess.run(["ola_patch", "-d", str(self.devices[plugin]), "-p", str(port), "-i", "-u", str(universe)],
                       check=True, capture_output=True)

    def dmx(self, universe: int) -> list[int]:
        """The universe's current 512 values, live, from olad's HTTP API (``/get_dmx``)."""
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:9090/get_dmx?u={universe}", timeout=2) as r:
            return json.loads(r.read())["dmx"]

    def recorder(self, universes) -> "Recording":
        return Recording(self.dir / f"show-{time.monotonic_ns()}.txt", universes)

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Recording:
    """``ola_recorder`` in the background; ``stop()`` returns the frames it saw as
    (time_s, universe, values) with times from the recorder's own inter-frame delays."""

    def __init__(self, path: Path, universes):
        self.path = path
        self.proc = subprocess.Popen(["ola_recorder", "-r", str(path), "-u", ",".join(map(str, universes))],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self):
        self.proc.send_signal(2)  # SIGINT: the recorder saves and exits
        self.output, _ = self.proc.communicate(timeout=10)
        frames, t = [], 0.0
        for line in self.path.read_text().splitlines()[1:]:  # first line: "OLA Show"
            parts = line.split()
            if len(parts) == 1:
                t += int(parts[0]) / 1e3
            elif len(parts) == 2:
                frames.append((t, int(parts[0]), [int(v) for v in parts[1].split(",")]))
        return frames


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
