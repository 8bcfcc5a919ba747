"""Whole-signal features in one call: the live chain's feature stages run in bulk.

``offline_features`` builds the chain ``EnergyContrast → Spectrum → MelSpectrum →
WaveletEnergies → FluxOnsets`` (whole-spectrum onsets) from the config and runs it over the
signal in blocks of hops (:meth:`~sonolux.analysis.Analyzer.analyze`): the same processors
and kernels as live, so the numbers are the live chain's, without Python per hop. It is the
short path for notebooks and the throughput benchmark.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ParameterError
from ..spec import StreamSpec
from .config import AnalysisConfig


def feature_chain(config: AnalysisConfig):
    """The feature stages ``offline_features`` reports, as a chain (whole-spectrum onsets)."""
    from .base import Chain
    from .energy import EnergyContrast
    from .mel import MelSpectrum
    from .onsets import FluxOnsets
    from .spectrum import Spectrum
    from .wavelet import WaveletEnergies

    c = replace(config, onset_bands=())
    stages = [EnergyContrast(c), Spectrum(c), MelSpectrum(c)]
    if c.wavelet is not None:
        stages.append(WaveletEnergies(c))
    return Chain([*stages, FluxOnsets(c)])


def offline_features(y: np.ndarray, spec: StreamSpec | None = None,
                     config: AnalysisConfig | None = None) -> dict:
    """STFT → mel dB, DWT band energies, energy / z, log-mel flux onsets of a whole signal,
    with the sizes of ``spec`` (default ``StreamSpec()``) and the parameters of ``config``
    (default ``AnalysisConfig()``).

    Returns a dict of arrays, one row per hop (``len(y) // hop``): ``t`` (end of each hop, s),
    ``mel_db`` (n, n_mels) float32, ``wavelet_energy`` (n, level+1) float32, ``energy``,
    ``energy_z``, ``onset_strength``, ``onset`` (0/1), and ``onset_times``.

    >>> out = offline_features(np.zeros(48000), StreamSpec(sample_rate=48000))
    >>> out["mel_db"].shape
    (187, 64)
    """
    from ..analysis import Analyzer

    spec = StreamSpec() if spec is None else spec
    config = AnalysisConfig() if config is None else config
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono (1-D), got shape {y.shape}")
    table = Analyzer(spec, config, chain=feature_chain(config)).analyze(y)
    out = {k: table.vectors[k] for k in ("mel_db", "wavelet_energy") if k in table.vectors}
    out.update({k: table.column(k) for k in ("energy", "energy_z", "onset_strength", "onset")})
    out["t"] = table.t
    out["onset_times"] = table.event_times("onset")
    return out


__all__ = ["feature_chain", "offline_features"]
