"""Progress while the gate runs: which pair and thread setting, and about how long is left.

The pipeline announces each step as a ``Step`` (pure data); ``Progress`` turns it into one line,
``pair 1/2 convnet, threads 2: measuring (budget 6 s), ~25 s left``. The estimate is the time the
remaining steps of the plan should take: each kind of step by the mean of the ones already done,
or by a default until one is. The defaults are the run's promise: a row takes at most its budget
(start-up, warm-up, fidelity, profile and confirmation included: ``int8gate.runtime.bench``), a pair
at most ``PAIR_ALLOWANCE_SECONDS`` more, so before anything is timed the estimate is the expected
total. Pure: the caller passes the clock's reading, so the estimate is exact in tests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import Enum

from int8gate.report.facts import printable


class Stage(str, Enum):
    """What a step does; the value is how the progress line says it."""

    INSPECT = "inspecting"
    MEASURE = "measuring"


@dataclass(frozen=True)
class Step:
    """One step starting: pair ``pair`` of ``pairs`` (1-based), and for a measurement its row and threads."""

    pair: int
    pairs: int
    name: str
    stage: Stage
    threads: int | None = None
    row: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    """What the whole run will do: rows (thread settings) per pair and the budget per row."""

    pairs: int
    rows_per_pair: int
    budget_seconds: float
    skipped: frozenset[int] = frozenset()
    """Pairs (1-based) that will not be benchmarked (unchanged against base): their inspect step only."""

    @property
    def steps_per_pair(self) -> int:
        """Inspect, then one measurement per row (the first row's worker also compares the outputs
        and profiles: no steps of their own)."""
        return 1 + self.rows_per_pair

    @property
    def expected_seconds(self) -> float:
        """The longest the run should take: every row's budget plus ``PAIR_ALLOWANCE_SECONDS`` per pair
        (a skipped pair: the allowance only)."""
        measured = self.pairs - len(self.skipped)
        return measured * self.rows_per_pair * self.budget_seconds + self.pairs * PAIR_ALLOWANCE_SECONDS


PAIR_ALLOWANCE_SECONDS = 1.5
"""What a pair may cost beyond its rows' budgets: inspecting its models (a file shared by pairs once),
comparing the outputs the first worker saved, judging. The default estimate of an inspect step."""


class Progress:
    """Lines for the steps of one run, each with the estimated time left (``~N s left``)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._taken: dict[Stage, list[float]] = defaultdict(list)
        self._current: tuple[Stage, float] | None = None

    def line(self, step: Step, now: float) -> str:
        """The progress line for ``step`` starting at clock reading ``now`` (and the previous step is done)."""
        self._finish(now)
        self._current = (step.stage, now)
        where = f"pair {step.pair}/{step.pairs} {printable(step.name)}"
        if step.stage is Stage.MEASURE:
            where += f", threads {step.threads}"
            what = f"measuring (row {step.row}/{self.plan.rows_per_pair}, budget {self.plan.budget_seconds:g} s)"
        else:
            what = step.stage.value + (f" {printable(step.detail)}" if step.detail else "")
        return f"{where}: {what}, ~{self.seconds_left(step):.0f} s left"

    def finish(self, now: float) -> None:
        """The last step is done."""
        self._finish(now)
        self._current = None

    def seconds_left(self, step: Step) -> float:
        """Expected seconds for ``step`` and every step after it in the plan."""
        total = 0.0
        per_pair = self.plan.steps_per_pair
        position = (step.pair - 1) * per_pair + self._offset(step)
        for index in range(position, self.plan.pairs * per_pair):
            stage = self._stage_at(index % per_pair)
            if stage is Stage.MEASURE and index // per_pair + 1 in self.plan.skipped:
                continue
            total += self._expected(stage)
        return total

    def _offset(self, step: Step) -> int:
        if step.stage is Stage.INSPECT:
            return 0
        return max(1, step.row)

    def _stage_at(self, offset: int) -> Stage:
        return Stage.INSPECT if offset == 0 else Stage.MEASURE

    def _expected(self, stage: Stage) -> float:
        taken = self._taken.get(stage)
        if taken:
            return sum(taken) / len(taken)
        return self.plan.budget_seconds if stage is Stage.MEASURE else PAIR_ALLOWANCE_SECONDS

    def _finish(self, now: float) -> None:
        if self._current is not None:
            stage, started = self._current
            self._taken[stage].append(max(0.0, now - started))
