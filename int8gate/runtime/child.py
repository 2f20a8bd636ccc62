"""Run a step that touches a model in a child process: allow-listed environment, time limit, causes.

Models arrive in pull requests, so anything that hands one to ONNX Runtime (a benchmark session,
the optimized-graph writer, the profiler) runs here: a crash, a hang or an out-of-memory kills the
child, not the gate, and comes back as a one-line cause. The child's environment is an allow-list
(locale, paths, thread knobs), so a token in the parent's environment never reaches a model.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ENV_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP", "PYTHONPATH",
     "PYTHONHASHSEED", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SYSTEMROOT"}
)  # fmt: skip
ENV_PREFIXES = ("OMP_", "ORT_", "MKL_", "KMP_", "OPENBLAS_", "GOMP_")
ENV_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")


class ChildError(Exception):
    """The child crashed, hung or failed; ``str()`` is the one-line cause."""


def child_env(parent: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed environment for a child: locale, paths, thread knobs; never a secret.

    ``PYTHONPATH`` is led by the folder this ``int8gate`` was imported from, so the child runs the
    same code as the parent.
    """
    env = {
        name: value
        for name, value in parent.items()
        if (name in ENV_NAMES or name.startswith(ENV_PREFIXES))
        and not any(word in name.upper() for word in ENV_SECRET_WORDS)
    }
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = here + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def signal_name(number: int) -> str:
    """``9`` → ``SIGKILL``."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_failure(returncode: int, stderr: str) -> str:
    """A failed child's exit as one line: the signal (with the OOM hint for SIGKILL) or its last words."""
    if returncode < 0:
        name = signal_name(-returncode)
        hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        return f"crashed with {name}{hint}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else "no message"
    if "MemoryError" in last or "bad_alloc" in last:
        return f"out of memory: {last[:200]}"
    return f"failed (exit {returncode}): {last[:300]}"


def run_module(module: str, request: str, *, env: Mapping[str, str], timeout: float) -> str:
    """Run ``python -m module`` with ``request`` on stdin; return its stdout or raise ``ChildError``."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", module],
            input=request,
            capture_output=True,
            text=True,
            env=child_env(env),
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise ChildError(f"hang: no result within the {timeout:g} s limit; stopped") from None
    if done.returncode != 0:
        raise ChildError(describe_failure(done.returncode, done.stderr))
    return done.stdout
