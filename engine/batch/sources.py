"""Which tracks a batch covers: files, folders (searched recursively) and globs, plus the
content hash that makes a rerun skip what is already analysed.

Explicit files are taken as given (the analysis says when one is not audio); folders and globs
contribute files with an audio suffix only, so cover art and playlists next to the music are
not reported as failures.
"""
from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

from ..errors import ParameterError

AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif",
                            ".aiff", ".aifc", ".w64", ".caf", ".au", ".snd", ".rf64"})
HASH_CHUNK = 1 << 20


def is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES


def _audio_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found.extend(Path(root) / f for f in sorted(files) if is_audio_name(Path(f)))
    return found


def find_tracks(sources) -> list[Path]:
    """Absolute paths of the tracks named by ``sources`` (files, folders, globs), in a stable
    order without repeats.

    >>> find_tracks(["~/Music/set1", "~/Music/extra/*.flac"])  # doctest: +SKIP
    [PosixPath('/home/vj/Music/set1/a.wav'), ...]
    """
    tracks: dict[Path, None] = {}
    for source in sources:
        text = os.path.expanduser(str(source))
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise ParameterError(f"{source}: no file matches this pattern")
            for m in map(Path, matches):
                for t in (_audio_under(m) if m.is_dir() else [m] if is_audio_name(m) else []):
                    tracks.setdefault(t.absolute(), None)
            continue
        p = Path(text)
        if p.is_dir():
            for t in _audio_under(p):
                tracks.setdefault(t.absolute(), None)
        elif p.exists():
            tracks.setdefault(p.absolute(), None)
        else:
            raise ParameterError(f"{source}: no such file or folder")
    return list(tracks)


def content_hash(path) -> str:
    """SHA-256 of the file's bytes (hex): the identity a rerun checks, whatever the name.

    >>> content_hash("song.wav")  # doctest: +SKIP
    '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()
