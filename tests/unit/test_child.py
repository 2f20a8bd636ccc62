"""Child processes for model steps: how a crash, a hang, an out-of-memory or a failure becomes one line."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from int8gate.runtime.child import ChildError, child_env, describe_failure, module_command, run_child
from int8gate.runtime.protocol import error_line


@pytest.mark.parametrize(
    ("returncode", "stdout", "stderr", "expected", "reported"),
    [
        (-signal.SIGSEGV, "", "", "crashed with SIGSEGV", False),
        (-signal.SIGKILL, "", "", "crashed with SIGKILL (out of memory, or killed from outside)", False),
        (1, "", "Traceback...\nMemoryError: cannot allocate\n", "ran out of memory: MemoryError: cannot allocate", False),
        (3, error_line("ONNX Runtime cannot load it: bad graph") + "\n", "warning\n",
         "ONNX Runtime cannot load it: bad graph", True),
        (3, "", "warning\nlast words\n\n", "failed (exit 3): last words", False),
        (2, "", "", "failed (exit 2): no message", False),
    ],
)
def test_a_failed_child_is_described_in_one_line(
    returncode: int, stdout: str, stderr: str, expected: str, reported: bool
) -> None:
    failure = describe_failure(returncode, stdout, stderr)
    assert (str(failure), failure.reported) == (expected, reported)
    assert failure.cause("worker") == (expected if reported else f"worker {expected}")


def test_run_child_returns_stdout_and_raises_with_the_cause() -> None:
    assert "Beautiful is better than ugly." in run_child(module_command("this"), "", env={}, timeout=60)
    with pytest.raises(ChildError, match=r"failed \(exit 1\): .*No module named no_such_module_xyz"):
        run_child(module_command("no_such_module_xyz"), "", env={}, timeout=60)
    with pytest.raises(ChildError, match=r"^hung: no result within the 0.1 s limit; stopped$"):
        run_child((sys.executable, "-c", "import time; time.sleep(30)"), "", env={}, timeout=0.1)


def test_child_env_keeps_thread_knobs_and_drops_secrets() -> None:
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "2",
        "ORT_LOGGING": "1",
        "ORT_API_KEY": "k",
        "GITHUB_TOKEN": "ghp_secret",
        "INPUT_GITHUB-TOKEN": "ghp_secret",
        "ACTIONS_RUNTIME_TOKEN": "t",
        "AWS_SECRET_ACCESS_KEY": "s",
        "PYTHONPATH": "/extra",
    }
    env = child_env(parent)
    assert set(env) == {"PATH", "HOME", "LANG", "OMP_NUM_THREADS", "ORT_LOGGING", "PYTHONPATH"}
    assert env["PYTHONPATH"].endswith(":/extra")
    assert Path(env["PYTHONPATH"].split(":")[0], "int8gate", "runtime", "child.py").is_file()
    assert "ghp_secret" not in json.dumps(env)
