"""The filesystem edge: every path a policy or a user names stays inside the workspace; writes are atomic.

A pull request controls the policy and the models, so a path like ``../../etc/passwd`` or a symlink
that points out of the checkout is refused before anything is opened. Reports are written to a
temporary file beside the target and renamed into place, so a crash never leaves half a report.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from int8gate.errors import PolicyError, UsageError, WorkspaceError
from int8gate.policy.spec import ModelPair, Policy

MAX_POLICY_BYTES = 1 << 20


@dataclass(frozen=True)
class Workspace:
    """A folder that every input path must resolve inside (symlinks followed)."""

    root: Path

    @classmethod
    def at(cls, root: Path) -> Workspace:
        """The workspace rooted at ``root`` (resolved now, so later checks compare real paths)."""
        return cls(root.resolve())

    def contains(self, path: Path) -> bool:
        """True when ``path``, with symlinks resolved, is the root or below it."""
        return path.resolve().is_relative_to(self.root)

    def display(self, path: Path) -> str:
        """``path`` relative to the workspace when inside it, else as given: what errors show."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class PairPaths:
    """The real files behind one policy model pair."""

    pair: ModelPair
    fp32: Path
    int8: Path
    samples: Path | None


def read_policy_text(path: Path, workspace: Workspace) -> str:
    """Read the policy file, refusing one that is missing, outside the workspace, huge or not UTF-8."""
    shown = workspace.display(path)
    if not path.is_file():
        raise UsageError(f"{shown}: policy file not found (pass --policy FILE, or run `int8gate demo`)")
    if not workspace.contains(path):
        raise WorkspaceError(f"{shown}: the policy file is outside the workspace {workspace.root}")
    if path.stat().st_size > MAX_POLICY_BYTES:
        raise PolicyError(shown, None, "", f"the policy is larger than {MAX_POLICY_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(shown, None, "", f"not UTF-8 text (byte {exc.start})") from None


def resolve_pair_paths(policy: Policy, policy_dir: Path, workspace: Workspace) -> tuple[PairPaths, ...]:
    """Resolve every model and sample path against the policy's folder; errors name the policy line."""
    resolved = []
    for index, pair in enumerate(policy.models):
        files = {}
        for key, value in (("fp32", pair.fp32), ("int8", pair.int8), ("samples", pair.samples)):
            if value is None:
                continue
            dotted = f"models[{index}].{key}"
            files[key] = _resolve_one(value, policy_dir, workspace, policy, dotted)
        resolved.append(PairPaths(pair, files["fp32"], files["int8"], files.get("samples")))
    return tuple(resolved)


def _resolve_one(value: str, base: Path, workspace: Workspace, policy: Policy, key: str) -> Path:
    line = policy.line_of(key)
    candidate = Path(value)
    if candidate.is_absolute():
        raise PolicyError(policy.source, line, key, f"use a path relative to the policy file, not {value}")
    path = base / candidate
    if not workspace.contains(path):
        raise PolicyError(policy.source, line, key, f"{value} points outside the workspace {workspace.root}")
    if not path.is_file():
        raise PolicyError(policy.source, line, key, f"file not found: {value}")
    return path


def output_path(value: str, workspace: Workspace) -> Path:
    """A report path the user asked for: relative ones land in the workspace, and must stay there."""
    path = Path(value)
    if not path.is_absolute():
        path = workspace.root / path
    if not workspace.contains(path.parent) and not _is_temp(path):
        raise WorkspaceError(f"{value}: report paths must stay inside the workspace {workspace.root}")
    return path


def _is_temp(path: Path) -> bool:
    return path.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and an atomic rename.

    Run as root (the Action's container), what this creates takes the owner of the folder it was
    created in, so a self-hosted runner's next checkout can clean the workspace.
    """
    base = path.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temp_name).chmod(0o644)  # mkstemp makes 0600; reports are meant to be read by others
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _give_to_owner_of(base, path)


def _give_to_owner_of(base: Path, path: Path) -> None:
    """Chown ``path`` and the folders made between it and ``base`` to ``base``'s owner (only root can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    owner = base.stat()
    if owner.st_uid == 0:
        return
    base, path = base.absolute(), path.absolute()
    made = [path, *path.parents[: len(path.parents) - len(base.parts)]] if path.is_relative_to(base) else [path]
    for item in made:
        os.chown(item, owner.st_uid, owner.st_gid, follow_symlinks=False)
