"""``export.emotion_second_trunk``: the two trunks' windows side by side under the shipped head."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the export extra (torch==2.13.0) is not installed")
from export.emotion_second_trunk import candidates  # noqa: E402


def fake_embeddings(rng, n=600, seed_shift=0.0):
    q = np.repeat(np.arange(4), n // 4)
    fold = np.tile(np.arange(5), n // 5)
    pen = rng.normal(size=(n, 200)) + seed_shift
    pen[:, :50] += 2.0 * np.eye(4)[q].repeat(13, 1)[:, :50]  # the quadrant is readable from 50 columns
    return {"penultimate": pen.astype(np.float32), "taggram": rng.random((n, 50)).astype(np.float32), "q": q,
            "fold": fold, "song": np.array([f"s{i}" for i in range(n)]), "end": np.arange(n)}


def test_candidates_put_the_trunks_side_by_side_and_fit_on_the_training_folds(rng=np.random.default_rng(0)):
    emb, other = fake_embeddings(rng), fake_embeddings(rng, seed_shift=1.0)
    cands = candidates(emb, other)
    assert {"base C=0.001", "MSD + MTT penultimates C=0.001", "MSD penultimate + MTT taggram C=0.003"} <= set(cands)
    fit, X = cands["MSD + MTT penultimates C=0.001"]
    assert X.shape == (600, 400) and np.allclose(X[:, :200], emb["penultimate"]) and np.allclose(X[:, 200:], other["penultimate"])
    assert cands["MSD penultimate + MTT taggram C=0.001"][1].shape == (600, 250)
    te = emb["fold"] == 0
    p = fit(0, [1, 2], X[te])
    assert p.shape == (te.sum(), 4) and np.allclose(p.sum(1), 1.0)
    fit_base, Xb = cands["base C=0.001"]
    assert (fit_base(0, [1, 2, 3, 4], Xb[te]).argmax(1) == emb["q"][te]).mean() > 0.5  # learns the readable columns
