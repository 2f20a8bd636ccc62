"""The code stays clean: ruff, strict mypy and the import-linter contracts in pyproject.toml pass on the whole tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO

pytestmark = pytest.mark.lint


def _lint_imports() -> list[str]:
    """The ``lint-imports`` script installed beside this Python (the dev extra), else the one on PATH."""
    beside = Path(sys.executable).with_name("lint-imports")
    return [str(beside) if beside.is_file() else (shutil.which("lint-imports") or str(beside))]


@pytest.mark.parametrize(
    ("name", "command", "probe"),
    [
        ("ruff", [sys.executable, "-m", "ruff", "check", "."], [sys.executable, "-m", "ruff", "--version"]),
        ("mypy", [sys.executable, "-m", "mypy"], [sys.executable, "-m", "mypy", "--version"]),  # config: pyproject
        ("import-linter", _lint_imports(), None),  # contracts: pyproject [tool.importlinter]
    ],
    ids=["ruff", "mypy", "lint-imports"],
)
def test_tool_is_clean(name: str, command: list[str], probe: list[str] | None) -> None:
    if probe is None:
        installed = Path(command[0]).is_file()
    else:
        installed = subprocess.run(probe, capture_output=True, check=False).returncode == 0
    if not installed:
        pytest.fail(f"{name} is not installed: run python3 -m pip install -e '.[dev]'")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
