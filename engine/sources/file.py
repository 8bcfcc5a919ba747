"""Audio files: read with soundfile (WAV, FLAC, OGG/Opus, MP3 with libsndfile ≥ 1.1),
downmix, and resample to the engine rate with soxr."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AudioFileError
from .array import ArraySource
from .base import select_channels


def load_audio(path, sample_rate: int, channels=None) -> np.ndarray:
    """Mono float32 signal of ``path`` at ``sample_rate``; raises AudioFileError with the
    file name and the reason when it cannot be read."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.is_dir():
        raise AudioFileError(f"{p}: is a directory, not an audio file")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioFileError(f"{p}: cannot read audio ({str(e).strip() or type(e).__name__})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{p}: the file holds no audio samples")
    chans = select_channels(channels, data.shape[1])
    mono = data[:, chans].mean(axis=1)
    mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
    if sr != sample_rate:
        import soxr

        mono = soxr.resample(mono, sr, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


class FileSource(ArraySource):
    def __init__(self, path, sample_rate: int, block_size: int, *, realtime: bool = True,
                 loop: bool = False, channels=None):
        signal = load_audio(path, sample_rate, channels)
        super().__init__(signal, sample_rate, block_size, realtime=realtime, loop=loop,
                         name=Path(path).name)
        self.path = Path(path)
