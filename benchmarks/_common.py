"""The one bootstrap of the benchmarks: thread pinning, percentiles, machine facts, JSON output.

Every benchmark is a script (``python benchmarks/NAME.py``), so this folder is first on
``sys.path`` and ``import _common`` finds this module; ``sonolux`` is the installed package.
numpy is imported lazily here, so :func:`single_thread` can still pin BLAS before it loads.

>>> from _common import summary_ms
>>> summary_ms([0.001, 0.002])["max_ms"]
2.0
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: the shared data folder: $SONOLUX_DATA, else ../shared/data from the repository root
DATA = Path(os.environ.get("SONOLUX_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
ALL_THREAD_VARS = BLAS_THREAD_VARS + ("MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def single_thread(variables=BLAS_THREAD_VARS) -> None:
    """Pin the given thread pools to one thread (unless the caller's environment sets them);
    call before numpy (or numba) is imported, or it has no effect."""
    for var in variables:
        os.environ.setdefault(var, "1")


def summary_ms(seconds) -> dict:
    """p50 / p99 / max / mean of durations given in seconds, reported in milliseconds."""
    import numpy as np

    a = np.asarray(seconds, dtype=np.float64) * 1e3
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 4),
            "p99_ms": round(float(np.percentile(a, 99)), 4), "max_ms": round(float(a.max()), 4),
            "mean_ms": round(float(a.mean()), 4)}


def machine() -> dict:
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


def write_result(name: str, result: dict, path: str | None = None, *, indent: int = 2) -> Path:
    """Write ``result`` as JSON to ``path``, else to ``benchmarks/results/<name>.json``."""
    out = Path(path) if path else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=indent) + "\n")
    return out
