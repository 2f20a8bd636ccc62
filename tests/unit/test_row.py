"""The row driver's rules, exact under a fake clock and fake workers: stop, confirm, budget, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from int8gate.deadline import Deadline
from int8gate.measure.benchrun import BenchRun
from int8gate.measure.stats import Call, StopReason
from int8gate.policy.spec import BenchmarkSettings
from int8gate.runtime import bench
from int8gate.runtime.protocol import WorkerRequest, WorkerResult

BASE = WorkerRequest(("fp32.onnx", "int8.onnx"), 1)


@dataclass
class FakeWorkers:
    """Workers that answer at once with rounds of a given speedup, moving a fake clock by their cost.

    cost: seconds a plain worker takes when its limit allows (``startup`` before its own clock starts,
    ``fixed`` outside the rounds in all, the rest rounds of 12.5 ms, at least 3 of them, cut short to
    keep within the limit, as real workers do); extra: seconds the first worker spends on fidelity
    and the profile on top; other_cpu: CPU seconds other processes used per second of rounds.
    """

    speedup: float
    cost: float = 1.0
    extra: float = 0.0
    startup: float = 0.1
    fixed: float = 0.2
    noise: float = 0.002
    other_cpu: float = 0.0
    now: float = 0.0
    requests: list[WorkerRequest] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def __call__(self, request: WorkerRequest) -> WorkerResult:
        self.requests.append(request)
        rng = np.random.default_rng(len(self.requests))
        rounds_seconds = max(min(self.cost - self.fixed, request.limit_seconds - (self.fixed - self.startup)), 0.0375)
        rounds = round(rounds_seconds / 0.0125)
        int8 = [1_000_000 + int(v) for v in rng.integers(0, 1000, rounds)]
        fp32 = [round(n * self.speedup * (1 + self.noise * rng.standard_normal())) for n in int8]
        extra = self.extra if request.fidelity or request.profile_models else 0.0
        cost = self.fixed + rounds_seconds
        self.now += cost + extra
        return WorkerResult(
            latencies_ns=(tuple(fp32), tuple(int8)), rounds=rounds, rounds_seconds=rounds_seconds, usable_cpus=2,
            other_cpu_seconds=self.other_cpu * rounds_seconds * 2, elapsed_seconds=cost + extra - self.startup,
            extra_seconds=extra, overhead_ns=5000.0 if request.profile_models else 0.0, setup="fake",
        )  # fmt: skip


def row(workers: FakeWorkers, settings: BenchmarkSettings, threshold: float = 1.2, **kw: Any) -> BenchRun:
    run, _ = bench.measure_row(BASE, workers, settings=settings, threshold=threshold, clock=workers.clock, **kw)
    return run


EIGHT = BenchmarkSettings(budget_seconds=8.0, sessions=3, target_halfwidth=0.02)


def test_a_result_far_from_the_threshold_stops_clear_after_the_minimum_and_is_not_confirmed() -> None:
    workers = FakeWorkers(speedup=0.2)
    run = row(workers, EIGHT)
    assert run.call is Call.SLOWER and run.stopped_by is StopReason.CLEAR and not run.confirmed
    assert run.sessions == 3 and run.seconds == 3.0  # three workers of 1 s in an 8 s budget
    assert run.confirmation == "confirmation not needed: the interval is clear of the threshold by more than 10%"


def test_a_narrow_result_near_the_threshold_is_confirmed_by_the_minimum_of_new_sessions() -> None:
    workers = FakeWorkers(speedup=1.25)  # 4% above 1.2: inside the 10% near zone
    run = row(workers, EIGHT)
    assert run.confirmed and run.sessions == 6 and run.stopped_by is StopReason.TARGET
    assert run.call is Call.FASTER and run.seconds == 6.0
    assert run.confirmation.startswith("confirmed: first result 1.25× (") and "within 10% of the threshold" in run.confirmation


def test_no_confirmation_for_a_pair_already_failed_or_when_the_policy_says_no() -> None:
    refused = row(FakeWorkers(speedup=1.15), EIGHT, refused="the pair already failed: not really quantized")
    assert not refused.confirmed and refused.sessions == 3 and refused.call is Call.SLOWER
    assert refused.confirmation == "confirmation skipped: the pair already failed: not really quantized"
    off = row(FakeWorkers(speedup=1.15), BenchmarkSettings(budget_seconds=8.0, confirm=False))
    assert not off.confirmed and off.confirmation == "confirmation skipped: turned off by the policy"


def test_a_doubt_widens_the_near_zone_so_a_busy_machine_gets_its_result_confirmed() -> None:
    quiet = row(FakeWorkers(speedup=1.45), EIGHT)  # 21% above: clear of the 10% zone
    assert quiet.stopped_by is StopReason.CLEAR and not quiet.confirmed
    busy = row(FakeWorkers(speedup=1.45, other_cpu=0.5), EIGHT)  # other processes used half the CPUs
    assert "other-load" in {f.code for f in busy.findings}
    assert busy.confirmed and "within 25% of the threshold" in busy.confirmation


def test_the_row_never_starts_an_optional_worker_it_cannot_finish_within_the_budget() -> None:
    # A wide interval near the threshold: no rule stops it, so sessions are added while they fit.
    workers = FakeWorkers(speedup=1.0, noise=0.3, cost=0.7)
    run = row(workers, BenchmarkSettings(budget_seconds=8.0, confirm=False), threshold=1.0)
    assert run.stopped_by is StopReason.BUDGET and "budget-cut" in {f.code for f in run.findings}
    # An ordinary worker is planned at 0.2 s outside its rounds plus its slice of 8 / 9 s.
    assert run.seconds <= 8.0 and run.seconds + 0.2 + 8 / 9 > 8.0 and run.sessions == 10
    assert "over-budget" not in {f.code for f in run.findings}


def test_the_confirmation_gets_room_kept_for_it_and_fits_the_same_budget() -> None:
    workers = FakeWorkers(speedup=1.0, noise=0.3, cost=0.7)
    run = row(workers, EIGHT, threshold=1.0)
    assert run.confirmed and run.seconds <= 8.0 and run.sessions == 10
    limits = [r.limit_seconds for r in workers.requests]
    # The first phase stopped adding sessions while three ordinary ones still fitted; the three of the
    # confirmation share what is left.
    assert limits[6] == pytest.approx((8.0 - 4.2) / 3 - 0.1)


def test_worker_limits_share_the_time_left_and_the_first_worker_may_spend_on_the_pair_work() -> None:
    workers = FakeWorkers(speedup=0.2, cost=1.0, extra=2.0)
    first = bench.FirstWorker(fidelity=True, profile_models=(0, 1), outputs_dir="/tmp/x")
    run = row(workers, EIGHT, first=first)
    limits = [r.limit_seconds for r in workers.requests]
    # First worker: half the budget over three sessions, less the start-up guess, plus the profile's 15%.
    assert limits[0] == pytest.approx(8 * 0.5 / 3 - bench.STARTUP_GUESS + 0.15 * 8)
    # The second: the first phase's end moved by the 2 s of pair work (3 s at t=3), start-up measured as 0.1 s.
    assert limits[1] == pytest.approx((2 + 0.5 * 6 - 3) / 2 - 0.1)
    assert [r.fidelity for r in workers.requests] == [True, False, False]
    assert run.harness_overhead_ms == 0.005 and run.seconds == 5.0


def test_a_minimum_that_does_not_fit_is_measured_anyway_and_says_what_budget_it_needs() -> None:
    workers = FakeWorkers(speedup=0.2, cost=2.5, fixed=2.4625)  # sessions and warm-up alone take 2.46 s
    run = row(workers, BenchmarkSettings(budget_seconds=4.0))
    assert run.sessions == 3 and run.seconds == 7.5
    over = [f for f in run.findings if f.code == "over-budget"]
    assert over and over[0].evidence.startswith("7.5 s for a 4 s budget, 3 sessions")
    assert "Raise benchmark.budget_seconds to 8 s or more" in over[0].fix


def test_the_run_deadline_cuts_the_row_budget() -> None:
    workers = FakeWorkers(speedup=1.0, noise=0.3, cost=0.5)
    deadline = Deadline(3.0, workers.clock, 3.0, "limits.max_run_seconds")
    run = row(workers, BenchmarkSettings(budget_seconds=8.0, confirm=False), threshold=1.0, deadline=deadline)
    assert run.budget_seconds == 3.0 and run.seconds <= 3.0
    assert run.stopped_by is StopReason.DEADLINE and run.not_measured is None  # the deadline, not the budget


def test_a_row_that_starts_after_the_deadline_is_not_measured_and_runs_no_worker() -> None:
    workers = FakeWorkers(speedup=2.0, now=5.0)
    run = row(workers, EIGHT, deadline=Deadline(3.0, workers.clock, 3.0, "limits.max_run_seconds"))
    assert run.not_measured == "the run's deadline (3 s, limits.max_run_seconds) had passed"
    assert run.error is None and run.sessions == 0 and not workers.requests


def test_a_failed_worker_fails_the_row_with_its_cause() -> None:
    calls: list[WorkerRequest] = []

    def crashing(request: WorkerRequest) -> str:
        calls.append(request)
        return "worker crashed with SIGSEGV"

    run, first = bench.measure_row(BASE, crashing, settings=EIGHT, threshold=1.2, clock=lambda: 0.0)
    assert run.error == "worker crashed with SIGSEGV" and first is None and run.speedup is None and len(calls) == 1
