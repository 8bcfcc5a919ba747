"""The tests' one wait helper (conftest.wait_until): returns the value, fails naming what it
awaited, and with ``hold`` does not accept a condition that only passes through."""
import itertools

import pytest

from conftest import wait_until


def test_returns_the_first_truthy_value():
    values = iter([None, 0, [], "ready"])
    assert wait_until(lambda: next(values), 5, "a value") == "ready"


def test_a_timeout_fails_naming_what_was_awaited():
    with pytest.raises(pytest.fail.Exception, match=r"timed out after 0.05 s waiting for the peer's beats"):
        wait_until(lambda: False, 0.05, "the peer's beats")
    with pytest.raises(pytest.fail.Exception, match=r"waiting for 3 beats \(2 so far\)"):
        wait_until(lambda: False, 0.05, lambda: "3 beats (2 so far)")


def test_hold_needs_the_condition_unbroken():
    flicker = itertools.cycle([True, True, False])  # true, but never for long
    with pytest.raises(pytest.fail.Exception, match=r"it must hold for 0.2 s; it held at most 0\.\d\d s"):
        wait_until(lambda: next(flicker), 0.5, "a steady value", hold=0.2)
    calls = itertools.count()
    assert wait_until(lambda: next(calls) >= 3, 5, "a steady value", hold=0.05)  # settles, then holds
