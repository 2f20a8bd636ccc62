"""The run's limits before anything is measured: the cap on rows (pairs × thread settings) and the deadline."""

from __future__ import annotations

import pytest

from int8gate.commands.check import run_deadline
from int8gate.errors import PolicyError
from int8gate.policy.load import parse_policy

PAIRS = "".join(f"  - {{name: m{i}, fp32: a.onnx, int8: b.onnx}}\n" for i in range(3))


def clock() -> float:
    return 50.0


def test_more_rows_than_the_cap_are_refused_naming_the_key() -> None:
    policy = parse_policy("models:\n" + PAIRS + "limits:\n  max_rows: 5\n", ".int8gate.yml")
    with pytest.raises(PolicyError) as caught:
        run_deadline(policy, pairs=3, rows=6, started_at=0.0, clock=clock)
    assert str(caught.value) == (
        ".int8gate.yml:6: limits.max_rows: 3 model pair(s) × 2 thread setting(s) = 6 rows, over the limit of 5 "
        "(limits.max_rows); raise it or split the policy"
    )


def test_the_default_cap_points_at_the_models() -> None:
    many = "".join(f"  - {{name: m{i}, fp32: a.onnx, int8: b.onnx}}\n" for i in range(65))
    policy = parse_policy("models:\n" + many, ".int8gate.yml")
    with pytest.raises(PolicyError, match=r"^\.int8gate\.yml:1: models: 65 model pair\(s\) × 1 thread setting\(s\)"):
        run_deadline(policy, pairs=65, rows=65, started_at=0.0, clock=clock)


def test_the_deadline_is_the_policy_s_or_derived_from_the_budgets() -> None:
    policy = parse_policy("models:\n" + PAIRS + "limits:\n  max_run_seconds: 90\n", ".int8gate.yml")
    deadline = run_deadline(policy, pairs=3, rows=3, started_at=10.0, clock=clock)
    assert (deadline.at, deadline.seconds, deadline.source) == (100.0, 90.0, "limits.max_run_seconds")
    derived = run_deadline(parse_policy("models:\n" + PAIRS, "p"), pairs=3, rows=6, started_at=0.0, clock=clock)
    assert derived.seconds == 6 * 10.0 * 3 * 1.5 + 3 * 60.0
    assert derived.source == "default from the budgets; set limits.max_run_seconds"
