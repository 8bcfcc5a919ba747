"""Evaluate the imagery models in one run; write ``models_onnx/imagery_metrics.json``, the
metrics into each model's metadata/sidecar, and the tables of ``docs/imagery.md`` and of the
imagery section of ``models_onnx/README.md``.

    python -m export.evaluate_imagery [--data ../shared/data] [--smoke]

1. **Music → image retrieval** (the seed's Figure 3), on the fixed 5 folds (clips by
   clips.csv, images by source group; each model of ``train_imagery --cv`` saw neither the
   held-out clips nor any crop of the held-out images). Pairs follow the training
   construction: each held-out clip is paired with a distinct held-out image crop of its
   quadrant (music quadrant: the 4Q annotation; image quadrant: the Valdez–Mehrabian rule
   fitted on the training images). The gallery is the paired crops; Recall@K = share of clips
   whose paired crop is among the K nearest (cosine) of the clip's embedding (mean of its
   window embeddings). As pairs within a quadrant are arbitrary, a perfect quadrant-level
   matcher reaches only about K / (gallery size / 4); that ceiling, chance (K / gallery size)
   and the quadrant precision@K (share of the top K in the clip's quadrant) are reported too.
   λ ∈ {0, 0.2, 0.4, 0.8} side by side with the non-learned baseline: colour statistics only
   (image brightness and saturation ranks against the clip's spectral-centroid rank and
   loudness/flux rank — no training, no labels).
2. **Generated images**: the seed's Table 1 layout. For every fold-0 clip (held out from the
   shipped encoders and the generator) 8 images from its window embeddings (random z); an
   independent image-emotion classifier assigns each to a quadrant: the Valdez–Mehrabian rule
   on its colour statistics (no learned part), and as a second opinion the image encoder's
   quadrant head. Rows: music quadrant; columns: % of generated images per quadrant.
3. **Speed and size**: generator images/s on CPU (onnxruntime, batch 1 latency and batch 64
   throughput, 1 and 2 threads), on CUDA when onnxruntime has it; model sizes and parameters.
"""
from __future__ import annotations

import numpy as np
import onnx

from sonolux import modelinput as mi
from sonolux.imagery.colour import colour_stats, quadrant_from_pad
from sonolux.resources import models_dir

from . import data as D
from . import imagery_data as ID
from .evaluate import fill_readme
from .imagery_speed import music_latency, session, speed
from .onnx_export import add_metrics
from .training import eval_args, out_dirs, write_json
from .workspace import REPO
KS = (1, 5, 10)
QN = ("Q1", "Q2", "Q3", "Q4")
GEN_PER_CLIP = 8


def _ranks(x):
    return np.argsort(np.argsort(x, kind="stable"), kind="stable") / max(len(x) - 1, 1)


def pair_gallery(music_q, image_q, rng):
    """For each query (clip) a distinct image of its quadrant (reused only when a quadrant
    runs out). Returns (gallery image positions, paired gallery index per query)."""
    pools = {q: list(rng.permutation(np.flatnonzero(image_q == q))) for q in range(4)}
    used = {q: [] for q in range(4)}
    chosen = []
    for q in music_q:
        if pools[q]:
            i = pools[q].pop()
            used[q].append(i)
        elif used[q]:
            i = used[q][int(rng.integers(len(used[q])))]
        else:
            i = int(rng.integers(len(image_q)))
        chosen.append(i)
    gallery = sorted(set(chosen))
    pos = {g: n for n, g in enumerate(gallery)}
    return np.array(gallery), np.array([pos[c] for c in chosen])


def retrieval(scores, paired, music_q, gal_q):
    """Recall@K and quadrant precision@K from a (queries × gallery) score matrix."""
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.argmax(order == paired[:, None], axis=1)
    out = {}
    for k in KS:
        out[f"R@{k}"] = float(np.mean(rank < k))
        top = order[:, :k]
        out[f"P@{k}"] = float(np.mean(gal_q[top] == music_q[:, None]))
    return out


def music_descriptors(x):
    """Non-learned music descriptors from the window summary: spectral centroid (mel band
    index weighted by power), loudness (mean log-mel) and flux."""
    mel_mean = x[:, :96]
    p = 10 ** (mel_mean / 10)
    centroid = (p * np.arange(96)).sum(1) / (p.sum(1) + 1e-12)
    loud = mel_mean.mean(1)
    flux = x[:, -16:].mean(1)
    return centroid, loud, flux


def eval_retrieval(cv, music, images, lambdas, folds) -> dict:
    res = {f"{lam:g}": [] for lam in lambdas}
    res["colour_baseline"] = []
    info = []
    for f in folds:
        key0 = f"lam{lambdas[0]:g}_f{f}"
        if f"{key0}__music" not in cv:
            continue
        mq = cv[f"{key0}__music_q"]
        iq = cv[f"{key0}__image_q"]
        clip_idx = cv[f"{key0}__music_idx"]
        img_idx = cv[f"{key0}__image_idx"]
        rng = np.random.default_rng(500 + f)
        gal, paired = pair_gallery(mq, iq, rng)
        gq = iq[gal]
        info.append({"fold": f, "queries": int(len(mq)), "gallery": int(len(gal)),
                     "gallery_per_quadrant": np.bincount(gq, minlength=4).tolist()})
        for lam in lambdas:
            k = f"lam{lam:g}_f{f}"
            s = cv[f"{k}__music"] @ cv[f"{k}__image"][gal].T
            r = retrieval(s, paired, mq, gq)
            r["music_quadrant_acc"] = float(np.mean(cv[f"{k}__music_probs"].argmax(1) == mq))
            r["image_quadrant_acc"] = float(np.mean(cv[f"{k}__image_probs"].argmax(1) == iq))
            res[f"{lam:g}"].append(r)
        # baseline: colour statistics only
        xs = np.stack([music["x"][music["owner"] == c].mean(0) for c in clip_idx])
        cen, loud, flux = music_descriptors(xs)
        mb = _ranks(cen)
        ms = 0.5 * (_ranks(loud) + _ranks(flux))
        st = images["stats"][img_idx][gal]
        ib, is_ = _ranks(st[:, 0]), _ranks(st[:, 1])
        s = -((mb[:, None] - ib[None]) ** 2 + (ms[:, None] - is_[None]) ** 2)
        res["colour_baseline"].append(retrieval(s, paired, mq, gq))
        n, nq = len(gal), np.bincount(gq, minlength=4)
        res.setdefault("chance", []).append({f"R@{k}": min(1.0, k / n) for k in KS})
        res.setdefault("quadrant_ceiling", []).append(
            {f"R@{k}": float(np.mean([min(1.0, k / max(nq[q], 1)) for q in mq])) for k in KS})
    mean = {m: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} for m, rows in res.items() if rows}
    std = {m: {k: float(np.std([r[k] for r in rows])) for k in rows[0]} for m, rows in res.items() if rows}
    return {"mean": mean, "std": std, "folds": info}


def fold0_conditions(root, clips, model_dir, smoke):
    """Music embeddings (ONNX, end to end from the cached model features) of every window of
    the fold-0 clips."""
    test = [c for c in clips if c["fold"] == 0]
    cache = D.emotion4q_cache(root, clips, name="emotion4q_smoke" if smoke else "emotion4q")
    feats = ID.load_mel_wavelet(cache, [c["song"] for c in test])
    sess = session(model_dir / "music_embed.onnx", 2)
    sil = mi.silence_features()
    out = []
    for c in test:
        f = feats[c["song"]]
        ends = mi.frame_windows(len(f["mel"]), window=ID.MUSIC_WIN, stride=ID.MUSIC_STRIDE)
        mel = np.stack([mi.window_at(f["mel"], int(e), ID.MUSIC_WIN, sil["mel"]) for e in ends])
        wl = np.stack([mi.window_at(f["wavelet"], int(e), ID.MUSIC_WIN, sil["wavelet"]) for e in ends])
        emb, probs = sess.run(None, {"mel": mel.astype(np.float32), "wavelet": wl.astype(np.float32)})
        out.append((c["q"], emb, probs))
    return out


def consistency(conds, gen_path, img_path, vm, rng) -> dict:
    g = session(gen_path, 2)
    enc = session(img_path, 2)
    zdim = g.get_inputs()[0].shape[1]
    rows_vm = np.zeros((4, 4))
    rows_enc = np.zeros((4, 4))
    gen_stats = []
    for q, emb, _ in conds:
        pick = rng.integers(0, len(emb), GEN_PER_CLIP)
        z = rng.standard_normal((GEN_PER_CLIP, zdim)).astype(np.float32)
        imgs = g.run(None, {"z": z, "cond": emb[pick].astype(np.float32)})[0]
        st = np.stack([colour_stats(im.transpose(1, 2, 0)) for im in imgs])
        gen_stats.append(st)
        for p in vm.quadrant(st):
            rows_vm[q, p] += 1
        for p in enc.run(None, {"image": imgs.astype(np.float32)})[1].argmax(1):
            rows_enc[q, p] += 1
    pct = lambda m: (100 * m / np.maximum(m.sum(1, keepdims=True), 1)).round(1).tolist()  # noqa: E731
    # the same rule re-centred on the generated images: thresholds at the medians of all of them
    # (pooled over every condition, so nothing of the conditioning leaks in); it removes the
    # generator's global shift in brightness/saturation against the real crops
    allst = np.concatenate(gen_stats)
    pa_all = vm.pad(allst)
    thr = (float(np.median(pa_all[:, 0])), float(np.median(pa_all[:, 1])))
    rows_rc = np.zeros((4, 4))
    for (q, _, _), st in zip(conds, gen_stats):
        for p in quadrant_from_pad(vm.pad(st), thr):
            rows_rc[q, p] += 1
    return {"vm_rule": pct(rows_vm), "vm_rule_recentred": pct(rows_rc), "image_encoder_head": pct(rows_enc),
            "diagonal_mean_recentred": float(np.mean(np.diag(np.array(pct(rows_rc))))),
            "counts": rows_vm.astype(int).tolist(), "images_per_clip": GEN_PER_CLIP,
            "diagonal_mean_vm": float(np.mean(np.diag(np.array(pct(rows_vm))))),
            "diagonal_mean_encoder": float(np.mean(np.diag(np.array(pct(rows_enc)))))}


def sizes(model_dir) -> dict:
    out = {}
    for f in ("music_embed.onnx", "image_embed.onnx", "generator.onnx"):
        p = model_dir / f
        if p.is_file():
            m = onnx.load(str(p))
            n = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
            out[f] = {"bytes": p.stat().st_size, "parameters": n}
    return out


# ------------------------------------------------------------------------------ tables

def tables(m: dict) -> dict[str, str]:
    r = m.get("retrieval")
    out = {}
    if r:
        mean, std = r["mean"], r["std"]
        lines = ["| method | R@1 | R@5 | R@10 | P@1 (quadrant) | P@5 | P@10 | music Q acc | image Q acc |",
                 "|---|---|---|---|---|---|---|---|---|"]
        names = [k for k in mean if k not in ("colour_baseline", "chance", "quadrant_ceiling")]
        for k in names:
            v, s = mean[k], std[k]
            lines.append(f"| joint embedding, λ = {k} | " + " | ".join(
                f"{100 * v[f'R@{q}']:.1f} ± {100 * s[f'R@{q}']:.1f}" for q in KS) + " | " + " | ".join(
                f"{100 * v[f'P@{q}']:.1f}" for q in KS) + f" | {100 * v['music_quadrant_acc']:.1f} | "
                f"{100 * v['image_quadrant_acc']:.1f} |")
        v, s = mean["colour_baseline"], std["colour_baseline"]
        lines.append("| colour statistics only (non-learned baseline) | " + " | ".join(
            f"{100 * v[f'R@{q}']:.1f} ± {100 * s[f'R@{q}']:.1f}" for q in KS) + " | " + " | ".join(
            f"{100 * v[f'P@{q}']:.1f}" for q in KS) + " | – | – |")
        for name, label in (("quadrant_ceiling", "ceiling of a perfect quadrant-level matcher"),
                            ("chance", "chance")):
            v = mean[name]
            lines.append(f"| {label} | " + " | ".join(f"{100 * v[f'R@{q}']:.1f}" for q in KS)
                         + (" | 100 | 100 | 100 | – | – |" if name == "quadrant_ceiling" else " | 25 | 25 | 25 | – | – |"))
        g = r["folds"]
        lines.append("")
        lines.append(f"Percent, mean ± std over {len(g)} held-out folds; per fold "
                     f"{int(np.mean([x['queries'] for x in g]))} clips (queries) against a gallery of "
                     f"{int(np.mean([x['gallery'] for x in g]))} paired image crops on average. "
                     "R@K: the clip's paired crop is in the top K; P@K: share of the top K in the clip's "
                     "quadrant; Q acc: quadrant accuracy of the heads (music: clip level, 4Q labels; "
                     "image: Valdez–Mehrabian labels; at λ = 0 the heads get no gradient, so chance).")
        out["retrieval"] = "\n".join(lines)
    c = m.get("consistency")
    if c:
        lines = ["| music quadrant → generated images classified as | Q1 | Q2 | Q3 | Q4 |", "|---|---|---|---|---|"]
        for q in range(4):
            lines.append(f"| {QN[q]} (Valdez–Mehrabian rule) | " + " | ".join(f"{v:.1f}" for v in c["vm_rule"][q]) + " |")
        for q in range(4):
            lines.append(f"| {QN[q]} (rule, re-centred on the generated set) | "
                         + " | ".join(f"{v:.1f}" for v in c["vm_rule_recentred"][q]) + " |")
        for q in range(4):
            lines.append(f"| {QN[q]} (image encoder head) | " + " | ".join(f"{v:.1f}" for v in c["image_encoder_head"][q]) + " |")
        lines.append("")
        lines.append(f"Percent of generated images per row; {c['images_per_clip']} images per held-out clip "
                     f"(fold 0, {int(np.sum(c['counts']) / c['images_per_clip'])} clips). Diagonal mean: "
                     f"{c['diagonal_mean_vm']:.1f} % (rule), {c['diagonal_mean_recentred']:.1f} % (rule re-centred: its "
                     "thresholds at the medians of all generated images, pooled over conditions), "
                     f"{c['diagonal_mean_encoder']:.1f} % (encoder head); chance 25 %.")
        out["consistency"] = "\n".join(lines)
    sp, sz = m.get("speed"), m.get("sizes")
    if sp and sz:
        lines = ["| device | batch 1 latency p50 / p99 (ms) | images/s, batch 1 | images/s, batch 64 |", "|---|---|---|---|"]
        for k, v in sp.items():
            if isinstance(v, dict):
                lines.append(f"| {k} ({v['provider']}) | {v['batch1_ms_p50']:.2f} / {v['batch1_ms_p99']:.2f} | "
                             f"{v['batch1_images_per_s']:.0f} | {v['batch64_images_per_s']:.0f} |")
            else:
                lines.append(f"| {k} | {v} | | |")
        lines.append("")
        lines.append("| model | parameters | size |")
        lines.append("|---|---|---|")
        for f, v in sz.items():
            lines.append(f"| `{f}` | {v['parameters']:,} | {v['bytes'] / 1e6:.2f} MB |")
        if m.get("music_latency"):
            ml = m["music_latency"]
            lines.append("")
            lines.append(f"Music encoder: {ml['ms_p50']:.2f} ms p50 / {ml['ms_p99']:.2f} ms p99 per window "
                         "(CPU, 1 thread).")
        out["speed"] = "\n".join(lines)
    return out


def main(argv=None) -> dict:
    a = eval_args(__doc__.splitlines()[0]).parse_args(argv)
    root, clips = D.corpus(a.data, a.smoke)
    work, model_dir = out_dirs(a.smoke, a.out)
    music = dict(np.load(ID.build_music(root, clips, smoke=a.smoke)))
    images = ID.load_images(ID.build_images(smoke=a.smoke))
    metrics = {"protocol": __doc__.split("\n\n", 2)[2].strip()}
    cv_path = work / "imagery_cv.npz"
    if cv_path.is_file():
        cv = dict(np.load(cv_path))
        lambdas = sorted({float(k.split("_f")[0][3:]) for k in cv if k.endswith("__music")})
        metrics["lambdas"] = lambdas
        metrics["retrieval"] = eval_retrieval(cv, music, images, lambdas, range(5))
    gen = model_dir / "generator.onnx"
    if gen.is_file() and (model_dir / "music_embed.onnx").is_file():
        from .train_generator import write_anchors

        write_anchors(work, music, np.array([c["fold"] for c in clips]), gen)
        conds = fold0_conditions(root, clips, model_dir, a.smoke)
        metrics["consistency"] = consistency(conds, gen, model_dir / "image_embed.onnx", images["vm"],
                                             np.random.default_rng(0))
        metrics["speed"] = speed(gen)
    metrics["sizes"] = sizes(model_dir)
    if (model_dir / "music_embed.onnx").is_file():
        metrics["music_latency"] = music_latency(model_dir)
    write_json(model_dir / "imagery_metrics.json", metrics)
    for f, keys in (("music_embed.onnx", ("retrieval",)), ("image_embed.onnx", ("retrieval",)),
                    ("generator.onnx", ("consistency", "speed"))):
        if (model_dir / f).is_file():
            add_metrics(model_dir / f, {k: metrics[k]["mean"] if k == "retrieval" else metrics[k]
                                        for k in keys if k in metrics})
    blocks = tables(metrics)
    if not a.smoke and a.out is None:
        fill_readme(REPO / "docs" / "imagery.md", blocks, tag="imagery")
        fill_readme(models_dir() / "README.md", blocks, tag="imagery")
    for name, body in blocks.items():
        print(f"\n## {name}\n{body}")
    return metrics


if __name__ == "__main__":
    main()
