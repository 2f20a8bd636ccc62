"""The run-level deadline: a point on an injected monotonic clock after which no new work starts.

Pure: a clock reading in, plain answers out (no ``time`` import, so tests are exact). The gate sets
one ``Deadline`` for a whole run (``limits.max_run_seconds``, or a default derived from the budgets);
the pipeline starts no new row, fidelity check or profile once it has passed, and marks what it
skipped as *not measured* (the report is still written). Work already running is bounded too:
a child's time limit is ``deadline.limit(timeout)``, the smaller of its own limit and the time left,
and a child stopped once ``expired()`` is true was stopped by the deadline, not because it hung.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""A monotonic clock in seconds (``time.monotonic`` in production, a fake in tests)."""


@dataclass(frozen=True)
class Deadline:
    """When the run must stop starting work: ``at`` on ``clock`` (``math.inf``: never).

    seconds: the length of the run it allows (for messages); source: where that number came from
    (``limits.max_run_seconds``, or the default's formula), so a message can say what to change.
    """

    at: float
    clock: Clock
    seconds: float = math.inf
    source: str = ""

    @classmethod
    def after(cls, seconds: float, clock: Clock, source: str = "") -> Deadline:
        """A deadline ``seconds`` from now on ``clock``."""
        if not seconds > 0:
            raise ValueError(f"a deadline needs a positive number of seconds, not {seconds!r}")
        return cls(clock() + seconds, clock, seconds, source)

    @classmethod
    def never(cls, clock: Clock) -> Deadline:
        """No deadline (ad-hoc ``bench`` rows, tests)."""
        return cls(math.inf, clock)

    def remaining(self) -> float:
        """Seconds left, never below 0 (``math.inf`` without a deadline; the clock is then not read)."""
        if math.isinf(self.at):
            return math.inf
        return max(self.at - self.clock(), 0.0)

    def expired(self) -> bool:
        """True once the deadline has passed: start no new work."""
        return not math.isinf(self.at) and self.clock() >= self.at

    def limit(self, seconds: float) -> float:
        """The smaller of ``seconds`` and the time left: the time limit for work started now."""
        return min(seconds, self.remaining())

    def reason(self) -> str:
        """Why work was skipped, in words a report can show."""
        length = f"{self.seconds:g} s" if math.isfinite(self.seconds) else "no limit"
        source = f", {self.source}" if self.source else ""
        return f"the run's deadline ({length}{source}) had passed"
