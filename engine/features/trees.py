"""Boosted trees as flat arrays: what the region stage's learned parts (the cut judge, the
cut placer) run live without scikit-learn.

Why our own evaluator: the trees are trained by scikit-learn's ``HistGradientBoosting*``
(``benchmarks/train_cut_judge.py``, ``benchmarks/train_cut_placer.py``), but the live
stage must not import scikit-learn nor allocate per decision; a few hundred shallow trees
walk in microseconds in Numba (:func:`trees_raw`). The trainers check that this evaluator
gives scikit-learn's numbers on every training row before they write a file.

A file's ``trees`` is a list; each a dict of equal-length lists over its nodes: ``feature``
(index), ``threshold`` (go left when x <= threshold), ``left``, ``right`` (node indices in
the tree), ``value`` (leaf value), ``leaf`` (0/1), ``missing_left`` (0/1: where NaN goes).
:func:`check_trees` validates them (a bad one names file, key and value).

>>> t = {"feature": [0, 0, 0], "threshold": [0.5, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0],
...      "value": [0.0, -1.0, 1.0], "leaf": [0, 1, 1], "missing_left": [1, 0, 0]}
>>> TreeEnsemble([t], baseline=0.25).raw(np.array([0.9]))
1.25
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

TREE_KEYS = ("feature", "threshold", "left", "right", "value", "leaf", "missing_left")


class TreeEnsemble:
    """The trees as flat arrays (all trees concatenated; ``roots`` the first node of each)
    and the baseline; :meth:`raw` is baseline + the sum of the leaves a row reaches."""

    def __init__(self, trees: list, baseline: float):
        self.baseline = float(baseline)
        sizes = [len(t["feature"]) for t in trees]
        self.roots = np.cumsum([0] + sizes[:-1]).astype(np.int64)
        cat = lambda key, dtype: np.concatenate([np.asarray(t[key], dtype=dtype) for t in trees])  # noqa: E731
        self.feature = cat("feature", np.int64)
        self.threshold = cat("threshold", np.float64)
        self.left = cat("left", np.int64) + np.repeat(self.roots, sizes)
        self.right = cat("right", np.int64) + np.repeat(self.roots, sizes)
        self.value = cat("value", np.float64)
        self.leaf = cat("leaf", np.int64)
        self.missing_left = cat("missing_left", np.int64)

    def raw(self, x: np.ndarray) -> float:
        """Baseline + the trees' sum for a feature row (float64)."""
        return float(trees_raw(x, self.baseline, self.roots, self.feature, self.threshold, self.left,
                               self.right, self.value, self.leaf, self.missing_left))


@njit(cache=True)
def trees_raw(x, baseline, roots, feature, threshold, left, right, value, leaf, missing_left):
    """Baseline + the sum of each tree's leaf for ``x`` (scikit-learn's HistGradientBoosting
    numeric splits: NaN goes where ``missing_left`` says, else left when x <= threshold)."""
    z = baseline
    for r in range(roots.shape[0]):
        node = roots[r]
        while not leaf[node]:
            v = x[feature[node]]
            if v != v:
                node = left[node] if missing_left[node] else right[node]
            elif v <= threshold[node]:
                node = left[node]
            else:
                node = right[node]
        z += value[node]
    return z


def bad_value(error, path, key, value, why) -> Exception:
    """``error("file: key=value why")`` with the value cut to 60 characters (a file's one-line error)."""
    v = repr(value)
    return error(f"{path}: {key}={v[:60] + '...' if len(v) > 60 else v} {why}")


def check_finite(doc: dict, path, error, ranges) -> None:
    """Each ``(key, lo, hi)`` of ``ranges`` a finite number within [lo, hi] in ``doc``."""
    for key, lo, hi in ranges:
        v = doc[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise bad_value(error, path, key, v, f"must be a finite number in [{lo:g}, {hi:g}]")


def check_header(doc, path, error, what: str, fmt: str, version: int, keys, features) -> None:
    """What every tree file's check starts with: ``doc`` a JSON object holding every one of
    ``keys``, of format ``fmt`` and version ``version`` (``what``: the kind of file, for the
    message), its ``features`` this engine's names in order; ``error`` names the first bad key."""
    if not isinstance(doc, dict):
        raise bad_value(error, path, "<top>", type(doc).__name__, "must be a JSON object")
    for key in keys:
        if key not in doc:
            raise error(f"{path}: key {key!r} is missing (a {what} file, format {fmt} version {version}, has it)")
    if doc["format"] != fmt:
        raise bad_value(error, path, "format", doc["format"], f"is not {fmt!r}")
    if doc["format_version"] != version:
        raise bad_value(error, path, "format_version", doc["format_version"], f"is not {version} (this engine's)")
    if not isinstance(doc["features"], list) or doc["features"] != list(features):
        raise bad_value(error, path, "features", doc["features"],
                        f"are not this engine's {len(features)} features in order")


def check_trees(trees, n_features: int, path, error) -> None:
    """Validate a file's ``trees`` (module doc) for rows of ``n_features``: raises
    ``error`` naming the first bad key. Children must point forward inside their tree, so
    every walk ends."""
    if not isinstance(trees, list) or not trees:
        raise bad_value(error, path, "trees", trees, "must be a non-empty list")
    for i, t in enumerate(trees):
        if not isinstance(t, dict) or any(k not in t for k in TREE_KEYS):
            raise bad_value(error, path, f"trees[{i}]", t, f"must have {', '.join(TREE_KEYS)}")
        n = len(t["feature"])
        for k in TREE_KEYS:
            if not isinstance(t[k], list) or len(t[k]) != n or n == 0:
                raise bad_value(error, path, f"trees[{i}].{k}", t[k], f"must be a list of {n} numbers")
        try:
            arr = {k: np.asarray(t[k], dtype=np.float64) for k in TREE_KEYS}
        except (TypeError, ValueError):
            raise bad_value(error, path, f"trees[{i}]", t, "holds a value that is not a number") from None
        inner = arr["leaf"] == 0
        for k in ("feature", "left", "right"):
            if not np.all(arr[k] == np.round(arr[k])):
                raise bad_value(error, path, f"trees[{i}].{k}", t[k], "must be integers")
        if np.any(inner & ((arr["feature"] < 0) | (arr["feature"] >= n_features))):
            raise bad_value(error, path, f"trees[{i}].feature", t["feature"],
                            f"must be feature indices 0..{n_features - 1}")
        idx = np.arange(n)
        for k in ("left", "right"):
            bad = inner & ((arr[k] <= idx) | (arr[k] >= n))
            if np.any(bad):
                raise bad_value(error, path, f"trees[{i}].{k}", t[k], "must point to later nodes of the same tree")
        if not np.all(np.isfinite(arr["value"])) or not np.all(np.isfinite(arr["threshold"][inner])):
            raise bad_value(error, path, f"trees[{i}]", "value/threshold", "must be finite numbers")
