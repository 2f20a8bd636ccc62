"""Real git repositories for tests: an origin with a base and a head commit, clones of it (full or shallow),
and pull-request event payloads pointing at those commits."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.ghcontract import EVENTS_DIR

IDENTITY = ("-c", "user.name=int8gate tests", "-c", "user.email=tests@int8gate.invalid", "-c", "commit.gpgsign=false")


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` for the test's own set-up (never what the code under test runs); its stdout."""
    done = subprocess.run(["git", *IDENTITY, "-C", str(cwd), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def commit_all(work: Path, message: str) -> str:
    """Stage everything in ``work`` (deletions too) and commit; the new commit's id."""
    git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", message)
    return git(work, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Origin:
    """A bare origin repository with branch ``main`` at ``base`` and branch ``change`` at ``head``."""

    bare: Path
    base: str
    head: str

    @property
    def url(self) -> str:
        """A ``file://`` URL: git honours ``--depth`` only for a transport, not for a local path."""
        return self.bare.as_uri()


def make_origin(root: Path, base_tree: Callable[[Path], None], head_change: Callable[[Path], None]) -> Origin:
    """An origin whose ``main`` holds what ``base_tree`` writes and whose ``change`` adds ``head_change`` on top."""
    bare, work = root / "origin.git", root / "author"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    base_tree(work)
    base = commit_all(work, "base: the models as main has them")
    git(work, "push", "-q", str(bare), "HEAD:refs/heads/main")
    git(work, "checkout", "-q", "-b", "change")
    head_change(work)
    head = commit_all(work, "head: the pull request's change")
    git(work, "push", "-q", str(bare), "HEAD:refs/heads/change")
    shutil.rmtree(work)
    return Origin(bare, base, head)


def clone_head(origin: Origin, destination: Path, *, shallow: bool) -> Path:
    """A checkout of the PR head, as ``actions/checkout`` makes one: depth 1 when ``shallow``."""
    depth = ["--depth=1"] if shallow else []
    subprocess.run(["git", "clone", "-q", *depth, "--branch", "change", origin.url, str(destination)], check=True)
    return destination


def pull_request_event(origin: Origin, *, name: str = "pull_request.synchronize.json") -> dict[str, Any]:
    """A real PR event payload (octokit's examples) whose base and head point at ``origin``'s commits."""
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    data["pull_request"]["base"]["sha"] = origin.base
    data["pull_request"]["head"]["sha"] = origin.head
    return data


def write_files(folder: Path, files: Mapping[str, bytes | Path]) -> None:
    """Write ``files`` (repository path → bytes, or a file to copy) under ``folder``."""
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
