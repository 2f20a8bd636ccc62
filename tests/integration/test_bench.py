"""Row measurement: budget and stopping exact under a fake clock, failures as rows, a clean worker env."""

from __future__ import annotations

import re
import sys
from typing import Any

from int8gate.deadline import Deadline
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.stats import Call, StopReason
from int8gate.policy.spec import BenchmarkSettings
from int8gate.runtime.bench import WorkerLauncher, measure_pair
from int8gate.runtime.protocol import WorkerRequest, WorkerResult

FAST = BenchmarkSettings(warmup_runs=1, budget_seconds=1.0, sessions=2, timeout_seconds=60, confirm=False)


class StepClock:
    """A clock that moves ``step`` seconds each time it is read, whatever the real time is."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


def inputs(zoo: Any) -> tuple[ResolvedInput, ...]:
    return (ResolvedInput(zoo.conv_input.name, tuple(zoo.conv_input.shape), "float32"),)


def test_row_has_every_field_coherent(zoo: Any) -> None:
    run = measure_pair(zoo.conv_fp32, zoo.conv_qdq, inputs=inputs(zoo), threads=1, settings=FAST, threshold=0.01)
    assert run.error is None, run.error
    assert run.fp32 is not None and run.int8 is not None and run.speedup is not None
    assert run.intra_op_threads == 1 and run.sessions >= 2 and len(run.session_speedups) == run.sessions
    assert run.fp32.n == run.int8.n >= run.rounds >= 2 * 5  # at least 5 rounds per session
    assert run.speedup.ci_low <= run.speedup.estimate <= run.speedup.ci_high
    assert run.call is Call.FASTER  # any positive speedup beats 0.01× with room to spare
    assert run.stopped_by in (StopReason.TARGET, StopReason.BUDGET)
    assert not run.confirmed and run.harness_overhead_ms > 0
    assert "global intra-op pool of 1 thread" in run.setup


def test_budget_stops_before_the_next_session_would_overrun(zoo: Any) -> None:
    # Reads: start 0, phase start .125; sessions cost .125 each (.25-.375, .5-.625); check at .75:
    # .625 spent + .125 expected <= 1 -> third session (.875-1.0); check at 1.125: 1.0 + .125 > 1.
    settings = BenchmarkSettings(warmup_runs=1, budget_seconds=1.0, sessions=2, target_halfwidth=0.0, confirm=False)
    run = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings, threshold=1.0,
        clock=StepClock(0.125),
    )  # fmt: skip
    assert run.error is None
    assert run.sessions == 3 and run.stopped_by is StopReason.BUDGET
    assert run.seconds == 1.25
    assert "budget-cut" in {f.code for f in run.findings}


class ScriptedClock:
    """A clock that answers the given readings in turn, then repeats the last one."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_the_run_deadline_cuts_a_row_short_and_keeps_its_sessions(zoo: Any) -> None:
    # The deadline's clock reads 0 before the first session (50 s left for its worker), then 100.
    settings = BenchmarkSettings(warmup_runs=1, budget_seconds=10.0, sessions=2, target_halfwidth=0.0, confirm=False)
    run = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings, threshold=1.0,
        deadline=Deadline(50.0, ScriptedClock(0.0, 0.0, 100.0), 50.0, "test"),
    )  # fmt: skip
    assert run.error is None and run.not_measured is None
    assert run.sessions == 1 and run.stopped_by is StopReason.DEADLINE
    assert "deadline-cut" in {f.code for f in run.findings}


def test_a_row_whose_first_worker_the_deadline_stops_is_not_measured_not_failed(zoo: Any) -> None:
    # No time is left when the first worker starts: it is stopped at once, and the row is not failed.
    run = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=FAST, threshold=1.0,
        deadline=Deadline(50.0, ScriptedClock(0.0, 50.0), 50.0, "test"),
    )  # fmt: skip
    assert run.error is None and run.sessions == 0 and run.speedup is None
    assert run.not_measured == "the run's deadline (50 s, test) had passed"


def test_target_stops_right_after_the_minimum_sessions(zoo: Any) -> None:
    settings = BenchmarkSettings(warmup_runs=1, budget_seconds=0.6, sessions=2, target_halfwidth=10.0, confirm=False)
    run = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings, threshold=1.0,
        clock=StepClock(1.0),
    )  # fmt: skip
    assert run.sessions == 2 and run.stopped_by is StopReason.TARGET
    assert "budget-cut" not in {f.code for f in run.findings}


def test_slower_is_confirmed_on_pooled_sessions(zoo: Any) -> None:
    # First phase as in the budget test stops at 2 sessions with a budget of .5; the confirmation
    # gets twice that (1.0) and, reading the same clock, adds three more before it would overrun.
    settings = BenchmarkSettings(warmup_runs=1, budget_seconds=0.5, sessions=2, target_halfwidth=0.0)
    run = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings, threshold=1000.0,
        clock=StepClock(0.125),
    )  # fmt: skip
    assert run.confirmed and run.call is Call.SLOWER
    assert run.sessions == 2 + 3 and len(run.session_speedups) == 5
    unconfirmed = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1,
        settings=BenchmarkSettings(warmup_runs=1, budget_seconds=0.5, sessions=2, target_halfwidth=0.0, confirm=False),
        threshold=1000.0, clock=StepClock(0.125),
    )  # fmt: skip
    assert not unconfirmed.confirmed and unconfirmed.sessions == 2


def test_failures_become_rows_with_causes_and_others_are_measured(zoo: Any) -> None:
    short = BenchmarkSettings(warmup_runs=1, budget_seconds=0.5, sessions=2, timeout_seconds=3.0, confirm=False)
    rows = {
        "crash": measure_pair(zoo.fails_at_run, zoo.fails_at_run, threads=1, settings=short, threshold=1.0),
        "hang": measure_pair(zoo.hangs, zoo.hangs, threads=1, settings=short, threshold=1.0),
        "signal": measure_pair(
            zoo.conv_fp32, zoo.conv_qdq, threads=1, settings=short, threshold=1.0,
            worker_command=[sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
        ),
        "good": measure_pair(zoo.conv_fp32, zoo.conv_qdq, inputs=inputs(zoo), threads=1, settings=short, threshold=1.0),
    }  # fmt: skip
    assert rows["crash"].error is not None and rows["crash"].error.startswith("run: ")
    assert rows["hang"].error == "worker hung: no result within the 3 s limit; stopped"
    assert rows["signal"].error == "worker crashed with SIGSEGV"
    for name in ("crash", "hang", "signal"):
        failed = rows[name]
        assert failed.speedup is None and failed.call is None and failed.fp32 is None and failed.sessions == 0
    assert rows["good"].error is None and rows["good"].speedup is not None


def test_the_launcher_reads_a_result_or_names_the_cause() -> None:
    def run(script: str) -> WorkerResult | str:
        command = (sys.executable, "-c", "import sys; sys.stdin.read()\n" + script)
        return WorkerLauncher({}, timeout_seconds=30, command=command).run(WorkerRequest("measure", "a", "b", 1))

    ok = run(f"print({WorkerResult(fp32_ns=(5,), int8_ns=(4,)).to_json()!r})")
    assert isinstance(ok, WorkerResult) and ok.fp32_ns == (5,)
    unreadable = run("print('not json')")
    assert isinstance(unreadable, str) and unreadable.startswith("worker wrote an unreadable result")
    assert run("import json; print(json.dumps({'error': 'load m.onnx: bad'})); sys.exit(3)") == "load m.onnx: bad"
    oom = run("raise MemoryError")
    assert isinstance(oom, str)
    assert re.fullmatch(r"worker ran out of memory \(its limit: [\d.]+ GiB of address space\): MemoryError", oom)
    assert run("sys.exit('boom')") == "worker failed (exit 1): boom"


def test_worker_process_sees_no_token() -> None:
    show_env = "import json, os, sys; sys.stdin.read(); print(json.dumps({'error': ' '.join(sorted(os.environ))})); sys.exit(3)"
    launcher = WorkerLauncher(
        {"PATH": "/usr/bin", "GITHUB_TOKEN": "ghp_secret", "INPUT_TOKEN": "x"},
        timeout_seconds=30,
        command=(sys.executable, "-c", show_env),
    )
    names = launcher.run(WorkerRequest("measure", "a", "b", 1))
    assert isinstance(names, str)
    assert "PATH" in names.split() and "GITHUB_TOKEN" not in names and "INPUT_TOKEN" not in names


