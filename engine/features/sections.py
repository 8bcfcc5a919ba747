"""Sections inside a song — ``build``, ``drop``, ``breakdown`` — as events, causally.

What each event means, and how it is found (all from the hop's level, the bass band level and
the onset flags; levels are smoothed as power):

* ``breakdown``: energy and drums fall away. The slow level (``slow_s`` smoothing) falls more
  than ``breakdown_db`` below the *full* level (the slow level's running peak, which decays
  by ``ref_decay_db_s``) while the music is full. Decided when the slow level crosses the
  line (about ``slow_s`` after the fall); the event's time is when the fast level crossed it.
* ``build``: energy or onset density rising over bars, below the full level. The slow level
  is ``build_rise_db`` above its minimum of the last ``build_span_s`` and has risen for the
  last ``build_confirm_s`` (or the onset density is ``build_density_ratio`` times what it was
  ``build_span_s`` ago and at least ``build_min_density`` onsets a second — a snare roll, not
  the odd note of a sparse breakdown — at a level not falling). Decided a few bars into the
  build; the event's time is the minimum the rise started from (of the level, or of the
  onset density).
* ``drop``: a strong return after a build or a breakdown. The fast level jumps more than
  ``drop_jump_db`` above the slow level or the bass band jumps ``drop_bass_db`` (the kick and
  bass return after a riser as loud as the drop), and the fast level reaches within
  ``drop_near_full_db`` of the full level. Decided ``fast_s``-ish after the hit; the event's
  time is when the fast level (or the bass) last crossed half its jump.

The detector is a state machine (``full`` → ``breakdown``/``build`` → ``drop`` → ``full``);
:attr:`SectionTracker.delays` states the decision delay of each event kind. It keeps short
rings of the last seconds; nothing is allocated per hop.

Example
-------
>>> import numpy as np
>>> tr = SectionTracker(hop_s=0.01)
>>> lv = np.r_[np.full(2000, -10.0), np.full(1500, -30.0), np.full(1500, -8.0)]
>>> ev = [(tr.hop(0.01 * (i + 1), lv[i], lv[i], 0.0), tr.event_t) for i in range(5000)]
>>> [(SECTION_LABELS[e], round(t)) for e, t in ev if e]
[('breakdown', 20), ('drop', 35)]
"""
from __future__ import annotations

import math
import operator

import numpy as np
from numba import njit

from ..errors import ParameterError
from .base import HopContext, Processor
from .checks import finite

SECTION_LABELS = {0: "", 1: "build", 2: "drop", 3: "breakdown"}
SECTION_CODES = {v: k for k, v in SECTION_LABELS.items() if v}
FULL, BREAKDOWN, BUILD = 0, 1, 2


def _ema_coef(tau_s: float, dt: float) -> float:
    return 1.0 - math.exp(-dt / tau_s)


def _db(p: float) -> float:
    return 10.0 * math.log10(p + 1e-12)


class SectionTracker:
    """Build / drop / breakdown events from hop levels (see the module doc)."""

    def __init__(self, *, hop_s: float, fast_s: float = 0.15, slow_s: float = 1.5, block_s: float = 0.1,
                 ref_decay_db_s: float = 0.2, breakdown_db: float = 6.0, build_rise_db: float = 3.0,
                 build_span_s: float = 6.0, build_confirm_s: float = 1.5, build_density_ratio: float = 1.4,
                 density_s: float = 2.0, drop_jump_db: float = 5.0, drop_near_full_db: float = 4.0,
                 drop_bass_db: float = 4.5, min_gap_s: float = 4.0, build_timeout_s: float = 40.0,
                 build_min_density: float = 3.0):
        if not hop_s > 0 or not block_s >= hop_s:
            raise ParameterError(f"hop_s={hop_s} must be positive and block_s={block_s} at least one hop")
        for name, v in (("fast_s", fast_s), ("slow_s", slow_s), ("build_span_s", build_span_s),
                        ("density_s", density_s)):
            if not v > 0:
                raise ParameterError(f"section {name}={v} must be positive")
        self.hop_s, self.slow_s = hop_s, slow_s
        self.a_fast, self.a_slow = _ema_coef(fast_s, hop_s), _ema_coef(slow_s, hop_s)
        self.a_dens = _ema_coef(density_s, hop_s)
        self.block_hops = max(1, int(round(block_s / hop_s)))
        self.block_s = self.block_hops * hop_s
        self.ref_decay = ref_decay_db_s * self.block_s
        self.breakdown_db, self.build_rise_db = breakdown_db, build_rise_db
        self.span = max(2, int(round(build_span_s / self.block_s)))
        self.confirm = max(1, int(round(build_confirm_s / self.block_s)))
        self.build_density_ratio = build_density_ratio
        self.build_min_density = build_min_density
        self.drop_jump_db, self.drop_near_full_db, self.drop_bass_db = drop_jump_db, drop_near_full_db, drop_bass_db
        self.min_gap_s, self.build_timeout_s = min_gap_s, build_timeout_s
        self._slow_ring = np.zeros(self.span)  # slow level (dB) per block
        self._dens_ring = np.zeros(self.span)  # onset density per block
        #: decision delay of each event (s): how long after the event's time it is published
        #: (typical; the slow level needs ln(10^(dB/10)) time constants to move dB decibels)
        self.delays = {"breakdown": slow_s * math.log(10 ** (breakdown_db / 10)) + block_s,
                       # a level build: confirmed after the rise; a density build: the density
                       # is compared with the span's start, so it shows about a span in
                       "build": max(build_confirm_s + slow_s * math.log(10 ** (build_rise_db / 10)),
                                    build_span_s) + block_s,
                       "drop": 2 * fast_s + block_s}
        self.reset()

    def reset(self) -> None:
        self._fast = self._slow = self._bass_fast = self._bass_slow = 0.0
        self._dens = 0.0
        self._n = self._k = 0
        self._slow_ring[:] = 0.0
        self._dens_ring[:] = 0.0
        self.ref = -math.inf
        self.state = FULL
        self.state_since = 0.0
        self._was_full = False  # a breakdown needs the music to have been full since the last event
        self.event_t = 0.0  # time of the newest event (the change in the music, not the decision)
        self.label = 0  # the newest event's code (SECTION_CODES)
        self._last_event = [-math.inf] * 4  # per event code: two of a kind at least min_gap_s apart
        self._t_cross_down = self._t_cross_up = 0.0
        self._prev_fast = self._prev_bass = -math.inf
        self._started = False

    def hop(self, t_end: float, level_db: float, bass_db: float, onset: float) -> int:
        """One hop: its level and bass level (dB), its onset flag; returns the code of an
        event decided on this hop (1 build, 2 drop, 3 breakdown) or 0."""
        p, pb = 10.0 ** (0.1 * level_db), 10.0 ** (0.1 * bass_db)
        if not self._started:
            self._fast = self._slow = p
            self._bass_fast = self._bass_slow = pb
            self._started = True
        self._fast += self.a_fast * (p - self._fast)
        self._slow += self.a_slow * (p - self._slow)
        self._bass_fast += self.a_fast * (pb - self._bass_fast)
        self._bass_slow += self.a_slow * (pb - self._bass_slow)
        self._dens += self.a_dens * (onset / self.hop_s - self._dens)
        fast, slow = _db(self._fast), _db(self._slow)
        # threshold crossings of the fast level, remembered for the events' times
        if self.ref > -math.inf:
            line = self.ref - self.breakdown_db
            if fast < line <= self._prev_fast:
                self._t_cross_down = t_end
            mid = slow + 0.5 * self.drop_jump_db
            bass_fast, bass_mid = _db(self._bass_fast), _db(self._bass_slow) + 0.5 * self.drop_bass_db
            if fast >= mid > self._prev_fast or bass_fast >= bass_mid > self._prev_bass:
                self._t_cross_up = t_end
            self._prev_bass = bass_fast
        self._prev_fast = fast
        event = self._drop(t_end, fast, slow)
        self._n += 1
        if self._n >= self.block_hops:
            self._n = 0
            if not event:
                event = self._block(t_end, slow)
        return event

    # ---- bulk runs: the hops between block ends in one Numba call (sections_quiet_run) -----
    #: the attributes a quiet hop reads or changes, in the order of the kernel's ``st`` array
    QUIET_STATE = ("_fast", "_slow", "_bass_fast", "_bass_slow", "_dens", "ref", "_prev_fast", "_prev_bass",
                   "_t_cross_down", "_t_cross_up", "state", "_n", "_started")
    _quiet_state = staticmethod(operator.attrgetter(*QUIET_STATE))

    def quiet_params(self) -> np.ndarray:
        """The constants a quiet hop needs, in the order :func:`sections_quiet_run` reads them."""
        return np.array([self.a_fast, self.a_slow, self.a_dens, self.hop_s, self.breakdown_db,
                         self.drop_jump_db, self.drop_bass_db, self.drop_near_full_db, self.block_hops])

    def save_quiet(self, st: np.ndarray) -> None:
        """The state quiet hops change into ``st`` (see ``QUIET_STATE``)."""
        st[:len(self.QUIET_STATE)] = self._quiet_state(self)

    def load_quiet(self, st: np.ndarray) -> None:
        """The state back from ``st`` after a bulk run (floats stay floats, counters ints)."""
        values = st.tolist()
        for name, x in zip(self.QUIET_STATE[:10], values):
            setattr(self, name, x)
        self.state, self._n, self._started = int(values[10]), int(values[11]), bool(values[12])

    def _fire(self, code: int, t_event: float, t_now: float) -> int:
        if t_now - self._last_event[code] < self.min_gap_s:
            return 0
        self._last_event[code] = t_now
        self.label, self.event_t = code, t_event
        return code

    def _drop(self, t: float, fast: float, slow: float) -> int:
        if self.state == FULL:
            return 0
        bass_jump = _db(self._bass_fast) - _db(self._bass_slow)
        jump = fast - slow >= self.drop_jump_db or bass_jump >= self.drop_bass_db
        if jump and fast >= self.ref - self.drop_near_full_db:
            self.state, self.state_since = FULL, t
            self._was_full = False
            return self._fire(SECTION_CODES["drop"], self._t_cross_up, t)
        return 0

    def _block(self, t: float, slow: float) -> int:
        k = self._k % self.span
        old_slow, old_dens = self._slow_ring[k], self._dens_ring[k]  # span blocks ago
        self._slow_ring[k], self._dens_ring[k] = slow, self._dens
        self._k += 1
        if self._k * self.block_s > 2 * self.slow_s:  # the slow level has settled
            self.ref = max(slow, self.ref - self.ref_decay)
        if self._k <= self.span or self.ref == -math.inf:
            return 0
        if slow >= self.ref - 2.0:
            self._was_full = True  # the slow level is back near the full level
        if self.state == FULL:
            if slow < self.ref - self.breakdown_db and self._was_full:
                self._was_full = False
                self.state, self.state_since = BREAKDOWN, t
                return self._fire(SECTION_CODES["breakdown"], self._t_cross_down, t)
            return self._build(t, slow, old_slow, old_dens, below_full=2.0)
        if self.state == BREAKDOWN:
            return self._build(t, slow, old_slow, old_dens, below_full=0.0)
        if t - self.state_since > self.build_timeout_s:
            self.state, self.state_since = FULL, t  # a build that never dropped
        return 0

    def _build(self, t: float, slow: float, old_slow: float, old_dens: float, below_full: float) -> int:
        """Rising level (from the span's minimum, rising for ``confirm`` blocks) or rising onset
        density, while below the full level by ``below_full`` dB."""
        if slow > self.ref - below_full:
            return 0
        ring, n, k = self._slow_ring, self.span, self._k
        lo, lo_i = math.inf, 0
        for i in range(n):
            v = ring[(k - 1 - i) % n]
            if v < lo:
                lo, lo_i = v, i
        rising = slow - lo >= self.build_rise_db and lo_i >= self.confirm
        if rising:
            for i in range(self.confirm):
                if ring[(k - 1 - i) % n] < ring[(k - 2 - i) % n] - 0.05:
                    rising = False
                    break
        denser = (old_dens > 0.5 and self._dens >= self.build_density_ratio * old_dens and slow >= old_slow - 1.0
                  and self._dens >= self.build_min_density)
        if rising or denser:
            self.state, self.state_since = BUILD, t
            if rising:
                t_event = t - lo_i * self.block_s
            else:  # where the onset density was lowest in the span: the rise started there
                dens, d_lo, d_i = self._dens_ring, math.inf, 0
                for i in range(n):
                    v = dens[(k - 1 - i) % n]
                    if v < d_lo:
                        d_lo, d_i = v, i
                t_event = t - d_i * self.block_s
            return self._fire(SECTION_CODES["build"], t_event, t)
        return 0


class SectionStage(Processor):
    """The section events on the frame. Fields: ``section_change`` (1 on the hop an event is
    decided) with ``section_change_count``, ``section_label`` (the newest event: 1 build,
    2 drop, 3 breakdown, 0 none yet) and ``section_time`` (when that event happened in the
    music: decided up to :attr:`SectionTracker.delays` later). Reads ``level_db``,
    ``band_bass_db`` and ``onset`` (the levels, bands and onset stages must come first);
    while the silence gate says ``silence`` the tracker is not fed (no events between songs)."""

    def __init__(self, config):
        self.config = config

    def prepare(self, spec, layout, facts=None):
        missing = [n for n in ("level_db", "band_bass_db", "onset") if n not in layout.scalars]
        if missing:
            raise ParameterError(f"the section stage needs the fields {missing} from earlier stages")
        c = self.config
        self.tracker = SectionTracker(
            hop_s=spec.hop / spec.sample_rate, block_s=c.region_block_s,
            breakdown_db=finite("section_breakdown_db", c.section_breakdown_db, positive=True),
            build_rise_db=finite("section_build_rise_db", c.section_build_rise_db, positive=True),
            drop_jump_db=finite("section_drop_jump_db", c.section_drop_jump_db, positive=True),
            drop_bass_db=finite("section_drop_bass_db", c.section_drop_bass_db, positive=True),
            min_gap_s=finite("section_min_gap_s", c.section_min_gap_s, minimum=0.0))
        self._in = tuple(layout.scalars[n] for n in ("level_db", "band_bass_db", "onset"))
        self._i_silence = layout.scalars.get("silence")  # the silence gate's flag, when in the chain
        self._i = tuple(layout.add_scalar(n) for n in ("section_change", "section_change_count",
                                                          "section_label", "section_time"))
        # bulk runs: the quiet-hop kernel's field indices, constants and state (process_block)
        silence = -1 if self._i_silence is None else self._i_silence
        self._idx_block = np.array([*self._in, silence, *self._i], dtype=np.int64)
        self._params = self.tracker.quiet_params()
        self._st = np.zeros(len(SectionTracker.QUIET_STATE) + 3)
        self._layout, self._scratch = layout, None
        self.reset()

    def reset(self):
        self.tracker.reset()
        self.count = 0
        self.events: list[dict] = []  # every event so far (the analyze document's ``sections``)

    blockwise = True

    def process_block(self, block):
        """The block's hops as ``process`` would do them one by one: the quiet hops (the
        levels' smoothing and crossings, no block end, no drop) in one Numba call, the others
        — a section block ends (every ``region_block_s``) or a drop fires — in Python through
        ``process``."""
        if self._scratch is None:  # the layout is complete once the whole chain is prepared
            self._scratch = (HopContext(block.spec), self._layout.new_frame())
        ctx, frame = self._scratch
        tr, st, n_state = self.tracker, self._st, len(SectionTracker.QUIET_STATE)
        sr = float(block.spec.sample_rate)
        i = 0
        while i < block.n:
            tr.save_quiet(st)
            st[n_state:] = (self.count, tr.label, tr.event_t)
            i = sections_quiet_run(i, block.n, block.values, block.sample_end, sr, self._idx_block,
                                   self._params, st)
            tr.load_quiet(st)
            if i < block.n:
                block.bind_hop(i, ctx, frame)
                self.process(ctx, frame)
                i += 1

    def process(self, ctx, frame):
        v = frame.values
        i_level, i_bass, i_onset = self._in
        tr = self.tracker
        silent = self._i_silence is not None and v[self._i_silence] > 0
        code = 0 if silent else tr.hop(ctx.t, v[i_level], v[i_bass], v[i_onset])  # silence: no events
        i_change, i_count, i_label, i_time = self._i
        v[i_change] = 1.0 if code else 0.0
        if code:
            self.count += 1
            self.events.append({"t": round(tr.event_t, 3), "label": SECTION_LABELS[code],
                                "decided": round(ctx.t, 3)})
        v[i_count] = self.count
        v[i_label] = tr.label
        v[i_time] = tr.event_t


@njit(cache=True)
def _db_kernel(p):
    """:func:`_db` inside Numba kernels (the same libm log10, so the same numbers)."""
    return 10.0 * math.log10(p + 1e-12)


@njit(cache=True)
def sections_quiet_run(i, n, values, sample_end, sr, idx, par, st):
    """Hops ``i..`` of a block as ``SectionStage.process`` does them, as long as nothing
    happens but smoothing the levels and remembering crossings; returns the first hop where
    a section block ends or a drop fires (or ``n``), untouched, for Python to run.

    ``idx`` = field indices [level_db, band_bass_db, onset, silence (-1: absent),
    section_change, section_change_count, section_label, section_time]; ``par`` =
    :meth:`SectionTracker.quiet_params`; ``st`` = the tracker's ``QUIET_STATE`` then
    [count, label, event_t] (what every hop publishes)."""
    a_fast, a_slow, a_dens, hop_s = par[0], par[1], par[2], par[3]
    breakdown_db, drop_jump_db, drop_bass_db, near_full_db = par[4], par[5], par[6], par[7]
    block_hops = par[8]
    while i < n:
        v = values[i]
        if not (idx[3] >= 0 and v[idx[3]] > 0):  # silence: the tracker is not fed
            if st[11] + 1 >= block_hops:
                return i
            level_db, bass_db, onset = v[idx[0]], v[idx[1]], v[idx[2]]
            t_end = sample_end[i] / sr
            p, pb = 10.0 ** (0.1 * level_db), 10.0 ** (0.1 * bass_db)
            fast_p, slow_p, bfast_p, bslow_p = st[0], st[1], st[2], st[3]
            if st[12] == 0.0:
                fast_p = slow_p = p
                bfast_p = bslow_p = pb
            fast_p += a_fast * (p - fast_p)
            slow_p += a_slow * (p - slow_p)
            bfast_p += a_fast * (pb - bfast_p)
            bslow_p += a_slow * (pb - bslow_p)
            fast, slow = _db_kernel(fast_p), _db_kernel(slow_p)
            ref = st[5]
            if st[10] != 0.0:  # not FULL: would a drop fire?
                bass_jump = _db_kernel(bfast_p) - _db_kernel(bslow_p)
                jump = fast - slow >= drop_jump_db or bass_jump >= drop_bass_db
                if jump and fast >= ref - near_full_db:
                    return i
            st[0], st[1], st[2], st[3], st[12] = fast_p, slow_p, bfast_p, bslow_p, 1.0
            st[4] += a_dens * (onset / hop_s - st[4])
            if ref > -math.inf:
                line = ref - breakdown_db
                if fast < line <= st[6]:
                    st[8] = t_end
                mid = slow + 0.5 * drop_jump_db
                bass_fast, bass_mid = _db_kernel(bfast_p), _db_kernel(bslow_p) + 0.5 * drop_bass_db
                if (fast >= mid > st[6]) or (bass_fast >= bass_mid > st[7]):
                    st[9] = t_end
                st[7] = bass_fast
            st[6] = fast
            st[11] += 1
        v[idx[4]] = 0.0
        v[idx[5]] = st[13]
        v[idx[6]] = st[14]
        v[idx[7]] = st[15]
        i += 1
    return n
