"""What the parent asks a worker, without running one.

The JSON protocol, block sizes, round order, per-session requests, machine load.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from int8gate.inputs.resolved import ResolvedInput
from int8gate.runtime import bench
from int8gate.runtime.protocol import WorkerRequest, WorkerResult
from int8gate.runtime.rounds import block_size, round_orders


def test_block_fills_the_block_time() -> None:
    assert block_size(0, 10.0) == 1  # no warm-up timing: one run per block
    assert block_size(20_000_000, 10.0) == 1  # a 20 ms model: one timed run
    assert block_size(1_000_000, 10.0) == 10
    assert block_size(1_000, 10.0) == 32  # capped


def test_round_orders_balance_every_pair() -> None:
    orders = round_orders(101, np.random.default_rng(1))
    assert len(orders) == 101
    assert all(orders[i] != orders[i + 1] for i in range(0, 100, 2))
    assert orders == round_orders(101, np.random.default_rng(1))
    assert orders != round_orders(101, np.random.default_rng(2))


def test_request_and_result_round_trip_as_json() -> None:
    request = WorkerRequest("measure", "a.onnx", "b.onnx", 2, inputs=(ResolvedInput("x", (1, 3), "float32"),))
    assert WorkerRequest.from_json(request.to_json()) == request
    result = WorkerResult(fp32_ns=(1, 2), int8_ns=(3, 4), outputs=("y",), setup="s")
    assert WorkerResult.from_json(result.to_json()) == result


def test_machine_busy_seconds_reads_proc_stat(tmp_path: Path) -> None:
    from int8gate.runtime.rounds import machine_busy_seconds

    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal: busy = 100+2+30+0+1+7 = 140 ticks (idle/iowait excluded)
    stat.write_text("cpu  100 2 30 5000 40 0 1 7 0 0\ncpu0 50 1 15 2500 20 0 0 3 0 0\n")
    assert machine_busy_seconds(str(stat)) == pytest.approx(140 / tick)
    stat.write_text("intr 1 2 3\n")
    assert machine_busy_seconds(str(stat)) is None
    assert machine_busy_seconds(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("budget", [0.3, 3.0])
def test_slices_shrink_with_the_budget(budget: float) -> None:
    base = WorkerRequest("measure", "a", "b", 1, seed=4)
    first = bench._for_session(base, 0, budget)
    second = bench._for_session(base, 1, budget)
    assert first.max_seconds == budget and first.fp32_first and not second.fp32_first
    assert first.overhead_runs > 0 and second.overhead_runs == 0
    assert first.order_seed != second.order_seed and first.seed == second.seed
