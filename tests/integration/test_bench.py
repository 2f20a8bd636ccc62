"""Rows measured by real workers: one worker per pair does fidelity, timing and the profile; failures become rows.

The rules themselves (stop, confirm, budget, limits) are exact under a fake clock in tests/unit/test_row.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from int8gate.deadline import Deadline
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.stats import Call, StopReason
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.bench import ProfileCache, WorkerLauncher, measure_models, measure_pair
from int8gate.runtime.protocol import WorkerRequest, WorkerResult

FAST = BenchmarkSettings(warmup_runs=1, budget_seconds=1.5, sessions=2, timeout_seconds=60, confirm=False)


def inputs(zoo: Any) -> tuple[ResolvedInput, ...]:
    return (ResolvedInput(zoo.conv_input.name, tuple(zoo.conv_input.shape), "float32"),)


def logging_worker(log: Path) -> list[str]:
    """A worker command that appends each request to ``log``, then serves it as the real worker does."""
    script = (
        "import sys; from int8gate.runtime.worker import serve\n"
        "text = sys.stdin.read()\n"
        f"open({str(log)!r}, 'a').write(text + '\\n')\n"
        "code, line = serve(text); print(line); sys.exit(code)"
    )
    return [sys.executable, "-c", script]


def requests(log: Path) -> list[WorkerRequest]:
    return [WorkerRequest.from_json(line) for line in log.read_text().splitlines()]


def test_row_has_every_field_coherent(zoo: Any) -> None:
    run = measure_pair(zoo.conv_fp32, zoo.conv_qdq, inputs=inputs(zoo), threads=1, settings=FAST, threshold=0.01)
    assert run.error is None, run.error
    assert run.fp32 is not None and run.int8 is not None and run.speedup is not None
    assert run.intra_op_threads == 1 and run.sessions == 2 and len(run.session_speedups) == run.sessions
    assert run.fp32.n == run.int8.n >= run.rounds >= 2 * 3  # at least the floor of rounds per session
    assert run.speedup.ci_low <= run.speedup.estimate <= run.speedup.ci_high
    assert run.call is Call.FASTER  # any positive speedup beats 0.01× with room to spare...
    assert run.stopped_by is StopReason.CLEAR  # ...so the row stops right after its minimum of sessions
    assert not run.confirmed and run.confirmation.startswith("confirmation not needed: the interval is clear")
    assert run.harness_overhead_ms > 0 and run.budget_seconds == 1.5
    assert "global intra-op pool of 1 thread" in run.setup


def test_one_worker_per_pair_does_fidelity_timing_and_profile_and_later_rows_reuse_them(
    zoo: Any, tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    profiles: ProfileCache = {}
    measured = measure_models(
        zoo.conv_fp32, zoo.conv_qdq, threads=(1, 2), inputs=inputs(zoo), settings=FAST, threshold=1.0,
        requirement=FidelityRequirement(), worker_command=logging_worker(log), profiles=profiles,
    )  # fmt: skip
    assert [run.intra_op_threads for run in measured.runs] == [1, 2]
    assert all(run.error is None for run in measured.runs)
    assert measured.fidelity is not None and measured.fidelity.passed and measured.fidelity.samples == 8
    assert measured.profile is not None and measured.profile.threads == 1 and measured.profile_error is None
    assert {row.op_type for row in measured.profile.rows} >= {"QLinearConv", "Conv"}
    sent = requests(log)
    assert len(sent) == sum(run.sessions for run in measured.runs)
    assert [r.fidelity for r in sent].count(True) == 1 and sent[0].fidelity  # once per pair, first worker
    assert [bool(r.profile_models) for r in sent].count(True) == 1 and sent[0].profile_models == (0, 1)
    first, second = measured.runs
    assert second.harness_overhead_ms == first.harness_overhead_ms > 0  # measured once, reused
    # A second pair with the same FP32 file, inputs and threads: its FP32 profile is not made again.
    log.unlink()
    again = measure_models(
        zoo.conv_fp32, zoo.conv_qoperator, threads=(1,), inputs=inputs(zoo), settings=FAST, threshold=1.0,
        requirement=None, worker_command=logging_worker(log), profiles=profiles,
    )  # fmt: skip
    assert requests(log)[0].profile_models == (1,) and not requests(log)[0].fidelity
    assert again.fidelity is None and again.profile is not None
    assert again.profile.fp32_total_ms == measured.profile.fp32_total_ms


class ScriptedClock:
    """A clock that answers the given readings in turn, then repeats the last one."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_the_run_deadline_cuts_a_row_short_and_keeps_its_sessions(zoo: Any) -> None:
    # The deadline's clock reads 0 while the row starts and its first worker is launched (50 s left),
    # then 100: the second worker is stopped at once, and the row keeps the first session.
    settings = BenchmarkSettings(warmup_runs=1, budget_seconds=10.0, sessions=2, target_halfwidth=0.0, confirm=False)
    run = measure_pair(
        zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings, threshold=1.0,
        deadline=Deadline(50.0, ScriptedClock(0.0, 0.0, 0.0, 100.0), 50.0, "test"),
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


def test_a_result_near_the_threshold_is_confirmed_within_the_budget_unless_the_pair_already_failed(
    zoo: Any, tmp_path: Path
) -> None:
    settings = BenchmarkSettings(warmup_runs=1, budget_seconds=4.0, sessions=2, timeout_seconds=60)
    log = tmp_path / "requests.jsonl"
    near = measure_pair(zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings,
                        threshold=1.0, worker_command=logging_worker(log))  # fmt: skip
    assert near.confirmed and near.confirmation.startswith("confirmed: first result")
    assert near.sessions >= 4 and near.stopped_by is not StopReason.CLEAR
    limits = [r.limit_seconds for r in requests(log)]
    assert all(0 < limit <= 4.0 * 1.15 for limit in limits)  # no worker may take more than the row has
    refused = measure_pair(zoo.conv_fp32, zoo.conv_fp32, inputs=inputs(zoo), threads=1, settings=settings,
                           threshold=1.0, refused="the pair already failed: not really quantized")  # fmt: skip
    assert not refused.confirmed and refused.confirmation == "confirmation skipped: the pair already failed: not really quantized"


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


def test_a_pair_whose_worker_fails_fails_its_fidelity_with_the_same_cause(zoo: Any) -> None:
    measured = measure_models(zoo.fails_at_run, zoo.fails_at_run, threads=(1,), settings=FAST, threshold=1.0,
                              requirement=FidelityRequirement())  # fmt: skip
    cause = measured.runs[0].error
    assert cause is not None and cause.startswith("run: ")
    assert measured.fidelity is not None and not measured.fidelity.passed and measured.fidelity.error == cause
    assert measured.profile is None and measured.profile_error == f"not profiled: {cause}"


def test_the_launcher_reads_a_result_or_names_the_cause() -> None:
    def run(script: str) -> WorkerResult | str:
        command = (sys.executable, "-c", "import sys; sys.stdin.read()\n" + script)
        return WorkerLauncher({}, timeout_seconds=30, command=command).run(WorkerRequest(("a", "b"), 1))

    ok = run(f"print({WorkerResult(latencies_ns=((5,), (4,))).to_json()!r})")
    assert isinstance(ok, WorkerResult) and ok.latencies_ns == ((5,), (4,))
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
    names = launcher.run(WorkerRequest(("a", "b"), 1))
    assert isinstance(names, str)
    assert "PATH" in names.split() and "GITHUB_TOKEN" not in names and "INPUT_TOKEN" not in names
