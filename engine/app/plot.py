"""``sonolux analyze FILE --plot out.png``: one timeline of what the segmenter saw —
waveform, short-term energy, the energy and tempo contrast coefficients with their
"same region" bands, the fused region cues (novelty, energy, mood, their score and the
threshold, each at the boundary it judges) with every cut decision (a dot where the cut was
decided, joined to the boundary it placed), valence/arousal, the labelled emotion regions and
the section events (build / drop / breakdown)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SonoluxError

REGION_COLOURS = {"fierce": "#d62728", "cheerful": "#ffbf00", "gentle": "#2ca02c", "low": "#1f77b4",
                  "unknown": "#bbbbbb"}


def plot_analysis(analysis, out: str | Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SonoluxError("--plot needs matplotlib (pip install matplotlib)") from None
    doc, table, seg = analysis.doc, analysis.table, analysis.segmenter
    sr = doc["sample_rate"]
    t = table.t
    fig, axes = plt.subplots(6, 1, figsize=(14, 12), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 1, 1, 1.2, 1, 0.6]})
    ax = axes[0]
    env, step = analysis.envelope, analysis.envelope_step  # peaks of every `step` samples
    te = np.arange(env.size) * step / sr
    ax.fill_between(te, -env, env, color="#555555", lw=0)
    ax.set_ylabel("waveform")
    ax.set_title(Path(doc["file"]).name)

    def col(name):
        return table.column(name) if name in table.layout.scalars else None

    ax = axes[1]
    if col("energy") is not None:
        ax.semilogy(t, np.maximum(col("energy"), 1e-10), color="#444444")
    ax.set_ylabel("energy E_t")
    ax = axes[2]
    lo, hi = seg.e_lo, seg.e_hi
    if col("energy_z") is not None:
        ax.plot(t, col("energy_z"), color="#9467bd", label="energy z_t")
    ax.axhspan(lo, hi, color="#9467bd", alpha=0.12, label=f"same region [{lo:g}, {hi:g}]")
    if col("tempo_z") is not None:
        ax.plot(t, col("tempo_z"), color="#8c564b", label="tempo z (onset rate)")
    ax.axhspan(seg.t_lo, seg.t_hi, color="#8c564b", alpha=0.10, label=f"tempo band [{seg.t_lo:g}, {seg.t_hi:g}]")
    ax.set_ylim(0, 3)
    ax.set_ylabel("z")
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    _plot_cues(axes[3], table, col)
    ax = axes[4]
    if doc["timeline"] and "valence" in doc["timeline"][0]:
        tl = doc["timeline"]
        ax.plot([e["t"] for e in tl], [e["valence"] for e in tl], color="#ff7f0e", label="valence")
        ax.plot([e["t"] for e in tl], [e["arousal"] for e in tl], color="#17becf", label="arousal")
        ax.legend(loc="upper right", fontsize=7)
    else:
        ax.text(0.5, 0.5, "no emotion model", transform=ax.transAxes, ha="center", color="#888888")
    ax.axhline(0, color="#cccccc", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("V / A")
    ax = axes[5]
    for r in doc["regions"]:
        ax.axvspan(r["start"], r["end"], color=REGION_COLOURS.get(r["label"], "#bbbbbb"), alpha=0.8)
        ax.text((r["start"] + r["end"]) / 2, 0.5, f"{r['label']}\n{r['quadrant'] or ''}", ha="center",
                va="center", fontsize=7)
        for a in axes[:5]:
            a.axvline(r["start"], color="#000000", lw=0.6, alpha=0.4)
    for ev in doc.get("sections", []):
        ax.annotate(ev["label"], (ev["t"], 0.05), xytext=(ev["t"], -0.6), fontsize=7, ha="center",
                    color="#000000", arrowprops={"arrowstyle": "->", "lw": 0.6}, annotation_clip=False)
    ax.set_yticks([])
    ax.set_ylabel("regions")
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, doc["duration_s"])
    fig.tight_layout()
    out = Path(out)
    try:
        fig.savefig(out, dpi=100)
    except OSError as e:
        raise SonoluxError(f"--plot {out}: cannot write ({e.strerror})") from None
    finally:
        plt.close(fig)
    return out


def _plot_cues(ax, table, col) -> None:
    """The fused cues against the boundary time they judge, the threshold, and the cuts:
    a dot at (decision time, score) joined to the boundary it placed (the decision time is
    the plotted frame's: the plot's table keeps every n-th frame of a long file)."""
    t_cue = col("region_cue_t")
    if t_cue is None:
        ax.text(0.5, 0.5, "cues off (region_method = seed)", transform=ax.transAxes, ha="center", color="#888888")
        ax.set_ylabel("cues")
        return
    ok = np.isfinite(t_cue)
    for name, colour, label in (("region_novelty", "#2ca02c", "novelty"), ("region_energy_cue", "#9467bd", "energy"),
                                ("region_mood_cue", "#ff7f0e", "mood"), ("region_contrast_cue", "#1f77b4", "contrast"),
                                ("region_score", "#000000", "score")):
        v = col(name)
        if v is not None and np.any(np.isfinite(v[ok])):
            ax.plot(t_cue[ok], np.clip(v[ok], 0, 3), color=colour, lw=1.4 if name == "region_score" else 0.8,
                    label=label)
    thr = col("region_threshold")
    if thr is not None and thr.size:
        ax.axhline(thr[-1], color="#d62728", ls="--", lw=0.8, label=f"threshold {thr[-1]:.2f}")
    count, boundary, score = col("region_change_count"), col("region_boundary"), col("region_score")
    if count is not None and count.size:
        # the table may be decimated: a cut shows as the change counter stepping up
        for i in np.flatnonzero(np.diff(count, prepend=0.0) > 0):
            ax.plot([boundary[i], table.t[i]], [score[i], score[i]], color="#d62728", lw=0.8)
            ax.plot(table.t[i], score[i], "o", color="#d62728", ms=4)
    ax.set_ylim(0, 3)
    ax.set_ylabel("region cues")
    ax.legend(loc="upper right", fontsize=7, ncol=5)
