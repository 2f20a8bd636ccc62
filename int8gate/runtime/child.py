"""The one launcher of child processes: allow-listed environment, limits, one-line causes.

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

Every child is bounded (``ChildLimits``):
- time: stopped after ``timeout`` seconds (the caller passes the policy's, within the run's deadline);
- memory: an address-space limit (``RLIMIT_AS``), by default 75% of the memory this job may use
  (``child_memory_limit``), so a model that allocates without end fails its own row with "out of
  memory" instead of waking the kernel's out-of-memory killer; no core dumps;
- lifetime: the kernel kills it when the gate dies (``PR_SET_PDEATHSIG``), so cancelling the gate
  (SIGTERM, SIGKILL) leaves no worker spinning on a looping model;
- files: its own empty ``HOME`` and ``TMPDIR`` (a folder in the gate's temporary folder, removed
  afterwards) and ONNX Runtime's telemetry off (``ORT_DISABLE_TELEMETRY=1``), so nothing it writes
  lands outside the workspace and the temporary folder.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from int8gate.machine.probe import probe_memory_bytes

ENV_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP", "PYTHONPATH",
     "PYTHONHASHSEED", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SYSTEMROOT"}
)  # fmt: skip
ENV_PREFIXES = ("OMP_", "ORT_", "MKL_", "KMP_", "OPENBLAS_", "GOMP_")
ENV_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")
TELEMETRY_OFF = {"ORT_DISABLE_TELEMETRY": "1"}
"""ONNX Runtime's switch for its telemetry (POSIX builds: no device id, no offline store, no upload);
it must be set before ONNX Runtime initialises, so every child gets it in its environment."""
CHILD_MEMORY_SHARE = 0.75
"""A child's address space may be this share of the memory the job may use (the gate itself stays small)."""
MIN_CHILD_MEMORY = 1 << 30
PR_SET_PDEATHSIG = 1


def _resource_module() -> ModuleType | None:
    """``resource`` where the OS has it (POSIX); ``None`` on Windows, where children get no limits."""
    try:
        return importlib.import_module("resource")
    except ImportError:
        return None


_RESOURCE = _resource_module()


@dataclass(frozen=True)
class ChildLimits:
    """What bounds a child besides its time limit: its address space in bytes (``None``: no limit)."""

    memory_bytes: int | None


def child_memory_limit(job_memory_bytes: int | None) -> int | None:
    """A child's address-space limit: 75% of the job's memory, at least 1 GiB; ``None`` when unknown."""
    if job_memory_bytes is None:
        return None
    return max(MIN_CHILD_MEMORY, int(job_memory_bytes * CHILD_MEMORY_SHARE))


@functools.cache
def default_limits() -> ChildLimits:
    """The limits derived from this machine (read once per process)."""
    return ChildLimits(child_memory_limit(probe_memory_bytes()))


class ChildError(Exception):
    """The child crashed, hung or failed; ``str()`` is the one-line cause.

    ``reported`` is True when the cause is the child's own words (``error_line``); otherwise it
    describes what happened to the child ("crashed with SIGSEGV") and reads after a subject
    ("worker crashed with SIGSEGV"). ``hung``: it was stopped at its time limit.
    """

    def __init__(self, cause: str, *, reported: bool = False, hung: bool = False) -> None:
        super().__init__(cause)
        self.reported = reported
        self.hung = hung

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


def describe_failure(returncode: int, stdout: str, stderr: str, *, memory_bytes: int | None = None) -> ChildError:
    """A failed child as one line: a signal (with the OOM hint for SIGKILL), its own error line,
    running out of memory (with its limit, when it had one), or its last words on stderr."""
    limit = f" (its limit: {memory_bytes / 2**30:.1f} GiB of address space)" if memory_bytes else ""
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
        return ChildError(f"ran out of memory{limit}: {last[:200]}")
    return ChildError(f"failed (exit {returncode}): {last[:300]}")


def _reported(stdout: str) -> str | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith('{"error"'):
        return None
    try:
        return str(json.loads(lines[-1])["error"])
    except (ValueError, KeyError, TypeError):
        return None


def run_child(
    command: Sequence[str],
    request: str,
    *,
    env: Mapping[str, str],
    timeout: float,
    limits: ChildLimits | None = None,
) -> str:
    """Run ``command`` with ``request`` on stdin and the allow-listed part of ``env``; its stdout.

    The child gets a private ``HOME``/``TMPDIR`` (also its working folder: a fresh empty one, never the
    caller's, who may be standing in a pull request's checkout), telemetry off, ``limits`` (default:
    derived from this machine) and dies with the gate. Raises ``ChildError`` when the child fails, is
    killed, or is still running after ``timeout`` s (it is stopped).
    """
    bounds = default_limits() if limits is None else limits
    with tempfile.TemporaryDirectory(prefix="int8gate-child-") as private:
        environment = {**child_env(env), **private_env(private), **TELEMETRY_OFF}
        done = _run_group(
            command, request, timeout,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
            cwd=private,
            # safe: the gate starts children from one thread; POSIX only (Windows has no fork)
            preexec_fn=_bound(bounds, os.getpid()) if _RESOURCE is not None else None,
        )  # fmt: skip
    if done.returncode != 0:
        raise describe_failure(done.returncode, done.stdout, done.stderr, memory_bytes=bounds.memory_bytes)
    return str(done.stdout)


def _run_group(
    command: Sequence[str], data: str | None, timeout: float, **popen: Any
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` in a session of its own, except that a timeout (or the gate unwinding) kills the
    child's whole process group, not just the child: what it started (``git fetch``'s helpers) goes too.
    Raises ``ChildError`` (hung) at the time limit."""
    # start_new_session: a terminal's Ctrl-C reaches the gate, which stops its children itself
    with subprocess.Popen(list(command), start_new_session=True, **popen) as process:
        try:
            stdout, stderr = process.communicate(data, timeout=timeout)
        except BaseException as exc:
            _kill_group(process)
            process.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise ChildError(f"hung: no result within the {timeout:g} s limit; stopped", hung=True) from None
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[Any]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)  # its session's group: the child and what it started
        else:
            process.kill()
    except ProcessLookupError:
        pass


def private_env(folder: str) -> dict[str, str]:
    """A child's own home and temporary folder (where ONNX Runtime or a library may write)."""
    return {"HOME": folder, "TMPDIR": folder, "TMP": folder, "TEMP": folder}


def _bound(limits: ChildLimits, parent: int) -> Callable[[], None]:
    """What runs in the child between fork and exec: the address-space limit, no core files, and
    death with the parent (checked after arming it, in case the parent died in between)."""

    resource = _RESOURCE
    assert resource is not None

    def apply() -> None:
        if limits.memory_bytes is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            wanted = limits.memory_bytes if hard == resource.RLIM_INFINITY else min(limits.memory_bytes, hard)
            resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sys.platform == "linux":
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    return apply
def run_child_to_file(
    command: Sequence[str], destination: Path, *, env: Mapping[str, str], timeout: float
) -> None:
    """Run ``command`` (nothing on stdin) with its stdout written to ``destination`` as bytes.

    For children whose output is a file's content (``git cat-file blob``): it streams to disk, never
    through memory or a text decoder. Like ``run_child``: a private home, temporary and working folder,
    and death with the gate (no address-space limit: git's blob is on disk, not in memory). Failures
    raise ``ChildError`` as ``run_child`` does.
    """
    with tempfile.TemporaryDirectory(prefix="int8gate-child-") as private, destination.open("wb") as sink:
        done = _run_group(
            command, None, timeout,
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.PIPE,
            env={**child_env(env), **private_env(private)}, cwd=private,
            preexec_fn=_bound(ChildLimits(None), os.getpid()) if _RESOURCE is not None else None,
        )  # fmt: skip
    if done.returncode != 0:
        raise describe_failure(done.returncode, "", done.stderr.decode("utf-8", "replace"))
