"""How well join nets trained on one development fold place the joins of the OTHER fold's songs
(issue 17): the screen that judges a change to ``train_join_net.py``'s recipe before the
reporting folds are looked at.

    python benchmarks/join_net_localisation.py --nets A=/work/cache/regions/join_nets \
        [--nets B=DIR ...] [--medleys 200] [--out benchmarks/results/join_net_localisation.json]

Each DIR holds ``fold0.json`` and ``fold1.json`` (``train_join_net.py --folds F``). The net of
fold f hears ``--medleys`` synthetic medleys of fold 1-f's clips (``train_join_net.synth_medley``
from the cached log-mel, every other one joined hard, the rest crossfaded; the same medleys for
every arm), fed hop by hop through the engine's streaming kernel. A join counts as placed when
the time the engine's placement would pick (``joinnet.best_output``: the highest output within
±0.5 s, the placement's search radius, between frames at a peak) lies within 0.25 s of it. Reported per direction, for hard joins, crossfades and all. Development folds only.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402

import _regionsdata as D  # noqa: E402
import train_join_net as T  # noqa: E402
from _common import machine, write_result  # noqa: E402

from sonolux.features.joinnet import SEARCH_S, JoinNetStream, best_output, load_join_net  # noqa: E402

PLACED_S = 0.25


def placed(outputs: np.ndarray, join_s: float, frame_s: float) -> bool:
    """Whether the placement's pick near ``join_s`` (every output of a recording, by frame)
    lies within :data:`PLACED_S` of it."""
    return abs(best_output(outputs, len(outputs), join_s, SEARCH_S, frame_s, 0.0) - join_s) <= PLACED_S


def score(net, clips: list, medleys: int, seed: int, frame_s: float) -> dict:
    """Shares of joins placed by ``net`` over ``medleys`` synthetic medleys of ``clips``."""
    rng, stream = np.random.default_rng(seed), JoinNetStream(net)
    hits: dict = {"hard": [], "crossfade": []}
    for i in range(medleys):
        kind = "hard" if i % 2 == 0 else "crossfade"
        mel, joins = T.synth_medley(clips, rng, frame_s, hard=kind == "hard")
        out = stream.outputs(np.repeat(mel, T.POOL_HOPS, axis=0).astype(np.float64))
        hits[kind] += [placed(out, j * frame_s, frame_s) for j in joins]
    return {**{k: round(float(np.mean(v)), 4) for k, v in hits.items()},
            "all": round(float(np.mean(hits["hard"] + hits["crossfade"])), 4),
            "joins": len(hits["hard"]) + len(hits["crossfade"])}


def main(argv=None):
    ap = D.screen_parser(__doc__, "join_net_localisation")
    ap.add_argument("--nets", action="append", required=True, metavar="NAME=DIR",
                    help="an arm: a folder with fold0.json and fold1.json (repeatable)")
    ap.add_argument("--medleys", type=int, default=200, help="synthetic medleys per direction (default 200)")
    args = ap.parse_args(argv)
    arms = {}
    for arm in args.nets:
        name, _, folder = arm.partition("=")
        if not D.holds_fold_nets(folder):
            ap.error(f"--nets {arm}: give NAME=DIR, DIR holding fold0.json and fold1.json")
        arms[name] = folder
    bench = D.setup(args)
    frame_s = T.POOL_HOPS * bench.spec.hop_seconds
    clips = {f: T.dev_clips(bench, (f,), f"fold {f} clips") for f in (0, 1)}
    result = {"placed_within_s": PLACED_S, "search_s": SEARCH_S, "medleys": args.medleys, "arms": {},
              "machine": machine(), "load": [round(x, 2) for x in os.getloadavg()]}
    for name, folder in arms.items():
        result["arms"][name] = {"folder": folder}
        for f in (0, 1):
            net = load_join_net(Path(folder) / f"fold{f}.json")
            result["arms"][name][f"net_of_fold{f}_on_fold{1 - f}"] = got = score(net, clips[1 - f], args.medleys,
                                                                                  1000 + f, frame_s)
            D.log(f"{name}: fold {f}'s net on fold {1 - f}'s medleys {json.dumps(got)}")
    print(f"wrote {write_result('join_net_localisation', result, args.out)}")


if __name__ == "__main__":
    main()
