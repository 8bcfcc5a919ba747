"""The join net: a small convolutional network on the log-mel that says, frame by frame, how
likely a join between two songs lies there — run streaming, read by the cut judge (its
``join_net_peak`` feature: :mod:`sonolux.features.cutjudge`) and by the learned placer, to put a
decided cut on the frame where the join is.

Why: the cues decide well *that* a join happened (within ±1.5 s for about 85 % of the joins of
the development medleys) but place a crossfade by a ramp fit that is off by more than 0.5 s for
about one crossfade in four — every such join counts as a miss and a false cut. A network that
has seen thousands of joins (hard and crossfaded, made from the development clips' log-mel by
``benchmarks/train_join_net.py``) learns where in a fade the midpoint lies. It does not decide
cuts by itself (alone, it fires inside songs far more often than the judged cues: the session
notes of 2026-12-05): the judge weighs its highest output near a candidate with 14 other numbers,
and the placer moves a cut the cues decided to its highest output within
``SEARCH_S`` when that output reaches ``MIN_OUTPUT`` (``RegionStage.place_cut``; a cut the stage
judges hard stays on its step).

The network (the file's ``dilations`` set its depth): the hop log-mel averaged over ``pool_hops``
hops (42.7 ms at the default hop), normalised (``(max(dB, floor) − mean) / scale``); two 3×3
convolutions over (mel band, frame) with ReLU, each followed by a max over 4 bands; a 1×1
projection to ``channels``; residual blocks ``h += relu(conv1d(h, kernel 3, dilation d))``; a
1×1 head and a sigmoid. Every convolution is centred ("same" zero padding), so the output for a
frame needs ``delay_frames`` = 2 + Σ dilations later frames: :class:`JoinNetStream` computes it
that many frames late, one column per layer per frame (each layer keeps the few past columns its
kernel reads: no window is recomputed, no allocation), with exactly the offline network's
numbers (zero padding at the stream's start = the rings' initial zeros; tested against the
PyTorch model).

Net file (JSON), format version 1 — the contract :func:`load_join_net` checks: ``format``
("sonolux-join-net"), ``format_version`` (1), ``n_mels``, ``pool_hops``, ``hop_s`` (the hop it
was trained at), ``floor_db``, ``mean_db``, ``scale_db``, ``dilations`` (list), and the weights
with batch normalisation folded in: ``conv1`` (16×1×3×3) and ``conv2`` (32×16×3×3; out, in,
frame, band) with
``conv1_bias`` / ``conv2_bias``, ``proj`` (channels × 32·n_mels/16) and ``proj_bias``,
``blocks`` (per dilation: ``weight`` channels×channels×3, ``bias``), ``head`` (channels) and
``head_bias``. A corrupt file is a :class:`JoinNetFileError` naming the file, key and value.

>>> net = load_join_net()  # the shipped file
>>> stream = JoinNetStream(net)
>>> round(stream.delay_frames * net.frame_s, 2)  # an output comes this long after its frame
2.77
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from ..config import read_json_file
from ..errors import ParameterError

FORMAT = "sonolux-join-net"
FORMAT_VERSION = 1
JOIN_NET_FILE = "join_net.json"  # shipped in sonolux.profiles
SEARCH_S = 0.5  # a decided cut moves to the net's highest output within this of where it was placed ...
MIN_OUTPUT = 0.3  # ... when that output reaches this: where the net sees no join, the cut stays
POOL_BANDS = 4  # each convolution's output: max over this many bands
C1, C2 = 16, 32  # the two convolutions' channels


class JoinNetFileError(ParameterError):
    """A join-net file that cannot be used (one line: file, key, value)."""


def shipped_join_net() -> Path:
    from ..resources import profiles_dir

    return profiles_dir() / JOIN_NET_FILE


class JoinNet:
    """The checked weights of a join-net file, as float64 arrays the kernel reads."""

    def __init__(self, doc: dict, where: str = "join net"):
        self.doc, self.where = doc, where

        def bad(key, why):
            return JoinNetFileError(f"{where}: {key}: {why}")

        if not isinstance(doc, dict):
            raise JoinNetFileError(f"{where}: holds a JSON {type(doc).__name__}, not the object of a join-net file")
        if doc.get("format") != FORMAT:
            raise bad("format", f"{doc.get('format')!r} is not {FORMAT!r}")
        if doc.get("format_version") != FORMAT_VERSION:
            raise bad("format_version", f"{doc.get('format_version')!r}: this sonolux reads version {FORMAT_VERSION}")
        self.n_mels = _positive_int(doc, "n_mels", bad)
        if self.n_mels % (POOL_BANDS * POOL_BANDS):
            raise bad("n_mels", f"{self.n_mels} must be a multiple of {POOL_BANDS * POOL_BANDS}")
        self.pool_hops = _positive_int(doc, "pool_hops", bad)
        self.hop_s = _number(doc, "hop_s", bad, positive=True)
        self.frame_s = self.pool_hops * self.hop_s
        self.floor_db = _number(doc, "floor_db", bad)
        self.mean_db = _number(doc, "mean_db", bad)
        self.scale_db = _number(doc, "scale_db", bad, positive=True)
        dil = doc.get("dilations")
        if not isinstance(dil, list) or not dil or not all(isinstance(d, int) and d > 0 for d in dil):
            raise bad("dilations", f"{dil!r} must be a non-empty list of positive integers")
        self.dilations = np.array(dil, dtype=np.int64)
        f2 = self.n_mels // (POOL_BANDS * POOL_BANDS)
        proj = _array(doc, "proj", bad, ndim=2)
        channels = proj.shape[0]
        self.conv1 = _array(doc, "conv1", bad, shape=(C1, 1, 3, 3))
        self.conv1_bias = _array(doc, "conv1_bias", bad, shape=(C1,))
        self.conv2 = _array(doc, "conv2", bad, shape=(C2, C1, 3, 3))
        self.conv2_bias = _array(doc, "conv2_bias", bad, shape=(C2,))
        self.proj = _array(doc, "proj", bad, shape=(channels, C2 * f2))
        self.proj_bias = _array(doc, "proj_bias", bad, shape=(channels,))
        blocks = doc.get("blocks")
        if not isinstance(blocks, list) or len(blocks) != len(dil):
            raise bad("blocks", f"must be a list of {len(dil)} blocks (one per dilation)")
        self.block_w = np.stack([_array(b if isinstance(b, dict) else {}, "weight", bad, shape=(channels, channels, 3),
                                        where=f"blocks[{i}].weight") for i, b in enumerate(blocks)])
        self.block_b = np.stack([_array(b if isinstance(b, dict) else {}, "bias", bad, shape=(channels,),
                                        where=f"blocks[{i}].bias") for i, b in enumerate(blocks)])
        self.head = _array(doc, "head", bad, shape=(channels,))
        self.head_bias = _number(doc, "head_bias", bad)
        self.channels = channels
        self.delay_frames = 2 + int(self.dilations.sum())

    def check_fits(self, n_mels: int, hop_s: float) -> None:
        """A :class:`JoinNetFileError` when the net was made for another mel size or hop than a
        chain's (its frames and bands would mean other sounds)."""
        if self.n_mels != n_mels or abs(self.hop_s - hop_s) > 1e-9:
            raise JoinNetFileError(f"{self.where}: made for {self.n_mels} mel bands and a {self.hop_s * 1e3:.3g} ms "
                                   f"hop, this chain has {n_mels} and {hop_s * 1e3:.3g} ms")


def _positive_int(doc, key, bad) -> int:
    v = doc.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise bad(key, f"{v!r} must be a positive integer")
    return v


def _number(doc, key, bad, positive=False) -> float:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
        raise bad(key, f"{v!r} must be a {'positive ' if positive else ''}finite number")
    return float(v)


def _array(doc, key, bad, *, ndim=None, shape=None, where=None) -> np.ndarray:
    where = where or key
    v = doc.get(key)
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(where, "must be an array of numbers") from None
    if v is None or (ndim is not None and a.ndim != ndim) or (shape is not None and a.shape != shape):
        want = f"shape {shape}" if shape is not None else f"{ndim} dimensions"
        raise bad(where, f"has shape {a.shape if v is not None else None}, needs {want}")
    if not np.isfinite(a).all():
        raise bad(where, "holds a value that is not finite")
    return np.ascontiguousarray(a)


def load_join_net(path=None) -> JoinNet:
    """The join net of ``path`` (default: the shipped one), checked."""
    p = Path(path) if path else shipped_join_net()
    return JoinNet(read_json_file(p, "join net", JoinNetFileError), str(p))


class JoinNetStream:
    """One stream's join net: :meth:`push` the hops' log-mel as they come (or :meth:`catch_up`
    on a ring of them); :meth:`best` finds the time of the highest output near a time (the
    placer), :meth:`peak` that output (the judge), :meth:`outputs` streams a whole recording
    (the benchmarks). All state
    and weights live in three flat arrays (``ints``, ``floats``, ``bufs``) the kernels slice:
    a Numba call's cost in Python objects grows with its arguments (~60 B each), and this one
    runs on the analysis thread every few hops."""

    OUT_FRAMES = 512  # outputs kept at least: 21.8 s at the default hop (a cut is placed ~7 s after it)

    def __init__(self, net: JoinNet, keep_hops: int = 0):
        """``keep_hops``: keep the outputs of at least this many of the newest hops (the region
        stage's hop ring: an output is there for every hop the ring still holds)."""
        self.net = net
        self.delay_frames = net.delay_frames
        self.out_frames = max(self.OUT_FRAMES, -(-int(keep_hops) // net.pool_hops) + net.delay_frames + 2)
        c, n, k = net.channels, net.n_mels, len(net.dilations)
        f1, f2 = n // POOL_BANDS, n // (POOL_BANDS * POOL_BANDS)
        # level l (the projection = 0, block l's output = l) keeps 2·d(l+1) + 1 columns
        sizes = 2 * net.dilations + 1
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.ints = np.concatenate([[0, 0, 0, net.pool_hops, n, c, k, self.out_frames],
                                    net.dilations, starts, sizes]).astype(np.int64)
        self.floats = np.concatenate([a.ravel() for a in (
            net.conv1, net.conv1_bias, net.conv2, net.conv2_bias, net.proj, net.proj_bias, net.block_w,
            net.block_b, net.head, np.array([net.head_bias, net.floor_db, net.mean_db, net.scale_db]))])
        parts = (3 * n, 3 * C1 * f1, int(sizes.sum()) * c, self.out_frames, n, C1 * n, C2 * f1, C2 * f2, c, c)
        self.bufs = np.zeros(sum(parts))
        self.read = self.ints[0:1]  # hops of a ring read (catch_up)
        self.state = self.ints[1:3]  # [frames pushed, hops in the open frame]
        o = 3 * n + 3 * C1 * f1 + int(sizes.sum()) * c
        self.out = self.bufs[o:o + self.out_frames]  # output of frame f in out[f % out_frames]
        self.acc = self.bufs[o + self.out_frames:o + self.out_frames + n]  # the open frame's sum
        self.reset()
        self.warm()

    def reset(self) -> None:
        self.ints[:3] = 0
        self.bufs[:] = 0.0

    def warm(self) -> None:
        """Run the kernels once (Numba loads them on the first call), then reset."""
        for _ in range(self.net.pool_hops):
            self.push(self.acc)
        self.catch_up(np.zeros((1, self.acc.shape[0])), 1)
        self.best(0.0, 0.0, MIN_OUTPUT)
        self.peak(0.0, 0.0)
        self.reset()

    @property
    def frames(self) -> int:
        """Pooled frames pushed so far (outputs exist for frames < frames − delay_frames)."""
        return int(self.state[0])

    def push(self, mel_db: np.ndarray) -> None:
        """One hop's log-mel vector (dB)."""
        join_net_push(mel_db, self.ints, self.floats, self.bufs)

    def catch_up(self, ring: np.ndarray, written: int) -> None:
        """Push the hops of a ring of log-mel rows (hop ``h`` in row ``h % len(ring)``) not
        read yet, up to ``written`` hops; one Numba call. Hops the ring no longer holds are
        skipped (the region stage calls this at least every cue block, far more often)."""
        join_net_catch_up(ring, written, self.ints, self.floats, self.bufs)

    def newest_output(self) -> int:
        """The frame index of the newest computed output (−1 while none is)."""
        return int(self.state[0]) - 1 - self.delay_frames

    def outputs(self, hop_mel: np.ndarray) -> np.ndarray:
        """Offline: reset, stream a whole recording's hop log-mel rows (dB) through the kernel
        and return every output it computes, by pooled frame (the last ``delay_frames``
        frames have none: no audio follows them). What the benchmarks score the net by."""
        self.reset()
        n_frames = hop_mel.shape[0] // self.net.pool_hops
        got = np.zeros(max(0, n_frames - self.delay_frames))
        for row in np.asarray(hop_mel, dtype=np.float64):
            self.push(row)
            newest = self.newest_output()
            if 0 <= newest < got.shape[0]:
                got[newest] = self.out[newest % self.out_frames]
        self.reset()
        return got

    def peak(self, t: float, radius: float) -> float:
        """The highest output within ``radius`` s of ``t`` (s since the stream's start) among
        those computed; NaN when none is (yet, or any more). What the cut judge reads."""
        return float(peak_output(self.out, self.newest_output() + 1, t, radius, self.net.frame_s))

    def best(self, t: float, radius: float, min_output: float = 0.0) -> float:
        """The time (s since the stream's start) of the highest output within ``radius`` of
        ``t`` (between frames by a parabola through its neighbours when it is a peak: never more
        than half a frame outside the window); NaN when no output there is computed yet (or any
        more), or the highest is below ``min_output``."""
        return float(best_output(self.out, self.newest_output() + 1, t, radius, self.net.frame_s,
                                 min_output))


@njit(cache=True)
def _views(ints, floats, bufs):
    """The weights, constants, rings and work columns as views of the three flat arrays (the
    order :class:`JoinNetStream` packs them in)."""
    n, c, k, n_out = ints[4], ints[5], ints[6], ints[7]
    f1 = n // 4
    f2 = f1 // 4
    dilations, level_start, level_size = ints[8:8 + k], ints[8 + k:8 + 2 * k], ints[8 + 2 * k:8 + 3 * k]
    o = 0
    w1 = floats[o:o + C1 * 9].reshape((C1, 1, 3, 3))
    o += C1 * 9
    b1 = floats[o:o + C1]
    o += C1
    w2 = floats[o:o + C2 * C1 * 9].reshape((C2, C1, 3, 3))
    o += C2 * C1 * 9
    b2 = floats[o:o + C2]
    o += C2
    proj = floats[o:o + c * C2 * f2].reshape((c, C2 * f2))
    o += c * C2 * f2
    proj_b = floats[o:o + c]
    o += c
    block_w = floats[o:o + k * c * c * 3].reshape((k, c, c, 3))
    o += k * c * c * 3
    block_b = floats[o:o + k * c].reshape((k, c))
    o += k * c
    head = floats[o:o + c]
    o += c
    consts = floats[o:o + 4]  # head bias, floor, mean, scale
    rows = 0
    for l in range(k):
        rows += level_size[l]
    o = 0
    x_ring = bufs[o:o + 3 * n].reshape((3, 1, n))
    o += 3 * n
    a_ring = bufs[o:o + 3 * C1 * f1].reshape((3, C1, f1))
    o += 3 * C1 * f1
    h_ring = bufs[o:o + rows * c].reshape((rows, c))
    o += rows * c
    out = bufs[o:o + n_out]
    o += n_out
    acc = bufs[o:o + n]
    o += n
    a_full = bufs[o:o + C1 * n].reshape((C1, n))
    o += C1 * n
    b_full = bufs[o:o + C2 * f1].reshape((C2, f1))
    o += C2 * f1
    flat = bufs[o:o + C2 * f2].reshape((C2, f2))
    o += C2 * f2
    h_new = bufs[o:o + c]
    tmp = bufs[o + c:o + 2 * c]
    return (dilations, level_start, level_size, w1, b1, w2, b2, proj, proj_b, block_w, block_b, head, consts,
            x_ring, a_ring, h_ring, out, acc, a_full, b_full, flat, h_new, tmp)


@njit(cache=True)
def _conv_relu_pool(ring, centre, w, b, full, dst):
    """A 3×3 convolution (frame, band; zero padding) of the ring's columns ``centre`` − 1 ..
    ``centre`` + 1 (frame ``f`` in row ``f % 3``; frames before 0 are zeros), ReLU, then the
    maximum over each 4 bands into ``dst``."""
    n_out, n_in, n_f = w.shape[0], w.shape[1], ring.shape[2]
    for c in range(n_out):
        for f in range(n_f):
            s = b[c]
            for ci in range(n_in):
                for k in range(3):
                    if centre - 1 + k < 0:
                        continue
                    r = (centre - 1 + k) % 3
                    for df in range(3):
                        g = f + df - 1
                        if 0 <= g < n_f:
                            s += w[c, ci, k, df] * ring[r, ci, g]
            full[c, f] = s if s > 0.0 else 0.0
    for c in range(n_out):
        for f in range(dst.shape[1]):
            m = full[c, 4 * f]
            for j in range(1, 4):
                if full[c, 4 * f + j] > m:
                    m = full[c, 4 * f + j]
            dst[c, f] = m


@njit(cache=True)
def join_net_push(mel_db, ints, floats, bufs):
    """Add one hop; when a pooled frame completes, advance every layer by one column."""
    (dilations, level_start, level_size, w1, b1, w2, b2, proj, proj_b, block_w, block_b, head, consts,
     x_ring, a_ring, h_ring, out, acc, a_full, b_full, flat2, h_new, tmp) = _views(ints, floats, bufs)
    n_mels = acc.shape[0]
    for b in range(n_mels):
        acc[b] += mel_db[b]
    ints[2] += 1
    if ints[2] < ints[3]:
        return
    t = ints[1]
    ints[1] += 1
    ints[2] = 0
    for b in range(n_mels):
        v = acc[b] / ints[3]
        acc[b] = 0.0
        if v < consts[1]:
            v = consts[1]
        x_ring[t % 3, 0, b] = (v - consts[2]) / consts[3]
    # the first convolution's frame u = t - 1 reads input frames u-1, u, u+1; the second's,
    # v = u - 1, the first's columns v-1, v, v+1
    u = t - 1
    if u < 0:
        return
    _conv_relu_pool(x_ring, u, w1, b1, a_full, a_ring[u % 3])
    v = u - 1
    if v < 0:
        return
    _conv_relu_pool(a_ring, v, w2, b2, b_full, flat2)
    flat = flat2.reshape(flat2.shape[0] * flat2.shape[1])
    n_ch = proj.shape[0]
    for c in range(n_ch):
        s = proj_b[c]
        for j in range(flat.shape[0]):
            s += proj[c, j] * flat[j]
        h_new[c] = s
    # the residual blocks: level l's column at time w goes into ring l (read by block l + 1)
    w = v
    n_blocks = dilations.shape[0]
    for l in range(n_blocks):
        start, size = level_start[l], level_size[l]
        row = start + w % size
        for c in range(n_ch):
            h_ring[row, c] = h_new[c]
        d = dilations[l]
        w = w - d  # block l's output frame: its input's frames w-d, w, w+d are all in the ring
        if w < 0:
            return
        for c in range(n_ch):
            s = block_b[l, c]
            for k in range(3):
                tk = w + (k - 1) * d
                if tk < 0:
                    continue
                rr = start + tk % size
                for ci in range(n_ch):
                    s += block_w[l, c, ci, k] * h_ring[rr, ci]
            tmp[c] = h_ring[start + w % size, c] + (s if s > 0.0 else 0.0)
        for c in range(n_ch):
            h_new[c] = tmp[c]
    s = consts[0]
    for c in range(n_ch):
        s += head[c] * h_new[c]
    out[w % out.shape[0]] = 1.0 / (1.0 + math.exp(-s))


@njit(cache=True)
def join_net_catch_up(ring, written, ints, floats, bufs):
    """:func:`join_net_push` for each ring row from hop ``ints[0]`` (read so far) to ``written``."""
    n = ring.shape[0]
    start = ints[0]
    if written - start > n:
        start = written - n
    for h in range(start, written):
        join_net_push(ring[h % n], ints, floats, bufs)
    if written > ints[0]:
        ints[0] = written


@njit(cache=True)
def _window_argmax(out, n_done, t, radius, frame_s):
    """The frame of the largest output within ``radius`` of ``t`` among those computed
    (frames < ``n_done``) and still in the ring; -1 when there is none."""
    size = out.shape[0]
    lo = int(math.ceil((t - radius) / frame_s))
    hi = int(math.floor((t + radius) / frame_s))
    if lo < n_done - size:
        lo = n_done - size
    if lo < 0:
        lo = 0
    if hi > n_done - 1:
        hi = n_done - 1
    if hi < lo:
        return -1
    k = lo
    for j in range(lo + 1, hi + 1):
        if out[j % size] > out[k % size]:
            k = j
    return k


@njit(cache=True)
def peak_output(out, n_done, t, radius, frame_s):
    """The largest output within ``radius`` of ``t`` among those computed; NaN when none is."""
    k = _window_argmax(out, n_done, t, radius, frame_s)
    return out[k % out.shape[0]] if k >= 0 else math.nan


@njit(cache=True)
def best_output(out, n_done, t, radius, frame_s, min_output):
    """Time of the largest output of frames within ``radius`` of ``t`` among those computed
    (frames < ``n_done``) and still in the ring; NaN when there is none or it is below
    ``min_output``."""
    size = out.shape[0]
    k = _window_argmax(out, n_done, t, radius, frame_s)
    if k < 0 or out[k % size] < min_output:
        return math.nan
    d = 0.0
    first = n_done - size if n_done - size > 0 else 0
    if k - 1 >= first and k + 1 <= n_done - 1:
        a, b, c = out[(k - 1) % size], out[k % size], out[(k + 1) % size]
        den = a - 2.0 * b + c
        # between frames by a parabola through the neighbours — only at a true peak (at the
        # window's edge a neighbour outside may be higher: no extrapolation), at most half a frame
        if b >= a and b >= c and den < 0.0:
            d = 0.5 * (a - c) / den
            d = -0.5 if d < -0.5 else (0.5 if d > 0.5 else d)
    return (k + d) * frame_s
