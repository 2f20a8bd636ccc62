"""The run's deadline: time left, expiry and child limits on an injected clock; the default from the budgets."""

from __future__ import annotations

import math

import pytest

from int8gate.deadline import Deadline
from int8gate.policy.spec import BenchmarkSettings, default_run_seconds


class Clock:
    """A clock set by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_deadline_counts_down_and_limits_what_starts_late() -> None:
    clock = Clock()
    deadline = Deadline.after(30.0, clock, "limits.max_run_seconds")
    assert deadline.at == 130.0 and deadline.remaining() == 30.0 and not deadline.expired()
    assert deadline.limit(120.0) == 30.0 and deadline.limit(10.0) == 10.0
    clock.now = 125.0
    assert deadline.remaining() == 5.0 and deadline.limit(120.0) == 5.0
    clock.now = 130.0
    assert deadline.expired() and deadline.remaining() == 0.0 and deadline.limit(120.0) == 0.0
    clock.now = 200.0
    assert deadline.remaining() == 0.0  # never negative
    assert deadline.reason() == "the run's deadline (30 s, limits.max_run_seconds) had passed"


def test_no_deadline_never_expires_and_never_reads_the_clock() -> None:
    def clock() -> float:
        raise AssertionError("read")

    deadline = Deadline.never(clock)
    assert not deadline.expired() and deadline.remaining() == math.inf and deadline.limit(7.0) == 7.0


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan])
def test_a_deadline_needs_a_positive_length(seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Deadline.after(seconds, Clock())


def test_the_default_allows_each_row_its_budget_and_confirmation_and_each_pair_a_minute() -> None:
    settings = BenchmarkSettings(budget_seconds=10.0)
    assert default_run_seconds(settings, pairs=2, rows=4) == 4 * 10.0 * 3 * 1.5 + 2 * 60.0
    unconfirmed = BenchmarkSettings(budget_seconds=10.0, confirm=False)
    assert default_run_seconds(unconfirmed, pairs=1, rows=1) == 10.0 * 1.5 + 60.0
