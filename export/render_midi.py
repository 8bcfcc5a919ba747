"""Render MIDI files to 16 kHz mono WAV with FluidSynth (cached under export/work/renders)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tqdm import tqdm

from .workspace import WORK, DataMissing

SOUNDFONTS = ("/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2")


def soundfont() -> str:
    for sf2 in SOUNDFONTS:
        if Path(sf2).is_file():
            return sf2
    raise DataMissing(f"no General MIDI soundfont at {SOUNDFONTS}; apt-get install timgm6mb-soundfont")


def render(midi: str, wav: Path, sf2: str) -> None:
    if shutil.which("fluidsynth") is None:
        raise DataMissing("fluidsynth is not installed; apt-get install fluidsynth")
    wav.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["fluidsynth", "-ni", "-g", "0.6", "-F", str(wav), "-r", "16000", sf2, midi],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def render_all(items: list[tuple[str, str]], *, subdir: str = "vgmidi") -> dict[str, str]:
    """{id: wav path} for [(id, midi path)], rendering only what is not cached yet."""
    sf2 = soundfont()
    out = {}
    for mid_id, midi in tqdm(items, desc=f"render {subdir}", unit="midi"):
        wav = WORK / "renders" / subdir / f"{mid_id}.wav"
        if not wav.is_file():
            render(midi, wav, sf2)
        out[mid_id] = str(wav)
    return out
