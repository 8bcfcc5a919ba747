"""Issue #16 lever: hand-crafted descriptors next to the musicnn embedding (after Panda et al.
2018, whose 4Q result came from mode/tonality, rhythm, dynamics and spectral-shape features).
Screened on the dev folds only; nothing here is shipped.

    python -m export.emotion_descriptors cache     # librosa descriptors of the 600 clips, cached
    python -m export.emotion_descriptors dev       # clip-level heads, dev folds 0-2
    python -m export.emotion_descriptors five_fold --view tonality   # its frozen dev choice, 5 folds

``cache`` computes per clip, with librosa on the clip audio the engine decoded (the 16 kHz
int16 copy in ``export/work/features/emotion4q.npz``; build it with ``python -m export.data``):

- ``tonality``: Krumhansl-Kessler key profiles correlated with the chroma (STFT chroma,
  n_fft 2048): best major r, best minor r, their difference (mode strength, > 0 = major),
  key clarity (the best r), each for the whole clip and as the mean over 3 s segments (local
  mode), plus the share of segments whose best key is major;
- ``rhythm``: tempo (log, librosa beat tracker), onset rate (onsets / s), onset-strength mean
  and standard deviation, pulse clarity (largest normalised autocorrelation of the onset
  envelope between 0.25 and 2 s lags);
- ``dynamics``: frame RMS in dB — mean, standard deviation, range (95th − 5th percentile),
  low-energy ratio (frames below the mean RMS), mean absolute change between frames;
- ``spectral``: spectral centroid, bandwidth, roll-off (mean, std of the first two), flatness
  (mean and std of its dB value), zero-crossing rate, and the mean of the 7 spectral-contrast
  bands.

``dev`` scores each group alone, with the musicnn clip mean, and all groups together, with
``export.emotion_clip_heads.screen`` (the shipped head's dev protocol, paired-bootstrap
intervals vs the shipped head and vs the musicnn clip-mean head). Writes
``export/results/emotion_descriptors.json``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import data as D
from .emotion_clip_heads import add_five_fold_args, lever_step
from .workspace import WORK

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = WORK / "mood4" / "descriptors.npz"
SR, N_FFT, HOP = 16000, 2048, 512
SEGMENT_S = 3.0
#: Krumhansl & Kessler (1982) probe-tone profiles, C major / C minor
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
GROUPS = {
    "tonality": ("major_r", "minor_r", "mode", "clarity", "seg_major_r", "seg_minor_r", "seg_mode",
                 "seg_clarity", "seg_major_share"),
    "rhythm": ("log_tempo", "onset_rate", "onset_mean", "onset_std", "pulse_clarity"),
    "dynamics": ("rms_db_mean", "rms_db_std", "rms_db_range", "low_energy", "rms_db_flux"),
    "spectral": ("centroid_mean", "centroid_std", "bandwidth_mean", "bandwidth_std", "rolloff_mean",
                 "flatness_db_mean", "flatness_db_std", "zcr_mean") + tuple(f"contrast_{i}" for i in range(7)),
}


def key_correlations(chroma_mean: np.ndarray) -> tuple[float, float]:
    """Best Pearson r of a 12-bin chroma with the 12 rotations of the major / minor profile."""
    def best(profile):
        return max(np.corrcoef(chroma_mean, np.roll(profile, k))[0, 1] for k in range(12))
    if np.ptp(chroma_mean) < 1e-9:  # silence: no key
        return 0.0, 0.0
    return float(best(KK_MAJOR)), float(best(KK_MINOR))


def tonality(y: np.ndarray) -> dict:
    import librosa

    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP)
    major, minor = key_correlations(chroma.mean(1))
    seg = max(1, int(SEGMENT_S * SR / HOP))
    segs = np.array([key_correlations(chroma[:, i:i + seg].mean(1)) for i in range(0, chroma.shape[1] - seg + 1, seg)])
    return {"major_r": major, "minor_r": minor, "mode": major - minor, "clarity": max(major, minor),
            "seg_major_r": segs[:, 0].mean(), "seg_minor_r": segs[:, 1].mean(),
            "seg_mode": (segs[:, 0] - segs[:, 1]).mean(), "seg_clarity": segs.max(1).mean(),
            "seg_major_share": float((segs[:, 0] > segs[:, 1]).mean())}


def rhythm(y: np.ndarray) -> dict:
    import librosa

    env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    tempo, _ = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=HOP)
    fps = SR / HOP
    ac = librosa.autocorrelate(env - env.mean())
    lo, hi = int(0.25 * fps), int(2.0 * fps)
    return {"log_tempo": float(np.log(max(float(np.atleast_1d(tempo)[0]), 1.0))),
            "onset_rate": len(onsets) / (len(y) / SR), "onset_mean": float(env.mean()), "onset_std": float(env.std()),
            "pulse_clarity": float(ac[lo:hi].max() / ac[0]) if ac[0] > 0 else 0.0}


def dynamics(y: np.ndarray) -> dict:
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    db = 20 * np.log10(np.maximum(rms, 1e-5))
    return {"rms_db_mean": float(db.mean()), "rms_db_std": float(db.std()),
            "rms_db_range": float(np.percentile(db, 95) - np.percentile(db, 5)),
            "low_energy": float((rms < rms.mean()).mean()), "rms_db_flux": float(np.abs(np.diff(db)).mean())}


def spectral(y: np.ndarray) -> dict:
    import librosa

    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    cen = librosa.feature.spectral_centroid(S=S, sr=SR)[0]
    bw = librosa.feature.spectral_bandwidth(S=S, sr=SR)[0]
    flat = 10 * np.log10(np.maximum(librosa.feature.spectral_flatness(S=S)[0], 1e-10))
    contrast = librosa.feature.spectral_contrast(S=S, sr=SR, fmin=100.0, n_bands=6).mean(1)
    out = {"centroid_mean": cen.mean(), "centroid_std": cen.std(), "bandwidth_mean": bw.mean(),
           "bandwidth_std": bw.std(), "rolloff_mean": librosa.feature.spectral_rolloff(S=S, sr=SR)[0].mean(),
           "flatness_db_mean": flat.mean(), "flatness_db_std": flat.std(),
           "zcr_mean": librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)[0].mean()}
    out.update({f"contrast_{i}": float(v) for i, v in enumerate(contrast)})
    return {k: float(v) for k, v in out.items()}


def describe(y: np.ndarray) -> dict:
    """Every descriptor of one clip (16 kHz mono float).

    >>> d = describe(np.sin(2 * np.pi * 440 * np.arange(16000 * 6) / 16000).astype(np.float32))
    >>> sorted(d) == sorted(n for g in GROUPS.values() for n in g)
    True
    """
    return {**tonality(y), **rhythm(y), **dynamics(y), **spectral(y)}


def cache(clips: list[dict], root: Path) -> None:
    from tqdm import tqdm

    names = [n for g in GROUPS.values() for n in g]
    rows = []
    with np.load(D.emotion4q_cache(root, clips)) as z:
        for c in tqdm(clips, desc="descriptors", unit="clip"):
            d = describe(z[f"{c['song']}__audio"].astype(np.float32) / 32767.0)
            rows.append([d[n] for n in names])
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, X=np.array(rows), names=np.array(names), song=np.array([c["song"] for c in clips]))
    print(f"{len(names)} descriptors of {len(clips)} clips -> {CACHE}")


def views(clips: list[dict]) -> dict[str, np.ndarray]:
    """Each group and all groups, rows in ``clips`` order, from the cache."""
    if not CACHE.is_file():
        raise D.DataMissing(f"{CACHE} is missing: run `python -m export.emotion_descriptors cache` first")
    z = np.load(CACHE)
    idx = {s: i for i, s in enumerate(z["song"])}
    X = z["X"][[idx[c["song"]] for c in clips]]
    col = {n: i for i, n in enumerate(z["names"])}
    out = {g: X[:, [col[n] for n in names]] for g, names in GROUPS.items()}
    out["all descriptors"] = X
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("step", choices=("cache", "dev", "five_fold"))
    add_five_fold_args(p)
    a = p.parse_args(argv)
    root = D.data_root(a.data)
    clips = D.load_clips(root)
    if a.step == "cache":
        return cache(clips, root)
    lever_step(p, a.step, a.view, RESULTS / "emotion_descriptors.json", clips, views)


if __name__ == "__main__":
    try:
        main()
    except D.DataMissing as err:  # a missing cache or data folder: say which, no traceback
        raise SystemExit(f"error: {err}")
