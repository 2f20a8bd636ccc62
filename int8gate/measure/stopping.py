"""When a benchmark row stops and when its first result is confirmed: the rules, stated and pure.

A row adds sessions one at a time. Once it holds the policy's minimum (``benchmark.sessions``), it
stops as soon as one rule holds, checked in this order:

1. **clear** — the 95% interval lies wholly outside the *near zone* of the threshold, ``[t / (1 + z),
   t · (1 + z)]``: no plausible error can move it across ``t``, so more measurement cannot change the
   verdict;
2. **target** — the interval's half-width is at most ``benchmark.target_halfwidth``;
3. **budget** — the next session would not end within the row's budget (``runtime.bench`` checks it).

The near zone is ``z = NEAR`` (10%): twice the largest difference measured between two exclusive
runs of the same real-model pair at one thread (PP-OCR detector QOperator 1.35× vs 1.41×, 4.3%; see
benchmarks/README.md), which the intervals of those runs (±1%) did not cover. When a quality finding
casts doubt on the sessions (``DOUBT_CODES``: drift, other load, high dispersion) it widens to
``NEAR_WHEN_DOUBTED`` (25%): about twice the 11% spread between repetitions measured under other
engineers' test suites (benchmarks/README.md, "Short run on the shared machine").

**Confirmation**: a row whose first result (the interval when it stopped) is *not* clear of the
near zone is measured again — at least the minimum number of new sessions, later in time, pooled with
the first, by the same stopping rules, within the same budget — unless the pair has already failed
for a reason speed cannot change (not really quantized, a format the policy refuses) or the policy
turned confirmation off. A row that stopped by the clear rule is never confirmed: it is final.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from int8gate.measure.stats import Speedup, StopReason

NEAR = 0.10
NEAR_WHEN_DOUBTED = 0.25
DOUBT_CODES = frozenset({"drift", "other-load", "high-dispersion"})


def near_zone(finding_codes: Iterable[str]) -> float:
    """The relative width of the near zone: wider when a quality finding casts doubt."""
    return NEAR_WHEN_DOUBTED if DOUBT_CODES.intersection(finding_codes) else NEAR


def clear_of(speedup: Speedup, threshold: float, zone: float) -> bool:
    """Whether the whole interval lies outside ``[threshold / (1 + zone), threshold · (1 + zone)]``."""
    return speedup.ci_low > threshold * (1.0 + zone) or speedup.ci_high < threshold / (1.0 + zone)


def stop_rule(
    speedup: Speedup,
    *,
    sessions: int,
    minimum: int,
    threshold: float,
    zone: float,
    target_halfwidth: float,
) -> StopReason | None:
    """The rule that stops the row now (clear before target), or ``None`` to keep measuring.

    ``sessions`` counts the sessions of the current phase (a confirmation needs ``minimum`` new
    ones); ``speedup`` is the interval over every session of the row.
    """
    if sessions < max(minimum, 1):
        return None
    if clear_of(speedup, threshold, zone):
        return StopReason.CLEAR
    if speedup.halfwidth <= target_halfwidth:
        return StopReason.TARGET
    return None


@dataclass(frozen=True)
class Confirmation:
    """Whether a row's first result is measured again, and why (for the report)."""

    wanted: bool
    reason: str


def confirmation(
    speedup: Speedup, threshold: float, zone: float, *, allowed: bool, refused_because: str = ""
) -> Confirmation:
    """The confirmation rule (module docstring) applied to a row's first result.

    ``allowed`` is False when the policy turned confirmation off or the pair already failed;
    ``refused_because`` then says which.
    """
    if clear_of(speedup, threshold, zone):
        clear = f"the interval is clear of the threshold by more than {zone:.0%}"
        return Confirmation(False, f"confirmation not needed: {clear}")
    if not allowed:
        return Confirmation(False, f"confirmation skipped: {refused_because or 'turned off by the policy'}")
    return Confirmation(True, f"within {zone:.0%} of the threshold")
