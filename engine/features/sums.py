"""Sums in a fixed order for the per-hop kernels: four interleaved partial sums.

A plain ``acc += x[i]`` loop is one chain of dependent additions: each waits for the one
before (~4 cycles), and the compiler may not reorder floating-point sums. Four partial sums
(element ``4q + r`` into sum ``r``) are four independent chains, about three times as fast,
and their order is still fixed by the data alone, so the live chain and the bulk path (which
call the same kernels) give the same bits.
"""
from __future__ import annotations

from numba import njit, uint64


@njit(cache=True, inline="always")
def add4(x, start, stop, centre, square, s0, s1, s2, s3):
    """Add ``x[i] − centre`` (its square when ``square``) for the whole groups of four in
    ``start <= i < stop`` to the partial sums ``s0..s3`` (element ``start + 4q + r`` to
    ``s_r``). Returns ``(s0, s1, s2, s3, end)``: ``end`` is where the groups stop (the caller
    adds the 0–3 elements after it). Indices are unsigned: no negative-index wrap check per
    load."""
    fours = (stop - start) // 4
    i = uint64(start)
    for _ in range(fours):
        a = x[i] - centre
        b = x[i + uint64(1)] - centre
        c = x[i + uint64(2)] - centre
        d = x[i + uint64(3)] - centre
        if square:
            a, b, c, d = a * a, b * b, c * c, d * d
        s0 += a
        s1 += b
        s2 += c
        s3 += d
        i += uint64(4)
    return s0, s1, s2, s3, start + 4 * fours


@njit(cache=True, inline="always")
def sum4(x, start, stop, centre, square):
    """Σ (x[i] − centre) (of squares when ``square``) over ``start <= i < stop``: ``add4``
    from zero, the tail into the first sum, the four added pairwise."""
    s0, s1, s2, s3, i = add4(x, start, stop, centre, square, 0.0, 0.0, 0.0, 0.0)
    for j in range(i, stop):
        a = x[j] - centre
        s0 += a * a if square else a
    return (s0 + s1) + (s2 + s3)
