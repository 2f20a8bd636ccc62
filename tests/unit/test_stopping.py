"""The stop and confirmation rules on stated intervals: clear of the near zone, target, doubt, refusal."""

from __future__ import annotations

import pytest

from int8gate.measure.stats import Speedup, StopReason
from int8gate.measure.stopping import NEAR, NEAR_WHEN_DOUBTED, clear_of, confirmation, near_zone, stop_rule


def interval(low: float, high: float) -> Speedup:
    estimate = (low * high) ** 0.5
    return Speedup(estimate, low, high, (high - low) / (2 * estimate))


@pytest.mark.parametrize(
    ("low", "high", "clear"),
    [
        (1.33, 1.40, True),  # wholly above 1.2 · 1.1 = 1.32
        (1.31, 1.40, False),  # reaches into the zone
        (1.00, 1.09, True),  # wholly below 1.2 / 1.1 = 1.0909
        (1.00, 1.10, False),
        (0.19, 0.20, True),  # a dynamic-quantized detector at 0.2× against 1.2×
        (1.18, 1.22, False),  # straddles the threshold
    ],
)
def test_clear_means_the_whole_interval_is_outside_the_near_zone(low: float, high: float, clear: bool) -> None:
    assert clear_of(interval(low, high), 1.2, NEAR) is clear


def test_a_doubt_widens_the_zone() -> None:
    assert near_zone(()) == NEAR == 0.10
    assert near_zone({"outliers", "budget-cut"}) == NEAR  # neither casts doubt on the level
    for code in ("drift", "other-load", "high-dispersion"):
        assert near_zone({code}) == NEAR_WHEN_DOUBTED == 0.25
    busy = interval(1.40, 1.45)
    assert clear_of(busy, 1.2, near_zone(())) and not clear_of(busy, 1.2, near_zone({"other-load"}))


def rule(speedup: Speedup, sessions: int) -> StopReason | None:
    return stop_rule(speedup, sessions=sessions, minimum=3, threshold=1.2, zone=NEAR, target_halfwidth=0.02)


def test_stop_rules_wait_for_the_minimum_then_clear_before_target() -> None:
    narrow_far = interval(0.199, 0.201)
    assert rule(narrow_far, 2) is None
    assert rule(narrow_far, 3) is StopReason.CLEAR  # clear wins over target when both hold
    assert rule(interval(1.23, 1.25), 3) is StopReason.TARGET
    assert rule(interval(1.10, 1.30), 7) is None  # wide and near: keep measuring
    assert rule(interval(0.10, 0.60), 3) is StopReason.CLEAR  # wide but far


def test_confirmation_only_near_the_threshold_and_only_when_allowed() -> None:
    far = confirmation(interval(0.19, 0.20), 1.2, NEAR, allowed=True)
    assert not far.wanted and far.reason == "confirmation not needed: the interval is clear of the threshold by more than 10%"
    near = confirmation(interval(1.23, 1.25), 1.2, NEAR, allowed=True)
    assert near.wanted and near.reason == "within 10% of the threshold"
    failed = confirmation(interval(1.23, 1.25), 1.2, NEAR, allowed=False, refused_because="the pair already failed")
    assert not failed.wanted and failed.reason == "confirmation skipped: the pair already failed"
    # a refused pair far from the threshold says why it needs none, not that it was refused
    assert confirmation(interval(0.19, 0.2), 1.2, NEAR, allowed=False).reason.startswith("confirmation not needed")
