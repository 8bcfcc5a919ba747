"""Live capture through PortAudio (python-sounddevice).

Devices are chosen by name, never by index alone (indices move when hardware changes):
an exact name, else a unique substring of a PortAudio input device, else a PulseAudio
source (a sink's ``.monitor`` included) opened through PortAudio's ``pulse`` device with
``PULSE_SOURCE`` set — that is how loopback capture works on Linux.

The callback copies and counts, nothing else (see ``BlockWriter``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


from ..errors import DeviceError
from ..ringbuffer import BlockWriter
from .base import AudioSource, select_channels


@dataclass(frozen=True)
class InputDevice:
    index: int | None  # PortAudio index (None for a PulseAudio source not known to PortAudio)
    name: str
    channels: int
    default_samplerate: float
    hostapi: str
    pulse_source: str | None = None  # set when opened through PortAudio's "pulse" device


def _sd():
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise DeviceError(f"PortAudio is not available ({e}); install libportaudio2") from None
    return sd


def portaudio_inputs() -> list[InputDevice]:
    sd = _sd()
    apis = sd.query_hostapis()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            out.append(InputDevice(i, d["name"], d["max_input_channels"],
                                   d["default_samplerate"], apis[d["hostapi"]]["name"]))
    return out


def pulse_sources() -> list[InputDevice]:
    """PulseAudio / PipeWire sources (empty when no server or no ``pactl``)."""
    if shutil.which("pactl") is None:
        return []
    try:
        res = subprocess.run(["pactl", "list", "short", "sources"], capture_output=True,
                             text=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if res.returncode != 0:
        return []
    out = []
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        spec = cols[3].split()  # e.g. "s16le 2ch 44100Hz"
        ch = next((int(s[:-2]) for s in spec if s.endswith("ch") and s[:-2].isdigit()), 2)
        sr = next((float(s[:-2]) for s in spec if s.endswith("Hz") and s[:-2].isdigit()), 48000.0)
        out.append(InputDevice(None, cols[1], ch, sr, "PulseAudio", pulse_source=cols[1]))
    return out


def list_input_devices() -> list[InputDevice]:
    return portaudio_inputs() + pulse_sources()


def resolve_device(name: str | None) -> InputDevice:
    """Find an input device by exact name, then by unique case-insensitive substring."""
    pa = portaudio_inputs()
    if name is None:
        sd = _sd()
        idx = sd.default.device[0]
        if idx is None or idx < 0:
            if not pa:
                raise DeviceError("no audio input device found (is a sound card or PulseAudio available?)")
            return pa[0]
        return next((d for d in pa if d.index == idx), pa[0])
    candidates = pa + pulse_sources()
    exact = [d for d in candidates if d.name == name]
    if exact:
        return exact[0]
    low = name.lower()
    exact_ci = [d for d in candidates if d.name.lower() == low]
    if exact_ci:
        return exact_ci[0]
    partial = [d for d in candidates if low in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    names = ", ".join(repr(d.name) for d in candidates) or "none"
    if not partial:
        raise DeviceError(f"no input device matches {name!r}; available: {names} (see `sonolux devices`)")
    raise DeviceError(f"input device name {name!r} is ambiguous; it matches "
                      + ", ".join(repr(d.name) for d in partial) + "; give more of the name")


class LiveSource(AudioSource):
    """PortAudio input stream; the callback downmixes the chosen channels into the ring."""

    def __init__(self, device: str | None, sample_rate: int, block_size: int, channels=None,
                 latency: str | float = "low"):
        super().__init__()
        self.requested = device  # the name as given: re-resolved on every reconnect
        self.device = resolve_device(device)
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.channel_select = select_channels(channels, self.device.channels)
        self.n_open = int(self.channel_select.max()) + 1
        self.latency = latency
        self.name = self.device.name
        self._stream = None
        self.input_overflows = 0
        self.status_reports = 0
        self.actual_rate = sample_rate
        self.rate_listener = None  # called with the stream's rate before audio flows

    def _callback(self, indata, frames, time_info, status):
        if status:
            self.status_reports += 1
            if status.input_overflow:
                self.input_overflows += 1
        self.writer.write(indata)

    def start(self, ring) -> None:
        # PortAudio may deliver blocks larger than asked for; leave room instead of allocating
        self.writer = BlockWriter(ring, self.channel_select, max(4 * self.block_size, 8192))
        self._open()

    def _open(self) -> int:
        """Open and start the stream at the engine rate, else at the device's own rate;
        ``rate_listener(rate)`` (set by the engine) runs before audio flows. Returns the rate."""
        sd = _sd()
        dev = self.device
        index = dev.index
        if dev.pulse_source is not None:
            os.environ["PULSE_SOURCE"] = dev.pulse_source
            index = next((d.index for d in portaudio_inputs() if d.name == "pulse"), None)
            if index is None:
                raise DeviceError(f"{dev.name!r} is a PulseAudio source, but PortAudio has no 'pulse' "
                                  "device; install libasound2-plugins")
        rates = [self.sample_rate]
        if int(dev.default_samplerate) not in rates and dev.default_samplerate > 0:
            rates.append(int(dev.default_samplerate))
        error = None
        for rate in rates:
            try:
                stream = sd.InputStream(device=index, channels=self.n_open, samplerate=rate,
                                        blocksize=self.block_size, dtype="float32",
                                        latency=self.latency, callback=self._callback)
            except sd.PortAudioError as e:
                error = e
                continue
            self.actual_rate = rate
            if self.rate_listener is not None:
                self.rate_listener(rate)
            self._stream = stream
            stream.start()
            return rate
        raise DeviceError(
            f"cannot open input device {dev.name!r} at {self.sample_rate} Hz, {self.n_open} channel(s): "
            f"{error}; its default rate is {dev.default_samplerate:g} Hz (try --samplerate "
            f"{int(dev.default_samplerate)})")

    def reconnect(self) -> int:
        """Close what is left of the stream, find the device again by its name and reopen it.
        Raises DeviceError while it is still gone."""
        self.stop()
        self.device = resolve_device(self.requested)
        return self._open()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # a stream whose device vanished may fail to close; it is gone anyway
                pass

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.active
