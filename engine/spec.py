"""StreamSpec: the one description of the audio stream every processor is prepared with.

Validated once at construction, so nothing on the real-time path has to check sizes again.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ParameterError

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return value


def is_power_of_two(n: int) -> bool:
    return n > 0 and (n & (n - 1)) == 0


@dataclass(frozen=True)
class StreamSpec:
    """Sample rate, block size, channel count, FFT size and hop of one engine run.

    ``block_size`` is what the audio source delivers per callback; ``hop`` is what the
    analysis consumes per step. The two are independent: the ring buffer decouples them.
    """

    sample_rate: int = 48_000
    block_size: int = 256
    channels: int = 1
    n_fft: int = 1024
    hop: int = 256

    def __post_init__(self):
        _positive_int("sample_rate", self.sample_rate)
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ParameterError(
                f"sample_rate={self.sample_rate} is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
            )
        _positive_int("block_size", self.block_size)
        _positive_int("channels", self.channels)
        _positive_int("n_fft", self.n_fft)
        _positive_int("hop", self.hop)
        if not is_power_of_two(self.n_fft):
            raise ParameterError(f"n_fft={self.n_fft} must be a power of two (e.g. 512, 1024, 2048)")
        if self.n_fft < 16:
            raise ParameterError(f"n_fft={self.n_fft} must be at least 16")
        if self.hop > self.n_fft:
            raise ParameterError(f"hop={self.hop} must not exceed n_fft={self.n_fft}")

    @property
    def hop_seconds(self) -> float:
        return self.hop / self.sample_rate

    @property
    def frame_rate(self) -> float:
        """Analysis frames (hops) per second."""
        return self.sample_rate / self.hop

    def ring_capacity(self) -> int:
        """Power-of-two ring size holding at least ~0.5 s and 16 blocks: room for jitter."""
        need = max(self.sample_rate // 2, 16 * self.block_size, 4 * self.n_fft)
        return 1 << (need - 1).bit_length()
