"""The learned cut judge: a few boosted trees that keep or drop each cut the fusion decides.

Why: the fixed fusion (contrast + novelty + 0.25 · mood above one threshold) cannot use
what tells a join from a change inside a song when the timbre cues alone are ambiguous —
above all the emotion model's 50 tags (:mod:`sonolux.features.tagcue`). With the judge on,
the fusion runs at a LOW threshold (the judge file's ``low_threshold``) and every peak it
decides is a *candidate*; the judge reads 15 causal numbers known at that moment
(:data:`FEATURES`; the last, ``join_net_peak``, is the join net's highest output within
:data:`JOIN_PEAK_S` of the candidate — :mod:`sonolux.features.joinnet`, 2.8 s behind the audio,
so computed well before the fusion decides, 6 s after the boundary) and keeps the cut when its probability reaches ``probability_threshold`` (moved by
the operator's sensitivity: :meth:`LiveJudge.set_sensitivity`).
A dropped candidate does not restart the cues and the minimum region still counts from the
last kept cut; the fusion's excursion goes on (:meth:`CutFusion.reject`): a higher score in it
is a new candidate.

The trees were trained by ``benchmarks/train_cut_judge.py --song-disjoint --pop909-dev 12`` on
DEVELOPMENT data only (the dev medleys of twelve seeds, 7–18, each of one dev fold's clips, hard
joins as 5 ms micro-crossfades; the dev clips, folds 0–1; 12 whole POP909 songs none of the
benchmarks report on; teacher forcing plus one DAgger round; the thresholds chosen on songs the
trees never saw, with at most 0.15 false cuts / min in each kind of whole recording; the
``join_net_peak`` of each half's songs from a join net trained on the OTHER dev fold's clips,
so the trees learnt how much to trust a net on songs it never heard — as the shipped net,
trained on both dev folds, is on any music a show plays), with
scikit-learn's ``HistGradientBoostingClassifier``; the file holds them as flat arrays and
:func:`~sonolux.features.trees.trees_raw` evaluates them (Numba, no scikit-learn at run time, no allocation). The
emotion model behind the mood and tag cues was trained on all 4Q clips, so its cues are
optimistic on those clips.

Judge file (JSON), format version 1 — the contract :func:`load_judge` checks:

``format`` ("sonolux-cut-judge"), ``format_version`` (1), ``features`` (the names in order,
equal to :data:`FEATURES`), ``emotion_model_version`` (the emotion model whose tags it was
trained on: another model's tags mean other numbers), ``low_threshold`` (> 0),
``probability_threshold`` (0..1), ``baseline`` (the log-odds before the trees),
``learning_rate`` (recorded; the leaf values already include it), ``tag_centre``
(``raw`` and ``logit``: 50 numbers each, the dev clips' mean tag vector), ``trees`` (a
list; each a dict of equal-length lists over its nodes: ``feature`` (index), ``threshold``
(go left when x <= threshold), ``left``, ``right`` (node indices in the tree), ``value``
(leaf value), ``leaf`` (0/1), ``missing_left`` (0/1: where NaN goes)). A corrupt or
mismatched file is a :class:`JudgeFileError` naming the file, key and value; the region
stage then runs the fixed fusion and says so.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from ..config import read_json_file
from ..errors import ParameterError
from .cutfusion import check_sensitivity
from .tagcue import TAG_FLOOR, TagHistory
from .trees import TreeEnsemble, bad_value, check_finite, check_header, check_trees

FORMAT = "sonolux-cut-judge"
FORMAT_VERSION = 1
FEATURES = ("peak_score", "contrast", "contrast_judged", "novelty", "mood",
            "tag_cos", "tag_cos_max", "tag_gauss", "tag_gauss_max",
            "peak_width_s", "log_region_s", "log_step_db", "log_body_db", "log_step_over_body", "join_net_peak")
TAG_FEATURES = ("tag_cos", "tag_cos_max", "tag_gauss", "tag_gauss_max")
# the tag cues the judge reads: (representation index in tagcue.TAG_REPRS, kind, future s, skip s)
TAG_CUES = ((0, 0, 6.0, 3.0), (1, 1, 6.0, 3.0))  # cos on the raw tags, gauss on their logits
TAG_FLOORS = (TAG_FLOOR["raw"], TAG_FLOOR["logit"])
#: log-odds per unit of the operator's sensitivity: the probability a candidate needs is
#: sigmoid(logit(probability_threshold) + SENSITIVITY_SLOPE · (0.5 − sensitivity)) — the
#: file's threshold at 0.5; with the shipped 0.25, about 0.71 at 0 and 0.04 at 1
SENSITIVITY_SLOPE = 4.0
TAG_LOOKBACK_S = 2.0  # a tag cue's highest value from this long before the peak up to the decision
BODY_S = (1.5, 4.5)  # the sound either side of a cut, as RegionStage.place_fade compares
STEP_RADIUS_S = 0.15  # the sharpest step of the log-mel within this of the cut (region_refine_s)
STEP_S = 0.25  # ... each step the mean log-mel over this after vs. before a hop
JOIN_PEAK_S = 0.5  # the join net's highest output within this of the cut (joinnet.JoinNetStream.peak)
N_TAGS = 50
JUDGE_FILE = "cut_judge.json"  # shipped in sonolux.profiles


class JudgeFileError(ParameterError):
    """A judge file that cannot be used (one line: file, key, value)."""


def shipped_judge() -> Path:
    from ..resources import profiles_dir

    return profiles_dir() / JUDGE_FILE


class CutJudge:
    """The trees of a judge file (:class:`~sonolux.features.trees.TreeEnsemble`, the log-odds)
    and the thresholds; :meth:`probability` evaluates them."""

    def __init__(self, doc: dict, path: str = "<judge>"):
        self.path = str(path)
        self.doc = doc
        self.low_threshold = float(doc["low_threshold"])
        self.probability_threshold = float(doc["probability_threshold"])
        self.emotion_model_version = str(doc["emotion_model_version"])
        self.centre = np.array([doc["tag_centre"]["raw"], doc["tag_centre"]["logit"]], dtype=np.float64)
        self.trees = TreeEnsemble(doc["trees"], doc["baseline"])

    def raw(self, x: np.ndarray) -> float:
        """The log-odds of a feature row (float64, len(FEATURES))."""
        return self.trees.raw(x)

    def probability(self, x: np.ndarray) -> float:
        z = self.raw(x)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def _fail(path, key, value, why) -> JudgeFileError:
    return bad_value(JudgeFileError, path, key, value, why)


def check_judge(doc, path="<judge>", emotion_version: str | None = None) -> CutJudge:
    """Validate a judge file's contents (module doc); a :class:`JudgeFileError` names the
    first bad key. ``emotion_version``: the running emotion model's contract version."""
    check_header(doc, path, JudgeFileError, "cut judge", FORMAT, FORMAT_VERSION,
                 ("format", "format_version", "features", "emotion_model_version", "low_threshold",
                  "probability_threshold", "baseline", "tag_centre", "trees"), FEATURES)
    if emotion_version is not None and str(doc["emotion_model_version"]) != str(emotion_version):
        raise _fail(path, "emotion_model_version", doc["emotion_model_version"],
                    f"is not the running emotion model's version {emotion_version!r} (its tags differ)")
    check_finite(doc, path, JudgeFileError, (("low_threshold", 0.0, math.inf), ("probability_threshold", 0.0, 1.0),
                                             ("baseline", -math.inf, math.inf)))
    if doc["low_threshold"] <= 0:
        raise _fail(path, "low_threshold", doc["low_threshold"], "must be above 0")
    centre = doc["tag_centre"]
    for k in ("raw", "logit"):
        c = centre.get(k) if isinstance(centre, dict) else None
        if not isinstance(c, list) or len(c) != N_TAGS or not all(
                isinstance(x, (int, float)) and math.isfinite(x) for x in c):
            raise _fail(path, f"tag_centre.{k}", c, f"must be {N_TAGS} finite numbers")
    check_trees(doc["trees"], len(FEATURES), path, JudgeFileError)
    return CutJudge(doc, path)


def load_judge(path=None, emotion_version: str | None = None) -> CutJudge:
    """Read and validate a judge file (default: the shipped one); :class:`JudgeFileError`
    (one line naming file, key, value) when it cannot be used."""
    path = Path(path) if path is not None else shipped_judge()
    return check_judge(read_json_file(path, "cut judge", JudgeFileError), path, emotion_version)


@njit(cache=True)
def mel_step_body(level_t, mel_hist, level_pos, hop_s, cut, step_w, radius, body0, body1, a, b):
    """(sharpest step, body change) in dB around ``cut`` from the region stage's ring of hop
    log-mel rows (``level_t``: each row's hop start): the largest RMS difference of the mean
    log-mel over ``step_w`` hops after vs. before a hop within ``radius`` hops of the cut,
    and the RMS difference of the mean log-mel ``body0``..``body1`` s before and after it.
    ``a``/``b`` are work rows (n_mels); 0 where the ring does not hold the rows."""
    size = level_t.shape[0]
    n = level_pos if level_pos < size else size
    if n == 0:
        return 0.0, 0.0
    first = int(round(level_t[(level_pos - n) % size] / hop_s))  # the oldest row's hop index
    last = first + n  # one past the newest
    n_mels = mel_hist.shape[1]
    h0 = int(round(cut / hop_s))

    def mean_rows(lo, hi, out):
        for j in range(n_mels):
            out[j] = 0.0
        for h in range(lo, hi):
            row = mel_hist[h % size]
            for j in range(n_mels):
                out[j] += row[j]
        for j in range(n_mels):
            out[j] /= hi - lo

    step = 0.0
    for h in range(h0 - radius, h0 + radius + 1):
        if h - step_w < first or h + step_w > last or h - step_w < 0:
            continue
        mean_rows(h, h + step_w, a)
        mean_rows(h - step_w, h, b)
        acc = 0.0
        for j in range(n_mels):
            acc += (a[j] - b[j]) ** 2
        s = math.sqrt(acc / n_mels)
        if s > step:
            step = s
    body = 0.0
    lo_a, hi_a = int(round((cut - body1) / hop_s)), int(round((cut - body0) / hop_s))
    lo_b, hi_b = int(round((cut + body0) / hop_s)), int(round((cut + body1) / hop_s))
    if lo_a >= first and lo_a >= 0 and hi_b <= last and hi_a > lo_a and hi_b > lo_b:
        mean_rows(lo_a, hi_a, a)
        mean_rows(lo_b, hi_b, b)
        acc = 0.0
        for j in range(n_mels):
            acc += (a[j] - b[j]) ** 2
        body = math.sqrt(acc / n_mels)
    return step, body


class LiveJudge:
    """The judge inside the region cues: keeps the last blocks' cue values and the marks'
    tags, computes a candidate's :data:`FEATURES` at the moment the fusion decides it, and
    says whether to keep it. Everything preallocated (a candidate allocates nothing)."""

    def __init__(self, judge: CutJudge, *, block_s: float, future_blocks: int, past_blocks: int,
                 min_past_blocks: int, hold_s: float, mark_s: float = 0.5):
        """``mark_s``: the time between the inference stage's marks (a prediction each)."""
        self.judge = judge
        self.mark_s = float(mark_s)
        self.block_s = block_s
        self.future = future_blocks
        self.past = past_blocks  # the contrast's past: the tag cue's longest past
        self.n_min = min_past_blocks
        self.lookback = int(round(TAG_LOOKBACK_S / block_s))
        hold = int(math.ceil(hold_s / block_s)) + 2
        self.cue_size = self.lookback + hold + 16
        self.cues = np.zeros((self.cue_size, 4))  # per block: novelty, mood, contrast (NaN: withheld), score
        self.tags = TagHistory(judge.centre, past_blocks + self.lookback + 2 * future_blocks + hold + 16)
        self.tag_steps = tuple((int(round(f / block_s)), int(round(s / block_s))) for _, _, f, s in TAG_CUES)
        self.x = np.zeros(len(FEATURES))  # the candidate's features (preallocated)
        self.mel = None  # the region stage's hop ring (level_t, mel_hist, position, hop_s, work rows)
        self.join_peak = None  # the region stage's join net: join_peak(t, radius) -> its highest output near t
        self.threshold = judge.probability_threshold  # what a candidate's probability must reach
        self.reset()

    def set_sensitivity(self, sensitivity: float) -> None:
        """The operator's sensitivity (0..1) moves the probability a candidate needs
        (:data:`SENSITIVITY_SLOPE`); 0.5 keeps the judge file's. Any thread: swaps a float."""
        s = check_sensitivity(sensitivity)
        p = self.judge.probability_threshold
        if 0.0 < p < 1.0:
            z = math.log(p / (1.0 - p)) + SENSITIVITY_SLOPE * (0.5 - s)
            p = 1.0 / (1.0 + math.exp(-z))
        self.threshold = p

    def reset(self) -> None:
        self.tags.reset()
        self.cues[:] = 0.0
        self.blocks = 0
        self.candidates = self.kept = self.blind_candidates = 0
        self.last_probability = math.nan

    def warm(self) -> None:
        """Run every code path once (Numba loads its kernels on the first call), then reset:
        the first candidate of a show allocates nothing."""
        p = np.full(self.tags.n_tags, 0.5)
        for _ in range(self.tags.size):
            self.tags.mark(p)
            self.block(0.0, 0.0, 0.0, 0.0)
        self.keep(0.0, 0.0, 1.0, 0, -1.0)
        self.reset()

    def block(self, nov: float, mood: float, con: float, score: float) -> None:
        """A cue block closed: its cue values as fused, and the marks that came in it."""
        row = self.cues[self.blocks % self.cue_size]
        row[0], row[1], row[2], row[3] = nov, mood, con, score
        self.tags.close()
        self.blocks += 1

    def _tag(self, c: int, f: int, start_block: int) -> float:
        before = min(f - start_block, self.past)
        if before < self.n_min:
            return math.nan
        r, kind, _, _ = TAG_CUES[c]
        fut, skip = self.tag_steps[c]
        return self.tags.value(r, kind, TAG_FLOORS[c], f, before, fut, skip)

    def features(self, cut: float, boundary_t: float, peak: float, start_block: int, start_t: float) -> np.ndarray:
        """The features of a candidate at ``cut`` (the fused peak's boundary) decided in the
        block just closed (boundary ``boundary_t``), in the region that began at block
        ``start_block`` / time ``start_t`` (``benchmarks/fusion_screen.py``'s definitions)."""
        x = self.x
        k = self.blocks - 1
        kp = k - int(round((boundary_t - cut) / self.block_s))
        first = kp - self.future + 1
        newest = k - self.future + 1
        lo = max(start_block + self.n_min, first - self.lookback)
        for c in range(len(TAG_CUES)):
            at = self._tag(c, first, start_block)
            best = math.nan
            for f in range(lo, newest + 1):
                v = self._tag(c, f, start_block)
                if v == v and not best >= v:
                    best = v
            x[5 + 2 * c] = at if at == at else 0.0
            x[6 + 2 * c] = best if best == best else 0.0
        row = self.cues[kp % self.cue_size] if k - kp < self.cue_size else None
        nov, mood, con = (row[0], row[1], row[2]) if row is not None else (math.nan, math.nan, math.nan)
        x[0] = peak
        x[1] = max(con, 0.0) if con == con else 0.0
        x[2] = 1.0 if con == con else 0.0
        x[3] = max(nov, 0.0) if nov == nov else 0.0
        x[4] = max(mood, 0.0) if mood == mood else 0.0
        w0 = max(0, kp - self.lookback, k - self.cue_size + 1)
        width = 0
        for b in range(w0, k + 1):
            if self.cues[b % self.cue_size, 3] >= 0.5 * peak:
                width += 1
        x[9] = width * self.block_s
        x[10] = math.log(max(cut - start_t, 0.1))
        step = body = 0.0
        if self.mel is not None:
            level_t, mel_hist, level_pos_of, hop_s, a, b = self.mel
            step, body = mel_step_body(level_t, mel_hist, level_pos_of(), hop_s, cut,
                                       max(1, int(round(STEP_S / hop_s))), int(round(STEP_RADIUS_S / hop_s)),
                                       BODY_S[0], BODY_S[1], a, b)
        x[11] = math.log(step + 0.1)
        x[12] = math.log(body + 0.1)
        x[13] = math.log((step + 0.1) / (body + 0.1))
        j = self.join_peak(cut, JOIN_PEAK_S) if self.join_peak is not None else math.nan
        x[14] = j if j == j else 0.0
        return x

    def blind(self) -> bool:
        """Fewer than half the predictions a mark every ``mark_s`` gives reached the judge
        over the span its tag cues read (the lookback before the peak up to the decision):
        the models are not running in step with the audio — a run with ``--fast`` outpaces
        the model worker (which then skips to the newest window), a machine too loaded skips
        windows. The trees never saw that case (in training every mark had its tags), so
        they do not judge it."""
        span = self.future + self.lookback
        return self.tags.marks_since(self.blocks - span) < 0.5 * span * self.block_s / self.mark_s

    def keep(self, cut: float, boundary_t: float, peak: float, start_block: int, start_t: float,
             fixed_threshold: float = math.inf) -> bool:
        """Judge a candidate: True keeps the cut. Without tag evidence (:meth:`blind`) the
        fixed fusion's rule decides instead: the fused peak against ``fixed_threshold``."""
        self.candidates += 1
        if self.blind():
            self.blind_candidates += 1
            self.last_probability = math.nan
            ok = peak >= fixed_threshold
        else:
            x = self.features(cut, boundary_t, peak, start_block, start_t)
            p = self.judge.probability(x)
            self.last_probability = p
            ok = p >= self.threshold
        self.kept += ok
        return ok
