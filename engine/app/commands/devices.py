"""``sonolux devices``: list audio inputs by name."""
from __future__ import annotations


def add_parser(sub) -> None:
    sub.add_parser("devices", help="list audio input devices (PortAudio and PulseAudio sources)",
                   description="List input devices with index, name, channels and default sample "
                               "rate. Use the name (or a unique part of it) with `run --input`.")


def run(args) -> int:
    from ...sources import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("no input devices found")
        return 1
    print(f"{'index':>5}  {'channels':>8}  {'rate':>7}  {'api':<10}  name")
    for d in devices:
        idx = "-" if d.index is None else str(d.index)
        print(f"{idx:>5}  {d.channels:>8}  {d.default_samplerate:>7g}  {d.hostapi:<10}  {d.name}")
    return 0
