"""A plain clone runs its own tests: the GitHub contract data is in the repository, nothing is read from beside it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import GITHUB_CONTRACT, REPO, TESTS


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()[:200]}")
    return [name for name in listed.stdout.split("\0") if name and (REPO / name).is_file()]


def test_the_contract_data_and_its_sources_are_in_the_repository() -> None:
    assert GITHUB_CONTRACT.is_relative_to(REPO)
    for name in ("SOURCES.md", "rest-subset.openapi.json", "error-examples.json",
                 "events/LICENSE.octokit-webhooks", "events/pull_request.opened.json"):  # fmt: skip
        assert (GITHUB_CONTRACT / name).is_file(), name
    beside = re.compile(r"""\.\./shared|parent\s*/\s*["']shared["']|parents\[\d\]\s*/\s*["']shared""")
    for path in TESTS.rglob("*.py"):
        assert not beside.search(path.read_text(encoding="utf-8")), f"{path} reads data from beside the repository"


def test_a_copy_of_the_tracked_files_alone_passes_the_stand_in_tests(tmp_path: Path) -> None:
    clone = tmp_path / "int8gate"  # nothing beside it: tmp_path holds only the clone
    for name in _tracked_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/unit/test_event.py", "tests/unit/test_github.py"],
        cwd=clone, capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout
