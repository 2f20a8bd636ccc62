"""Progress on stderr while a command measures: ``pair k/n``, threads, ``~N s left``; folded in GitHub Actions.

Stdout stays free for the report (or the JSON document of ``--json -``). In GitHub Actions each
pair's lines open a ``::group::`` of their own, so the log shows one foldable line per pair above
the short report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from int8gate.github.publish import escape_data, own_command
from int8gate.report.facts import printable
from int8gate.report.progress import PAIR_ALLOWANCE_SECONDS, Plan, Progress, Stage, Step


class ProgressPrinter:
    """Prints each step's line to ``err`` as it starts; call ``close`` when the run is over."""

    def __init__(self, plan: Plan, err: TextIO, clock: Callable[[], float], *, actions: bool = False) -> None:
        self.progress = Progress(plan)
        self.err = err
        self.clock = clock
        self.actions = actions
        self._grouped = False

    def start(self) -> None:
        """The plan and the expected total (every row's budget plus the per-pair allowance), before the first step."""
        plan = self.progress.plan
        rows = "row" if plan.rows_per_pair == 1 else "rows"
        pairs = "pair" if plan.pairs == 1 else "pairs"
        self._print(f"{plan.pairs} model {pairs}, {plan.rows_per_pair} thread {rows} each, "
                    f"budget {plan.budget_seconds:g} s per row + {PAIR_ALLOWANCE_SECONDS:g} s per pair: "
                    f"at most {plan.expected_seconds:.0f} s expected")  # fmt: skip

    def __call__(self, step: Step) -> None:
        line = self.progress.line(step, self.clock())
        if self.actions and step.stage is Stage.INSPECT:
            self._end_group()
            title = f"int8gate: pair {step.pair}/{step.pairs} {escape_data(printable(step.name))}"
            own_command(f"::group::{title}", self.err)
            self._grouped = True
        self._print(line)

    def close(self) -> None:
        """The run is over: close the open group."""
        self.progress.finish(self.clock())
        self._end_group()
        self.err.flush()

    def _end_group(self) -> None:
        if self._grouped:
            own_command("::endgroup::", self.err)
            self._grouped = False

    def _print(self, text: str) -> None:
        print(f"int8gate: {text}", file=self.err, flush=True)
