"""Head against base in the same rounds: the head/base INT8 time ratio and both speedups from paired
sessions, and the order a worker runs three or four models in."""

from __future__ import annotations

import math
from collections import Counter
from itertools import islice

import numpy as np

from int8gate.measure.sidebyside import SideBySideSession, base_speedup, compare, latency_ratio
from int8gate.measure.stats import Speedup
from int8gate.runtime.rounds import round_orders


def session(seed: int, *, head: float, base: float, fp32: float = 20.0, base_fp32: float | None = None,
            rounds: int = 60, noise: float = 0.02) -> SideBySideSession:  # fmt: skip
    """Latencies in ns around the given medians (ms), with a round-wide factor every model shares."""
    rng = np.random.default_rng(seed)
    shared = np.exp(rng.normal(0.0, 0.05, rounds))  # the machine's speed this round: cancels in a ratio

    def times(ms: float) -> tuple[int, ...]:
        return tuple(int(v) for v in ms * 1e6 * shared * np.exp(rng.normal(0.0, noise, rounds)))

    return SideBySideSession(times(fp32), times(head), times(base), times(base_fp32) if base_fp32 else None)


def test_the_ratio_is_head_over_base_and_its_interval_holds_the_truth() -> None:
    sessions = [session(s, head=6.0, base=9.0) for s in range(4)]
    ratio = latency_ratio(sessions, seed=0)
    assert math.isclose(ratio.estimate, 6.0 / 9.0, rel_tol=0.02)
    assert ratio.ci_low < 6.0 / 9.0 < ratio.ci_high
    assert ratio.halfwidth < 0.03  # the shared round factor cancels: pairing is what makes it narrow


def test_an_a_a_comparison_straddles_one() -> None:
    ratio = latency_ratio([session(s, head=7.0, base=7.0) for s in range(4)], seed=0)
    assert ratio.ci_low < 1.0 < ratio.ci_high


def test_base_speedup_uses_the_base_fp32_when_it_changed_too() -> None:
    same = [session(s, head=5.0, base=10.0) for s in range(3)]
    assert math.isclose(base_speedup(same, seed=0).estimate, 2.0, rel_tol=0.03)  # head FP32 20 ms / base INT8 10 ms
    both = [session(s, head=5.0, base=10.0, base_fp32=30.0) for s in range(3)]
    assert math.isclose(base_speedup(both, seed=0).estimate, 3.0, rel_tol=0.03)


def test_compare_keeps_the_rows_own_speedup_as_the_head_speedup() -> None:
    head = Speedup(4.0, 3.9, 4.1, 0.025)
    row = compare(2, [session(s, head=5.0, base=10.0) for s in range(3)], head, seed=0)
    assert row.intra_op_threads == 2 and row.head_speedup is head and row.error is None


def test_three_models_take_every_position_equally_often() -> None:
    orders = list(islice(round_orders(3, np.random.default_rng(4)), 300))
    assert len(orders) == 300 and all(sorted(o) == [0, 1, 2] for o in orders)
    for position in range(3):
        assert Counter(o[position] for o in orders) == {0: 100, 1: 100, 2: 100}
    assert orders == list(islice(round_orders(3, np.random.default_rng(4)), 300))

