"""Emotion regions live: feeds the Segmenter from the frame's energy / tempo coefficients and
mood, and publishes the region on every frame.

Fields: ``region_index`` (0, 1, …), ``region_label`` (running label of the current region:
1 fierce, 2 cheerful, 3 gentle, 4 low, 0 unknown), ``region_start`` (s), ``region_change``
(1 on the hop a cut is decided) with ``region_change_count``, and ``region_boundary`` (the
cut's time: a cut is decided up to a few energy segments after the boundary it marks).

Two ways to decide cuts (``AnalysisConfig.region_method``):

* ``"seed"``: the seed paper's soft cutting alone (the :class:`Segmenter`'s energy and tempo
  z-coefficients on a fixed grid of segments);
* ``"cues"`` (default): the cues named in ``region_cues`` (novelty, energy contrast, mood
  change) fused with hysteresis, one sensitivity and a minimum region length
  (:mod:`sonolux.features.regioncues`). The frame then also carries the cue values at the
  boundary they judge (``region_cue_t``, the boundary time; ``region_novelty``,
  ``region_energy_cue``, ``region_mood_cue``, ``region_contrast_cue``; ``region_score``, their weighted sum, and
  ``region_threshold``), so a plot shows why a cut happened. With ``region_judge`` and an
  emotion model that gives tags, the fusion arms at a lower threshold and a learned judge
  keeps or drops each decided peak (:mod:`sonolux.features.cutjudge`; the raw tags of each
  prediction come from the inference stage by prediction id, ``ChainFacts.tag_source``).
  Each cue cut is placed on the sharpest step, or on the middle of a fitted ramp when the
  join is gradual (``place_fade``), then moved by the learned placer's correction
  (``region_placer``, :mod:`sonolux.features.cutplacer`; mel and level only, no models)
  and, when gradual, to the join net's highest output near it (:mod:`sonolux.features.joinnet`;
  the judge reads the same net: its highest output near a candidate is one of its features).
  With the join net, the learned place choice (``region_place_choice``,
  :mod:`sonolux.features.placechoice`) replaces the hand rule's hard-or-gradual verdict: the
  cut goes to the best-scored of its candidate times (the cue's, the step, the ramp's middle,
  both paths above, the net's peak near the step).

Offline (``process_block``) the hops on which nothing is decided — most of them: the cues
close a block every ``region_block_s`` — run in one Numba call (:func:`regions_quiet_run`);
the others go through ``process``, so the cue logic exists once, in Python.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..segment import LABEL_CODES, LABELS, Segmenter
from .base import HopContext, Processor
from .checks import finite
from .contrast import texture_accumulate
from .cutjudge import N_TAGS, CutJudge, JudgeFileError, LiveJudge, load_judge
from .cutplacer import (FEATURES as PLACER_FEATURES, PlacerFileError, cut_context, load_placer, placed_features,
                        placement_features)
from .hopring import mel_order, ring_order, song_direction, window_mean
from .joinnet import MIN_OUTPUT, SEARCH_S, JoinNetFileError, JoinNetStream, load_join_net
from .novelty import block_accumulate
from .placechoice import (CANDIDATES, FEATURES as CHOICE_FEATURES, HARD_SNAP_S, NET_NEAR_S, NET_RADIUS_S,
                          PlaceChoiceFileError, candidate_rows, load_place_choice)
from .regioncues import RegionCues

REGION_METHODS = ("cues", "seed")
CUE_FIELDS = ("region_cue_t", "region_novelty", "region_energy_cue", "region_mood_cue", "region_contrast_cue",
              "region_score", "region_threshold")
# placing a gradual join (see RegionStage.place_fade): the sound before and after a cue cut is
# judged FADE_GAP_S away from it over FADE_WINDOW_S; ramps up to FADE_MAX_S long are fitted; a
# step over region_step_window_s at least HARD_STEP_RATIO of the whole change is a hard join
#: the judge fields of ``/sonolux/status`` when no judge runs: off, -1 judged, -1 kept, -1.0, -1.0
NO_JUDGE_RECORD = (0, -1, -1, -1.0, -1.0)
FADE_GAP_S = 1.5
FADE_WINDOW_S = 3.0
FADE_MAX_S = 2.5
HARD_STEP_RATIO = 1.0
FADE_SMOOTH_S = 0.05  # the ramp is fitted to the hops' position between the songs, averaged over this ...
FADE_STRIDE = 4  # ... every this many hops


class RegionStage(Processor):
    """Cuts land on energy-segment boundaries; ``refine`` moves each to the hop where the
    level steps most (mean dB over ``step_window_s`` before vs. after) within one segment
    either side, so boundary times are accurate to a hop, not to a segment."""

    def __init__(self, segmenter: Segmenter, config, *, cues: RegionCues | None = None,
                 judge: CutJudge | None = None, tag_source=None, placer=None, place_choice=None):
        """Reads ``energy_segment_s``, ``tempo_segment_s`` and the ``region_*`` parameters of
        ``config``. ``region_tempo_source``: "bpm" — γ is the beat tracker's mean BPM over
        the segment, hops with confidence below ``region_min_confidence`` ignored;
        "onset_rate" — the ``tempo_z`` field (onset-rate contrast), used only when both
        segments had at least ``region_min_onset_rate`` onsets per second (sparse onsets give
        meaningless ratios).

        ``cues``: a ready :class:`RegionCues` (tests, benchmarks); by default it is built from
        ``config`` when ``region_method`` is "cues" (sized in ``prepare``).

        The learned cut judge (:mod:`sonolux.features.cutjudge`) needs the raw tags of each
        prediction: ``tag_source`` (default: the inference stage, through the chain's facts)
        answers ``raw_tags_of(prediction_id, out)``. ``judge``: a loaded
        :class:`~sonolux.features.cutjudge.CutJudge` (default: ``region_judge_file`` or the
        shipped file, checked against the emotion model's version). Without tags or with a
        file that cannot be used the stage runs the fixed fusion and ``judge_note`` says why;
        ``region_judge`` says whether the judge decides at the start (the operator can switch
        it live).

        The learned cut placer (:mod:`sonolux.features.cutplacer`) moves each cue cut after
        :meth:`place_fade` while ``placer_on`` (``region_placer`` at the start; the operator
        switches it live: :meth:`set_placer`); ``placer``: a loaded
        :class:`~sonolux.features.cutplacer.CutPlacer` (default: ``region_placer_file`` or the
        shipped file). A file that cannot be used leaves the cuts where the fit put them and
        ``placer_note`` says why.

        With the join net, the learned place choice (:mod:`sonolux.features.placechoice`; part
        of the placer, on and off with it) picks among each cut's candidate times instead of the
        hand rule's hard/gradual verdict (:meth:`choose_place`); ``place_choice``: a loaded
        :class:`~sonolux.features.placechoice.PlaceChoice` (default: ``region_place_choice_file`` or
        the shipped file). A file that cannot be used: the hand rule places, ``placer_note`` says why.

        The mood is piecewise constant (it changes with each prediction, ~2 a second, or the
        operator's override): each piece goes to the segmenter once, weighted by its hops,
        when it ends or an energy segment ends, so a hop only compares two numbers."""
        tempo_source = config.region_tempo_source
        if tempo_source not in ("bpm", "onset_rate"):
            raise ParameterError(f"region_tempo_source={tempo_source!r} must be 'bpm' or 'onset_rate'")
        self.tempo_source = tempo_source
        if config.region_method not in REGION_METHODS:
            raise ParameterError(f"region_method={config.region_method!r} must be one of {list(REGION_METHODS)}")
        self.config = config
        self.cue_refine_s = finite("region_refine_s", config.region_refine_s, minimum=0.0)
        self.wide_refine_s = finite("region_refine_wide_s", config.region_refine_wide_s, minimum=0.0)
        self.wide_refine_ratio = finite("region_refine_wide_ratio", config.region_refine_wide_ratio, minimum=1.0)
        self.fade_radius_s = finite("region_fade_radius_s", config.region_fade_radius_s, minimum=0.0)
        self.fade_after_s = finite("region_fade_after_s", config.region_fade_after_s, minimum=0.0)
        self._given_cues = cues
        self.cues = cues
        self._given_judge, self._given_tags = judge, tag_source
        self.judge_note = None
        self._given_placer, self.placer, self.placer_note, self.placer_on = placer, None, None, False
        self._given_choice, self.place_choice, self.choosing = place_choice, None, False
        self.join_stream, self.join_placing = None, False
        self.min_confidence = finite("region_min_confidence", config.region_min_confidence, minimum=0.0)
        self.min_onset_rate = finite("region_min_onset_rate", config.region_min_onset_rate, minimum=0.0)
        self.segmenter = segmenter
        self.energy_segment_s = finite("energy_segment_s", config.energy_segment_s, positive=True)
        self.tempo_segment_s = finite("tempo_segment_s", config.tempo_segment_s, positive=True)
        self.step_window_s = finite("region_step_window_s", config.region_step_window_s, positive=True)
        if segmenter.refine is None:
            segmenter.refine = self.refine

    def prepare(self, spec, layout, facts):
        self.m = max(1, int(round(self.energy_segment_s * spec.sample_rate)))
        self.hops_per_tempo = max(1, int(round(self.tempo_segment_s * spec.frame_rate)))
        self.hop, self.sr, self.n_fft = spec.hop, spec.sample_rate, spec.n_fft
        self._i_e = layout.scalars.get("energy")
        n_mels = layout.vectors.get("mel_db", 0)
        self._mel_sum = np.zeros(n_mels)
        self._mel_prev = np.zeros(n_mels)
        self._mel_tmp = np.zeros(n_mels)
        self._mel_n = 0
        self._has_prev_mel = False
        self._i_tz = layout.scalars.get("tempo_z")
        self._i_bpm = layout.scalars.get("bpm")
        self._i_conf = layout.scalars.get("bpm_confidence")
        self._i_onset = layout.scalars.get("onset")
        qs = [layout.scalars.get(f"q{k}") for k in range(1, 5)]
        self._q = np.array(qs) if all(i is not None for i in qs) else None
        self._i_quadrant = layout.scalars.get("quadrant")  # 1..4 once a prediction or override is in
        self._i_level = layout.scalars.get("level_db")
        # what identifies the current mood piece (either may be absent from a chain)
        self._i_prediction = layout.scalars.get("prediction_id")
        self._i_override = layout.scalars.get("emotion_override")
        self._piece_p = np.zeros(4)
        # the hops a cut may be refined over: four energy segments, or — with the cues — the
        # cues' decision delay plus how far localisation and refinement may move a cut
        c = self.config
        fade_s = max(self.fade_radius_s, self.fade_after_s) + FADE_GAP_S + FADE_WINDOW_S if self.fade_radius_s > 0 else 0.0
        cue_s = (c.region_future_s + c.region_hold_s + c.region_localise_radius_s
                 + max(self.cue_refine_s, self.wide_refine_s)
                 + self.step_window_s + fade_s + 1.0) if c.region_method == "cues" else 0.0
        n = int(max(4 * self.energy_segment_s, cue_s) * spec.frame_rate) + 8
        self._level_t = np.full(n, -np.inf)
        self._level_db = np.zeros(n)
        self._mel_hist = np.zeros((n, layout.vectors.get("mel_db", 0)))
        self._level_pos = 0
        self._w = max(1, int(round(self.step_window_s * spec.frame_rate)))
        n_mels = self._mel_hist.shape[1]
        if n_mels > MAX_PAIRWISE:
            raise ParameterError(f"n_mels={n_mels} is more than the region stage's "
                                 f"{MAX_PAIRWISE} mel bands")
        self._mel_shift_s = np.array([self.hop / self.sr, self.n_fft / (2 * self.sr)])
        self._refine_buffers = (np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n),
                                np.zeros((n + 1, n_mels)), np.zeros((n + 1, 1)),
                                np.zeros(max(n_mels, 1)))
        self._fade_buffers = (np.zeros((4, n)), np.zeros((4, max(n_mels, 1))))
        self._fade_rows = max(1, int(0.5 * FADE_WINDOW_S * spec.frame_rate))  # the fewest hops a side is judged on
        self._fade_smooth = max(1, int(round(FADE_SMOOTH_S * spec.frame_rate)))
        self._layout, self._scratch = layout, None
        self._no_mel = np.zeros((1, 1), dtype=np.float32)
        self._no_acc = np.zeros(1)  # the bulk kernel's cue accumulators when there are no cues
        names = ("region_index", "region_label", "region_start", "region_change", "region_change_count",
                 "region_boundary")
        self.cues = self._given_cues
        n_mels = layout.vectors.get("mel_db", 0)
        if self.cues is None and self.config.region_method == "cues":
            if not n_mels:
                raise ParameterError("region_method='cues' needs the mel stage (n_mels > 0) before the regions")
            self.cues = RegionCues(self.config, n_mels=n_mels, hop_s=spec.hop / spec.sample_rate)
        if self.cues is not None:
            names += CUE_FIELDS
            self._setup_judge(spec, facts, n_mels)
        self._setup_placer(n, n_mels)
        self._setup_join_net(n_mels)
        self._setup_place_choice()
        self._i = {n: layout.add_scalar(n) for n in names}
        self._i_pub = tuple(self._i[n] for n in names[:6])  # what process publishes every hop
        opt = [self._i_level, self._i_prediction, self._i_override, self._i_bpm, self._i_conf,
               self._i_onset, 0 if self._q is not None else None, self._i_quadrant]
        self._idx_block = np.array([-1 if j is None else j for j in opt]
                                   + [self._i[n] for n in names], dtype=np.int64)
        # the bulk kernel's state, filled from the attributes before each call (_pack)
        self._ist, self._fst, self._pub = np.zeros(8, dtype=np.int64), np.zeros(8), np.zeros(13)
        self.reset()
        # load the Numba kernels of segment boundaries and cuts now, not 2 s into the show
        _mean_step_db(np.zeros(1), 1, np.zeros(1), np.zeros(1))
        self.refine(0.0)
        self.place_cut(0.0, 0.0)
        if self.placer is not None:  # even while off (the operator may switch it on mid-show), and its
            self.placer_features(0.0, 0.0, 0.0)  # trees too: the empty ring above never reaches them
            self.placer_placed(0.0, 0.0)  # the place choice's per-candidate entry point
            self.placer.offset(self.placer_x)

    blockwise = True

    def _setup_placer(self, ring: int, n_mels: int) -> None:
        """Load the learned cut placer (cue cuts with the mel stage) and its preallocated
        buffers, on when ``region_placer`` says so — loaded either way, so the operator can
        switch it on mid-show without a file read or an allocation in the analysis thread; a
        file that cannot be used: ``placer_note``."""
        self.placer, self.placer_note, self.placer_on = None, None, False
        if self.cues is None or not n_mels:
            return
        try:
            self.placer = self._given_placer or load_placer(self.config.region_placer_file or None)
        except PlacerFileError as e:
            self.placer_note = f"{e}: cuts are placed without the learned placer"
            return
        self._placer_buffers = (np.zeros(ring), np.zeros(ring), np.zeros((5, n_mels)), np.zeros((2, 1)), np.zeros(3))
        self.placer_x = np.zeros(len(PLACER_FEATURES))
        self.placer_on = bool(self.config.region_placer)

    def _setup_join_net(self, n_mels: int) -> None:
        """The join net's stream, which two readers share: the cut judge (a feature of every
        candidate) and the learned placer (gradual joins, when ``region_join_net``). A file that
        cannot be used, or one made for another mel size or hop: the judge is not attached (the
        fixed fusion cuts, ``judge_note``) and the trees place alone (``placer_note``)."""
        self.join_stream, self.join_placing = None, False
        live = self.cues.judge if self.cues is not None else None
        placing = self.placer is not None and self.config.region_join_net
        if live is None and not placing:
            return
        try:
            net = load_join_net(self.config.region_join_net_file or None)
            net.check_fits(n_mels, self.hop / self.sr)
        except JoinNetFileError as e:
            if placing:
                self.placer_note = f"{e}: gradual joins are placed without the join net"
            if live is not None:
                self.judge_note = f"{e}: the cut judge reads the join net, the fixed fusion cuts regions"
                self.cues.attach_judge(None, False)
            return
        self.join_stream = JoinNetStream(net, keep_hops=self._mel_hist.shape[0])  # an output for every hop held
        self.join_placing = bool(placing)
        if live is not None:
            live.join_peak = self.join_net_peak

    def _setup_place_choice(self) -> None:
        """Load the learned place choice and its buffers when the placer places with the join net
        and ``region_place_choice`` asks for it; a file that cannot be used: ``placer_note``."""
        self.place_choice, self.choosing = None, False
        if not (self.join_placing and self.config.region_place_choice):
            return
        try:
            self.place_choice = self._given_choice or load_place_choice(self.config.region_place_choice_file or None)
        except PlaceChoiceFileError as e:
            self.placer_note = f"{e}: cuts are placed by the hand rule (hard or gradual)"
            return
        k = len(CANDIDATES)
        self.choice_times, self.choice_rows = np.full(k, np.nan), np.zeros((k, len(CHOICE_FEATURES)))
        self._choice_buffers = (np.zeros((k, len(PLACER_FEATURES))), np.zeros(k), np.zeros(k))
        self.choosing = True
        self.choose_place(0.0, 0.0, 0.0)  # load the kernels now, not at the show's first cut

    def set_placer(self, on: bool) -> None:
        """The operator's switch for the learned cut placer (any thread: one flag that the next
        decided cut reads). On needs a loaded placer: a ParameterError says why there is none."""
        if on and self.placer is None:
            raise ParameterError(self.placer_note or "no learned cut placer in this chain: it places the cue "
                                                     "method's cuts and needs the mel stage")
        self.placer_on = bool(on)

    def controls(self) -> dict | None:
        """The operator's region knobs as they stand now (None: the seed method, no knobs):
        sensitivity, minimum region, the cues on, and the judge and the placer — each on/off,
        whether this chain has one, and why not; with a judge, its record since the start —
        candidates judged, kept, the last one's probability (None: none yet, or decided by the
        fixed rule for want of tags) and the probability a candidate needs now. What the web
        panel shows: a score that crosses the fusion's mark without a cut is a candidate the
        judge dropped."""
        cues = self.cues
        if cues is None:
            return None
        out = {"sensitivity": float(cues.sensitivity), "min_region_s": float(cues.fusion.min_region_s),
               "cues": list(cues.cues), "judge": bool(cues.judge_on), "judge_available": cues.judge is not None,
               "judge_note": self.judge_note if cues.judge is None else None,
               "placer": bool(self.placer_on), "placer_available": self.placer is not None,
               "placer_note": self.placer_note}
        judge = cues.judge
        if judge is not None:
            last = judge.last_probability
            out.update(judge_candidates=int(judge.candidates), judge_kept=int(judge.kept),
                       judge_last_probability=float(last) if last == last else None,
                       judge_threshold=float(judge.threshold))
        return out

    def judge_record(self) -> tuple[int, int, int, float, float]:
        """The judge's record for ``/sonolux/status`` (a console sees what the panel shows):
        (on, candidates judged, kept, the last candidate's probability, the probability a
        candidate needs now); with no judge in this chain :data:`NO_JUDGE_RECORD`, and a last
        probability of -1.0 before the first candidate or when the fixed rule decided it for
        want of tags (the figures :meth:`controls` gives the panel, in OSC's types)."""
        c = self.controls()
        if c is None or not c["judge_available"]:
            return NO_JUDGE_RECORD
        last = c["judge_last_probability"]
        return (int(c["judge"]), c["judge_candidates"], c["judge_kept"],
                -1.0 if last is None else last, c["judge_threshold"])

    def _setup_judge(self, spec, facts, n_mels: int) -> None:
        """Attach the learned cut judge to the cues when an emotion model with tags runs and
        the judge file is usable; else the fixed fusion, with ``judge_note`` saying why."""
        src = self._given_tags if self._given_tags is not None else getattr(facts, "tag_source", None)
        self._tag_source, self._tag_buf = src, np.zeros(N_TAGS)
        self.judge_note = None
        judge = self._given_judge
        if src is None:
            self.judge_note = "the region judge needs the emotion model's tags (none run): the fixed fusion cuts"
        elif judge is None:
            try:
                judge = load_judge(self.config.region_judge_file or None,
                                   emotion_version=getattr(src, "emotion_version", None))
            except JudgeFileError as e:
                self.judge_note = f"{e}: the fixed fusion cuts regions"
        if src is None or judge is None:
            self.cues.attach_judge(None, False)
            return
        c, cues = self.config, self.cues
        live = LiveJudge(judge, block_s=cues.block_s, future_blocks=cues.contrast.future_blocks,
                         past_blocks=cues.contrast.past_blocks,
                         min_past_blocks=max(2, int(round(c.region_contrast_min_past_s / cues.block_s))),
                         hold_s=c.region_hold_s, mark_s=getattr(self._tag_source, "every_s", 0.5))
        live.mel = (self._level_t, self._mel_hist, lambda: self._level_pos, spec.hop / spec.sample_rate,
                    np.zeros(max(n_mels, 1)), np.zeros(max(n_mels, 1)))
        live.warm()
        cues.attach_judge(live, bool(c.region_judge))

    def process_block(self, block):
        """The block's hops as ``process`` would do them one by one: the quiet hops (nothing
        happens but counting, accumulating and publishing) in one Numba call, the others in
        Python through ``process``: where a mood piece ends or a new prediction reaches the
        cues, a segment completes, or — with the fused cues — a cue block ends (every
        ``region_block_s``: the cues close, fuse and may cut there)."""
        if self._scratch is None:  # the layout is complete once the whole chain is prepared
            self._scratch = (HopContext(block.spec), self._layout.new_frame())
        ctx, frame = self._scratch
        mel32 = block.vectors.get("mel_db", self._no_mel)
        cues = self.cues
        nov_acc, con_acc, con_sq = ((cues.novelty.acc, cues.contrast.acc, cues.contrast.sq) if cues is not None
                                    else (self._no_acc,) * 3)
        ist, fst, pub = self._ist, self._fst, self._pub
        i = 0
        while i < block.n:
            self._pack()
            i = regions_quiet_run(i, block.n, block.values, mel32, block.sample_end,
                                  float(self.sr), float(self.hop), self.m, self.hops_per_tempo,
                                  ist, fst, self._level_t, self._level_db, self._mel_hist,
                                  self._mel_sum, self._idx_block, pub, nov_acc, con_acc, con_sq)
            self._unpack()
            if i < block.n:
                block.bind_hop(i, ctx, frame)
                self.process(ctx, frame)
                i += 1

    def _pack(self) -> None:
        """The stage's state into the bulk kernel's arrays (see :func:`regions_quiet_run`)."""
        cur, cues, none = self.segmenter.current, self.cues, math.nan
        n_open, power = cues.open_block() if cues is not None else (0, 0.0)
        self._ist[:] = (self.hops, self._level_pos, self._mel_n, self._piece_hops, self.n_energy, self.n_tempo,
                        n_open, cues.block_hops if cues is not None else 0)
        self._fst[:] = (self._bpm_sum, self._bpm_n, self._onsets,
                        none if self._piece_id is None else self._piece_id,
                        none if self._piece_override is None else self._piece_override, power,
                        none if self._cue_pid is None else self._cue_pid,
                        none if self._cue_override is None else self._cue_override)
        pub = self._pub
        pub[:6] = (len(self.segmenter.regions) - 1, LABEL_CODES.get(LABELS.get(cur.quadrant, ""), 0), cur.start,
                   self.changes, self.last_boundary, self.min_confidence)
        if cues is not None:  # the cue fields every hop repeats until the next block ends
            pub[6:] = (cues.boundary_t, *cues.values, cues.fusion.score, cues.fusion.threshold)

    def _unpack(self) -> None:
        ist, fst = self._ist.tolist(), self._fst.tolist()
        (self.hops, self._level_pos, self._mel_n, self._piece_hops, self.n_energy,
         self.n_tempo) = ist[:6]
        self._bpm_sum, self._bpm_n, self._onsets = fst[:3]
        if self.cues is not None:
            self.cues.set_open_block(ist[6], fst[5])

    def _timbre_distance(self) -> float | None:
        """RMS dB difference between this energy segment's mean log-mel and the last one's."""
        if not self._mel_n:
            return None
        d = _mean_step_db(self._mel_sum, self._mel_n, self._mel_prev, self._mel_tmp)
        d = d if self._has_prev_mel else None
        self._has_prev_mel = True
        self._mel_n = 0
        return d

    def _collect_tempo(self, v) -> None:
        if self._i_bpm is not None and self._i_conf is not None and v[self._i_conf] >= self.min_confidence:
            self._bpm_sum += v[self._i_bpm]
            self._bpm_n += 1
        if self._i_onset is not None:
            self._onsets += v[self._i_onset]

    def _tempo_z(self, v) -> float | None:
        """The contrast between the tempo segment that just ended and the one before."""
        if self.tempo_source == "bpm":
            gamma = self._bpm_sum / self._bpm_n if self._bpm_n > 0.5 * self.hops_per_tempo else None
        else:
            enough = self._onsets >= self.min_onset_rate * self.tempo_segment_s
            gamma = self._onsets if enough else None
        prev, self._gamma_prev = self._gamma_prev, gamma
        self._bpm_sum = self._bpm_n = self._onsets = 0.0
        if gamma is None or prev is None:
            return None
        return float(v[self._i_tz]) if self.tempo_source == "onset_rate" else gamma / prev

    def refine(self, t: float, radius: float | None = None, wide: float = 0.0, wide_ratio: float = 1.0) -> float:
        """The hop near ``t`` (± ``radius``, default one energy segment) where the sound
        changes most: first the
        largest step of the mean log-mel spectrum (RMS dB, ``step_window_s`` after vs.
        before; mel windows are centred half an FFT before the hop's end) — or, with ``wide``
        > 0, the largest step within ``wide`` of ``t`` when it is at least ``wide_ratio``
        times the one within ``radius`` (a hard join the cue's peak missed by up to
        ``wide``; the cues decide seconds after their peak, so those hops are heard) — then, within one
        FFT of it, the hop where the level steps most if it steps by more than 3 dB (hop
        levels are sharper in time than spectra). Runs on the hop a cut is decided, in one
        Numba call over the stage's buffers (no allocation)."""
        has_mel = self._mel_hist.shape[1] > 0
        return float(refine_cut(
            self._level_t, self._level_db[:, None], self._mel_hist, self._level_pos, t, self._w,
            self._mel_shift_s, self.energy_segment_s if radius is None else radius,
            self.n_fft / self.sr if has_mel else self.energy_segment_s, wide, wide_ratio,
            *self._refine_buffers))

    def place_fade(self, t: float, t_step: float, hard_ratio: float = HARD_STEP_RATIO) -> float:
        """Where a join the cues cut at ``t`` really lies, when it is gradual (a crossfade: its
        truth is the fade's midpoint; the sharpest step, ``t_step``, lies at either end of it
        and the unequal cue windows place its peak late). The mean log-mel spectra of the
        sound ``FADE_GAP_S`` before and after ``t`` (over ``FADE_WINDOW_S``) are the two songs;
        every hop from ``region_fade_radius_s`` before ``t`` to ``region_fade_after_s`` after it
        (shorter: the cue's peak of a crossfade comes late, and a window reaching far past it
        fits the ramp to the fade's end) gets its position between them (0
        before, 1 after: the projection on the line between the means); a ramp (0, a linear
        rise, 1) is fitted to the positions and the cut goes to the ramp's middle. A hard join
        — the step at ``t_step`` over ``region_step_window_s`` is at least
        ``hard_ratio`` (default ``HARD_STEP_RATIO``; ``math.inf``: the ramp's middle always) of
        the whole change — keeps ``t_step`` (accurate to a few ms).
        Causal: runs when the cut is decided, over hops already heard (the decision comes
        ``region_future_s`` after ``t``). One Numba call over the stage's buffers
        (:func:`fade_cut`; examples on a constructed ramp and on crossfaded noise in
        ``tests/test_region_placement.py``).
        """
        if self.fade_radius_s <= 0 or not self._mel_hist.shape[1]:
            return t_step
        order, ts = self._refine_buffers[0], self._refine_buffers[1]
        rows, means = self._fade_buffers
        return float(fade_cut(self._level_t, self._mel_hist, self._level_pos, t, t_step, self._mel_shift_s,
                              self.fade_radius_s, self.fade_after_s, FADE_GAP_S, FADE_WINDOW_S, FADE_MAX_S,
                              self.step_window_s,
                              hard_ratio, self._fade_rows, self._fade_smooth, FADE_STRIDE,
                              order, ts, rows, means))

    def place_cut(self, t: float, t_step: float) -> float:
        """Where a cue cut at ``t`` (sharpest step ``t_step``) is published: :meth:`place_fade`'s
        time, moved by the learned placer's correction when it runs (its features computed
        over the stage's ring into ``placer_x``, no allocation) and, when gradual, by the join
        net — or, with the learned place choice, the candidate it scores best (:meth:`choose_place`)."""
        placed = self.place_fade(t, t_step)
        if not self.placer_on:
            return placed
        gradual = placed != t_step  # place_fade keeps a hard join's step: the net leaves those alone
        if self.choosing:
            return self.choose_place(t, t_step, placed)
        if self.placer_features(t, t_step, placed):
            placed += self.placer.offset(self.placer_x)
        if gradual and self.join_placing:
            placed = self.join_net_place(placed)
        return placed

    def place_candidates(self, t: float, t_step: float, rule_placed: float) -> None:
        """Each :data:`~sonolux.features.placechoice.CANDIDATES` time of a cut the cues decided at
        ``t`` (sharpest step ``t_step``; ``rule_placed``: :meth:`place_fade`'s time, the hand
        rule's verdict — gradual unless it is ``t_step``) into ``choice_times`` (NaN: none) and
        its features into ``choice_rows``: what ``benchmarks/train_place_choice.py`` records and
        :meth:`choose_place` scores. The placer's features share one :meth:`placer_context`."""
        times, rows = self.choice_times, self.choice_rows
        placer_rows, net_at, net_near = self._choice_buffers
        rule_gradual = rule_placed != t_step
        # a gradual verdict's time is the ramp's middle already (the same fit, the step test passed)
        ramp = rule_placed if rule_gradual else self.place_fade(t, t_step, math.inf)
        # the placer's features at the ramp's middle and at the step: both paths' offsets, and those
        # two candidates' rows (False, for every time alike: the ring does not hold both songs)
        ok = self.placer_context(t, t_step)
        gradual_offset = hard_offset = 0.0
        if ok:
            self.placer_placed(t, ramp)
            placer_rows[2], gradual_offset = self.placer_x, self.placer.offset(self.placer_x)
            self.placer_placed(t, t_step)
            placer_rows[1], hard_offset = self.placer_x, self.placer.offset(self.placer_x)
        t0 = self._join_net_origin()
        stream, frame_s = self.join_stream, self.join_stream.net.frame_s
        net_best = stream.best(t_step - t0, NET_RADIUS_S, 0.0) + t0 if t0 == t0 else math.nan
        # in CANDIDATES order: cue, step, ramp, hard path, gradual path, the net's peak near the step
        times[0], times[1], times[2], times[3] = t, t_step, ramp, t_step + hard_offset
        times[4], times[5] = self.join_net_place(ramp + gradual_offset), net_best
        for k in range(times.shape[0]):
            if times[k] != times[k]:
                continue
            if ok and k not in (1, 2):  # step, ramp: above
                self.placer_placed(t, times[k])
                placer_rows[k] = self.placer_x
            net_at[k] = self._net_peak(t0, times[k], 0.5 * frame_s)
            net_near[k] = self._net_peak(t0, times[k], NET_NEAR_S)
        candidate_rows(times, placer_rows, ok, net_at, net_near, self._net_peak(t0, t_step, 0.5 * frame_s),
                       self._net_peak(t0, t_step, NET_RADIUS_S), rule_gradual, rows)

    def choose_place(self, t: float, t_step: float, rule_placed: float) -> float:
        """Where the learned place choice puts a cut: the best-scored of :meth:`place_candidates`
        (the sharpest step when none has a time) — or, when the hand rule calls the join hard and
        the pick lies within ``HARD_SNAP_S`` of the sharpest step, the step itself."""
        self.place_candidates(t, t_step, rule_placed)
        k = self.place_choice.best(self.choice_times, self.choice_rows)
        placed = float(self.choice_times[k]) if k >= 0 else t_step
        if rule_placed == t_step and abs(placed - t_step) <= HARD_SNAP_S:
            return t_step  # a hard join's step is exact to a few ms; the candidates near it are not
        return placed

    def _join_net_origin(self) -> float:
        """Catch the join net up with the hop ring and return the time its frames count from
        (the ring's first hop, from the newest hop's time); NaN before the first hop."""
        stream, pos = self.join_stream, self._level_pos
        stream.catch_up(self._mel_hist, pos)
        if pos == 0:
            return math.nan
        return self._level_t[(pos - 1) % self._level_t.shape[0]] - (pos - 1) * self.hop / self.sr

    def join_net_place(self, t: float) -> float:
        """The time of the join net's highest output within ``SEARCH_S`` of ``t`` (``t`` when
        it has none there yet, or none reaching ``MIN_OUTPUT``)."""
        t0 = self._join_net_origin()
        best = self.join_stream.best(t - t0, SEARCH_S, MIN_OUTPUT) if t0 == t0 else math.nan
        return best + t0 if best == best else t

    def join_net_peak(self, t: float, radius: float) -> float:
        """The join net's highest output within ``radius`` s of ``t`` (NaN: none computed
        there): the cut judge's ``join_net_peak`` feature."""
        return self._net_peak(self._join_net_origin(), t, radius)

    def _net_peak(self, t0: float, t: float, radius: float) -> float:
        """:meth:`join_net_peak` with the net already caught up and its origin ``t0`` taken
        (a cut's candidates share one: the hop ring does not move while they are placed)."""
        return self.join_stream.peak(t - t0, radius) if t0 == t0 else math.nan

    def placer_features(self, t: float, t_step: float, placed: float) -> bool:
        """The placer's features of a cut into ``placer_x`` (False: the ring does not hold
        both songs); what ``benchmarks/train_cut_placer.py`` records to train on."""
        return bool(placement_features(self._level_t, self._level_pos, self._mel_shift_s, self._mel_hist,
                                       self._level_db[:, None], t, t_step, placed, self._fade_rows,
                                       self._refine_buffers[0], *self._placer_buffers, self.placer_x))

    def placer_context(self, t: float, t_step: float) -> bool:
        """The placer's features of a cut that do not depend on where it is placed, into
        ``placer_x`` (False: the ring does not hold both songs); then :meth:`placer_placed`
        completes them for each candidate time, with no ring buffer touched in between."""
        return bool(cut_context(self._level_t, self._level_pos, self._mel_shift_s, self._mel_hist,
                                self._level_db[:, None], t, t_step, self._fade_rows,
                                self._refine_buffers[0], *self._placer_buffers, self.placer_x))

    def placer_placed(self, t: float, placed: float) -> None:
        """Complete ``placer_x`` (after a True :meth:`placer_context` of this cut) for the time ``placed``."""
        mel_ts, lvl_ts, rows, lvl, ctx = self._placer_buffers
        placed_features(self._mel_hist, self._level_db[:, None], t, placed, self._refine_buffers[0],
                        mel_ts, lvl_ts, rows, lvl, ctx, self.placer_x)

    def reset(self):
        self._mel_sum[:] = 0.0
        self._mel_n = 0
        self._has_prev_mel = False
        self._level_t[:] = -np.inf
        self._level_pos = 0
        self.segmenter.reset()
        self.n_energy = self.n_tempo = self.hops = 0
        self._bpm_sum = self._bpm_n = self._onsets = 0.0
        self._gamma_prev = None  # previous tempo segment's γ (BPM) or onset count
        self.changes = 0
        self.last_boundary = 0.0
        self._piece_id = self._piece_override = None  # the mood piece being held
        self._piece_q, self._piece_t, self._piece_hops = 0.0, 0.0, 0
        self._cue_pid = self._cue_override = None
        if self.cues is not None:
            self.cues.reset()
        if self.join_stream is not None:
            self.join_stream.reset()

    def _follow_mood(self, t_start: float, v) -> None:
        """Count this hop into the current mood piece; a new prediction or override ends it."""
        pid = v[self._i_prediction] if self._i_prediction is not None else 0.0
        override = v[self._i_override] if self._i_override is not None else 0.0
        if pid != self._piece_id or override != self._piece_override:
            self._end_piece()
            self._piece_id, self._piece_override = pid, override
            self._piece_q = v[self._i_quadrant]
            self._piece_p[:] = v[self._q]
            self._piece_t = t_start
        self._piece_hops += 1

    def _end_piece(self) -> None:
        if self._piece_hops and self._piece_q > 0:  # quadrant 0: no prediction yet, no mood
            self.segmenter.mood(self._piece_t, self._piece_p, weight=self._piece_hops)
        self._piece_hops = 0

    def _cue_hop(self, ctx, frame) -> float | None:
        """Feed the fused cues one hop; a decided cut is refined to the hop and applied."""
        v = frame.values
        probs, new = None, False
        if self._q is not None and v[self._i_quadrant] > 0:
            pid = v[self._i_prediction] if self._i_prediction is not None else 0.0
            override = v[self._i_override] if self._i_override is not None else 0.0
            new = pid != self._cue_pid or override != self._cue_override
            self._cue_pid, self._cue_override = pid, override
            if new:
                probs = v[self._q]
                judge = self.cues.judge
                if judge is not None and self._tag_source.raw_tags_of(pid, self._tag_buf):
                    judge.tags.mark(self._tag_buf)
        power = 10.0 ** (0.1 * v[self._i_level]) if self._i_level is not None else 0.0
        stream = self.join_stream
        if stream is not None and self._level_pos - stream.read[0] >= stream.net.pool_hops:
            stream.catch_up(self._mel_hist, self._level_pos)  # its work spread over the show, not at a cut
        cues = self.cues
        t = cues.hop(ctx.t, frame.vectors["mel_db"], power, probs, new)
        i = self._i
        v[i["region_cue_t"]] = cues.boundary_t
        (v[i["region_novelty"]], v[i["region_energy_cue"]], v[i["region_mood_cue"]],
         v[i["region_contrast_cue"]]) = cues.values
        v[i["region_score"]] = cues.fusion.score
        v[i["region_threshold"]] = cues.fusion.threshold
        if t != t:  # NaN: no cut
            return None
        t_step = (self.refine(t, self.cue_refine_s, self.wide_refine_s, self.wide_refine_ratio)
                  if self.cue_refine_s > 0 else t)
        return self.segmenter.cut(self.place_cut(t, t_step))

    def finish(self, t_end: float) -> list[dict]:
        """Hand over the last mood piece, close the last region, return all regions."""
        self._end_piece()
        return self.segmenter.finish(t_end)

    def process(self, ctx, frame):
        v = frame.values
        seg = self.segmenter
        self.hops += 1
        if self._i_level is not None:
            i = self._level_pos % self._level_t.shape[0]
            self._level_t[i] = ctx.t - self.hop / self.sr  # the hop's start
            self._level_db[i] = v[self._i_level]
            if self._mel_hist.shape[1]:
                self._mel_hist[i] = frame.vectors["mel_db"]
            self._level_pos += 1
        cut = None
        if self._mel_sum.shape[0] and self.cues is None:  # the timbre distance of segments
            self._mel_sum += frame.vectors["mel_db"]
            self._mel_n += 1
        if self._q is not None:
            self._follow_mood(ctx.t - self.hop / self.sr, v)
        if self.cues is not None:
            cut = self._cue_hop(ctx, frame)
        n = ctx.sample_end // self.m
        if n > self.n_energy and self.cues is None:
            self.n_energy = n
            self._end_piece()  # pieces never span a segment boundary (cuts fall on those)
            self._piece_t = ctx.t
            cut = seg.segment((n - 1) * self.m / self.sr,
                              e=v[self._i_e] if self._i_e is not None else None,
                              d_db=self._timbre_distance())
        self._collect_tempo(v)
        n = self.hops // self.hops_per_tempo
        if n > self.n_tempo:
            self.n_tempo = n
            z = self._tempo_z(v)
            if z is not None and cut is None and self.cues is None:
                cut = seg.tempo((n - 1) * self.hops_per_tempo * self.hop / self.sr, z)
        if cut is not None:
            self.changes += 1
            self.last_boundary = cut
        cur = seg.current
        i_index, i_label, i_start, i_change, i_count, i_boundary = self._i_pub
        v[i_index] = len(seg.regions) - 1
        v[i_label] = LABEL_CODES.get(LABELS.get(cur.quadrant, ""), 0)
        v[i_start] = cur.start
        v[i_change] = 1.0 if cut is not None else 0.0
        v[i_count] = self.changes
        v[i_boundary] = self.last_boundary


@njit(cache=True)
def regions_quiet_run(i, n, values, mel32, sample_end, sr, hop, m, hops_per_tempo, ist, fst,
                      level_t, level_db, mel_hist, mel_sum, idx, pub, nov_acc, con_acc, con_sq):
    """Hops ``i..`` of a block on which nothing happens but counting (no mood piece ends, no
    new prediction reaches the cues, no energy or tempo segment completes, no cue block
    ends), as ``RegionStage.process`` does them; returns the first hop where something
    happens (or ``n``), untouched, for Python to run.

    ``ist`` = [hops, level_pos, mel_n, piece_hops, n_energy, n_tempo, hops in the open cue
    block, cue block_hops (0: no cues)]; ``fst`` = [bpm_sum, bpm_n, onsets, piece_id,
    piece_override, open cue block's power sum, cue_pid, cue_override] (NaN: None); ``idx`` =
    field indices [level, prediction, override, bpm, conf, onset, has_q, quadrant,
    region_index, region_label, region_start, region_change, region_change_count,
    region_boundary, then with cues the 7 cue fields] (-1: absent); ``pub`` = the values to
    publish [index, label, start, count, boundary], ``pub[5]`` = min_confidence, then the 7
    cue fields' values. With cues, each hop's log-mel vector goes into the cues' open block
    (``nov_acc``, ``con_acc``, ``con_sq``) by the kernels their ``add`` methods call."""
    cues = ist[7] > 0
    while i < n:
        v = values[i]
        if idx[6] >= 0:
            pid = v[idx[1]] if idx[1] >= 0 else 0.0
            ov = v[idx[2]] if idx[2] >= 0 else 0.0
            if pid != fst[3] or ov != fst[4]:
                return i
            if cues and idx[7] >= 0 and v[idx[7]] > 0 and (pid != fst[6] or ov != fst[7]):
                return i
        if (ist[0] + 1) // hops_per_tempo > ist[5]:
            return i
        if cues:
            if ist[6] + 1 >= ist[7]:
                return i
        elif sample_end[i] // m > ist[4]:
            return i
        ist[0] += 1
        if idx[0] >= 0:
            k = ist[1] % level_t.shape[0]
            level_t[k] = sample_end[i] / sr - hop / sr
            level_db[k] = v[idx[0]]
            if mel_hist.shape[1]:
                for b in range(mel_hist.shape[1]):
                    mel_hist[k, b] = mel32[i, b]
            ist[1] += 1
        if mel_sum.shape[0] and not cues:
            for b in range(mel_sum.shape[0]):
                mel_sum[b] += mel32[i, b]
            ist[2] += 1
        if idx[6] >= 0:
            ist[3] += 1
        if cues:
            block_accumulate(nov_acc, mel32[i])
            block_accumulate(con_acc, mel32[i])
            texture_accumulate(con_sq, mel32[i])
            fst[5] += 10.0 ** (0.1 * v[idx[0]]) if idx[0] >= 0 else 0.0
            ist[6] += 1
            for f in range(7):
                v[idx[14 + f]] = pub[6 + f]
        if idx[3] >= 0 and idx[4] >= 0 and v[idx[4]] >= pub[5]:
            fst[0] += v[idx[3]]
            fst[1] += 1.0
        if idx[5] >= 0:
            fst[2] += v[idx[5]]
        v[idx[8]] = pub[0]
        v[idx[9]] = pub[1]
        v[idx[10]] = pub[2]
        v[idx[11]] = 0.0
        v[idx[12]] = pub[3]
        v[idx[13]] = pub[4]
        i += 1
    return n


@njit(cache=True)
def _largest_step(ts, feats, order, n, t, radius, w, c, sq):
    """(found, time, size in dB) of the largest before/after step of the ring rows
    ``feats[order[:n]]`` (chronological) within ``radius`` of ``t``: the RMS over the columns
    of (mean of the ``w`` rows after) − (mean of the ``w`` rows before), from running sums in
    ``c`` (n+1 rows). The arithmetic of ``np.cumsum`` / ``np.mean`` (pairwise), so the result
    equals the numpy formulation; ``c`` and ``sq`` are work buffers (no allocation)."""
    n_cols = feats.shape[1]
    for f in range(n_cols):
        c[0, f] = 0.0
    for r in range(n):
        src = order[r]
        for f in range(n_cols):
            c[r + 1, f] = c[r, f] + feats[src, f]
    found = False
    best, best_t = 0.0, 0.0
    for j in range(w, n - w + 1):
        if not abs(ts[j] - t) <= radius:
            continue
        for f in range(n_cols):
            d = ((c[j + w, f] - c[j, f]) - (c[j, f] - c[j - w, f])) / w
            sq[f] = d * d
        step = math.sqrt(_pairwise_sum(sq, 0, n_cols) / n_cols)
        if not found or step > best:
            found, best, best_t = True, step, ts[j]
    return found, best_t, best


@njit(cache=True)
def _ramp_middle(a, t, p, max_len):
    """The middle of the ramp (0 before ``s``, rising linearly to 1 at ``e``, 1 after; ``e - s``
    at most ``max_len`` points) that fits ``a[:p]`` (times ``t[:p]``) best in least squares;
    ``t[s]`` for a step (``e == s``)."""
    best, best_t = np.inf, t[0]
    for s in range(p):
        for e in range(s, min(p, s + max_len)):
            sse = 0.0
            for j in range(p):
                if j < s:
                    r = 0.0
                elif j < e:
                    r = (j - s + 0.5) / (e - s)
                else:
                    r = 1.0
                sse += (a[j] - r) * (a[j] - r)
            if sse < best:
                best = sse
                best_t = 0.5 * (t[s] + t[e]) if e > s else t[s]
    return best_t


@njit(cache=True)
def fade_cut(level_t, mel_hist, level_pos, t, t_step, mel_shift_s, radius, reach, gap, window, max_fade, step_s,
             hard_ratio, min_rows, smooth, stride, order, ts, rows, means):
    """``RegionStage.place_fade`` without allocating (the ramp fitted over the hops from
    ``radius`` before ``t`` to ``reach`` after it): ``order``/``ts`` (ring length) and
    ``rows`` (4, ring length), ``means`` (4, n_mels) are the stage's buffers. Returns
    ``t_step`` when the ring does not hold ``min_rows`` hops on either side, when the two
    sides do not differ, or when the join is hard."""
    n = mel_order(level_t, level_pos, mel_shift_s, order, ts)
    before, after, step_a, step_b = means[0], means[1], means[2], means[3]
    change = song_direction(ts, mel_hist, order, n, t, gap, window, min_rows, before, after)
    if not change > 0.0:  # too little of either song heard, or they do not differ
        return t_step
    window_mean(ts, mel_hist, order, n, t_step - step_s, t_step, step_a)
    window_mean(ts, mel_hist, order, n, t_step, t_step + step_s, step_b)
    step = 0.0
    for b in range(step_a.shape[0]):
        step += (step_b[b] - step_a[b]) * (step_b[b] - step_a[b])
    if step >= hard_ratio * hard_ratio * change:
        return t_step
    pos, pos_t, a, a_t = rows[0], rows[1], rows[2], rows[3]
    m = 0
    for k in range(n):  # each hop's position between the songs
        if t - radius <= ts[k] < t + reach:
            row = order[k]
            x = 0.0
            for b in range(after.shape[0]):
                x += (mel_hist[row, b] - before[b]) * after[b]
            pos[m], pos_t[m] = x / change, ts[k]
            m += 1
    if m < 2:
        return t_step
    half, p = smooth // 2, 0
    for j in range(0, m, stride):  # smoothed over ``smooth`` hops, every ``stride``-th hop
        lo, hi = max(0, j - half), min(m, j + half + 1)
        acc = 0.0
        for i in range(lo, hi):
            acc += pos[i]
        a[p], a_t[p] = acc / (hi - lo), pos_t[j]
        p += 1
    hop_s = (pos_t[m - 1] - pos_t[0]) / (m - 1)
    return _ramp_middle(a, a_t, p, max(1, int(max_fade / (hop_s * stride))))


@njit(cache=True)
def refine_cut(level_t, level_db, mel_hist, level_pos, t, w, mel_shift_s, mel_radius,
               level_radius, wide_radius, wide_ratio, order, ts, centre, c_mel, c_lvl, sq):
    """``RegionStage.refine`` without allocating (all arrays are the stage's buffers)."""
    n = ring_order(level_t, level_pos, order, ts)
    if n < 2 * w + 1:
        return t
    has_mel = mel_hist.shape[1] > 0
    if has_mel:
        for k in range(n):
            centre[k] = ts[k] + mel_shift_s[0] - mel_shift_s[1]
        found, t_mel, near = _largest_step(centre, mel_hist, order, n, t, mel_radius, w, c_mel, sq)
        if wide_radius > mel_radius:
            found_w, t_wide, far = _largest_step(centre, mel_hist, order, n, t, wide_radius, w, c_mel, sq)
            if found_w and (not found or far >= wide_ratio * near):
                found, t_mel = True, t_wide
        if found:
            t = t_mel
    found, t_lvl, step = _largest_step(ts, level_db, order, n, t, level_radius, w, c_lvl, sq)
    if found and (step > 3.0 or not has_mel):
        return t_lvl
    best_k = 0
    for k in range(1, n):
        if abs(ts[k] - t) < abs(ts[best_k] - t):
            best_k = k
    return ts[best_k]


@njit(cache=True)
def _block_sum(a, lo, n):
    """``a[lo:lo + n].sum()`` for n <= 128 in numpy's order (8 partial sums, then the rest)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _half(n):
    n2 = n // 2
    return n2 - n2 % 8


@njit(cache=True)
def _pairwise_sum(a, lo, n):
    """``a[lo:lo + n].sum()`` in numpy's pairwise order (so results equal ``np.mean``'s),
    for n <= MAX_PAIRWISE (written out two levels deep: Numba's cache and recursion do not
    mix)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    h = _half(n)
    parts = 0.0
    for k in range(2):
        s_lo = lo if k == 0 else lo + h
        s_n = h if k == 0 else n - h
        if s_n <= 128:
            part = _block_sum(a, s_lo, s_n)
        else:
            h2 = _half(s_n)
            part = _block_sum(a, s_lo, h2) + _block_sum(a, s_lo + h2, s_n - h2)
        parts = part if k == 0 else parts + part
    return parts


MAX_PAIRWISE = 256


@njit(cache=True)
def _mean_step_db(acc, count, prev, tmp):
    """Mean of the ``count`` spectra summed in ``acc``; returns the RMS dB difference to
    ``prev`` (as ``sqrt(mean((m - prev)²))`` in numpy's summation order), then makes the mean
    the new ``prev`` and clears ``acc``. No allocation (runs on the analysis thread)."""
    n = acc.shape[0]
    for i in range(n):
        m = acc[i] / count
        d = m - prev[i]
        tmp[i] = d * d
        prev[i] = m
        acc[i] = 0.0
    return math.sqrt(_pairwise_sum(tmp, 0, n) / n)
