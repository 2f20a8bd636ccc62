"""Git against real repositories made here: base versions of files, a shallow clone's fetch of one commit,
a work tree owned by another uid, and what base holds (absent, LFS pointer, symlink, external data)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import onnx
import pytest
from support.gitrepo import Origin, clone_head, git, make_origin, write_files
from support.onnxbuild import conv_pair

from int8gate.baseline.git import GitError, GitRepo, find_checkout
from int8gate.baseline.versions import BaseTree, FileState, file_digest, model_digest
from int8gate.model.file import read_model

LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")  # fmt: skip
OTHER_UID = 4242


def _model_bytes(*, quantized: bool) -> bytes:
    data: bytes = conv_pair(quantize_big=quantized, quantize_small=quantized).SerializeToString()
    return data


def _base(work: Path) -> None:
    write_files(work, {"models/net_int8.onnx": _model_bytes(quantized=False), "models/net_fp32.onnx":
                       _model_bytes(quantized=False), "models/big.onnx": LFS_POINTER, "README.md": b"base\n"})  # fmt: skip
    (work / "models" / "link.onnx").symlink_to("net_fp32.onnx")


def _head(work: Path) -> None:
    write_files(work, {"models/net_int8.onnx": _model_bytes(quantized=True), "models/new_int8.onnx": b"new",
                       "README.md": b"head\n"})  # fmt: skip


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Origin:
    return make_origin(tmp_path_factory.mktemp("origin"), _base, _head)


def test_the_checkout_is_found_from_a_subfolder_without_running_git(tmp_path: Path, origin: Origin) -> None:
    work = clone_head(origin, tmp_path / "ws", shallow=False)
    assert find_checkout(work / "models") == work.resolve()
    assert find_checkout(tmp_path) is None


def test_base_versions_come_from_the_object_database_without_touching_the_work_tree(
    tmp_path: Path, origin: Origin
) -> None:
    work = clone_head(origin, tmp_path / "ws", shallow=False)
    index_before = (work / ".git" / "index").stat().st_mtime_ns
    repo = GitRepo(work, env=dict(os.environ))
    assert repo.resolve_commit("origin/main") == origin.base
    assert repo.resolve_commit("no-such-branch") is None
    assert repo.resolve_commit("--output=/tmp/x") is None  # a ref is never read as an option
    tree = BaseTree(repo, origin.base, tmp_path / "scratch")

    int8 = tree.model("models/net_int8.onnx")
    assert int8.state is FileState.PRESENT and int8.local is not None
    assert int8.local.read_bytes() == _model_bytes(quantized=False)  # base's, not the head's quantized one
    head = work / "models" / "net_int8.onnx"
    assert int8.digest != model_digest(head, ())
    fp32 = tree.model("models/net_fp32.onnx")
    assert fp32.digest == model_digest(work / "models" / "net_fp32.onnx", ())  # unchanged file, same digest

    assert tree.model("models/new_int8.onnx").state is FileState.ABSENT
    lfs = tree.model("models/big.onnx")
    assert lfs.state is FileState.LFS_POINTER
    assert lfs.problem == "models/big.onnx is a Git LFS pointer on base, not the file (LFS objects are not fetched)"
    link = tree.model("models/link.onnx")
    assert (link.state, link.problem) == (FileState.NOT_A_FILE, "models/link.onnx is a symlink on base, not a file")
    assert tree.file("models").state is FileState.NOT_A_FILE
    assert tree.file("README.md").local.read_bytes() == b"base\n"  # type: ignore[union-attr]
    small = BaseTree(repo, origin.base, tmp_path / "scratch2", max_bytes=100)
    assert small.model("models/net_fp32.onnx").state is FileState.TOO_LARGE
    assert (work / ".git" / "index").stat().st_mtime_ns == index_before
    assert git(work, "status", "--porcelain") == ""


def test_a_shallow_clone_fetches_just_the_base_commit(tmp_path: Path, origin: Origin) -> None:
    work = clone_head(origin, tmp_path / "ws", shallow=True)
    repo = GitRepo(work, env=dict(os.environ))
    assert repo.is_shallow()
    assert repo.resolve_commit(origin.base) is None  # depth 1: the base commit is not there
    repo.fetch_commit(origin.base)
    assert repo.resolve_commit(origin.base) == origin.base
    assert repo.is_shallow()  # still shallow: only that commit came, not the history
    assert git(work, "rev-list", "--count", "HEAD", origin.base) == "2"  # the two commits, no more
    got = BaseTree(repo, origin.base, tmp_path / "scratch").model("models/net_int8.onnx")
    assert got.state is FileState.PRESENT
    with pytest.raises(GitError, match="not a full commit id"):
        repo.fetch_commit("main")


def test_a_fetch_that_fails_says_why_in_one_line(tmp_path: Path, origin: Origin) -> None:
    work = clone_head(origin, tmp_path / "ws", shallow=True)
    with pytest.raises(GitError, match=r"^git fetch: git failed \(exit 128\): .*"):
        GitRepo(work, env=dict(os.environ)).fetch_commit("0" * 40)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a work tree owned by another uid needs root")
def test_a_work_tree_owned_by_another_uid_is_read_and_left_to_its_owner(tmp_path: Path, origin: Origin) -> None:
    work = clone_head(origin, tmp_path / "ws", shallow=True)
    subprocess.run(["chown", "-R", f"{OTHER_UID}:{OTHER_UID}", str(work)], check=True)
    plain = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    assert plain.returncode != 0 and "dubious ownership" in plain.stderr  # what safe.directory is for
    repo = GitRepo(work, env=dict(os.environ))
    repo.fetch_commit(origin.base)
    assert BaseTree(repo, origin.base, tmp_path / "scratch").model("models/net_int8.onnx").state is FileState.PRESENT
    not_theirs = [p for p in (work / ".git").rglob("*") if p.lstat().st_uid != OTHER_UID]
    assert not_theirs == []  # what the root fetch wrote was handed back


def test_external_data_on_base_comes_along_and_is_part_of_the_digest(tmp_path: Path) -> None:
    def save(work: Path, *, quantized: bool) -> None:
        (work / "m").mkdir(exist_ok=True)
        onnx.save(conv_pair(quantize_big=quantized, quantize_small=quantized), str(work / "m" / "net.onnx"),
                  save_as_external_data=True, all_tensors_to_one_file=True, location="net.bin", size_threshold=0)  # fmt: skip

    def head(work: Path) -> None:  # same graph, different weights' bytes: only the external file changes
        data = bytearray((work / "m" / "net.bin").read_bytes())
        data[-1] ^= 0xFF
        (work / "m" / "net.bin").write_bytes(bytes(data))

    origin = make_origin(tmp_path / "o", lambda w: save(w, quantized=False), head)
    work = clone_head(origin, tmp_path / "ws", shallow=False)
    base = BaseTree(GitRepo(work, env=dict(os.environ)), origin.base, tmp_path / "scratch").model("m/net.onnx")
    assert base.state is FileState.PRESENT and base.local is not None
    assert (base.local.parent / "net.bin").is_file()
    head_info = read_model(work / "m" / "net.onnx").info
    assert file_digest(base.local) == file_digest(work / "m" / "net.onnx")  # the .onnx bytes are the same...
    assert base.digest != model_digest(work / "m" / "net.onnx", head_info.external_files)  # ...the model is not


def test_no_git_is_a_one_line_error(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path, env=dict(os.environ), git=str(tmp_path / "no-git-here"))
    with pytest.raises(GitError, match=r"^git is not available: "):
        repo.is_shallow()
