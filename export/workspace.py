"""Where the export scripts read and write, and the error for data that is not there.

Kept in its own module (imported by ``data`` and ``render_midi`` alike) so that the dataset
builders and the MIDI renderer do not import each other.

>>> from export.workspace import WORK
>>> WORK.name
'work'
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]   # the repository: export/work lives in it
DEFAULT_DATA = REPO.parent / "shared" / "data"
WORK = REPO / "export" / "work"


class DataMissing(FileNotFoundError):
    """The shared data folder (or a part of it) is absent."""
