"""Measure a changed pair beside its base versions: head FP32, head INT8, base INT8 (and base FP32) timed
in the same rounds of the same workers, within the row's budget.

The row is ``bench``'s — same workers, sessions, slices, budget, confirmation of a "slower" call — with
the base's models added to every worker's rounds (``WorkerRequest.others``). It stops when both the
head speedup's and the head/base time ratio's intervals are as narrow as ``target_halfwidth``, or when
the next worker would overrun the budget. A worker that fails turns both into failed rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure import sidebyside, stats
from int8gate.measure.benchrun import BenchRun
from int8gate.measure.sidebyside import SideBySideSession, VsBaseRun
from int8gate.policy.spec import BenchmarkSettings
from int8gate.runtime import bench
from int8gate.runtime.protocol import WorkerRequest, setup_description


@dataclass
class _Row(bench._Row):
    """``bench``'s row of sessions, read also as side-by-side sessions (the base's latencies of each)."""

    base_fp32: bool = False

    def sides(self) -> list[SideBySideSession]:
        return [
            SideBySideSession(r.fp32_ns, r.int8_ns, r.others_ns[0], r.others_ns[1] if self.base_fp32 else None)
            for r in self.results
        ]


def measure_against_base(
    fp32: Path,
    int8: Path,
    base_int8: Path,
    base_fp32: Path | None = None,
    *,
    inputs: Sequence[ResolvedInput] = (),
    samples: Path | None = None,
    threads: int,
    settings: BenchmarkSettings,
    threshold: float,
    clock: bench.Clock = time.monotonic,
    env: Mapping[str, str] | None = None,
    worker_command: Sequence[str] | None = None,
) -> tuple[BenchRun, VsBaseRun]:
    """The head pair's row at ``threads`` and its side-by-side comparison with the base models.

    ``base_fp32``: the base's FP32 model when it differs from the head's (else the head's serves both).
    """
    launcher = bench._launcher(env, settings, worker_command)
    others = (str(base_int8),) + ((str(base_fp32),) if base_fp32 is not None else ())
    request = bench._request("measure", fp32, int8, threads=threads, settings=settings, inputs=inputs,
                             samples=samples, warmup_runs=settings.warmup_runs, min_rounds=bench.MIN_ROUNDS,
                             overhead_runs=0, others=others)  # fmt: skip
    start = clock()
    row = _Row(base_fp32=base_fp32 is not None)
    stop, error = _phase(row, request, launcher, settings=settings, budget=settings.budget_seconds, clock=clock)
    confirmed = False
    if error is None and settings.confirm:
        first = stats.estimate_speedup(row.samples(), seed=settings.seed)
        if stats.call(first, threshold) is stats.Call.SLOWER:
            budget = bench.CONFIRM_BUDGET_FACTOR * settings.budget_seconds
            stop, error = _phase(row, request, launcher, settings=settings, budget=budget, clock=clock)
            confirmed = True
    shell = BenchRun(
        intra_op_threads=threads, threshold=threshold, fp32=None, int8=None, speedup=None, call=None,
        stopped_by=None, confirmed=confirmed, sessions=len(row.results), rounds=sum(r.rounds for r in row.results),
        seconds=clock() - start, setup=row.results[0].setup if row.results else setup_description(threads),
        harness_overhead_ms=row.results[0].overhead_ns / 1e6 if row.results else 0.0,
    )  # fmt: skip
    if error is not None or not row.results:
        cause = error or "no session finished"
        return replace(shell, error=cause), VsBaseRun(threads, None, None, None, error=cause)
    run = bench._finish(shell, row, settings, stop)
    assert run.speedup is not None  # a finished row always has one
    return run, sidebyside.compare(threads, row.sides(), run.speedup, seed=settings.seed)


def _halfwidth(row: _Row, settings: BenchmarkSettings) -> float:
    """The wider of the head speedup's and the head/base ratio's relative half-widths."""
    speedup = stats.estimate_speedup(row.samples(), seed=settings.seed)
    ratio = sidebyside.latency_ratio(row.sides(), seed=settings.seed)
    return max(speedup.halfwidth, ratio.halfwidth)


def _phase(
    row: _Row,
    base: WorkerRequest,
    launcher: bench.WorkerLauncher,
    *,
    settings: BenchmarkSettings,
    budget: float,
    clock: bench.Clock,
) -> tuple[stats.StopReason, str | None]:
    """Add sessions until both intervals meet the target or ``budget`` seconds are spent (``bench._phase``'s rule)."""
    minimum = max(settings.sessions, 1)
    slice_seconds = max(budget / (bench.SLICES_PER_SESSION * minimum), bench.MIN_SLICE_SECONDS)
    began = clock()
    costs: list[float] = []
    while len(costs) < bench.MAX_SESSIONS:
        if len(costs) >= minimum:
            if _halfwidth(row, settings) <= settings.target_halfwidth:
                return stats.StopReason.TARGET, None
            if clock() - began + float(np.mean(costs)) > budget:
                return stats.StopReason.BUDGET, None
        request = bench._for_session(base, len(row.results), slice_seconds)
        t0 = clock()
        result = launcher.run(request)
        costs.append(clock() - t0)
        if isinstance(result, str):
            return stats.StopReason.BUDGET, result
        if len(result.others_ns) != len(base.others):
            return stats.StopReason.BUDGET, "worker did not time the base models"
        row.results.append(result)
    return stats.StopReason.BUDGET, None
