"""Offline throughput of the analysis chain next to librosa + pywt and Essentia on the same
features, same signal, one core; and the live per-hop cost.

    python benchmarks/throughput.py [--seconds 60] [--repeat 5]

Offline speed (× real time = audio seconds / seconds, best of ``--repeat``; wall and this
process's CPU time) at 48 kHz, n_fft 1024, hop 256 (the StreamSpec / AnalysisConfig
defaults):

* the feature set: STFT (Hann) power → 64-band Slaney mel → dB; db4 Mallat DWT to level 5
  over the last 1024 samples at every hop (6 band energies); short-term energy over
  AnalysisConfig's energy_segment_s (2 s) + z; log-mel flux onsets with a peak picker.
* sonolux: ``offline_features`` (those stages of the live chain, run in bulk), and the whole
  default live chain in bulk (``Analyzer.analyze``: adds levels, band levels, per-band
  onsets, tempo z, beat tracker, silence gate, override, emotion regions with the fused cues,
  sections).
* librosa / pywt, vectorised over the whole signal: ``librosa.stft`` (center=False on the
  left-padded signal) → ``melspectrogram(S=…)`` → ``power_to_db`` → ``onset_strength(S=…)`` →
  ``onset_detect``; ``pywt.wavedec`` on all sliding windows at once (axis=-1); numpy energies.
* Essentia (standard mode, when installed): FrameGenerator → Windowing (hann) → Spectrum →
  MelBands (64, Slaney, power) → dB, OnsetDetection('flux') → Onsets. Essentia has no DWT, so
  it is compared with sonolux and librosa on the same subset without the wavelet energies.

Where the time goes: thread-CPU µs per hop of each stage, for ``offline_features``'s chain
and the default chain (``stage_us_per_hop_cpu``); ``seconds_spread`` gives the median and
worst of the ``--repeat`` runs next to the best.

Live cost: wall and thread-CPU time of each ``Analyzer.process_hop`` (default chain) after
warm-up; p50 / p99 / max in µs. The machine is shared: the load average before and after is
recorded, and CPU times (this process only) are less affected by other jobs than wall
times. The signal is a POP909 render when available, else a synthetic mix.
Results: benchmarks/results/throughput.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from _common import ALL_THREAD_VARS, single_thread, write_result

single_thread(ALL_THREAD_VARS)  # before numpy and numba: one core
import numpy as np  # noqa: E402

from sonolux.features.config import AnalysisConfig  # noqa: E402
from sonolux.spec import StreamSpec  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.json"
SPEC, CONFIG = StreamSpec(), AnalysisConfig()  # the defaults: 48 kHz, n_fft 1024, hop 256, 64 mels
SR, N_FFT, HOP, N_MELS = SPEC.sample_rate, SPEC.n_fft, SPEC.hop, CONFIG.n_mels


def signal(seconds: float) -> tuple[np.ndarray, str]:
    try:
        import _pop909 as P

        if P.available() is None:
            y = P.render("001", SR)
            start = 10 * SR
            y = y[start:start + int(seconds * SR)]
            if len(y) >= int(seconds * SR) * 0.9:
                return y.astype(np.float32), "POP909 001 render"
    except Exception:  # noqa: BLE001 - fall back to a synthetic signal
        pass
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.standard_normal(n)
    for tb in np.arange(0, seconds, 0.5):
        i = int(tb * SR)
        y[i:i + 2000] += 0.5 * rng.standard_normal(min(2000, n - i)) * np.exp(-np.arange(min(2000, n - i)) / 300)
    return y.astype(np.float32), "synthetic"


def librosa_features(y):
    import pywt

    mel_db, onsets = librosa_subset(y)
    # wavelet: every hop's last 1024 samples, zeros before the start, in one call
    w = CONFIG.wavelet_window
    yw = np.pad(y.astype(np.float64), (w, 0))
    frames = np.lib.stride_tricks.sliding_window_view(yw, w)[HOP::HOP][: len(y) // HOP]
    coeffs = pywt.wavedec(frames, CONFIG.wavelet, mode=CONFIG.wavelet_mode,
                          level=CONFIG.wavelet_level, axis=-1)
    wl = np.stack([np.mean(c * c, axis=-1) for c in coeffs], axis=-1)
    m = int(round(CONFIG.energy_segment_s * SR))
    n = len(y) // m
    energy = np.mean(y[: n * m].astype(np.float64).reshape(n, m) ** 2, axis=1)
    z = (energy[1:] + 1e-10) / (energy[:-1] + 1e-10)
    return mel_db, wl, onsets, z


def librosa_subset(y):
    """librosa's part of the set Essentia also computes: STFT power → mel dB → flux onsets."""
    import librosa

    yp = np.pad(y.astype(np.float32), (N_FFT - HOP, 0))
    S = np.abs(librosa.stft(yp, n_fft=N_FFT, hop_length=HOP, center=False, window="hann")) ** 2
    mel = librosa.feature.melspectrogram(S=S, sr=SR, n_mels=N_MELS, fmax=CONFIG.mel_fmax_hz(SR))
    mel_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    env = librosa.onset.onset_strength(S=mel_db, sr=SR, hop_length=HOP)
    return mel_db, librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=HOP)


def essentia_subset(y):
    """Essentia standard mode: Windowing → Spectrum → MelBands → dB, flux onset detection."""
    import essentia.standard as es

    win = es.Windowing(type="hann", size=N_FFT, normalized=False)
    spec = es.Spectrum(size=N_FFT)
    mel = es.MelBands(numberBands=N_MELS, sampleRate=SR, inputSize=N_FFT // 2 + 1,
                      highFrequencyBound=CONFIG.mel_fmax_hz(SR), lowFrequencyBound=CONFIG.mel_fmin,
                      type="power", warpingFormula="slaneyMel", normalize="unit_tri")
    odf = es.OnsetDetection(method="flux", sampleRate=SR)
    rows, flux = [], []
    for frame in es.FrameGenerator(y.astype(np.float32), frameSize=N_FFT, hopSize=HOP,
                                   startFromZero=True):
        s = spec(win(frame))
        m = mel(s)
        rows.append(10.0 * np.log10(np.maximum(m, 1e-10)))
        flux.append(odf(s, np.zeros_like(s)))
    onsets = es.Onsets(frameRate=SR / HOP)(np.array([flux], dtype=np.float32), [1.0])
    return np.array(rows), onsets


def subset_chain():
    """sonolux's stages for the Essentia subset (no wavelet, no energy)."""
    from dataclasses import replace

    from sonolux.features.base import Chain
    from sonolux.features.mel import MelSpectrum
    from sonolux.features.onsets import FluxOnsets
    from sonolux.features.spectrum import Spectrum

    c = replace(CONFIG, onset_bands=())
    return Chain([Spectrum(c), MelSpectrum(c), FluxOnsets(c)])


SPREAD = {}  # path -> every run's (wall, CPU) seconds, for the spread in the JSON


def best_times(paths: dict, repeat: int) -> dict:
    """name -> (best wall seconds, best CPU seconds of this process) over ``repeat`` rounds;
    each round runs every path once, in turn, so a path and its peer are timed seconds apart
    (on a shared VM the machine's speed drifts over tens of seconds: timing all of one path's
    runs, then all of the other's, moved the ratios by ±15 %). Every run's times go to
    ``SPREAD[name]``."""
    runs = {name: [] for name in paths}
    for _ in range(repeat):
        for name, fn in paths.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            runs[name].append((time.perf_counter() - t0, time.process_time() - c0))
    SPREAD.update(runs)
    return {name: (min(w for w, _ in r), min(c for _, c in r)) for name, r in runs.items()}


def stage_profile(analyzer, y, repeat):
    """Thread-CPU µs per hop of each stage of ``analyzer``'s chain in a bulk run (best run of
    ``repeat``): block stages timed around ``process_block``, hop-by-hop stages around each
    ``process`` call; ``(per-hop loop, block glue)`` is the rest of the run."""
    tt = time.thread_time
    spent = {}
    originals = []
    for p in analyzer.chain.processors:
        name = type(p).__name__
        attr = "process_block" if p.blockwise else "process"
        fn = getattr(p, attr)
        originals.append((p, attr))

        def timed(*a, _fn=fn, _name=name):
            c = tt()
            _fn(*a)
            spent[_name] = spent.get(_name, 0.0) + tt() - c

        setattr(p, attr, timed)
    best, best_spent = float("inf"), {}
    try:
        for _ in range(repeat):
            spent.clear()
            analyzer.reset()
            c = tt()
            analyzer.analyze(y)
            total = tt() - c
            if total < best:
                best, best_spent = total, dict(spent)
    finally:
        for p, attr in originals:
            delattr(p, attr)  # the class's method again
    n = len(y) // HOP
    out = {k: round(v / n * 1e6, 3) for k, v in best_spent.items()}
    out["(per-hop loop, block glue)"] = round((best - sum(best_spent.values())) / n * 1e6, 3)
    out["total"] = round(best / n * 1e6, 3)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    from sonolux.analysis import Analyzer

    from sonolux.features.bulk import feature_chain, offline_features

    load_before = os.getloadavg()
    y, source = signal(args.seconds)
    dur = len(y) / SR
    subset = Analyzer(SPEC, chain=subset_chain())
    full = Analyzer(SPEC)
    for a in (subset, full):
        a.warm_up()
        a.analyze(y[: SR * 2])  # load the bulk kernels
        a.reset()

    def run(a):
        a.reset()
        a.analyze(y)

    librosa_features(y[: SR * 2])  # imports and caches
    librosa_subset(y[: SR * 2])
    offline_features(y[: SR * 2], SPEC, CONFIG)
    paths = {
        "librosa_pywt_features": lambda: librosa_features(y),
        "sonolux_offline_features": lambda: offline_features(y, SPEC, CONFIG),
        "sonolux_default_chain": lambda: run(full),
        "librosa_subset": lambda: librosa_subset(y),
        "sonolux_subset": lambda: run(subset),
    }
    try:
        essentia_subset(y[: SR * 2])
        paths["essentia_subset"] = lambda: essentia_subset(y)
    except ImportError:
        print("essentia is not installed: its row is left out", file=sys.stderr)
    timings = best_times(paths, args.repeat)
    features = Analyzer(SPEC, CONFIG, chain=feature_chain(CONFIG))
    features.analyze(y[: SR * 2])
    profile = {"offline_features": stage_profile(features, y, args.repeat),
               "default_chain": stage_profile(full, y, args.repeat)}

    # per-hop live cost, default chain
    full.reset()
    frame = full.layout.new_frame()
    n = len(y) // HOP
    costs = np.empty(n)
    cpu = np.empty(n)
    pc, tt = time.perf_counter, time.thread_time
    for i in range(n):
        hop = y[i * HOP:(i + 1) * HOP]
        c0 = tt()
        t0 = pc()
        full.process_hop(hop, frame)
        costs[i] = pc() - t0
        cpu[i] = tt() - c0
    us = costs * 1e6
    cus = cpu * 1e6
    ref = {k: "librosa_subset" if k.endswith("subset") else "librosa_pywt_features" for k in timings}
    out = {
        "benchmark": "throughput", "signal": source, "audio_s": round(dur, 2),
        "sample_rate": SR, "n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS,
        "features": "STFT power, 64 mel dB, db4 DWT level 5 over 1024 samples each hop, "
                    f"energy {CONFIG.energy_segment_s:g} s segments + z, log-mel flux onsets",
        "subset": "STFT power, 64 mel dB, flux onsets (what Essentia's row computes)",
        "compared_with": ref,
        "xrt_wall": {k: dur / w for k, (w, c) in timings.items()},
        "xrt_cpu": {k: dur / c for k, (w, c) in timings.items()},
        "speedup_vs_librosa_wall": {k: timings[ref[k]][0] / w for k, (w, c) in timings.items()},
        "speedup_vs_librosa_cpu": {k: timings[ref[k]][1] / c for k, (w, c) in timings.items()},
        "seconds": {k: {"wall": w, "cpu": c} for k, (w, c) in timings.items()},
        "seconds_spread": {k: {"cpu_p50": float(np.median([c for _, c in r])),
                               "cpu_max": max(c for _, c in r),
                               "wall_p50": float(np.median([w for w, _ in r])),
                               "wall_max": max(w for w, _ in r)} for k, r in SPREAD.items()},
        "stage_us_per_hop_cpu": profile,
        "per_hop_us": {"wall": {"p50": float(np.percentile(us, 50)), "p99": float(np.percentile(us, 99)),
                                "max": float(us.max()), "mean": float(us.mean())},
                       "thread_cpu": {"p50": float(np.percentile(cus, 50)),
                                      "p99": float(np.percentile(cus, 99)),
                                      "max": float(cus.max()), "mean": float(cus.mean())},
                       "hop_budget_us": HOP / SR * 1e6},
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "cores_used": 1, "cpus": os.cpu_count(),
                    "load_avg_before": [round(x, 2) for x in load_before],
                    "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                    "note": "VM shared with other jobs: wall times are inflated by preemption; "
                            "CPU times count only this process"},
        "repeat": args.repeat,
    }
    write_result("throughput", out, args.out, indent=1)
    m = out["machine"]
    print(f"signal: {source}, {dur:.1f} s; best of {args.repeat}; load avg before "
          f"{m['load_avg_before'][0]:.1f}, after {m['load_avg_after'][0]:.1f}")
    print("| path | × real time (wall) | × real time (CPU) | vs librosa (wall) | (CPU) |")
    print("|---|---|---|---|---|")
    names = {"librosa_pywt_features": "librosa + pywt, vectorised (full set)",
             "sonolux_offline_features": "sonolux offline_features (full set, chain in bulk)",
             "sonolux_default_chain": "sonolux whole default live chain, in bulk",
             "librosa_subset": "librosa, subset (STFT, mel dB, flux onsets)",
             "essentia_subset": "Essentia standard mode, subset",
             "sonolux_subset": "sonolux, subset, chain in bulk"}
    for k in timings:
        print(f"| {names[k]} | {out['xrt_wall'][k]:.0f}× | {out['xrt_cpu'][k]:.0f}× | "
              f"{out['speedup_vs_librosa_wall'][k]:.2f}× | {out['speedup_vs_librosa_cpu'][k]:.2f}× |")
    for name, prof in profile.items():
        print(f"{name}, thread-CPU µs per hop: " + ", ".join(f"{k} {v:.2f}" for k, v in prof.items()))
    h = out["per_hop_us"]
    print(f"\nper hop, default chain (hop 256 @ 48 kHz = {h['hop_budget_us']:.0f} µs): "
          f"wall p50 {h['wall']['p50']:.0f} / p99 {h['wall']['p99']:.0f} / max {h['wall']['max']:.0f} µs; "
          f"thread CPU p50 {h['thread_cpu']['p50']:.0f} / p99 {h['thread_cpu']['p99']:.0f} / "
          f"max {h['thread_cpu']['max']:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
