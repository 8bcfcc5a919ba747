"""Bad input fails early and clearly (librosa's test_failures manner): every processor and
public feature function, given a wrong size, a non-positive or a non-finite parameter, raises
a ParameterError whose message names the bad value."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sonolux.analysis import AnalysisConfig, Analyzer
from sonolux.errors import ParameterError
from sonolux.features.bands import BandLevels, bands_from_edges
from sonolux.features.beat import BeatState, BeatTracker
from sonolux.features.energy import EnergyContrast, TempoContrast, segment_energies, same_region
from sonolux.features.levels import LevelMeter
from sonolux.features.mel import MelSpectrum, MelState, log_mel_frames, mel_filterbank
from sonolux.features.bulk import offline_features
from sonolux.features.onsets import FluxOnsets
from sonolux.features.preemphasis import PreEmphasis, preemphasis
from sonolux.features.regions import RegionStage
from sonolux.features.resample import StreamResampler
from sonolux.features.spectrum import Spectrum, StftState, stft_power_frames
from sonolux.features.wavelet import WaveletEnergies, WaveletState, wavedec, wavelet_energies_frames
from sonolux.frame import FrameLayout
from sonolux.segment import Segmenter
from sonolux.spec import StreamSpec

SPEC = StreamSpec()
NAN, INF = float("nan"), float("inf")
CFG = AnalysisConfig()


def config(**kw) -> AnalysisConfig:
    return replace(CFG, **kw)


# (processor factory, config field, bad value): the error message must name field=value
PROCESSOR_CASES = [
    (LevelMeter, "floor_db", 0.0), (LevelMeter, "floor_db", NAN), (LevelMeter, "floor_db", 6.0),
    (BandLevels, "floor_db", INF),
    (EnergyContrast, "energy_segment_s", 0.0), (EnergyContrast, "energy_segment_s", -1.0),
    (EnergyContrast, "energy_segment_s", NAN), (EnergyContrast, "energy_band", (NAN, 1.4)),
    (TempoContrast, "tempo_segment_s", 0.0), (TempoContrast, "tempo_segment_s", INF),
    (TempoContrast, "tempo_band", (0.8, INF)),
    (PreEmphasis, "preemphasis", 1.0), (PreEmphasis, "preemphasis", NAN),
    (Spectrum, "window", "hanning-ish"),
    (MelSpectrum, "n_mels", 0), (MelSpectrum, "n_mels", -3), (MelSpectrum, "n_mels", 2.5),
    (MelSpectrum, "mel_fmin", NAN), (MelSpectrum, "mel_fmin", -1.0),
    (MelSpectrum, "mel_fmax", 0.0), (MelSpectrum, "mel_fmax", INF), (MelSpectrum, "mel_amin", 0.0),
    (WaveletEnergies, "wavelet_window", 0), (WaveletEnergies, "wavelet_level", 0),
    (WaveletEnergies, "wavelet", "db77x"), (WaveletEnergies, "wavelet_mode", "wrap"),
    (FluxOnsets, "onset_k", NAN), (FluxOnsets, "onset_k", -1.0),
    (FluxOnsets, "onset_history_s", 0.0), (FluxOnsets, "onset_min_gap_s", -0.1),
    (FluxOnsets, "onset_gamma", 0.0), (FluxOnsets, "onset_floor_db", NAN),
    (FluxOnsets, "onset_low_hz", 0.0), (FluxOnsets, "onset_band_range_db", -5.0),
    (FluxOnsets, "onset_gate_db", INF),
    (BeatTracker, "bpm_range", (0.0, 100.0)), (BeatTracker, "bpm_range", (NAN, 180.0)),
    (BeatTracker, "beat_history_s", 0.0), (BeatTracker, "beat_tau_s", 0.0),
    (BeatTracker, "beat_tau_s", NAN), (BeatTracker, "beat_est_every_s", -1.0),
    (BeatTracker, "beat_prior_sigma_oct", 0.0), (BeatTracker, "beat_offset_s", INF),
    (BeatTracker, "tap_hold_s", 0.0), (BeatTracker, "tap_reset_s", NAN),
    (lambda c: RegionStage(Segmenter(), c), "energy_segment_s", 0.0),
    (lambda c: RegionStage(Segmenter(), c), "tempo_segment_s", NAN),
    (lambda c: RegionStage(Segmenter(), c), "region_step_window_s", -1.0),
    (lambda c: RegionStage(Segmenter(), c), "region_tempo_source", "vibes"),
]


@pytest.mark.parametrize("make,field,value", PROCESSOR_CASES)
def test_processor_refuses_a_bad_parameter(make, field, value):
    with pytest.raises(ParameterError) as err:
        p = make(config(**{field: value}))
        p.prepare(SPEC, FrameLayout(), _facts())  # some sizes are only known at prepare
    msg = str(err.value)
    assert str(value) in msg or repr(value) in msg or (isinstance(value, tuple) and "range" in msg), msg


def _facts():
    from sonolux.features.base import ChainFacts
    f = ChainFacts()
    f.window = np.hanning(SPEC.n_fft)
    f.n_mels, f.mel_fmin, f.mel_fmax = 64, 0.0, 16000.0
    f.onset_flux = True
    return f


@pytest.mark.parametrize("field,value,match", [
    ("n_mels", 0, "n_mels=0"), ("energy_segment_s", NAN, "energy_segment_s=nan"),
    ("onset_k", INF, "onset_k=inf"), ("bpm_range", (150, 100), r"bpm range \(150, 100\)"),
    ("wavelet_level", 9, "level=9"), ("floor_db", 0.0, "floor_db=0.0")])
def test_analyzer_refuses_a_bad_config_before_the_first_hop(field, value, match):
    with pytest.raises(ParameterError, match=match):
        Analyzer(SPEC, config(**{field: value}))


@pytest.mark.parametrize("make,match", [
    (lambda: StreamSpec(sample_rate=0), "sample_rate=0"),
    (lambda: StreamSpec(hop=0), "hop=0"),
    (lambda: StreamSpec(n_fft=1000), "n_fft=1000"),
    (lambda: StreamSpec(hop=2048), "hop=2048"),
    (lambda: StreamSpec(block_size=-1), "block_size=-1"),
    (lambda: StftState(1024, 0), "hop=0"),
    (lambda: StftState(1000, 256), "n_fft=1000"),
    (lambda: StftState(1024, 256, "tri"), "window='tri'"),
    (lambda: MelState(sample_rate=48000, n_fft=1024, n_mels=0), "n_mels=0"),
    (lambda: MelState(sample_rate=48000, n_fft=1024, amin=0.0), "amin=0.0"),
    (lambda: MelState(sample_rate=48000, n_fft=1024, amin=NAN), "amin=nan"),
    (lambda: mel_filterbank(sample_rate=-1, n_fft=1024), "sample_rate=-1"),
    (lambda: mel_filterbank(sample_rate=48000, n_fft=1024, fmin=NAN), "fmin=nan"),
    (lambda: mel_filterbank(sample_rate=48000, n_fft=1024, fmax=30000.0), "fmax=30000.0"),
    (lambda: log_mel_frames(np.zeros(4096), sample_rate=48000, n_fft=1024, hop=0, n_mels=64), "hop=0"),
    (lambda: log_mel_frames(np.zeros((2, 4096)), sample_rate=48000, n_fft=1024, hop=256, n_mels=64),
     r"shape \(2, 4096\)"),
    (lambda: stft_power_frames(np.zeros(4096), n_fft=1024, hop=-256), "hop=-256"),
    (lambda: stft_power_frames(np.zeros((4096, 2)), n_fft=1024, hop=256), r"shape \(4096, 2\)"),
    (lambda: WaveletState(0), "window=0"),
    (lambda: WaveletState(1024, hop=0), "hop=0"),
    (lambda: WaveletState(1024, "db4", 9), "level=9"),
    (lambda: wavedec(np.zeros(64), "db4", level=0), "level=0"),
    (lambda: wavelet_energies_frames(np.zeros(4096), hop=0, window=1024), "hop=0"),
    (lambda: segment_energies(np.zeros(100), segment=0), "segment=0"),
    (lambda: same_region(np.ones(3), band=(1.2, 1.4)), r"band=\(1.2, 1.4\)"),
    (lambda: preemphasis(np.zeros(10), alpha=NAN), "alpha=nan"),
    (lambda: bands_from_edges([100, 50]), "100.0, 50.0"),
    (lambda: BeatState(0.0, CFG), "fps=0.0"),
    (lambda: BeatState(187.5, config(beat_history_s=INF)), "beat_history_s=inf"),
    (lambda: StreamResampler(0, 16000, 256), "sr_in=0"),
    (lambda: StreamResampler(48000, 16000, 0), "max_block=0"),
    (lambda: offline_features(np.zeros((2, 100)), SPEC), r"shape \(2, 100\)"),
])
def test_public_function_refuses_a_bad_argument(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


@pytest.mark.parametrize("make,call,match", [
    (lambda: StftState(1024, 256), lambda s: s.push(np.zeros(255)), "255 samples, expected hop=256"),
    (lambda: Analyzer(SPEC), lambda a: a.process_hop(np.zeros(257, np.float32), a.layout.new_frame()),
     "257 samples, expected hop=256"),
    (lambda: StreamResampler(48000, 16000, 256), lambda r: r.process(np.zeros(257)),
     "257 samples, more than max_block=256"),
    (lambda: WaveletState(1024, hop=256), lambda w: w.push(np.zeros(2048)), None),
])
def test_wrong_size_input_names_both_sizes(make, call, match):
    obj = make()
    if match is None:  # a block longer than the window is legal: the newest samples count
        call(obj)
        return
    with pytest.raises(ParameterError, match=match):
        call(obj)


def test_chain_order_errors_name_the_missing_stage():
    from sonolux.features.base import Chain, ChainFacts
    with pytest.raises(ParameterError, match="MelSpectrum needs the Spectrum stage"):
        Chain([MelSpectrum(CFG)]).prepare(SPEC, FrameLayout(), ChainFacts())
    with pytest.raises(ParameterError, match="BandLevels needs the Spectrum stage"):
        Chain([BandLevels(CFG)]).prepare(SPEC, FrameLayout())
    with pytest.raises(ParameterError, match="BeatTracker needs the onset stage"):
        Chain([BeatTracker(CFG)]).prepare(SPEC, FrameLayout())
    with pytest.raises(ParameterError, match="TempoContrast needs the onset stage"):
        Chain([TempoContrast(CFG)]).prepare(SPEC, FrameLayout())
