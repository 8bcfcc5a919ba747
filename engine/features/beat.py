"""Causal live beat tracker: tempo from a leaky autocorrelation of the onset strength, an
octave-aware harmonic comb with a tempo prior inside a user BPM range, and a phase-locked
beat predictor. Everything here only looks at the past.

Per hop (``beat_step``, O(history) work, no allocation):

1. The novelty ``o`` (log-mel flux) goes into a ring buffer ``env`` (``history_s`` seconds) and,
   mean-removed, into ``xr``; every lag of a leaky autocorrelation ``acf`` is updated with
   time constant ``acf_tau_s``: ``acf[L] += α (x_t x_{t−L} − acf[L])``. The estimate follows a
   tempo change within a few seconds without a burst of work on any hop.
2. Every ``est_every`` hops the tempo is re-estimated over periods ``L`` inside the BPM range:
   ``S(L) = Σ_{k=1..4} acf(kL) / (k · acf(0))`` (the harmonic comb rewards the beat level, not
   its subdivisions) times a log-normal prior around the range's geometric centre (σ in
   octaves). A new tempo replaces the current one only after it wins twice with a margin
   (no flip-flop); a nearby winner (within 4 %) is blended in. Tap tempo narrows the search
   to ±6 % of the tapped BPM for ``tap_hold_s``.
3. Phase: a comb over the last beats of the (mean-removed, rectified, smoothed) onset
   strength at offsets ``φ ∈ [0, P)`` gives the position of the last beat; the predicted beat
   grid is pulled toward it (gain ``beta``), or jumps to it after two large disagreements
   (fast re-lock). The onset detector's lag (``delay`` frames) is subtracted, so beats are
   emitted on the hop where the beat sounds, not after.
4. A beat event fires on the hop whose position reaches the predicted beat; ``phase`` runs
   0 → 1 between beats. No beats in silence (onset activity gate) or at low confidence.

Positions are in frames (hops); frame ``f`` ends at sample ``(f + 1) · hop``.

``BeatTracker`` is the processor around it: it reads the novelty the onset stage computed
(``ctx.onset_flux`` + ``ctx.low_flux``) and takes tap tempo and BPM-range changes from other
threads without locks.
"""
from __future__ import annotations

import collections
import math

import numpy as np
from numba import njit, uint64

from ..errors import ParameterError
from .base import Processor
from .checks import finite

# parameter slots
P_FPS, P_LAG_LO, P_LAG_HI, P_ALPHA_ACF, P_ALPHA_MEAN, P_PRIOR_C, P_PRIOR_SIG, P_EST_EVERY, \
    P_DELAY, P_BETA, P_MARGIN, P_MIN_CONF, P_ALPHA_ACT, P_ACT_MIN, P_STEP, P_JUMP_RATIO, \
    P_JUMP_N, P_REL_MARGIN, P_REL_N = range(19)
PARAM_SIZE = 19

# state slots
S_T, S_POS, S_MEAN, S_PERIOD, S_NEXT, S_LAST, S_CONF, S_COUNT, S_COUNTDOWN, S_JUMPS, \
    S_ACT, S_TAP_PERIOD, S_TAP_UNTIL, S_CAND, S_CAND_N, S_PHASE, S_BPM, S_FILLED, \
    S_PHASE_Q, S_LOCK_T, S_FILLED_MAX = range(21)
STATE_SIZE = 21

N_HARM = 4
HALF_W = 0.5
BPM_LIMITS = (30.0, 300.0)
# fixed properties of the tracker (not tuning knobs)
ACTIVITY_MIN = 1e-3  # smoothed novelty below this: silence, no beats
JUMP_RATIO, JUMP_N = 1.3, 3  # a phase jump needs a comb peak this much stronger, this often
OCTAVE_MARGIN, OCTAVE_N = 0.5, 6  # a metrical relative must win by this much, this often
MAX_TAPS = 8


@njit(cache=True)
def _acf_at(acf, lag):
    """Linear interpolation of acf at a fractional lag (0 beyond the end)."""
    i = int(lag)
    if i + 1 >= acf.shape[0]:
        return 0.0
    f = lag - i
    return acf[i] * (1.0 - f) + acf[i + 1] * f


@njit(cache=True)
def _comb_score(acf, lag, acf0, filled):
    """Harmonic comb Σ acf(kL)/k over the harmonics the history already covers (at least
    two periods of data), normalised so a perfectly periodic signal scores 1."""
    s = 0.0
    wsum = 0.0
    for k in range(1, N_HARM + 1):
        if k > 1 and k * lag > 0.5 * filled:
            break
        s += _acf_at(acf, k * lag) / k
        wsum += 1.0 / k
    # duple-meter bias: a beat that divides in two (energy at L/2) beats a triple grouping
    h = _acf_at(acf, 0.5 * lag)
    if h > 0.0:
        s += HALF_W * h
    return s / (acf0 * wsum)


@njit(cache=True)
def _prior(pr, lag):
    bpm = 60.0 * pr[P_FPS] / lag
    d = (math.log2(bpm) - pr[P_PRIOR_C]) / pr[P_PRIOR_SIG]
    return math.exp(-0.5 * d * d)


@njit(cache=True)
def _env_at(env, pos_newest, filled, back):
    """Smoothed, interpolated onset strength ``back`` frames before the newest (fractional)."""
    h = env.shape[0]
    i = int(back)
    f = back - i
    acc = 0.0
    for j in range(2):
        k = i + j
        if k + 1 >= filled or k - 1 < 0:
            continue
        w = (1.0 - f) if j == 0 else f
        a = env[(pos_newest - k + 1) % h]
        b = env[(pos_newest - k) % h]
        c = env[(pos_newest - k - 1) % h]
        acc += w * (0.25 * a + 0.5 * b + 0.25 * c)
    return acc


@njit(cache=True)
def _related(r):
    """True when the period ratio ``r`` is near 2, 1/2, 3, 1/3, 3/2 or 2/3."""
    for q in (2.0, 0.5, 3.0, 1.0 / 3.0, 1.5, 2.0 / 3.0):
        if abs(r - q) <= 0.04 * q:
            return True
    return False


@njit(cache=True)
def _circ_at(buf, n, x):
    """Linear interpolation of the circular ``buf[0:n]`` at fractional ``x``."""
    i = int(math.floor(x))
    f = x - i
    return buf[i % n] * (1.0 - f) + buf[(i + 1) % n] * f


@njit(cache=True)
def _smooth(acf, kern, out):
    """``out`` = acf convolved with the symmetric ``kern`` (odd length; mirrored at lag 0),
    so that onsets quantised to whole frames still line up at fractional periods."""
    n = acf.shape[0]
    r = kern.shape[0] // 2
    for lag in range(n):
        acc = 0.0
        for j in range(kern.shape[0]):
            k = lag + j - r
            if k < 0:
                k = -k
            if k >= n:
                continue
            acc += kern[j] * acf[k]
        out[lag] = acc


@njit(cache=True)
def _estimate(pr, st, env, acf_raw, acf, kern, phase_buf):
    """Tempo and phase re-estimation (every ``est_every`` hops)."""
    _smooth(acf_raw, kern, acf)
    acf0 = acf[0]
    t = st[S_T]
    if acf0 <= 1e-12 or st[S_ACT] < pr[P_ACT_MIN] or st[S_FILLED] < 2.0 * pr[P_LAG_HI]:
        # not enough signal yet
        st[S_CONF] *= 0.8
        return
    lo = pr[P_LAG_LO]
    hi = pr[P_LAG_HI]
    tap = st[S_TAP_PERIOD] > 0.0 and t < st[S_TAP_UNTIL]
    if tap:
        lo = st[S_TAP_PERIOD] / 1.06
        hi = st[S_TAP_PERIOD] * 1.06
    # --- tempo: best comb score × prior over the period grid
    best_lag = lo
    best = -1e30
    best_raw = 0.0
    lag = lo
    step = pr[P_STEP]
    while lag <= hi + 1e-9:
        raw = _comb_score(acf, lag, acf0, st[S_FILLED])
        s = max(raw, 0.0) * (1.0 if tap else _prior(pr, lag))
        if s > best:
            best = s
            best_lag = lag
            best_raw = raw
        lag += step
    conf = min(max(best_raw, 0.0), 1.0)
    st[S_CONF] = 0.7 * st[S_CONF] + 0.3 * conf
    period = st[S_PERIOD]
    switched = False
    if tap and conf < 0.3:
        best_lag = st[S_TAP_PERIOD]  # audio too unclear to refine the tapped tempo
    if period <= 0.0 or (tap and abs(period - st[S_TAP_PERIOD]) > 0.06 * st[S_TAP_PERIOD]):
        period = best_lag
        switched = True
        st[S_LOCK_T] = t
        st[S_CAND_N] = 0.0
    elif abs(best_lag - period) <= 0.04 * period:
        period = 0.75 * period + 0.25 * best_lag
        st[S_CAND_N] = 0.0
    else:
        cur = max(_comb_score(acf, period, acf0, st[S_FILLED]), 0.0) * (1.0 if tap else _prior(pr, period))
        # a metrical relative of the current tempo (×2, ×½, ×3, ×⅓, ×3/2, ×2/3) is the usual
        # octave error: it must win by far more, for longer, than an unrelated tempo change
        margin = pr[P_MARGIN]
        need = 2.0
        if _related(best_lag / period) and t - st[S_LOCK_T] > st[S_FILLED_MAX]:
            margin = pr[P_REL_MARGIN]
            need = pr[P_REL_N]
        if best > (1.0 + margin) * cur:
            if st[S_CAND_N] > 0.0 and abs(best_lag - st[S_CAND]) <= 0.04 * best_lag:
                st[S_CAND_N] += 1.0
            else:
                st[S_CAND_N] = 1.0
            st[S_CAND] = best_lag
            if st[S_CAND_N] >= need:
                period = best_lag
                switched = True
                st[S_CAND_N] = 0.0
        else:
            st[S_CAND_N] = 0.0
    st[S_PERIOD] = period
    st[S_BPM] = 60.0 * pr[P_FPS] / period
    # --- phase: comb over the last beats at offsets φ in [0, P)
    filled = st[S_FILLED]
    n_phi = int(math.ceil(period))
    if n_phi > phase_buf.shape[0]:
        n_phi = phase_buf.shape[0]
    newest = int(st[S_POS])
    total = 0.0
    best_phi = 0
    best_v = -1.0
    for phi in range(n_phi):
        v = 0.0
        w = 1.0
        k = 0
        while True:
            back = phi + k * period
            if back + 2.0 >= filled or k >= 8:
                break
            v += w * _env_at(env, newest, filled, back)
            w *= 0.85
            k += 1
        phase_buf[phi] = v
        total += v
        if v > best_v:
            best_v = v
            best_phi = phi
    if n_phi < 3 or best_v <= 0.0:
        return
    mean = total / n_phi
    peak = (best_v - mean) / (best_v + 1e-12)
    # parabolic refinement
    a = phase_buf[(best_phi - 1) % n_phi]
    b = phase_buf[best_phi]
    c = phase_buf[(best_phi + 1) % n_phi]
    den = a - 2.0 * b + c
    phi_f = float(best_phi)
    if den < 0.0:
        phi_f += 0.5 * (a - c) / den
    st[S_PHASE_Q] = peak
    # audio position of the last beat seen in the onset strength
    obs = t - phi_f - pr[P_DELAY]
    nxt = st[S_NEXT]
    if nxt <= 0.0 or switched:
        # (re)lock: next beat on the observed grid
        n = math.floor((t - obs) / period) + 1.0
        st[S_NEXT] = obs + n * period
        st[S_JUMPS] = 0.0
        return
    # where the current grid puts the last beat, in comb offsets (frames back from newest)
    phi_pred = (t - pr[P_DELAY] - nxt) % period
    s_pred = _circ_at(phase_buf, n_phi, phi_pred)
    gain = pr[P_BETA] * min(1.0, 2.0 * peak + 0.2)
    if tap:
        # the tapped phase holds unless the audio clearly shows beats
        gain *= conf
        if conf < 0.3:
            st[S_JUMPS] = 0.0
            return
    # jump to the global best only when it is clearly and persistently better (re-lock after
    # a break or a wrong start); an off-beat that is only as strong never wins
    e = obs - nxt
    e = e - period * math.floor(e / period + 0.5)  # wrap into [-P/2, P/2)
    if abs(e) > 0.15 * period and best_v > pr[P_JUMP_RATIO] * s_pred and peak > 0.1:
        st[S_JUMPS] += 1.0
        if st[S_JUMPS] >= pr[P_JUMP_N]:
            nxt = nxt + e
            while nxt < t + 0.5:  # never a late beat right after a jump
                nxt += period
            st[S_NEXT] = nxt
            st[S_JUMPS] = -pr[P_JUMP_N]  # hold-off before another jump
        return
    if st[S_JUMPS] > 0.0:
        st[S_JUMPS] = 0.0
    elif st[S_JUMPS] < 0.0:
        st[S_JUMPS] += 1.0
    # otherwise follow the strongest comb peak near the predicted phase
    w = 0.15 * period
    lo_i = int(math.floor(phi_pred - w))
    hi_i = int(math.ceil(phi_pred + w))
    loc = -1.0
    loc_phi = phi_pred
    for k in range(lo_i, hi_i + 1):
        v = phase_buf[k % n_phi]
        if v > loc:
            loc = v
            loc_phi = float(k)
    if loc <= 0.0:
        return
    a = phase_buf[(int(loc_phi) - 1) % n_phi]
    c = phase_buf[(int(loc_phi) + 1) % n_phi]
    den = a - 2.0 * loc + c
    if den < 0.0:
        loc_phi += 0.5 * (a - c) / den
    e = phi_pred - loc_phi  # positive: the onsets come later than predicted
    st[S_NEXT] = nxt + gain * e


@njit(cache=True)
def beat_step(novelty, pr, st, env, xr, acf, acf_s, kern, phase_buf):
    """One hop of the tracker; returns True when a beat falls on this hop."""
    h = env.shape[0]
    t = st[S_T] + 1.0
    st[S_T] = t
    pos = (int(st[S_POS]) + 1) % h
    st[S_POS] = pos
    m = st[S_MEAN] + pr[P_ALPHA_MEAN] * (novelty - st[S_MEAN])
    st[S_MEAN] = m
    x = novelty - m
    env[pos] = x if x > 0.0 else 0.0
    xr[pos] = x
    st[S_ACT] += pr[P_ALPHA_ACT] * (novelty - st[S_ACT])
    if st[S_FILLED] < h:
        st[S_FILLED] += 1.0
    a = pr[P_ALPHA_ACF]
    n_lag = acf.shape[0]
    split = pos + 1 if pos + 1 < n_lag else n_lag  # lags up to pos: no wrap-around
    upos = uint64(pos)  # unsigned indices: no negative-index wrap check per load
    for lag in range(uint64(split)):
        acf[lag] += a * (x * xr[upos - lag] - acf[lag])
    for lag in range(uint64(split), uint64(n_lag)):
        acf[lag] += a * (x * xr[upos + uint64(h) - lag] - acf[lag])
    st[S_COUNTDOWN] -= 1.0
    if st[S_COUNTDOWN] <= 0.0:
        st[S_COUNTDOWN] = pr[P_EST_EVERY]
        _estimate(pr, st, env, acf, acf_s, kern, phase_buf)
    period = st[S_PERIOD]
    beat = False
    if period > 0.0 and st[S_NEXT] > 0.0:
        tap = st[S_TAP_PERIOD] > 0.0 and t < st[S_TAP_UNTIL]
        active = tap or (st[S_ACT] >= pr[P_ACT_MIN] and st[S_CONF] >= pr[P_MIN_CONF])
        if t >= st[S_NEXT] - 0.5:
            # (skip over beats missed after a jump, emit at most one per hop)
            while st[S_NEXT] - 0.5 <= t:
                st[S_LAST] = st[S_NEXT]
                st[S_NEXT] += period
            if active:
                beat = True
                st[S_COUNT] += 1.0
        ph = (t - st[S_LAST]) / period
        if ph < 0.0:
            ph = 0.0
        if ph >= 1.0:
            ph = ph - math.floor(ph)
        st[S_PHASE] = ph
        if not active:
            st[S_CONF] *= 0.995
    return beat


@njit(cache=True)
def apply_tap(pr, st, tap_pos, tap_period, hold_frames):
    """Lock to a tapped tempo: period and phase from the taps (positions in frames)."""
    st[S_TAP_PERIOD] = tap_period
    st[S_TAP_UNTIL] = st[S_T] + hold_frames
    st[S_PERIOD] = tap_period
    st[S_BPM] = 60.0 * pr[P_FPS] / tap_period
    t = st[S_T]
    n = math.floor((t - tap_pos) / tap_period) + 1.0
    if n < 1.0:
        n = 1.0
    st[S_NEXT] = tap_pos + n * tap_period
    st[S_LAST] = st[S_NEXT] - tap_period
    st[S_JUMPS] = 0.0
    st[S_CAND_N] = 0.0
    if st[S_CONF] < 0.5:
        st[S_CONF] = 0.5


@njit(cache=True)
def beat_block(n, onset_flux, low_flux, pr, st, env, xr, acf, acf_s, kern, phase_buf, values,
               i_beat, i_count, i_bpm, i_phase, i_conf, i_tap):
    """``BeatTracker.process`` over the first ``n`` hops of a block (novelty: the onset
    stage's flux + low-band flux)."""
    for i in range(n):
        beat = beat_step(onset_flux[i] + low_flux[i], pr, st, env, xr, acf, acf_s, kern,
                         phase_buf)
        _publish_beat(values[i], beat, pr, st, i_beat, i_count, i_bpm, i_phase, i_conf, i_tap)


@njit(cache=True)
def _publish_beat(v, beat, pr, st, i_beat, i_count, i_bpm, i_phase, i_conf, i_tap):
    v[i_beat] = 1.0 if beat else 0.0
    v[i_count] = st[S_COUNT]
    v[i_bpm] = pr[0] * 60.0 / st[S_PERIOD] if st[S_PERIOD] > 0.0 else 0.0
    v[i_phase] = st[S_PHASE]
    v[i_conf] = st[S_CONF]
    v[i_tap] = 1.0 if st[S_TAP_PERIOD] > 0.0 and st[S_T] < st[S_TAP_UNTIL] else 0.0


def check_bpm_range(lo, hi) -> tuple[float, float]:
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ParameterError(f"bpm range ({lo!r}, {hi!r}) must be two numbers") from None
    a, b = BPM_LIMITS
    if not (a <= lo < hi <= b):  # also refuses nan
        raise ParameterError(
            f"bpm range ({lo:g}, {hi:g}) must satisfy {a:g} <= lo < hi <= {b:g}")
    if hi < 1.5 * lo:
        raise ParameterError(
            f"bpm range ({lo:g}, {hi:g}) is too narrow: hi must be at least 1.5 × lo "
            f"(use about one octave, e.g. {lo:g}–{2 * lo:g})")
    return lo, hi


class BeatState:
    """Arrays and parameters of one tracker (sized once; ``step`` never allocates).

    ``fps`` is frames (hops) per second; the tuning comes from ``config`` (``bpm_range``,
    ``beat_history_s``, ``beat_tau_s``, ``beat_est_every_s``, ``beat_prior_sigma_oct``,
    ``beat_beta``, ``beat_switch_margin``, ``beat_min_confidence``). Tempo limits can be
    changed later with ``set_range`` from the analysis thread.
    """

    def __init__(self, fps: float, config, *, delay_frames: float = 0.0):
        c = config
        bpm_lo, bpm_hi = check_bpm_range(*c.bpm_range)
        history_s = finite("beat_history_s", c.beat_history_s)
        if history_s < 3.0 or history_s > 30.0:
            raise ParameterError(f"beat_history_s={c.beat_history_s!r} must be within 3..30 s")
        acf_tau_s = finite("beat_tau_s", c.beat_tau_s, positive=True)
        est_every_s = finite("beat_est_every_s", c.beat_est_every_s, positive=True)
        self.fps = finite("fps", fps, positive=True)
        h = int(round(history_s * fps))
        self.env = np.zeros(h)
        self.xr = np.zeros(h)
        self.acf = np.zeros(h - 1)
        self.acf_s = np.zeros(h - 1)
        # Gaussian smoothing of the ACF over ~±1.5 σ, σ = 10 ms
        sig = max(1.0, 0.010 * fps)
        r = int(math.ceil(2.5 * sig))
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sig) ** 2)
        self.kern = k / k.sum()
        self.phase_buf = np.zeros(int(math.ceil(60.0 * fps / BPM_LIMITS[0])) + 2)
        self.pr = np.zeros(PARAM_SIZE)
        pr = self.pr
        pr[P_FPS] = fps
        pr[P_ALPHA_ACF] = 1.0 / (acf_tau_s * fps)
        pr[P_ALPHA_MEAN] = 1.0 / (1.0 * fps)
        pr[P_ALPHA_ACT] = 1.0 / (2.0 * fps)
        pr[P_PRIOR_SIG] = finite("beat_prior_sigma_oct", c.beat_prior_sigma_oct, positive=True)
        pr[P_EST_EVERY] = max(1, int(round(est_every_s * fps)))
        pr[P_DELAY] = finite("delay_frames", delay_frames)
        pr[P_BETA] = finite("beat_beta", c.beat_beta, minimum=0.0)
        pr[P_MARGIN] = finite("beat_switch_margin", c.beat_switch_margin, minimum=0.0)
        pr[P_MIN_CONF] = finite("beat_min_confidence", c.beat_min_confidence, minimum=0.0)
        pr[P_ACT_MIN] = ACTIVITY_MIN
        pr[P_STEP] = 0.25
        pr[P_JUMP_RATIO] = JUMP_RATIO
        pr[P_JUMP_N] = JUMP_N
        pr[P_REL_MARGIN] = OCTAVE_MARGIN
        pr[P_REL_N] = OCTAVE_N
        self.st = np.zeros(STATE_SIZE)
        self.set_range(bpm_lo, bpm_hi)
        self.reset()

    def set_range(self, lo: float, hi: float) -> None:
        lo, hi = check_bpm_range(lo, hi)
        self.bpm_lo, self.bpm_hi = lo, hi
        self.pr[P_LAG_LO] = 60.0 * self.fps / hi
        self.pr[P_LAG_HI] = 60.0 * self.fps / lo
        self.pr[P_PRIOR_C] = 0.5 * (math.log2(lo) + math.log2(hi))
        # a tempo now outside the range is dropped at the next estimate
        p = self.st[S_PERIOD]
        if p > 0.0 and not (self.pr[P_LAG_LO] <= p <= self.pr[P_LAG_HI]) and \
                self.st[S_TAP_PERIOD] <= 0.0:
            self.st[S_PERIOD] = 0.0
            self.st[S_NEXT] = 0.0

    def step(self, novelty: float) -> bool:
        return beat_step(novelty, self.pr, self.st, self.env, self.xr, self.acf, self.acf_s,
                         self.kern, self.phase_buf)

    def tap(self, tap_pos: float, tap_period: float, hold_s: float) -> None:
        apply_tap(self.pr, self.st, tap_pos, tap_period, hold_s * self.fps)

    def release_tap(self) -> None:
        """End a tap lock now: the audio decides tempo and phase again."""
        self.st[S_TAP_PERIOD] = 0.0
        self.st[S_TAP_UNTIL] = 0.0

    def nudge(self, beats: float) -> None:
        """Move the beat grid by ``beats`` of a beat (positive: later)."""
        if self.st[S_PERIOD] > 0.0 and self.st[S_NEXT] > 0.0:
            shift = beats * self.st[S_PERIOD]
            self.st[S_NEXT] += shift
            self.st[S_LAST] += shift

    @property
    def tap_locked(self) -> bool:
        return bool(self.st[S_TAP_PERIOD] > 0.0 and self.st[S_T] < self.st[S_TAP_UNTIL])

    def reset(self) -> None:
        self.env[:] = 0.0
        self.xr[:] = 0.0
        self.acf[:] = 0.0
        self.acf_s[:] = 0.0
        self.phase_buf[:] = 0.0
        self.st[:] = 0.0
        self.st[S_T] = -1.0
        self.st[S_COUNTDOWN] = self.pr[P_EST_EVERY]
        self.st[S_FILLED_MAX] = self.env.shape[0]

    @property
    def bpm(self) -> float:
        return float(self.st[S_BPM])


class BeatTracker(Processor):
    """Fields ``beat`` (1.0 on the hop of a beat), ``beat_count`` (cumulative), ``bpm``
    (0 until locked), ``beat_phase`` (0..1, 0 at the beat) and ``bpm_confidence`` (0..1).

    Novelty: the log-mel flux of all bands plus the flux of the bands below ``onset_low_hz``
    (bass and kick mark the beat; chords and hi-hats mark its subdivisions), both computed
    once per hop by the onset stage (``ctx.onset_flux``, ``ctx.low_flux``; without a mel stage
    the low-band flux is 0). ``bpm_range`` bounds the tempo
    (octave errors are resolved inside it: choose about one octave, e.g. 70–140 for a set in
    that range; the default 70–180 covers most pop / dance music). ``offset_s`` shifts beat
    events earlier (positive) or later to line lights up with a PA or projector.

    Thread safety: :meth:`tap`, :meth:`release_tap`, :meth:`nudge` and :meth:`set_bpm_range`
    may be called from any thread. They only append to a ``collections.deque`` / swap one
    reference; ``process`` picks the change up on the next hop. The analysis thread never
    waits. ``tap_lock`` (a frame field, and :attr:`tap_locked`) is 1 while a tap lock holds.
    """

    def __init__(self, config):
        self.config = config
        self.bpm_lo, self.bpm_hi = check_bpm_range(*config.bpm_range)
        self.offset_s = finite("beat_offset_s", config.beat_offset_s)
        self.tap_hold_s = finite("tap_hold_s", config.tap_hold_s, positive=True)
        self.tap_reset_s = finite("tap_reset_s", config.tap_reset_s, positive=True)
        BeatState(100.0, config)  # validates the tuning now, so a bad config fails at build time
        self._taps: collections.deque = collections.deque(maxlen=64)
        self._pending_range = None
        self._requests: collections.deque = collections.deque(maxlen=64)  # ("release", 0) / ("nudge", beats)
        self.state: BeatState | None = None
        self._ctx = None

    # ---- control (any thread) ------------------------------------------------------------
    def tap(self, t: float | None = None) -> None:
        """Register a tap at audio time ``t`` (seconds; default: the newest analysed hop)."""
        if t is None:
            ctx = self._ctx
            t = ctx.sample_end / ctx.spec.sample_rate if ctx is not None else 0.0
        self._taps.append(float(t))

    def set_bpm_range(self, lo: float, hi: float) -> None:
        """Change the BPM range; validated here (raises ParameterError), applied next hop."""
        self._pending_range = check_bpm_range(lo, hi)

    def release_tap(self) -> None:
        """End a tap lock (applied on the next hop)."""
        self._requests.append(("release", 0.0))

    def nudge(self, beats: float) -> None:
        """Move the beat phase by ``beats`` of a beat, -0.5..0.5 (positive: the beats come later)."""
        beats = finite("nudge", beats)
        if not -0.5 <= beats <= 0.5:
            raise ParameterError(f"nudge={beats:g} must be within -0.5..0.5 of a beat")
        self._requests.append(("nudge", beats))

    @property
    def tap_locked(self) -> bool:
        return self.state is not None and self.state.tap_locked

    # ---- lifecycle -----------------------------------------------------------------------
    def prepare(self, spec, layout, facts):
        facts.require("onset_flux", "BeatTracker", "onset")
        fps = spec.frame_rate
        self.fps = fps
        self.hop_s = spec.hop_seconds
        # the flux peaks about this long after the sound (causal window, see above)
        delay_frames = detection_delay_frames(spec.n_fft, spec.hop, spec.sample_rate) + self.offset_s * fps
        self.state = BeatState(fps, self.config, delay_frames=delay_frames)
        self.state.set_range(self.bpm_lo, self.bpm_hi)
        self._i_beat = layout.add_scalar("beat")
        self._i_count = layout.add_scalar("beat_count")
        self._i_bpm = layout.add_scalar("bpm")
        self._i_phase = layout.add_scalar("beat_phase")
        self._i_conf = layout.add_scalar("bpm_confidence")
        self._i_tap = layout.add_scalar("tap_lock")
        self._tap_times = np.zeros(MAX_TAPS)
        self._n_taps = 0

    def _take_control(self) -> None:
        """Apply what other threads asked for since the last hop (BPM range, taps)."""
        if self._pending_range is not None:
            lo, hi = self._pending_range
            self._pending_range = None
            self.state.set_range(lo, hi)
            self.bpm_lo, self.bpm_hi = lo, hi
        if self._taps:
            self._drain_taps()
        while self._requests:
            what, beats = self._requests.popleft()
            if what == "release":
                self.state.release_tap()
                self._n_taps = 0
            else:
                self.state.nudge(beats)

    def process(self, ctx, frame):
        self._take_control()
        st = self.state
        beat = st.step(ctx.onset_flux + ctx.low_flux)
        _publish_beat(frame.values, beat, st.pr, st.st, self._i_beat, self._i_count,
                      self._i_bpm, self._i_phase, self._i_conf, self._i_tap)
        self._ctx = ctx

    blockwise = True

    def process_block(self, block):
        self._take_control()
        st = self.state
        beat_block(block.n, block.onset_flux, block.low_flux, st.pr, st.st, st.env, st.xr,
                   st.acf, st.acf_s, st.kern, st.phase_buf, block.values, self._i_beat,
                   self._i_count, self._i_bpm, self._i_phase, self._i_conf, self._i_tap)

    def _drain_taps(self) -> None:
        """Turn queued taps into a tempo + phase lock (runs only on hops with new taps)."""
        while self._taps:
            t = self._taps.popleft()
            if self._n_taps and (t - self._tap_times[self._n_taps - 1] > self.tap_reset_s
                                 or t <= self._tap_times[self._n_taps - 1]):
                self._n_taps = 0
            if self._n_taps == MAX_TAPS:
                self._tap_times[:-1] = self._tap_times[1:]
                self._n_taps -= 1
            self._tap_times[self._n_taps] = t
            self._n_taps += 1
        if self._n_taps >= 3:
            times = self._tap_times[:self._n_taps]
            period_s = float(np.median(np.diff(times)))
            if not 60.0 / 300.0 <= period_s <= 60.0 / 30.0:
                return
            # phase from a least-squares fit of the tap grid (robust to one sloppy tap)
            k = np.arange(self._n_taps)
            last = float(np.mean(times - k * period_s)) + (self._n_taps - 1) * period_s
            pos = last * self.fps - 1.0  # audio time -> frame position (frame f ends at (f+1)·hop)
            self.state.tap(pos, period_s * self.fps, self.tap_hold_s)

    def reset(self):
        if self.state is not None:
            self.state.reset()
        self._taps.clear()
        self._requests.clear()
        self._n_taps = 0


def detection_delay_frames(n_fft: int, hop: int, sample_rate: int) -> float:
    """Frames between a sound and the log-mel flux peak it causes with causal framing: the
    onset enters at the newest end of the Hann window and counts once it reaches a
    substantial weight, about n_fft/4 later, plus ~10 ms of instrument attack (measured on the
    POP909 piano renders: beats were 10 ms late with n_fft/4 alone)."""
    return (0.25 * n_fft) / hop + 0.010 * sample_rate / hop
