"""A private JACK server and a MIDI receiver that does not lose events: the rig of the MIDI
tests (``test_midi``, ``test_rig_show``).

Why it is built as it is (measured on a loaded 2-core machine, where the MIDI tests failed
about 1 run in 3): JACK's default asynchronous mode skips a client that has not finished its
process cycle in time (an xrun) and MIDI events in that cycle's port buffer are lost, or read
twice, whichever client was late — sonolux's, the receiver's or both. With a 1.33 ms cycle and
no realtime scheduling that happened many times a minute. So the dummy server runs in
synchronous mode (``-S``): it waits for every client each cycle (up to ``-t``), and a starved
client delays a cycle, which costs a dummy driver nothing, instead of losing its events. And
the receiver does not run Python inside JACK's process thread (mido's callback input does,
waiting for the GIL there): rtmidi's own queue takes the events in C++, with JACK's arrival
times, and the test drains it. (Measured again for ``test_rig_show``, which had kept the
asynchronous server and a mido callback input and failed in CI without its Start: a
``jack_midi_dump`` on the same port received every message of 1800 while the callback input
received some twice and lost others.)
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import wait_until


def start_jackd(server: str, log: Path) -> subprocess.Popen:
    """A dummy JACK server named ``server`` (48 kHz, 64-frame cycles) in synchronous mode, its
    output in ``log``; returns once a client can register, fails the test if it exits."""
    mido = pytest.importorskip("mido")
    out = log.open("w")
    proc = subprocess.Popen(["jackd", "-n", server, "--no-realtime", "-S", "-t", "10000",
                             "-d", "dummy", "-r", "48000", "-p", "64"],
                            stdout=out, stderr=subprocess.STDOUT)
    out.close()
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")

    def up():
        try:
            mido.open_output("probe", virtual=True).close()
            return True
        except Exception:  # noqa: BLE001 - not up yet
            return proc.poll() is not None  # died: fall through to the check below
    wait_until(up, 10, "jackd")
    if proc.poll() is not None:
        stop_jackd(proc)
        pytest.fail(f"jackd exited{jackd_said(log)}")
    return proc


def stop_jackd(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:  # jackd sometimes hangs in its shutdown: never leave it behind
        proc.kill()
        proc.wait(5)


def jackd_said(log: Path | None) -> str:
    """jackd's log without its routine lines (each late timer wake-up is one), for a failure message."""
    if log is None or not log.exists():
        return ""
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if "Process XRun =" not in ln]
    return "; jackd said: " + " | ".join(lines[-8:])


class Receiver:
    """A python-rtmidi input connected to sonolux's port, in queue mode: rtmidi's process
    callback queues each event in C++ (no Python, no GIL inside JACK's cycle) with its arrival
    time in the MIDI system's clock; ``got`` drains the queue into (arrival s, message), the
    first message at 0."""

    QUEUE = 1 << 16  # events rtmidi holds between two reads (it drops beyond, saying so on stderr)

    def __init__(self, midi_system: str, port_name: str, *, timeout: float = 5.0):
        rtmidi = pytest.importorskip("rtmidi")
        api = rtmidi.API_UNIX_JACK if midi_system == "jack" else rtmidi.API_LINUX_ALSA
        self.rt = rtmidi.MidiIn(api, "sonolux-test receiver", self.QUEUE)
        self.rt.ignore_types(sysex=False, timing=False, active_sense=True)  # keep clock messages
        name = wait_until(lambda: next((n for n in self.rt.get_ports() if port_name in n), None), timeout,
                          f"port {port_name!r} to appear")
        self.rt.open_port(self.rt.get_ports().index(name))
        self._got, self._t = [], 0.0

    @property
    def got(self) -> list:
        mido = pytest.importorskip("mido")
        while self.rt is not None and (event := self.rt.get_message()) is not None:
            data, delta = event  # delta: seconds since the previous event
            self._t += delta
            self._got.append((self._t, mido.Message.from_bytes(data)))
        return self._got

    def of(self, *types):
        return [(t, m) for t, m in self.got if m.type in types]

    def close(self):
        """Read what is queued, then disconnect (``got`` keeps what arrived)."""
        self.got
        self.rt.close_port()
        self.rt = None
