"""Audio files: read with soundfile (WAV, FLAC, OGG/Opus, MP3 with libsndfile ≥ 1.1),
downmix, and resample to the engine rate with soxr."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AudioFileError
from .array import ArraySource
from .base import select_channels


def audio_chunks(path, sample_rate: int, *, chunk_s: float = 10.0, channels=None):
    """``(n_samples, chunks)``: the mono float32 signal of ``path`` at ``sample_rate`` as an
    iterator of ``chunk_s``-second chunks, and its length in samples; raises AudioFileError
    with the file name and the reason when it cannot be read. Channels are averaged (or
    ``channels`` picked), NaN/inf cleaned, and a file at another rate is resampled with soxr
    (HQ) as a stream, which gives the same samples as resampling the whole file at once.

    >>> n, chunks = audio_chunks("clip.wav", 48000)  # doctest: +SKIP
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.is_dir():
        raise AudioFileError(f"{p}: is a directory, not an audio file")
    try:
        f = sf.SoundFile(str(p))
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioFileError(f"{p}: cannot read audio ({str(e).strip() or type(e).__name__})") from None
    if f.frames == 0:
        f.close()
        raise AudioFileError(f"{p}: the file holds no audio samples")
    sr, frames = f.samplerate, f.frames
    chans = select_channels(channels, f.channels)
    n_out = frames if sr == sample_rate else int(np.ceil(frames * sample_rate / sr))

    def chunks():
        stream = None
        if sr != sample_rate:
            import soxr

            stream = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32", quality="HQ")
        step = max(1, int(chunk_s * sr))
        with f:
            done = 0
            while done < frames:
                data = f.read(min(step, frames - done), dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                done += data.shape[0]
                mono = data[:, chans].mean(axis=1)
                mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=done >= frames)
                yield np.ascontiguousarray(mono, dtype=np.float32)

    return n_out, chunks()


def load_audio(path, sample_rate: int, channels=None) -> np.ndarray:
    """Mono float32 signal of ``path`` at ``sample_rate`` (all of it; see
    :func:`audio_chunks` for reading a long file piece by piece)."""
    _, chunks = audio_chunks(path, sample_rate, channels=channels)
    return np.ascontiguousarray(np.concatenate(list(chunks)), dtype=np.float32)


class FileSource(ArraySource):
    def __init__(self, path, sample_rate: int, block_size: int, *, realtime: bool = True,
                 loop: bool = False, channels=None):
        signal = load_audio(path, sample_rate, channels)
        super().__init__(signal, sample_rate, block_size, realtime=realtime, loop=loop,
                         name=Path(path).name)
        self.path = Path(path)
