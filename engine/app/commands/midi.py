"""``sonolux midi ports``: the MIDI output ports ``--midi-clock`` / ``--midi-notes`` can open."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("midi", help="MIDI output ports (for --midi-clock and --midi-notes)",
                       description="MIDI helpers. `sonolux midi ports` lists the output ports.")
    midi_sub = p.add_subparsers(dest="midi_command", metavar="SUBCOMMAND")
    midi_sub.add_parser("ports", help="list the MIDI output ports by name",
                        description="List the MIDI output ports by name. Give a name (or a unique part "
                                    "of it) to --midi-clock / --midi-notes, or virtual:NAME to create a "
                                    "port other programs connect to. MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK "
                                    "uses JACK instead of the ALSA sequencer.")


def run(args) -> int:
    from ...errors import DeviceError
    from ...outputs.polled import require

    mido = require("mido", "MIDI output")
    require("rtmidi", "MIDI output")
    try:
        names = mido.get_output_names()
    except (OSError, SystemError, RuntimeError) as e:
        raise DeviceError(f"the MIDI system cannot be opened ({str(e).strip()})") from None
    if not names:
        print("no MIDI output ports (create one with --midi-clock virtual:NAME)")
        return 1
    for n in names:
        print(n)
    return 0
