"""``export.evaluate_vgmidi.simulate_calibration``: the operator loop in a domain the model
misreads, on constructed windows (no data, no model). A model that calls every phrase calm
(Q4) while half of them are happy (Q1) is corrected on k of its wrong phrases: the engine's
calibration must move phrases towards the corrected quadrant (more with more corrections),
and the scoring must leave the corrected phrases out."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")  # export.onnx_export, imported by export.evaluate


def _windows(n_phrases=40, per=20, seed=0):
    """Half the phrases Q1, half Q4; every window leans Q4, the Q1 ones a little less."""
    rng = np.random.default_rng(seed)
    q = np.repeat([0, 3], n_phrases // 2)
    owner = np.repeat(np.arange(n_phrases), per)
    logits = np.zeros((owner.size, 4))
    logits[:, 3] = 2.0 - 0.6 * (q[owner] == 0) + rng.normal(0, 0.3, owner.size)
    logits[:, 0] = 1.0 + rng.normal(0, 0.3, owner.size)
    qp = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return {"q": q, "qp": qp, "owner": owner}


def test_corrections_move_the_misread_quadrant_and_score_the_rest():
    from export.evaluate import macro_f1
    from export.evaluate_vgmidi import clip_signs, simulate_calibration

    w = _windows()
    before = clip_signs(w["owner"], w["qp"])
    assert np.all(before == 3)  # uncalibrated: everything calm
    out = simulate_calibration(w, l2=100.0, corrections=(1, 5), draws=4)
    assert out["phrases_wrong"] == 20
    one, five = out["1"], out["5"]
    # scored on the phrases not corrected (40 - 5 here), before against after
    assert sum(five["predicted_counts_after"].values()) == pytest.approx(35)
    assert five["f1_before"] == pytest.approx(macro_f1(w["q"][5:], before[5:]))  # any 5 Q1s out: same score
    assert five["accuracy_before"] == pytest.approx(20 / 35)  # the 20 calm phrases right
    # the corrections (all "happy, not calm") move phrases to Q1; five move more than one
    assert five["predicted_counts_after"]["Q1"] > one["predicted_counts_after"]["Q1"] >= 0
    assert five["predicted_counts_after"]["Q1"] > 0 and five["f1_change"] != 0.0
