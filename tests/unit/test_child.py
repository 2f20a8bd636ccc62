"""Child processes for model steps: how a crash, a hang, an out-of-memory or a failure becomes one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from int8gate.runtime.child import (
    ChildError,
    ChildLimits,
    child_env,
    child_memory_limit,
    describe_failure,
    module_command,
    run_child,
)
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


def test_a_hung_child_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"  # a git fetch and its helpers: the child starts a process and waits
    script = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
              "time.sleep(60)']); open(sys.argv[1], 'w').write(str(p.pid)); time.sleep(60)")  # fmt: skip
    with pytest.raises(ChildError, match=r"^hung"):
        run_child((sys.executable, "-c", script, str(pid_file)), "", env={}, timeout=1.5)
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # killed at once; reaped by whoever adopted it
        if _gone(grandchild):
            break
        time.sleep(0.05)
    assert _gone(grandchild)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


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


def test_a_child_gets_a_private_home_and_temp_folder_and_no_telemetry(tmp_path: Path) -> None:
    script = "import json, os; print(json.dumps({k: os.environ.get(k) for k in ('HOME', 'TMPDIR', 'ORT_DISABLE_TELEMETRY')}))"
    seen = json.loads(run_child((sys.executable, "-c", script), "", env={"HOME": "/root", "TMPDIR": "/tmp"}, timeout=60))
    assert seen["HOME"] == seen["TMPDIR"] and Path(seen["HOME"]).name.startswith("int8gate-child-")
    assert Path(seen["HOME"]).parent == Path(tempfile.gettempdir())
    assert not Path(seen["HOME"]).exists()  # removed with whatever the child left in it
    assert seen["ORT_DISABLE_TELEMETRY"] == "1"


def test_a_child_has_an_address_space_limit_and_running_into_it_is_a_clear_cause() -> None:
    show = "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CORE)[0])"
    limits = ChildLimits(memory_bytes=512 << 20)
    assert run_child((sys.executable, "-c", show), "", env={}, timeout=60, limits=limits).split() == [str(512 << 20), "0"]
    grab = "b = bytearray(1 << 30)"
    with pytest.raises(ChildError, match=r"^ran out of memory \(its limit: 0\.5 GiB of address space\): MemoryError"):
        run_child((sys.executable, "-c", grab), "", env={}, timeout=60, limits=limits)


def test_the_default_limit_is_three_quarters_of_the_job_s_memory() -> None:
    assert child_memory_limit(8 << 30) == 6 << 30
    assert child_memory_limit(1 << 30) == 1 << 30  # never below 1 GiB
    assert child_memory_limit(None) is None  # unknown memory: no limit rather than a guess


def test_a_child_dies_with_the_gate(tmp_path: Path) -> None:
    # A stand-in gate starts a child that would sleep for a minute, then is killed with SIGKILL
    # (no chance to clean up): the kernel must take the child with it.
    pid_file = tmp_path / "child.pid"
    sleeper = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    gate = tmp_path / "gate.py"
    gate.write_text(
        "import sys\nfrom int8gate.runtime.child import run_child\n"
        f"run_child((sys.executable, '-c', {sleeper!r}), '', env={{}}, timeout=120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(gate)], env={**os.environ, "TMPDIR": str(tmp_path)})  # its leftovers
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        survived = _alive(child)
        if survived:
            os.kill(child, signal.SIGKILL)
        assert not survived, "the child outlived the gate"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped by its new parent, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
