"""Child processes for model steps: how a crash, an out-of-memory or a failure becomes one line."""

from __future__ import annotations

import signal

import pytest

from int8gate.runtime.child import ChildError, describe_failure, run_module


@pytest.mark.parametrize(
    ("returncode", "stderr", "expected"),
    [
        (-signal.SIGSEGV, "", "crashed with SIGSEGV"),
        (-signal.SIGKILL, "", "crashed with SIGKILL (out of memory, or killed from outside)"),
        (1, "Traceback...\nMemoryError: cannot allocate\n", "out of memory: MemoryError: cannot allocate"),
        (3, "warning\nONNX Runtime cannot load it: bad graph\n\n", "failed (exit 3): ONNX Runtime cannot load it: bad graph"),
        (2, "", "failed (exit 2): no message"),
    ],
)
def test_a_failed_child_is_described_in_one_line(returncode: int, stderr: str, expected: str) -> None:
    assert describe_failure(returncode, stderr) == expected


def test_run_module_returns_stdout_and_raises_with_the_cause() -> None:
    assert "Beautiful is better than ugly." in run_module("this", "", env={}, timeout=60)
    with pytest.raises(ChildError, match=r"failed \(exit 1\): .*No module named no_such_module_xyz"):
        run_module("no_such_module_xyz", "", env={}, timeout=60)
