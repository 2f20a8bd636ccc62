"""What the parent asks a worker, without running one.

The JSON protocol, block sizes, round order, per-session requests, machine load.
"""

from __future__ import annotations

import itertools
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
    orders = list(itertools.islice(round_orders(2, np.random.default_rng(1)), 101))
    assert all(order in ((0, 1), (1, 0)) for order in orders)
    assert all(orders[i] != orders[i + 1] for i in range(0, 100, 2))  # one of each order per pair of rounds
    assert orders == list(itertools.islice(round_orders(2, np.random.default_rng(1)), 101))
    assert orders != list(itertools.islice(round_orders(2, np.random.default_rng(2)), 101))


def test_round_orders_put_each_of_n_models_in_each_position_once_per_block() -> None:
    orders = list(itertools.islice(round_orders(3, np.random.default_rng(5)), 30))
    for block in range(0, 30, 3):
        rounds = orders[block : block + 3]
        assert all(sorted(order) == [0, 1, 2] for order in rounds)
        for position in range(3):
            assert sorted(order[position] for order in rounds) == [0, 1, 2]


def test_request_and_result_round_trip_as_json() -> None:
    request = WorkerRequest(("a.onnx", "b.onnx", "c.onnx"), 2, inputs=(ResolvedInput("x", (1, 3), "float32"),),
                            profile_models=(1, 2), fidelity=True, outputs_dir="/tmp/x")  # fmt: skip
    assert WorkerRequest.from_json(request.to_json()) == request
    result = WorkerResult(latencies_ns=((1, 2), (3, 4), (5, 6)), first_counts=(1, 0, 1), outputs=("y",), setup="s",
                          profiled=(1,), profile_note="", elapsed_seconds=1.5, extra_seconds=0.5)  # fmt: skip
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


@pytest.mark.parametrize("slice_seconds", [0.3, 3.0])
def test_each_session_rotates_the_creation_order_and_only_the_first_does_the_pair_work(slice_seconds: float) -> None:
    base = WorkerRequest(("a", "b"), 1, seed=4)
    pair_work = bench.FirstWorker(fidelity=True, profile_models=(0, 1), outputs_dir="/tmp/x")
    first = bench._for_session(base, 0, slice_seconds, limit=2.0, first=pair_work, profile_extra=0.5)
    second = bench._for_session(base, 1, slice_seconds, limit=1.0, first=bench.FirstWorker(), profile_extra=0.0)
    assert first.max_seconds == second.max_seconds == slice_seconds
    assert first.rotate == 0 and second.rotate == 1
    assert first.limit_seconds == 2.5 and second.limit_seconds == 1.0  # the profile's allowance on top
    assert first.fidelity and first.profile_models == (0, 1) and first.outputs_dir == "/tmp/x"
    assert not second.fidelity and second.profile_models == () and second.outputs_dir is None
    assert first.order_seed != second.order_seed and first.seed == second.seed
