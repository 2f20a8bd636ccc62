"""The hostile-input corpus, case by case: each meets its expectation and the common rules (no internal
error, no hang, no process left, no raw workflow command, nothing written outside, no network lookup,
no process above 1.5 GB). ``INT8GATE_CORPUS_RESULTS=FILE`` appends each measured result there as a JSON
line (the figures behind the totals in the report)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.corpus.cases import CASES, Case
from support.corpus.harness import run_case

PARAMS = [pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.slow else []) for case in CASES]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus's models and sample files, built once per session as cases ask for them."""
    return tmp_path_factory.mktemp("hostile-artifacts")


@pytest.mark.parametrize("case", PARAMS)
def test_hostile_case(case: Case, built: Path, tmp_path: Path) -> None:
    result = run_case(case, tmp_path / "run", built)
    sink = os.environ.get("INT8GATE_CORPUS_RESULTS")
    if sink:
        with Path(sink).open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({**result.__dict__, "cls": case.cls, "slow": case.slow}) + "\n")
    assert not result.misses, (
        f"{case.name}: {'; '.join(result.misses)} (exit {result.exit}, {result.outcome}, {result.wall_s:.1f} s, "
        f"{result.peak_mb:.0f} MB; printed: {result.key_line})"
    )
    if case.strace == "full" and not result.traced:
        pytest.skip(f"{case.name} met its expectation, but without strace nothing saw its writes and lookups: "
                    "install strace (.ci/run does)")  # fmt: skip
