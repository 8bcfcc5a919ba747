"""The STFT's real FFT per frame: pocketfft through rocket-fft's ``r2c`` (what
``features/spectrum.py`` uses) against the hand-written radix-2 Numba FFT it replaced (kept
here only as the reference), both inside @njit, one core, 1024 points.

    python benchmarks/fft.py [--frames 20000] [--repeat 5]

Reports µs per frame (best of ``--repeat``, process CPU time) and the largest error of each
against ``numpy.fft.rfft`` (relative to the spectrum's peak). Results: results/fft.json.
"""
from __future__ import annotations

import argparse
import os
import time

from _common import ALL_THREAD_VARS, machine, single_thread, write_result

single_thread(ALL_THREAD_VARS)
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from sonolux.features.spectrum import rfft_power  # noqa: E402


@njit(cache=True)
def _radix2(re, im, bitrev, tw_re, tw_im):
    """The former engine's radix-2 decimation-in-time complex FFT, in place."""
    n = re.shape[0]
    for i in range(n):
        j = bitrev[i]
        if j > i:
            re[i], re[j] = re[j], re[i]
            im[i], im[j] = im[j], im[i]
    size = 2
    while size <= n:
        half, step = size >> 1, n // size
        for start in range(0, n, size):
            k = 0
            for j in range(start, start + half):
                wr, wi = tw_re[k], tw_im[k]
                m = j + half
                xr = re[m] * wr - im[m] * wi
                xi = re[m] * wi + im[m] * wr
                re[m], im[m] = re[j] - xr, im[j] - xi
                re[j] += xr
                im[j] += xi
                k += step
        size <<= 1


@njit(cache=True)
def radix2_power(frames, bitrev, tw_re, tw_im, sp_re, sp_im, z_re, z_im, power):
    """|X|² of each real frame: an N/2 complex FFT plus the split step (the former kernel)."""
    m = z_re.shape[0]
    for f in range(frames.shape[0]):
        for i in range(m):
            z_re[i], z_im[i] = frames[f, 2 * i], frames[f, 2 * i + 1]
        _radix2(z_re, z_im, bitrev, tw_re, tw_im)
        for k in range(m + 1):
            a, b = k % m, (m - k) % m
            zr, zi, cr, ci = z_re[a], z_im[a], z_re[b], -z_im[b]
            er, ei, dr, di = 0.5 * (zr + cr), 0.5 * (zi + ci), 0.5 * (zr - cr), 0.5 * (zi - ci)
            wr, wi = (sp_re[k], sp_im[k]) if k < m else (-1.0, 0.0)
            pr, pi = wr * dr - wi * di, wr * di + wi * dr
            xr, xi = er + pi, ei - pr
            power[f, k] = xr * xr + xi * xi


@njit(cache=True)
def pocketfft_power(frames, spectrum, axes, power):
    for f in range(frames.shape[0]):
        rfft_power(frames[f], spectrum, axes, power[f])


def radix2_tables(n: int):
    m = n // 2
    bits = m.bit_length() - 1
    idx = np.arange(m)
    rev = np.zeros(m, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    k = np.arange(max(m // 2, 1))
    kk = np.arange(m)
    return (rev, np.cos(-2 * np.pi * k / m), np.sin(-2 * np.pi * k / m),
            np.cos(-2 * np.pi * kk / n), np.sin(-2 * np.pi * kk / n), np.zeros(m), np.zeros(m))


def best_cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    n = args.n
    frames = np.random.default_rng(0).standard_normal((args.frames, n))
    p_rocket = np.zeros((args.frames, n // 2 + 1))
    p_radix = np.zeros_like(p_rocket)
    spec, axes, tables = np.zeros(n // 2 + 1, np.complex128), np.zeros(1, np.int64), radix2_tables(n)
    pocketfft_power(frames[:4], spec, axes, p_rocket[:4])  # compile / load
    radix2_power(frames[:4], *tables, p_radix[:4])
    load_before = os.getloadavg()
    t_rocket = best_cpu(lambda: pocketfft_power(frames, spec, axes, p_rocket), args.repeat)
    t_radix = best_cpu(lambda: radix2_power(frames, *tables, p_radix), args.repeat)
    ref = np.abs(np.fft.rfft(frames[:200], axis=1)) ** 2
    peak = ref.max(axis=1, keepdims=True)
    result = {
        "benchmark": "fft", "n": n, "frames": args.frames, "machine": machine(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "us_per_frame_cpu": {"pocketfft_rocket_fft": t_rocket / args.frames * 1e6,
                             "radix2_numba": t_radix / args.frames * 1e6},
        "max_rel_error_vs_numpy": {"pocketfft_rocket_fft": float(np.max(np.abs(p_rocket[:200] - ref) / peak)),
                                   "radix2_numba": float(np.max(np.abs(p_radix[:200] - ref) / peak))},
    }
    path = write_result("fft", result, args.out)
    us, err = result["us_per_frame_cpu"], result["max_rel_error_vs_numpy"]
    print(f"load avg before {result['load_avg_before'][0]:.1f}, after {result['load_avg_after'][0]:.1f}")
    for k in us:
        print(f"{k}: {us[k]:.2f} us per {n}-point frame, max rel error vs numpy {err[k]:.1e}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
