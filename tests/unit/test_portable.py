"""The CLI outside Linux: nothing imports ``resource`` or needs ``sched_getaffinity``/``getloadavg`` unguarded,
child processes get ``os.pathsep``-joined paths, and a console without UTF-8 does not crash the report."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.paths import REPO

from int8gate.runtime.child import child_env

WITHOUT_LINUX_ONLY_CALLS = """
import importlib, os, pkgutil, sys
sys.modules["resource"] = None  # import resource -> ImportError, as on Windows
for name in ("sched_getaffinity", "getloadavg"):  # absent on macOS (affinity) and Windows (both)
    if hasattr(os, name):
        delattr(os, name)
import int8gate
for module in pkgutil.walk_packages(int8gate.__path__, "int8gate."):
    if module.name != "int8gate.__main__":
        importlib.import_module(module.name)
from int8gate.runtime import rounds
print(rounds.involuntary_switches(), rounds.usable_cpus() >= 1, rounds.load_average())
"""


def test_every_module_imports_and_the_worker_helpers_answer_without_linux_only_calls() -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_LINUX_ONLY_CALLS], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "True", "0.0"]


def test_child_pythonpath_is_joined_with_the_platform_separator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "pathsep", ";")  # Windows
    env = child_env({"PYTHONPATH": r"C:\extra"})
    here, extra = env["PYTHONPATH"].split(";")
    assert extra == r"C:\extra" and "int8gate" not in here.rsplit(os.sep, 1)[-1]


def test_a_console_without_utf8_gets_question_marks_not_a_crash(tmp_path: object) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONPATH": str(REPO)}  # a Windows console's code page
    done = subprocess.run([sys.executable, "-m", "int8gate", "env"], capture_output=True, timeout=120, check=False,
                          env=env, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode("cp1252", "replace")
    assert b"AVX2 ?" in done.stdout or b"NEON ?" in done.stdout  # the check marks, replaced
