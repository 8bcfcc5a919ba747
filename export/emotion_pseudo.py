"""More training signal for the emotion head (issue #16): pseudo-labels and teachers on audio
beyond the 600 labelled 4Q clips. Scored with the dev protocol of the card's experiments;
nothing here is shipped unless it wins there beyond the noise.

    python -m export.emotion_pseudo embed [--pop909 100]   # extra audio -> streaming embeddings
    python -m export.emotion_pseudo dev                    # dev folds 0-2 only
    python -m export.emotion_pseudo five_fold --candidate NAME   # a dev winner, frozen, on 5 folds
    (``--corpora wesnoth,vgmidi,pop909``: which extra corpora; all three by default)

Extra audio (none of it labelled for the 4Q quadrants, none of it in any fold): Debian's
``wesnoth-music`` (41 orchestral pieces, teachers' predictions in ``teachers/wesnoth.npz``),
FluidSynth renders of the VGMIDI phrases and of the first ``--pop909`` POP909 songs. Every
piece is cut into 30 s excerpts (the 4Q clips' length; POP909 at most ``POP909_EXCERPTS`` per
song) and each excerpt goes through exactly the 4Q clips' path
(``export.musicnn_embed.embed_clips``: engine log-mel → running level normaliser from the
excerpt's start → streaming trunk from silence, a window every 128 frames, pool 250 = the
shipped v2.2 window). Caches ``export/work/mood7/emb_extra_<corpus>_p250_s128.npz``.

Candidates (``dev``: train on two dev folds, score the third, clip = mean of the window
probabilities at temperature 1, clip macro-F1 of the signs rule; every candidate against the
shipped setting — linear head, C = 0.001, on the labelled windows only — in the same run,
paired bootstrap over the 360 dev clips):

* ``self``: self-training. The shipped head fit on the two training folds labels every extra
  excerpt (mean of its windows' probabilities: the clip teacher, stronger than one window);
  the student head trains on the training folds plus the extra windows, either with the
  teacher's soft probabilities (each window four rows weighted w·p_k) or with the hard
  quadrant of excerpts whose teacher confidence is ≥ a threshold, optionally class-balanced
  (each quadrant a quarter of the extra weight: the teacher puts most extra audio in Q4);
  weight w of an extra window relative to a labelled one swept, C as shipped. The held-out
  fold never reaches the teacher.
* ``vibenet``: wesnoth windows labelled by vibenet's valence / energy (the 10 s window
  nearest each embedding window) through the two thresholds ``export.evaluate`` tunes for the
  vibenet peer, here tuned on the training folds' clips only; optionally only the windows
  where vibenet and the self-training teacher agree.
* ``vgmidi``: the VGMIDI phrases' own valence / arousal labels (human, but for piano game
  music) as extra labelled windows, weight swept.
* ``multitask``: a small shared hidden layer on the frozen trunk's standardised penultimate
  (h units, dropout, weight decay) with three heads — quadrant (cross-entropy, labelled
  windows), the musicnn MTT taggram of the teachers (binary cross-entropy, 4Q training
  windows + wesnoth) and vibenet valence / energy (squared error, same windows); only the
  quadrant head is scored. Loss weights swept; weight 0 for both teachers is the plain MLP.

Writes ``export/results/emotion_pseudo.json``.
"""
from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from . import data as D
from .emotion_augment import paired_bootstrap
from .evaluate import macro_f1, tune_thresholds, va_to_quadrant
from .input_level import contract_entry
from .musicnn_embed import _PoolHead, embed_clips, span, trunk_session
from .musicnn_torch import WEIGHTS, Musicnn
from .train_emotion_musicnn import (
    DEV_FOLDS,
    UNTOUCHED_FOLDS,
    Head,
    clip_mean,
    decide,
    load_embeddings,
)
from .workspace import WORK

OUT = WORK / "mood7"
RESULTS = Path(__file__).resolve().parent / "results"
MODEL, POOL, STRIDE, SHIPPED_C = "MSD_musicnn", 250, 128, 0.001
SHIPPED_NAME = f"base C={SHIPPED_C}"  # the shipped setting among a lever's candidates
SR, HOP = 16000, 256
EXCERPT = 30 * SR // HOP  # 1875 frames: the 4Q clips' length
POP909_EXCERPTS = 4  # the first 2 min of a song: more excerpts of one song add little
CORPORA = ("wesnoth", "vgmidi", "pop909")
C_GRID = (0.001, 0.003)  # the shipped head's C and its neighbour, on the labelled windows alone
WEIGHTS_EXTRA = (0.1, 0.3, 1.0)
THRESHOLDS = (0.0, 0.7)  # teacher confidence (max clip probability) for hard pseudo-labels


# ------------------------------------------------------------------------------ extra audio

def pop909_cache(root: Path, n: int) -> Path:
    """Renders of the first ``n`` POP909 songs, kept to their first POP909_EXCERPTS × 30 s."""
    from .render_midi import render_all

    midis = sorted(glob.glob(str(root / "pop909" / "*" / "*.mid")))[:n]
    wavs = render_all([(Path(m).stem, m) for m in midis], subdir="pop909")
    items = []
    for sid, wav in wavs.items():
        cut = WORK / "renders" / "pop909_cut" / f"{sid}.wav"
        if not cut.is_file():
            y, sr = sf.read(wav, dtype="float32")
            cut.parent.mkdir(parents=True, exist_ok=True)
            sf.write(cut, y[:POP909_EXCERPTS * 30 * sr], sr)
        items.append((sid, str(cut)))
    return D.build_cache(f"pop909_{n}", items)


def excerpts(feats: dict, corpus: str, max_per_piece: int | None = None) -> tuple[list[dict], dict]:
    """Pieces cut into 30 s excerpts (a shorter tail kept when it holds at least one window):
    clip rows for ``embed_clips`` and {excerpt id: {"mel"}}."""
    clips, cut = [], {}
    for pid, f in feats.items():
        mel = f["mel"]
        for k, s in enumerate(range(0, len(mel), EXCERPT)):
            if max_per_piece is not None and k >= max_per_piece:
                break
            if len(mel) - s < span(POOL):
                continue
            eid = f"{corpus}:{pid}:{k}"
            clips.append({"song": eid, "q": -1, "fold": -1})
            cut[eid] = {"mel": mel[s:s + EXCERPT]}
    return clips, cut


def extra_path(corpus: str) -> Path:
    return OUT / f"emb_extra_{corpus}_p{POOL}_s{STRIDE}.npz"


def embed(root: Path, pop909: int, corpora=CORPORA) -> None:
    """Streaming embeddings of the extra corpora not cached yet."""
    import torch

    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    net = Musicnn.from_npz(WEIGHTS / f"{MODEL}.npz")
    session = trunk_session(net, OUT / f"{MODEL}_trunk.onnx")
    level = contract_entry(root, D.load_clips(root))
    sources = {"wesnoth": (D.wesnoth_cache, None),
               "vgmidi": (lambda: D.vgmidi_cache(root, D.load_vgmidi(root)), None),
               "pop909": (lambda: pop909_cache(root, pop909), POP909_EXCERPTS)}
    for corpus in corpora:
        cache, most = sources[corpus]
        if extra_path(corpus).is_file():
            print(f"{extra_path(corpus)} exists")
            continue
        t0 = time.time()
        clips, cut = excerpts(D.load_cache(cache()), corpus, most)
        res = embed_clips(session, _PoolHead(net).eval(), clips, cut, STRIDE, level)[POOL]
        np.savez(extra_path(corpus), **{k: res[k] for k in ("penultimate", "song", "end")})
        print(f"{corpus}: {len(clips)} excerpts, {len(res['song'])} windows in {time.time() - t0:.0f} s "
              f"-> {extra_path(corpus)}", flush=True)


def load_extra(corpora=CORPORA) -> dict:
    """{corpus: {"penultimate", "song" (excerpt id), "end"}}."""
    out = {}
    for c in corpora:
        if not extra_path(c).is_file():
            raise D.DataMissing(f"{extra_path(c)} is missing: run `python -m export.emotion_pseudo embed` first")
        with np.load(extra_path(c)) as z:
            out[c] = {k: z[k] for k in z.files}
    return out


# ------------------------------------------------------------------------------ teachers' targets

def window_times(song: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(piece id, start s, end s) of each window in its piece's time (excerpt offset added)."""
    piece, offset = [], []
    for s in song:
        parts = s.split(":")
        if len(parts) == 3:  # corpus:piece:excerpt
            piece.append(parts[1])
            offset.append(int(parts[2]) * EXCERPT)
        else:  # a 4Q clip
            piece.append(s)
            offset.append(0)
    stop = (np.asarray(offset) + end) * HOP / SR
    return np.array(piece), stop - span(POOL) * HOP / SR, stop


def teacher_targets(teach: dict, song: np.ndarray, end: np.ndarray) -> dict:
    """Per window: the musicnn MTT taggram (mean of the 3 s patches it overlaps) and vibenet
    valence / energy (the 10 s window whose centre is nearest), clipped to 0..1; NaN where the
    teacher has no prediction for the piece."""
    labels = list(teach["vibenet_labels"])
    iv, ie = labels.index("valence"), labels.index("energy")
    piece, t0, t1 = window_times(song, end)
    tags = np.full((len(song), 50), np.nan)
    ve = np.full((len(song), 2), np.nan)
    for i, (p, a, b) in enumerate(zip(piece, t0, t1)):
        if f"{p}__musicnn_taggram" not in teach:
            continue
        tg = teach[f"{p}__musicnn_taggram"]
        lo, hi = int(max(a, 0) // 3), int(np.ceil(b / 3))
        if lo < len(tg):
            tags[i] = tg[lo:min(hi, len(tg))].mean(0)
        vw = teach[f"{p}__vibenet_windows"]
        j = int(np.clip(np.round(((a + b) / 2 - 5) / 5), 0, len(vw) - 1))
        ve[i] = np.clip(vw[j, [iv, ie]], 0, 1)
    return {"tags": tags, "ve": ve}


# ------------------------------------------------------------------------------ protocol

def labelled(emb: dict, folds) -> tuple[np.ndarray, np.ndarray]:
    m = np.isin(emb["fold"], list(folds))
    return emb["penultimate"][m].astype(np.float64), emb["q"][m]


def fit_with_extra(Xl, yl, Xe=None, ye=None, we=None, C=SHIPPED_C) -> Head:
    """The shipped head on labelled rows (weight 1) + extra rows (labels ``ye``, weights ``we``)."""
    if Xe is None or len(Xe) == 0:
        return Head(C).fit(Xl, yl)
    return Head(C).fit(np.concatenate([Xl, Xe]), np.concatenate([yl, ye]),
                       np.concatenate([np.ones(len(yl)), we]))


def soft_rows(X: np.ndarray, p: np.ndarray, w: float):
    """Soft targets as weighted rows: every window four times, class k with weight w·p_k."""
    return np.repeat(X, 4, 0), np.tile(np.arange(4), len(X)), (w * p).ravel()


def balance(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weights rescaled so each quadrant holds a quarter of the extra rows' total weight (the
    extra corpora's pseudo-labels are far from the 4Q set's equal quadrants)."""
    mass = np.bincount(y, weights=w, minlength=4)
    return w * (w.sum() / 4) / np.maximum(mass[y], 1e-12)


def pseudo_label_shares(emb: dict, extra: dict) -> dict:
    """Per corpus, the share of its excerpts the shipped head (fit on the dev folds) puts in
    each quadrant (signs rule) and their mean confidence: what self-training would add."""
    head = fit_with_extra(*labelled(emb, DEV_FOLDS))
    out = {}
    for c, ex in extra.items():
        songs, cp = clip_mean(ex["song"], head.proba(ex["penultimate"].astype(np.float64)))
        q = decide(cp, "signs")
        out[c] = {"excerpts": len(songs), "quadrant_share": (np.bincount(q, minlength=4) / len(q)).tolist(),
                  "mean_confidence": float(cp.max(1).mean()), "share_confidence_ge_0.7": float(np.mean(cp.max(1) >= 0.7))}
    return out


def excerpt_probs(head: Head, ex: dict, X: np.ndarray | None = None) -> np.ndarray:
    """Per window, its excerpt's mean window probability (temperature 1): the clip teacher
    (``X``: the head's inputs of ``ex``'s windows; by default the penultimate)."""
    p = head.proba((ex["penultimate"] if X is None else X).astype(np.float64))
    songs, cp = clip_mean(ex["song"], p)
    return cp[np.searchsorted(songs, ex["song"])]


def score(emb: dict, fits, test_folds, train_of, X: np.ndarray | None = None) -> dict:
    """Clip macro-F1 per test fold; ``fits(f, train folds, X of fold f)`` returns the window
    probabilities of fold f. ``X``: the window inputs (one row per window of ``emb``; by
    default the penultimate)."""
    X = emb["penultimate"] if X is None else X
    per, ys, preds = {}, [], []
    for f in test_folds:
        te = emb["fold"] == f
        songs, cp = clip_mean(emb["song"][te], fits(f, train_of(f), X[te].astype(np.float64)))
        cq = np.array([emb["q"][te][emb["song"][te] == s][0] for s in songs])
        pred = decide(cp, "signs")
        per[int(f)] = macro_f1(cq, pred)
        ys.append(cq)
        preds.append(pred)
    return {"clip_macro_f1": float(np.mean(list(per.values()))), "per_fold": per,
            "y": np.concatenate(ys), "pred": np.concatenate(preds)}


def vgmidi_labels(root: Path, ex: dict) -> np.ndarray:
    q = {r["id"]: r["q"] for r in D.load_vgmidi(root)}
    return np.array([q[s.split(":")[1]] for s in ex["song"]])


def candidates(emb: dict, extra: dict, teach4q: dict, teach_w: dict, root: Path, clips: list[dict]) -> dict:
    """name → fit(test fold, train folds, X_test) → window probabilities."""
    wes = extra["wesnoth"]
    Xw = wes["penultimate"].astype(np.float64)
    ve_w = teacher_targets(teach_w, wes["song"], wes["end"])["ve"]
    labels = list(teach4q["vibenet_labels"])
    ive = [labels.index("valence"), labels.index("energy")]
    clip_ve = {c["song"]: np.clip(teach4q[f"{c['song']}__vibenet_clip"][ive], 0, 1) for c in clips}
    teachers: dict = {}

    def teacher(train):  # the shipped head on the training folds, cached per fold set
        key = tuple(train)
        if key not in teachers:
            head = fit_with_extra(*labelled(emb, train))
            teachers[key] = {c: excerpt_probs(head, extra[c]) for c in extra}
            teachers[key]["_head"] = head
        return teachers[key]

    def base(C):
        return lambda f, train, X: fit_with_extra(*labelled(emb, train), C=C).proba(X)

    def self_train(corpora, C, w, thr, balanced=False):
        def fit(f, train, X):
            t = teacher(train)
            Xe = np.concatenate([extra[c]["penultimate"] for c in corpora]).astype(np.float64)
            p = np.concatenate([t[c] for c in corpora])
            if thr is None:
                Xs, ys, ws = soft_rows(Xe, p, w)
            else:
                keep = p.max(1) >= thr
                Xs, ys, ws = Xe[keep], decide(p[keep], "signs"), np.full(keep.sum(), w)
            if balanced:
                ws = balance(ys, ws)
            return fit_with_extra(*labelled(emb, train), Xs, ys, ws, C).proba(X)
        return fit

    def vibenet(C, w, agree):
        def fit(f, train, X):
            songs = [c["song"] for c in clips if c["fold"] in train]
            v = np.array([clip_ve[s] for s in songs])
            q = np.array([c["q"] for c in clips if c["fold"] in train])
            tv, tE = tune_thresholds(v[:, 0], v[:, 1], q)
            yq = va_to_quadrant(ve_w[:, 0], ve_w[:, 1], tv, tE)
            keep = ~np.isnan(ve_w[:, 0])
            if agree:
                keep &= decide(teacher(train)["wesnoth"], "signs") == yq
            return fit_with_extra(*labelled(emb, train), Xw[keep], yq[keep], np.full(keep.sum(), w), C).proba(X)
        return fit

    def vgmidi(C, w):
        vg = extra["vgmidi"]
        Xv, vg_q = vg["penultimate"].astype(np.float64), vgmidi_labels(root, vg)
        return lambda f, train, X: fit_with_extra(*labelled(emb, train), Xv, vg_q, np.full(len(vg_q), w), C).proba(X)

    out = {f"base C={C}": base(C) for C in C_GRID}
    for C in (SHIPPED_C,):  # the extra rows are scored at the shipped C (0.003 alone: 0.731 vs 0.734)
        for w in WEIGHTS_EXTRA:
            groups = {"all": tuple(extra), "wesnoth": ("wesnoth",),
                      "renders": tuple(c for c in ("vgmidi", "pop909") if c in extra)}
            for cname, corpora in groups.items():
                if not corpora or (cname != "all" and corpora == groups["all"]):
                    continue
                out[f"self {cname} soft w={w} C={C}"] = self_train(corpora, C, w, None)
                out[f"self {cname} soft balanced w={w} C={C}"] = self_train(corpora, C, w, None, True)
                out[f"self {cname} hard>=0.7 balanced w={w} C={C}"] = self_train(corpora, C, w, 0.7, True)
                for thr in THRESHOLDS:
                    out[f"self {cname} hard>={thr} w={w} C={C}"] = self_train(corpora, C, w, thr)
            out[f"vibenet wesnoth w={w} C={C}"] = vibenet(C, w, False)
            out[f"vibenet+teacher agree wesnoth w={w} C={C}"] = vibenet(C, w, True)
            if "vgmidi" in extra:
                out[f"vgmidi labels w={w} C={C}"] = vgmidi(C, w)
    return out


# ------------------------------------------------------------------------------ multi-task

MT_HIDDEN = 32
MT_LAMBDAS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (3.0, 3.0))  # (taggram, vibenet)
MT_EPOCHS, MT_LR, MT_WD, MT_DROPOUT = 300, 3e-3, 1e-3, 0.5


def multitask(emb: dict, targets4q: dict, extra_w: dict, targets_w: dict, lam_tag: float, lam_ve: float,
              seed: int = 0):
    """fit(test fold, train folds, X_test) of the shared-hidden-layer model (full batch Adam)."""
    import torch
    from torch import nn

    def fit(f, train, X):
        torch.manual_seed(seed)
        m = np.isin(emb["fold"], list(train))
        Xl, yl = emb["penultimate"][m].astype(np.float32), emb["q"][m]
        Xt = np.concatenate([Xl, extra_w["penultimate"].astype(np.float32)])
        tags = np.concatenate([targets4q["tags"][m], targets_w["tags"]]).astype(np.float32)
        ve = np.concatenate([targets4q["ve"][m], targets_w["ve"]]).astype(np.float32)
        mu, sd = Xl.mean(0), Xl.std(0) + 1e-6
        z = lambda a: torch.from_numpy(((a - mu) / sd).astype(np.float32))
        has_tag, has_ve = ~np.isnan(tags[:, 0]), ~np.isnan(ve[:, 0])
        trunk = nn.Sequential(nn.Dropout(0.2), nn.Linear(Xl.shape[1], MT_HIDDEN), nn.ReLU(), nn.Dropout(MT_DROPOUT))
        hq, ht, hv = nn.Linear(MT_HIDDEN, 4), nn.Linear(MT_HIDDEN, 50), nn.Linear(MT_HIDDEN, 2)
        params = [*trunk.parameters(), *hq.parameters(), *ht.parameters(), *hv.parameters()]
        opt = torch.optim.AdamW(params, lr=MT_LR, weight_decay=MT_WD)
        xl, xt, y = z(Xl), z(Xt), torch.from_numpy(yl.astype(np.int64))
        t_tag = torch.from_numpy(np.nan_to_num(tags))
        t_ve = torch.from_numpy(np.nan_to_num(ve))
        mt, mv = torch.from_numpy(has_tag), torch.from_numpy(has_ve)
        for _ in range(MT_EPOCHS):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(hq(trunk(xl)), y)
            if lam_tag or lam_ve:
                h = trunk(xt)
                if lam_tag:
                    loss = loss + lam_tag * nn.functional.binary_cross_entropy_with_logits(ht(h)[mt], t_tag[mt])
                if lam_ve:
                    loss = loss + lam_ve * nn.functional.mse_loss(torch.sigmoid(hv(h))[mv], t_ve[mv])
            loss.backward()
            opt.step()
        trunk.eval()
        with torch.no_grad():
            return torch.softmax(hq(trunk(z(X.astype(np.float32)))), 1).numpy().astype(np.float64)
    return fit


# ------------------------------------------------------------------------------ commands

def setup(root: Path, corpora):
    clips = D.load_clips(root)
    emb = load_embeddings(MODEL, STRIDE, POOL, "running_level")
    return clips, emb, load_extra(corpora)


def dev(root: Path, corpora=CORPORA) -> dict:
    clips, emb, extra = setup(root, corpora)
    teach4q, teach_w = D.load_teachers(root), D.load_teachers(root, "wesnoth")
    cands = candidates(emb, extra, teach4q, teach_w, root, clips)
    t4 = teacher_targets(teach4q, emb["song"], emb["end"])
    tw = teacher_targets(teach_w, extra["wesnoth"]["song"], extra["wesnoth"]["end"])
    for lt, lv in MT_LAMBDAS:
        cands[f"multitask h={MT_HIDDEN} tag={lt} va={lv}"] = multitask(emb, t4, extra["wesnoth"], tw, lt, lv)
    rep = {"extra_windows": {c: len(extra[c]["song"]) for c in extra},
           "extra_excerpts": {c: len(np.unique(extra[c]["song"])) for c in extra},
           "teacher_coverage_wesnoth": float(np.mean(~np.isnan(tw["ve"][:, 0]))),
           "pseudo_labels_of_the_dev_head": pseudo_label_shares(emb, extra)}
    rep.update(compare_dev(emb, {k: (fit, None) for k, fit in cands.items()}, SHIPPED_NAME))
    return rep


def compare_args(description: str, argv=None):
    """The command line of a lever scored with :func:`compare_dev` / :func:`compare_five_fold`:
    ``dev`` or ``five_fold --candidate NAME``, and ``--data``. Returns (args, data root)."""
    p = argparse.ArgumentParser(description=description)
    D.add_data_arg(p)
    p.add_argument("command", choices=("dev", "five_fold"))
    p.add_argument("--candidate", help="five_fold: the dev candidate's name (frozen)")
    a = p.parse_args(argv)
    if a.command == "five_fold" and not a.candidate:
        p.error("five_fold needs --candidate NAME (a key of the dev step's candidates)")
    return a, D.data_root(a.data)


def compare_dev(emb: dict, cands: dict, ref_name: str) -> dict:
    """Every candidate (name → (fit, X or None), see ``score``) on the dev folds (train on two,
    test the third) against ``ref_name`` on the same clips, paired bootstrap over the dev
    clips; the best candidate other than those named ``base…`` and whether it wins beyond the noise."""
    train_of = lambda f: [g for g in DEV_FOLDS if g != f]
    ref = score(emb, cands[ref_name][0], DEV_FOLDS, train_of, cands[ref_name][1])
    rep = {"candidates": {}}
    for name, (fit, X) in cands.items():
        t0 = time.time()
        r = score(emb, fit, DEV_FOLDS, train_of, X)
        r["vs_shipped"] = paired_bootstrap(r["y"], r.pop("pred"), ref["pred"])
        assert np.array_equal(r.pop("y"), ref["y"])
        rep["candidates"][name] = r
        print(f"{name:45s} {r['clip_macro_f1']:.3f}  {r['vs_shipped']['diff']:+.3f} "
              f"[{r['vs_shipped']['ci95'][0]:+.3f}, {r['vs_shipped']['ci95'][1]:+.3f}]  {time.time() - t0:.0f} s",
              flush=True)
    best = max((k for k in rep["candidates"] if not k.startswith("base")),
               key=lambda k: rep["candidates"][k]["clip_macro_f1"])
    rep["best"] = best
    rep["shipped_setting"] = ref_name
    rep["wins_beyond_noise"] = rep["candidates"][best]["vs_shipped"]["ci95"][0] > 0
    return rep


def five_fold(root: Path, name: str, corpora=CORPORA) -> dict:
    """The frozen candidate and the shipped setting with the fixed 5-fold split (training
    folds = the other four; the pseudo-label teacher sees only them)."""
    clips, emb, extra = setup(root, corpora)
    teach4q, teach_w = D.load_teachers(root), D.load_teachers(root, "wesnoth")
    cands = candidates(emb, extra, teach4q, teach_w, root, clips)
    return compare_frozen(emb, clips, {k: (fit, None) for k, fit in cands.items()}, name)


def compare_five_fold(emb: dict, clips: list[dict], runs_of: dict) -> dict:
    """``runs_of``: {"shipped" | "candidate": (name, fit, X or None)} with the fixed 5-fold
    split (training folds = the other four): all 5, dev 0-2, untouched 3-4, the gap, and
    paired bootstraps of candidate − shipped on all 600 clips and on the untouched folds."""
    train_of = lambda f: [g for g in range(5) if g != f]
    out, runs = {}, {}
    for label, (key, fit, X) in runs_of.items():
        r = score(emb, fit, range(5), train_of, X)
        per = r["per_fold"]
        dv, un = np.mean([per[f] for f in DEV_FOLDS]), np.mean([per[f] for f in UNTOUCHED_FOLDS])
        out[label] = {"name": key, "all_5": float(np.mean(list(per.values()))), "std_5": float(np.std(list(per.values()))),
                      "dev_0_2": float(dv), "untouched_3_4": float(un), "gap_dev_minus_untouched": float(dv - un),
                      "per_fold": per}
        runs[label] = r
        print(label, out[label], flush=True)
    n_dev = sum(1 for c in clips if c["fold"] in DEV_FOLDS)
    y, a, b = runs["candidate"]["y"], runs["candidate"]["pred"], runs["shipped"]["pred"]
    out["paired_bootstrap_all_5"] = paired_bootstrap(y, a, b)
    out["paired_bootstrap_untouched_3_4"] = paired_bootstrap(y[n_dev:], a[n_dev:], b[n_dev:])
    print(out["paired_bootstrap_all_5"], out["paired_bootstrap_untouched_3_4"])
    return out


def compare_frozen(emb: dict, clips: list[dict], cands: dict, name: str) -> dict:
    """The candidate ``name`` (``cands``: name → (fit, X or None)) frozen, against the shipped
    setting (:data:`SHIPPED_NAME`), with the fixed 5-fold split (:func:`compare_five_fold`)."""
    return compare_five_fold(emb, clips, {"shipped": (SHIPPED_NAME, *cands[SHIPPED_NAME]),
                                          "candidate": (name, *cands[name])})


def lever_main(description: str, argv, path: Path, dev_step, five_fold_step) -> None:
    """The command line of a lever (:func:`compare_args`): runs ``dev_step(root)`` or
    ``five_fold_step(root, candidate)`` with BLAS on one thread (the cores are shared: BLAS
    threads fighting over them made each logistic fit ~30-50x slower) and stores the report
    with its wall time under ``dev`` / ``five_fold.<candidate>`` of the results JSON at ``path``."""
    from threadpoolctl import threadpool_limits

    from .emotion_clip_heads import update_results

    a, root = compare_args(description, argv)
    t0 = time.time()

    def run(rep: dict) -> dict:
        with threadpool_limits(1):
            out = dev_step(root) if a.command == "dev" else five_fold_step(root, a.candidate)
        out["wall_s"] = time.time() - t0
        return out

    update_results(path, "dev" if a.command == "dev" else ("five_fold", a.candidate), run)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    D.add_data_arg(p)
    p.add_argument("command", choices=("embed", "dev", "five_fold"))
    p.add_argument("--pop909", type=int, default=100, help="POP909 songs to render (the first N)")
    p.add_argument("--corpora", default=",".join(CORPORA), help="which extra corpora (comma-separated; all three by default)")
    p.add_argument("--candidate", help="five_fold: the dev candidate's name (frozen)")
    a = p.parse_args(argv)
    root = D.data_root(a.data)
    if a.command == "embed":
        embed(root, a.pop909, tuple(a.corpora.split(",")))
        return
    path = RESULTS / "emotion_pseudo.json"
    rep = json.loads(path.read_text()) if path.is_file() else {}
    t0 = time.time()
    corpora = tuple(a.corpora.split(","))
    rep[a.command] = dev(root, corpora) if a.command == "dev" else five_fold(root, a.candidate, corpora)
    rep[a.command]["wall_s"] = time.time() - t0
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, default=float) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
