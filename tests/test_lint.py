"""The code stays clean: ruff and strict mypy, as configured in pyproject.toml, pass on the whole tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "mypy"],  # files and strictness come from pyproject.toml
    ],
    ids=["ruff", "mypy"],
)
def test_tool_is_clean(command: list[str]) -> None:
    probe = subprocess.run([*command[:3], "--version"], capture_output=True, check=False)
    if probe.returncode:
        pytest.fail(f"{command[2]} is not installed: run python3 -m pip install -e '.[dev]'")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
