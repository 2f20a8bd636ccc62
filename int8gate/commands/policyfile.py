"""Where ``check`` finds its policy when ``--policy`` is not given, and the workspace it defaults to.

``.int8gate.yml`` or ``.int8gate.yaml``, in the current folder or a parent, up to the repository
root (the first folder holding ``.git``); outside a repository only the current folder is looked
at, so a stray policy in a home or temp folder is never picked up. Two spellings in one folder are
ambiguous and refused. The workspace (the folder every policy path must stay inside) defaults to
the repository root, else the current folder.
"""

from __future__ import annotations

from pathlib import Path

from int8gate.errors import UsageError

POLICY_NAMES = (".int8gate.yml", ".int8gate.yaml")


def repository_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``.git`` (a folder, or a worktree's file)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def find_policy(start: Path) -> Path:
    """The policy for a run started in ``start`` (see the module docstring); ``UsageError`` when there is none."""
    start = start.resolve()
    root = repository_root(start)
    folders = [start] if root is None else [start, *start.parents[: len(start.parents) - len(root.parents)]]
    for folder in folders:
        # a link counts as found (even a loop or a dangling one): reading it then says what is wrong with it
        found = [folder / name for name in POLICY_NAMES if (folder / name).is_file() or (folder / name).is_symlink()]
        if len(found) > 1:
            raise UsageError(f"{found[0]} and {found[1].name} are both here; keep one (or pass --policy FILE)")
        if found:
            return found[0]
    where = f"{start} or a parent up to the repository root {root}" if root else f"{start} (not in a git repository)"
    raise UsageError(f"no .int8gate.yml or .int8gate.yaml in {where}; pass --policy FILE, or try `int8gate demo`")


def default_workspace(start: Path) -> Path:
    """The repository root holding ``start``, else ``start`` itself."""
    start = start.resolve()
    return repository_root(start) or start
