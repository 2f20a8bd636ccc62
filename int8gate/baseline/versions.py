"""The base commit's version of a pair's files, copied out of git into a scratch folder, and content digests.

A model on base is read as git stores it: an absent path is a new model, a Git LFS pointer is said
to be one (int8gate does not fetch LFS objects), a symlink or submodule is not followed, and a file
over the policy's size cap is not copied. A model's external data files come along (they are named
inside the model). The copies mirror the repository's layout under the scratch folder, so relative
external-data paths keep working. ``model_digest`` is the same content digest for head and base:
the ``.onnx`` bytes and every external data file's name and bytes.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

import onnx
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no types-protobuf in dev deps
from onnx import TensorProto

from int8gate.baseline.git import GitError, GitRepo
from int8gate.errors import ModelFileError
from int8gate.model.file import read_model
from int8gate.model.graph import model_tensors

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
LFS_POINTER_MAX_BYTES = 1024
"""Git LFS pointers are a few lines of text; anything larger is not one."""
CHUNK = 1 << 20


class FileState(str, Enum):
    """What the base commit holds at a path."""

    PRESENT = "present"
    ABSENT = "absent"
    LFS_POINTER = "lfs-pointer"
    NOT_A_FILE = "not-a-file"
    TOO_LARGE = "too-large"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class BaseFile:
    """One path on the base commit: its state, the local copy and digest when present, and the problem otherwise."""

    path: str
    state: FileState
    local: Path | None = None
    digest: str | None = None
    problem: str = ""


def is_lfs_pointer(head: bytes) -> bool:
    """Whether the first bytes of a file are a Git LFS pointer's."""
    return head.startswith(LFS_POINTER_PREFIX)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def model_digest(path: Path, external_files: tuple[str, ...]) -> str:
    """sha256 over a model's ``.onnx`` bytes and each external data file (name and bytes), in name order."""
    digest = hashlib.sha256(file_digest(path).encode())
    for name in sorted(external_files):
        digest.update(b"\0" + name.encode() + b"\0" + file_digest(path.parent / name).encode())
    return digest.hexdigest()


def repository_path(path: Path, top: Path) -> str | None:
    """``path`` as a POSIX path from the top of the work tree (its folder's symlinks resolved, not the file's).

    None when it lies outside the work tree.
    """
    folder = path.parent.resolve()
    try:
        relative = (folder / path.name).relative_to(top.resolve())
    except ValueError:
        return None
    return relative.as_posix()


@dataclass
class BaseTree:
    """Copies files of commit ``sha`` out of ``repo`` into ``scratch``, mirroring the repository's layout."""

    repo: GitRepo
    sha: str
    scratch: Path
    max_bytes: int | None = None

    def file(self, path: str) -> BaseFile:
        """A plain file (sample data, the policy) at repository path ``path``."""
        try:
            entry = self.repo.entry(self.sha, path)
        except GitError as exc:
            return BaseFile(path, FileState.UNREADABLE, problem=str(exc))
        if entry is None:
            return BaseFile(path, FileState.ABSENT, problem=f"{path} is absent on base")
        if not entry.is_regular_file:
            what = {"120000": "a symlink", "160000": "a submodule"}.get(entry.mode, f"a {entry.kind}")
            return BaseFile(path, FileState.NOT_A_FILE, problem=f"{path} is {what} on base, not a file")
        if self.max_bytes is not None and entry.size is not None and entry.size > self.max_bytes:
            return BaseFile(path, FileState.TOO_LARGE,
                            problem=f"{path} is {entry.size} bytes on base, over the policy's size cap")  # fmt: skip
        local = self.scratch / PurePosixPath(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.repo.read_blob(entry.object_id, local)
        except GitError as exc:
            return BaseFile(path, FileState.UNREADABLE, problem=str(exc))
        with local.open("rb") as stream:
            head = stream.read(LFS_POINTER_MAX_BYTES + 1)
        if len(head) <= LFS_POINTER_MAX_BYTES and is_lfs_pointer(head):
            problem = f"{path} is a Git LFS pointer on base, not the file (LFS objects are not fetched)"
            return BaseFile(path, FileState.LFS_POINTER, local=local, problem=problem)
        return BaseFile(path, FileState.PRESENT, local=local, digest=file_digest(local))

    def model(self, path: str) -> BaseFile:
        """A model at ``path`` with its external data files, checked like any model (``model.file``)."""
        found = self.file(path)
        if found.state is not FileState.PRESENT or found.local is None:
            return found
        try:
            locations = _external_locations(found.local)
        except DecodeError:
            return BaseFile(path, FileState.UNREADABLE, problem=f"{path} on base is not an ONNX model")
        folder = posixpath.dirname(path)
        for location in locations:
            name = posixpath.normpath(posixpath.join(folder, location))
            if name.startswith("../") or posixpath.isabs(location):
                continue  # read_model below refuses it with its own words
            data = self.file(name)
            if data.state is not FileState.PRESENT:
                return BaseFile(path, data.state, problem=f"external data of {path}: {data.problem}")
        try:
            info = read_model(found.local, max_bytes=self.max_bytes).info
        except ModelFileError as exc:
            return BaseFile(path, FileState.UNREADABLE, problem=f"{path} on base: {exc.problem}")
        return BaseFile(path, FileState.PRESENT, local=found.local,
                        digest=model_digest(found.local, info.external_files))  # fmt: skip


def _external_locations(path: Path) -> tuple[str, ...]:
    """The external-data locations a model names, unchecked (``read_model`` checks them once they are copied)."""
    model = onnx.ModelProto()
    model.ParseFromString(path.read_bytes())
    found: dict[str, None] = {}
    for _label, tensor in model_tensors(model):
        if tensor.data_location == TensorProto.EXTERNAL:
            for entry in tensor.external_data:
                if entry.key == "location" and entry.value and "\x00" not in entry.value:
                    found[entry.value] = None
    return tuple(found)
