"""Render benchmark: frames per second of every preset, headless.

    python benchmarks/render.py [--size 1280x720] [--gl osmesa|egl|auto] [--frames 120]
                                [--presets a,b] [--out FILE]

Per preset: ``host.step`` (parameter mapping + preset update) + ``draw`` + ``glFinish`` (the
live path: what a window needs per frame), and the same plus reading the pixels back (what
``sonolux render`` needs before ffmpeg), on synthetic loud music (every FeatureFrame field
present). Reports fps (mean) and per-frame p50 / p99 / max in ms. Budgets (DESIGN.md):
≥ 30 fps at 1280×720 on OSMesa, ≥ 60 fps at 1920×1080 on a GPU (EGL).

Writes ``benchmarks/results/render_<backend>_<W>x<H>.json``. No pass/fail: numbers only.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import machine, summary_ms, write_result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1280x720", help="frame size WxH (default 1280x720)")
    ap.add_argument("--gl", default="osmesa", choices=("osmesa", "egl", "auto"),
                    help="headless OpenGL backend (default osmesa)")
    ap.add_argument("--frames", type=int, default=120, help="timed frames per preset and mode (default 120)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed frames first (default 10)")
    ap.add_argument("--presets", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--out", default=None,
                    help="JSON path (default benchmarks/results/render_<backend>_<W>x<H>.json)")
    args = ap.parse_args(argv)

    from sonolux.visual.host import VisualHost
    from sonolux.visual.offscreen import OffscreenTarget
    from sonolux.visual.registry import PresetRegistry
    from sonolux.visual.render import parse_size
    from sonolux.visual.testing import SyntheticFrames

    size = parse_size(args.size)
    target = OffscreenTarget(size, args.gl)
    from vispy import gloo

    info = target.renderer_info()
    reg = PresetRegistry()
    names = args.presets.split(",") if args.presets else reg.names()
    fps_clock = 60.0
    results = {}
    print(f"render benchmark: {size[0]}x{size[1]}, {target.backend} ({info}), {args.frames} frames per preset")
    print(f"{'preset':<16} {'fps (draw)':>10} {'p99 ms':>8} {'fps (+readback)':>16} {'p99 ms':>8}")
    for name in names:
        target.make_current()
        host = VisualHost(reg, size, preset=name, hot_reload=False)
        host.gl_init()
        syn = SyntheticFrames()
        k = 0

        def frame_time(readback: bool) -> float:
            nonlocal k
            t = k / fps_clock
            k += 1
            t0 = time.perf_counter()
            host.step(syn.frame(t, loudness=0.6 + 0.4 * np.sin(t * 2.0) ** 2), t)
            if readback:
                target.render(host)
            else:
                with target.fbo:
                    host.draw()
                    gloo.finish()
            return time.perf_counter() - t0

        for _ in range(args.warmup):
            frame_time(True)
        draw = [frame_time(False) for _ in range(args.frames)]
        full = [frame_time(True) for _ in range(args.frames)]
        d, f = summary_ms(draw), summary_ms(full)
        d["fps"] = round(1.0 / float(np.mean(draw)), 1)
        f["fps"] = round(1.0 / float(np.mean(full)), 1)
        results[name] = {"draw": d, "draw_readback": f, "errors": host.errors}
        flag = "" if host.errors == 0 else f"  ({host.errors} errors: {host.disabled})"
        print(f"{name:<16} {d['fps']:>10.1f} {d['p99_ms']:>8.1f} {f['fps']:>16.1f} {f['p99_ms']:>8.1f}{flag}")
    target.close()
    doc = {"benchmark": "render", "size": list(size), "backend": target.backend, "renderer": info,
           "frames": args.frames, "machine": machine(), "presets": results}
    path = write_result(f"render_{target.backend}_{size[0]}x{size[1]}", doc, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
