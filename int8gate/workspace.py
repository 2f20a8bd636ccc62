"""The filesystem edge: every path a policy or a user names stays inside the workspace; writes are atomic.

A pull request controls the policy and the models, so a path like ``../../etc/passwd`` or a symlink
that points out of the checkout is refused before anything is opened, and any way a path can be
unusable (a symlink loop, a NUL byte, a name too long, a folder or a FIFO where a file belongs)
becomes one line that says so. Outputs are checked when the run starts (``output_path``), before
anything is measured, and written (``Workspace.write_text``) through folders opened one by one
without following links, to a temporary file beside the target renamed into place: a symlink the pull
request committed (``int8gate-fork`` pointing elsewhere, say) is refused, never written through, and
a crash never leaves half a report.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from int8gate.errors import Int8gateError, PolicyError, UsageError, WorkspaceError
from int8gate.policy.spec import ModelPair, Policy

MAX_POLICY_BYTES = 1 << 20
MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255


class PathError(Exception):
    """Why a path cannot be used, in words that follow the path (``is a symbolic link loop``)."""


def _problem(exc: BaseException) -> str:
    """An ``OSError``/``RuntimeError``/``ValueError`` from a path operation, as a short phrase."""
    if isinstance(exc, ValueError):
        return "holds a NUL byte"
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "is a symbolic link loop"
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        return "is too long a path"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied"
    if isinstance(exc, OSError) and exc.errno == errno.ENOTDIR:
        return "goes through something that is not a folder"
    return f"cannot be used: {exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__}"


def check_text(value: str) -> None:
    """Refuse a path no filesystem call should see: a NUL byte, or more than the system allows."""
    if "\x00" in value:
        raise PathError("holds a NUL byte")
    if len(value) > MAX_PATH_CHARS or any(len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES
                                          for part in value.split("/")):  # fmt: skip
        raise PathError(f"is too long a path ({len(value):,} characters)")


def real_path(path: Path) -> Path:
    """``path`` with symlinks resolved, or ``PathError`` (a loop, a NUL byte, a name too long)."""
    check_text(str(path))
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a loop, before Python 3.13
        raise PathError(_problem(exc)) from None


def regular_file(path: Path) -> None:
    """Raise ``PathError`` unless ``path`` is a regular file (following links): missing, folder, FIFO."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise PathError("file not found") from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise PathError(_problem(exc)) from None
    if stat.S_ISDIR(status.st_mode):
        raise PathError("is a folder, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise PathError("is not a regular file (a FIFO, socket or device)")


@dataclass(frozen=True)
class Workspace:
    """A folder that every input path must resolve inside (symlinks followed)."""

    root: Path

    @classmethod
    def at(cls, root: Path) -> Workspace:
        """The workspace rooted at ``root`` (resolved now, so later checks compare real paths)."""
        try:
            return cls(real_path(root))
        except PathError as exc:
            raise UsageError(f"workspace {str(root)[:200]}: {exc}") from None

    def contains(self, path: Path) -> bool:
        """True when ``path``, with symlinks resolved, is the root or below it (``PathError`` if unusable)."""
        return real_path(path).is_relative_to(self.root)

    def display(self, path: Path) -> str:
        """``path`` relative to the workspace when it is written inside it, else as given: what errors show."""
        try:
            text = _lexical(path).relative_to(self.root).as_posix()
        except (ValueError, OSError):
            text = str(path)
        return text if len(text) <= 200 else text[:100] + "..." + text[-40:]

    def write_text(self, path: Path, text: str) -> None:
        """Write ``text`` atomically at ``path`` (from ``output_path``), never through a symlink."""
        atomic_write_text(path, text, root=_anchor(path, self))


@dataclass(frozen=True)
class PairPaths:
    """The real files behind one policy model pair."""

    pair: ModelPair
    fp32: Path
    int8: Path
    samples: Path | None


MAX_JSON_BYTES = 64 << 20


class JsonFileError(Int8gateError):
    """A JSON file (an event payload, a report, a fork artifact) cannot be read: ``path: problem``."""


def read_json(path: Path, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The data in a JSON file, or ``JsonFileError`` saying in one line why not: missing, too large,
    not UTF-8, not JSON, nested too deeply for Python's parser, or a number too long to read."""
    shown = path.as_posix()
    try:
        regular_file(path)
        if path.stat().st_size > max_bytes:
            raise JsonFileError(f"{shown}: larger than {max_bytes:,} bytes")
        text = path.read_text(encoding="utf-8")
    except PathError as exc:
        raise JsonFileError(f"{shown}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise JsonFileError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise JsonFileError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonFileError(f"{shown}: nested too deeply to be a report or an event") from None
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"{shown}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python reads from text
        raise JsonFileError(f"{shown}: not valid JSON ({' '.join(str(exc).split())[:120]})") from None


def read_policy_text(path: Path, workspace: Workspace) -> str:
    """Read the policy file, refusing one that is missing, outside the workspace, huge or not UTF-8."""
    shown = workspace.display(path)
    try:
        regular_file(real_path(path))
    except PathError as exc:
        if str(exc) == "file not found":
            raise UsageError(f"{shown}: policy file not found (pass --policy FILE, or run `int8gate demo`)") from None
        raise UsageError(f"{shown}: the policy {exc}") from None
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
    shown = value if len(value) <= 120 else value[:60] + "..." + value[-40:]
    try:
        check_text(value)
        candidate = Path(value)
        if candidate.is_absolute():
            raise PolicyError(policy.source, line, key, f"use a path relative to the policy file, not {shown}")
        path = base / candidate
        if not workspace.contains(path):
            raise PolicyError(policy.source, line, key, f"{shown} points outside the workspace {workspace.root}")
        if key.endswith(".samples") and path.is_dir():
            return path  # a folder of .npy/.npz samples (each file checked when it is read)
        regular_file(path)
    except PathError as exc:
        problem = f"file not found: {shown}" if str(exc) == "file not found" else f"{shown} {exc}"
        raise PolicyError(policy.source, line, key, problem) from None
    return path


def output_path(value: str, workspace: Workspace, *, folder: bool = False) -> Path:
    """A report path (or, with ``folder``, an output folder) the user asked for, checked before any work.

    Relative paths land in the workspace and must stay there (absolute ones may also be in the
    temporary folder). Every folder on the way that exists must be a real folder, not a symlink,
    and the target must not be a symlink, nor a folder where a file goes (or the reverse).
    """
    try:
        check_text(value)
        path = Path(value)
        if not path.is_absolute():
            path = workspace.root / path
        if not workspace.contains(path.parent) and not _is_temp(path):
            raise WorkspaceError(f"{value}: report paths must stay inside the workspace {workspace.root}")
        _check_below(path, _anchor(path, workspace), folder=folder)
    except PathError as exc:
        raise WorkspaceError(f"{value}: {exc}") from None
    return path


def _is_temp(path: Path) -> bool:
    return real_path(path).is_relative_to(real_path(Path(tempfile.gettempdir())))


def _anchor(path: Path, workspace: Workspace) -> Path:
    """The trusted folder a write starts from: the workspace root, else the temporary folder."""
    absolute = _lexical(path)
    if absolute.is_relative_to(workspace.root):
        return workspace.root
    temp = real_path(Path(tempfile.gettempdir()))
    if absolute.is_relative_to(temp):
        return temp
    raise WorkspaceError(f"{path}: report paths must stay inside the workspace {workspace.root}")


def _lexical(path: Path) -> Path:
    """``path`` made absolute with ``..`` collapsed by its text, following no link (links below the
    anchor are refused, so text and filesystem agree there)."""
    return Path(os.path.normpath(path.absolute()))


def _check_below(path: Path, anchor: Path, *, folder: bool) -> None:
    """``PathError`` when a folder on the way from ``anchor`` to ``path``, or ``path`` itself, is a link
    or the wrong kind of file."""
    absolute = _lexical(path)
    current = anchor
    parts = absolute.relative_to(anchor).parts
    for index, part in enumerate(parts):
        current = current / part
        try:
            status = current.lstat()
        except FileNotFoundError:
            return  # created when written
        except OSError as exc:
            raise PathError(_problem(exc)) from None
        shown = Path(*parts[: index + 1]).as_posix()
        last = index == len(parts) - 1
        if stat.S_ISLNK(status.st_mode):
            raise PathError(f"{shown} is a symbolic link; int8gate does not write through links")
        if not last and not stat.S_ISDIR(status.st_mode):
            raise PathError(f"{shown} is not a folder")
        if last and folder and not stat.S_ISDIR(status.st_mode):
            raise PathError("is not a folder")
        if last and not folder and stat.S_ISDIR(status.st_mode):
            raise PathError("is a folder, not a file")
        if last and not folder and not stat.S_ISREG(status.st_mode):
            raise PathError("is not a regular file")


_NO_FOLLOW_WRITES = (
    hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
    and {os.open, os.mkdir, os.stat, os.unlink} <= os.supports_dir_fd
)
"""POSIX: folders and files opened relative to an open folder without following links (not on Windows)."""


def atomic_write_text(path: Path, text: str, *, root: Path | None = None) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and an atomic rename.

    With ``root``, every folder below it is opened (or created) without following symlinks, so a link
    anywhere on the way, or in place of the file, is refused (``WorkspaceError``) and nothing is
    written through it. Without, the parent folders are created as named (a path the user typed).
    Where the OS has no such calls (Windows) the write is a plain one (``output_path`` has checked
    the way for links already). Run as root (the Action's container), what this creates takes the
    owner of the folder it was created in, so a self-hosted runner's next checkout can clean the
    workspace.
    """
    absolute = _lexical(path)
    base = absolute.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not _NO_FOLLOW_WRITES:
        _plain_write(absolute, text)
    else:
        _no_follow_write(absolute, text, root=root, shown=path)
    _give_to_owner_of(base, absolute)


def _plain_write(path: Path, text: str) -> None:
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


def _no_follow_write(absolute: Path, text: str, *, root: Path | None, shown: Path) -> None:
    path = shown  # as the caller named it, for messages
    parts: tuple[str, ...] = ()
    if root is None:
        absolute.parent.mkdir(parents=True, exist_ok=True)
        anchor = absolute.parent
    else:
        anchor = _lexical(root)
        if not absolute.parent.is_relative_to(anchor):
            raise WorkspaceError(f"{path}: outside {anchor}")
        parts = absolute.parent.relative_to(anchor).parts
    folder = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=folder)
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            except OSError as exc:
                raise WorkspaceError(f"{path}: {part} is a symbolic link or not a folder; not written") from exc
            os.close(folder)
            folder = inner
        _write_in(folder, absolute.name, text, shown=path)
    finally:
        os.close(folder)


def _write_in(folder: int, name: str, text: str, *, shown: Path) -> None:
    """Write ``name`` in the open ``folder`` through a temporary file; refuse a link or folder in its place."""
    try:
        status = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        status = None
    if status is not None and not stat.S_ISREG(status.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(status.st_mode) else "not a regular file"
        raise WorkspaceError(f"{shown}: is {kind}; not written")
    temp = f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    handle = os.open(temp, flags, 0o600, dir_fd=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            os.fchmod(stream.fileno(), 0o644)  # reports are meant to be read by others (the artifact uploader)
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=folder)
        raise


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


def hand_back(path: Path, like: Path) -> None:
    """Give ``path`` (and everything under it) the owner of ``like``, where root made it (a no-op unless root).

    The Action's container runs as root over a workspace that belongs to the runner's uid; what
    it creates there (a ``.git`` fetch, the results cache) must stay usable by the runner's later
    steps and removable by its next checkout.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    try:
        owner = like.stat()
    except OSError:
        return
    if owner.st_uid == 0:
        return
    entries = [path] + ([Path(folder) / name for folder, dirs, files in os.walk(path) for name in (*dirs, *files)]
                        if path.is_dir() else [])  # fmt: skip
    for entry in entries:
        try:
            if entry.lstat().st_uid != owner.st_uid:
                os.lchown(entry, owner.st_uid, owner.st_gid)
        except OSError:
            continue
