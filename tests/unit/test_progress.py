"""Progress lines: "pair k/n", the thread setting, an estimate of the time left, and ::group:: folding in Actions."""

from __future__ import annotations

import io

from int8gate.commands.progress import ProgressPrinter
from int8gate.report.progress import Plan, Progress, Stage, Step

PLAN = Plan(pairs=2, rows_per_pair=2, budget_seconds=6)


def steps(pair: int) -> list[Step]:
    return [
        Step(pair, 2, f"m{pair}", Stage.INSPECT, detail="m_int8.onnx and m_fp32.onnx"),
        Step(pair, 2, f"m{pair}", Stage.MEASURE, threads=1, row=1),
        Step(pair, 2, f"m{pair}", Stage.MEASURE, threads=4, row=2),
    ]


def test_lines_say_which_pair_which_threads_and_the_time_left() -> None:
    progress = Progress(PLAN)
    # before anything is timed, the promise: the pair allowance 1.5 + rows 2 x 6 = 13.5 s per pair
    assert progress.line(steps(1)[0], now=0.0) == (
        "pair 1/2 m1: inspecting m_int8.onnx and m_fp32.onnx, ~27 s left"
    )
    assert progress.line(steps(1)[1], now=3.0) == "pair 1/2 m1, threads 1: measuring (row 1/2, budget 6 s), ~27 s left"
    # the first row took 10 s: rows now count 10 s each; inspect 3 s
    line = progress.line(steps(1)[2], now=13.0)
    assert line == "pair 1/2 m1, threads 4: measuring (row 2/2, budget 6 s), ~33 s left"  # 10, then 3 + 2 x 10


def test_the_estimate_learns_from_the_first_pair() -> None:
    progress = Progress(PLAN)
    clock = 0.0
    for step, took in zip(steps(1), (1.0, 7.0, 9.0), strict=True):
        progress.line(step, clock)
        clock += took
    assert progress.line(steps(2)[0], clock).endswith("~17 s left")  # exactly what pair 1 took


def test_in_github_actions_each_pair_folds_into_a_group_on_stderr() -> None:
    err = io.StringIO()
    times = iter(range(100))
    printer = ProgressPrinter(PLAN, err, lambda: float(next(times)), actions=True)
    printer.start()
    for step in [*steps(1)[:2], Step(2, 2, "evil\n::error::x", Stage.INSPECT)]:
        printer(step)
    printer.close()
    lines = err.getvalue().splitlines()
    assert lines[0] == "int8gate: 2 model pairs, 2 thread rows each, budget 6 s per row + 1.5 s per pair: at most 27 s expected"
    assert lines[1] == "::group::int8gate: pair 1/2 m1"
    assert lines[2].startswith("int8gate: pair 1/2 m1: inspecting")
    assert lines[4:6] == ["::endgroup::", "::group::int8gate: pair 2/2 evil?::error::x"]
    assert lines[-1] == "::endgroup::" and not any(line.startswith("::error") for line in lines)


def test_outside_actions_there_are_no_workflow_commands() -> None:
    err = io.StringIO()
    printer = ProgressPrinter(PLAN, err, lambda: 0.0)
    printer(steps(1)[0])
    printer.close()
    assert "::" not in err.getvalue()


def test_a_pair_unchanged_against_base_counts_its_inspect_step_only() -> None:
    plan = Plan(pairs=2, rows_per_pair=2, budget_seconds=6, skipped=frozenset({1}))
    assert plan.expected_seconds == 1.5 + 1.5 + 2 * 6  # pair 1: inspected, not benchmarked again
    progress = Progress(plan)
    assert progress.line(steps(1)[0], now=0.0).endswith("~15 s left")
    assert progress.line(steps(2)[0], now=1.0).endswith("~13 s left")  # inspects now count 1 s: 1 + 2 x 6
