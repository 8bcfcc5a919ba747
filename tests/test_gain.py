"""Input gain: a fixed trim scales what the analysis sees; auto gain brings a quiet input up
to the target without pumping silence; bad values name themselves."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import wait_until
from sonolux import Engine, ParameterError, StreamSpec
from sonolux.gain import InputGain, parse_gain
from sonolux.sources import ArraySource

SR = 48000
SPEC = StreamSpec()


def level_db(engine):
    f = engine.mailbox.layout.new_frame()
    return engine.mailbox.read_latest(f) and f["level_db"]


def tone(amp, seconds):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_fixed_gain_moves_the_level_by_its_db():
    engine = Engine(SPEC, ArraySource(tone(0.05, 60), SR, SPEC.block_size, realtime=True))
    with engine:
        wait_until(lambda: engine.stats().t > 0.5, 20, "audio")
        before = level_db(engine)
        engine.set_gain(12.0)
        t = engine.stats().t
        wait_until(lambda: engine.stats().t > t + 0.5, 20, "half a second more")
        after = level_db(engine)
    assert after - before == pytest.approx(12.0, abs=0.5)
    assert engine.stats().gain_db == pytest.approx(12.0)


def test_auto_gain_reaches_the_target_and_holds_in_silence():
    g = InputGain("auto", target_db=-20.0, tau_s=0.5)
    hop = 256
    quiet = tone(0.02, 3.0)  # -37 dBFS RMS
    for i in range(0, quiet.shape[0] - hop, hop):
        x = quiet[i:i + hop].copy()
        g.apply(x, hop / SR)
    out_db = 10 * np.log10(np.mean(x.astype(np.float64) ** 2))
    assert out_db == pytest.approx(-20.0, abs=1.0) and g.db == pytest.approx(17.0, abs=1.0)
    held = g.db
    for _ in range(200):  # silence: the gain does not climb to the maximum
        g.apply(np.zeros(hop, np.float32), hop / SR)
    assert g.db == pytest.approx(held)
    g.set(-6)
    assert not g.auto and g.db == pytest.approx(-6.0)


@pytest.mark.parametrize("value,message", [(30, "30 is outside -24.0..24.0"), ("loud", "'loud' must be a number of dB or 'auto'"),
                                           (float("inf"), "must be a finite number")])
def test_bad_gain_names_the_value(value, message):
    with pytest.raises(ParameterError, match=message):
        parse_gain(value, "--gain")
    assert parse_gain("AUTO") == "auto" and parse_gain("-6") == -6.0
