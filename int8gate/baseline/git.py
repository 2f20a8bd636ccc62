"""Git through the one child-process owner: the checkout, the base commit, its files, a fetch of one commit.

Every command is ``git -c safe.directory=TOP -C TOP ...`` started by ``runtime.child``: inside the
Action's container the workspace belongs to the runner's uid while the gate runs as root, and git
refuses such a repository unless ``safe.directory`` names it (the command-line scope counts as
protected configuration). Nothing here writes the index or the work tree: files are read from the
object database (``ls-tree``, ``cat-file``), so a root-owned ``.git/index`` never appears under the
runner's feet. The one write is ``fetch_commit``, for a shallow clone that lacks the base commit:
it adds objects and a shallow boundary under ``.git``, and when it ran as root those new files are
handed back to the owner of ``.git``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from int8gate.runtime.child import ChildError, run_child, run_child_to_file
from int8gate.workspace import hand_back

GIT_TIMEOUT = 60.0
"""Seconds for a local git command (rev-parse, ls-tree, cat-file)."""
FETCH_TIMEOUT = 300.0
"""Seconds for fetching one commit from the remote."""
FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
"""A commit id as GitHub sends it (SHA-1, or SHA-256 for such repositories)."""


class GitError(Exception):
    """A git step failed; ``str()`` is one line saying which step and why."""


@dataclass(frozen=True)
class TreeEntry:
    """One path in a commit's tree: git's mode (``100644``, ``120000`` symlink, ``160000`` submodule),
    its kind (``blob``, ``tree``, ``commit``), the object id, and the size of a blob."""

    mode: str
    kind: str
    object_id: str
    size: int | None

    @property
    def is_regular_file(self) -> bool:
        """A blob that is a file, not a symlink."""
        return self.kind == "blob" and self.mode in {"100644", "100755"}


def find_checkout(start: Path) -> Path | None:
    """The top of the git work tree holding ``start`` (the nearest folder above with a ``.git``), or None.

    Found on the filesystem, not by asking git, so nothing runs before the top is known and named
    in ``safe.directory``.
    """
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


@dataclass(frozen=True)
class GitRepo:
    """A work tree at ``top``; ``env`` is the parent environment (the child gets its allow-listed part)."""

    top: Path
    env: Mapping[str, str] = field(default_factory=dict)
    git: str = "git"

    def command(self, *args: str) -> tuple[str, ...]:
        """The full command line for ``git ARGS`` on this work tree."""
        return (self.git, "-c", f"safe.directory={self.top}", "-C", str(self.top), *args)

    def run(self, *args: str, timeout: float = GIT_TIMEOUT) -> str:
        """``git ARGS``'s stdout; ``GitError`` with git's last words when it fails."""
        try:
            return run_child(self.command(*args), "", env=self.env, timeout=timeout)
        except ChildError as exc:
            raise GitError(f"git {args[0]}: {exc.cause('git')}") from None
        except OSError as exc:  # no git installed
            raise GitError(f"git is not available: {exc.strerror or exc}") from None

    def resolve_commit(self, ref: str) -> str | None:
        """The full id of the commit ``ref`` names, or None when this repository has no such commit."""
        try:
            text = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        except GitError:
            return None
        sha = text.strip()
        return sha or None

    def is_shallow(self) -> bool:
        """Whether the clone is shallow (``actions/checkout`` makes depth-1 clones by default)."""
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def fetch_commit(self, sha: str, remote: str = "origin") -> None:
        """Fetch just commit ``sha`` (depth 1 when the clone is shallow, so history stays out).

        GitHub serves any commit of the repository by id. Run as root in a container, the files
        the fetch created under ``.git`` are then given back to the owner of ``.git``.
        """
        if not FULL_SHA.match(sha):
            raise GitError(f"git fetch: {sha!r} is not a full commit id")
        depth = ("--depth=1",) if self.is_shallow() else ()
        git_dir = self.common_dir()
        try:
            self.run("fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head",
                     *depth, remote, sha, timeout=FETCH_TIMEOUT)  # fmt: skip
        finally:
            hand_back(git_dir, like=git_dir)

    def common_dir(self) -> Path:
        """The ``.git`` folder that holds the objects (shared by linked work trees)."""
        text = self.run("rev-parse", "--git-common-dir").strip()
        path = Path(text)
        return path if path.is_absolute() else (self.top / path).resolve()

    def entry(self, sha: str, path: str) -> TreeEntry | None:
        """What commit ``sha`` holds at repository path ``path`` (POSIX, from the top), or None if nothing."""
        text = self.run("--literal-pathspecs", "ls-tree", "-z", "-l", "--full-tree", sha, "--", path)
        for record in text.split("\0"):
            meta, _, name = record.partition("\t")
            if name != path:
                continue
            mode, kind, object_id, size = meta.split()
            return TreeEntry(mode, kind, object_id, None if size == "-" else int(size))
        return None

    def read_blob(self, object_id: str, destination: Path) -> None:
        """Write blob ``object_id``'s bytes to ``destination``, as stored (no filters, no LFS smudge)."""
        try:
            run_child_to_file(self.command("cat-file", "blob", object_id), destination,
                              env=self.env, timeout=GIT_TIMEOUT)  # fmt: skip
        except ChildError as exc:
            raise GitError(f"git cat-file: {exc.cause('git')}") from None
