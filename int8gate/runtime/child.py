"""The one launcher of child processes: allow-listed environment, time limit, one-line causes.

Models arrive in pull requests, so anything that hands one to ONNX Runtime (a benchmark worker,
the optimized-graph writer, the profiler) runs in a child: a crash, a hang or an out-of-memory
kills the child, not the gate, and comes back as a one-line cause. The child's environment is an
allow-list (locale, paths, thread knobs), so a token in the parent's environment never reaches a
model. A child runs no file from the repository under test: it starts in a private, empty working
folder and, on Python 3.11+, with ``-P`` (no working folder on the import path), so a ``numpy.py``
or an ``int8gate/`` package in the workspace is never imported in its place (paths in requests are
absolute). The protocol (``protocol``): one request on stdin, the answer on stdout; a child that
knows why it failed prints ``error_line(message)`` and exits ``REPORTED_EXIT``, and that message is
the cause as it is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

ENV_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP", "PYTHONPATH",
     "PYTHONHASHSEED", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SYSTEMROOT"}
)  # fmt: skip
ENV_PREFIXES = ("OMP_", "ORT_", "MKL_", "KMP_", "OPENBLAS_", "GOMP_")
ENV_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")


class ChildError(Exception):
    """The child crashed, hung or failed; ``str()`` is the one-line cause.

    ``reported`` is True when the cause is the child's own words (``error_line``); otherwise it
    describes what happened to the child ("crashed with SIGSEGV") and reads after a subject
    ("worker crashed with SIGSEGV").
    """

    def __init__(self, cause: str, *, reported: bool = False) -> None:
        super().__init__(cause)
        self.reported = reported

    def cause(self, subject: str) -> str:
        """The cause as a sentence about ``subject`` (the child's own words stand alone)."""
        return str(self) if self.reported else f"{subject} {self}"


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
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


SAFE_PATH = ("-P",) if sys.version_info >= (3, 11) else ()
"""``-P``: the working folder is not put first on the import path (3.11+; the private folder covers 3.10)."""


def module_command(module: str) -> tuple[str, ...]:
    """How a child module is started: this Python, ``-P -m module``."""
    return (sys.executable, *SAFE_PATH, "-m", module)


def signal_name(number: int) -> str:
    """``9`` → ``SIGKILL``."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_failure(returncode: int, stdout: str, stderr: str) -> ChildError:
    """A failed child as one line: a signal (with the OOM hint for SIGKILL), its own error line,
    running out of memory, or its last words on stderr."""
    if returncode < 0:
        name = signal_name(-returncode)
        hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        return ChildError(f"crashed with {name}{hint}")
    reported = _reported(stdout)
    if reported is not None:
        return ChildError(reported, reported=True)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else "no message"
    if "MemoryError" in stderr or "bad_alloc" in stderr:
        return ChildError(f"ran out of memory: {last[:200]}")
    return ChildError(f"failed (exit {returncode}): {last[:300]}")


def _reported(stdout: str) -> str | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith('{"error"'):
        return None
    try:
        return str(json.loads(lines[-1])["error"])
    except (ValueError, KeyError, TypeError):
        return None


def run_child(command: Sequence[str], request: str, *, env: Mapping[str, str], timeout: float) -> str:
    """Run ``command`` with ``request`` on stdin and the allow-listed part of ``env``; its stdout.

    Raises ``ChildError`` when the child fails, is killed, or is still running after ``timeout`` s
    (it is stopped, with its process group). The child's working folder is a fresh empty one, never
    the caller's (the caller may be standing in a pull request's checkout).
    """
    try:
        with tempfile.TemporaryDirectory(prefix="int8gate-child-") as private:
            done = subprocess.run(
                list(command),
                input=request,
                capture_output=True,
                text=True,
                env=child_env(env),
                cwd=private,
                timeout=timeout,
                check=False,
                start_new_session=True,
            )
    except subprocess.TimeoutExpired:
        raise ChildError(f"hung: no result within the {timeout:g} s limit; stopped") from None
    if done.returncode != 0:
        raise describe_failure(done.returncode, done.stdout, done.stderr)
    return done.stdout
