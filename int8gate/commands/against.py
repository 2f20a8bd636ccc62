"""Compose the comparison with a base commit for ``check --base`` and the Action's pull requests.

Finds the git checkout that holds the policy, resolves the base commit (fetching just that commit
when the Action's clone is shallow), copies each pair's base files into a scratch folder, and
decides per pair what changed (``baseline.changes``). Problems with git or the base commit never
stop the gate: every pair is then ``unavailable`` with the reason, and is measured as before. Only
a ``--base`` the user typed that names no commit is a usage error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from int8gate.baseline.changes import PairBase, PairDigests, compare_pair, policy_changed, short, unavailable
from int8gate.baseline.git import FULL_SHA, GitError, GitRepo, find_checkout
from int8gate.baseline.versions import BaseTree, FileState, file_digest, model_digest, repository_path
from int8gate.errors import PolicyError, UsageError
from int8gate.inputs.samples import sample_files
from int8gate.model.file import ModelFileInfo
from int8gate.policy.load import parse_policy
from int8gate.policy.spec import Policy
from int8gate.workspace import PairPaths


@dataclass(frozen=True)
class BaseRequest:
    """What to compare with: ``ref`` (a commit id or any git revision); ``fetch`` it when missing (the
    Action's shallow clone); ``strict``: a ref that names no commit is a usage error (``--base``)."""

    ref: str
    fetch: bool = False
    strict: bool = False


def head_digests(pairs: Sequence[PairPaths], infos: Mapping[Path, ModelFileInfo]) -> dict[str, PairDigests]:
    """Each pair's content digests on the head side (models read once, by the caller: ``infos``)."""
    out = {}
    for paths in pairs:
        int8, fp32 = infos[paths.int8], infos[paths.fp32]
        out[paths.pair.name] = PairDigests(
            int8=model_digest(paths.int8, int8.external_files),
            fp32=model_digest(paths.fp32, fp32.external_files),
            samples=samples_digest(paths.samples) if paths.samples else None,
        )
    return out


def samples_digest(path: Path) -> str:
    """sha256 of a sample file, or of a samples folder's files (names and bytes, in name order)."""
    if not path.is_dir():
        return file_digest(path)
    digest = hashlib.sha256(b"folder")
    for item in sample_files(path):
        digest.update(b"\0" + item.name.encode() + b"\0" + file_digest(item).encode())
    return digest.hexdigest()


def read_bases(
    request: BaseRequest,
    *,
    policy: Policy,
    policy_path: Path,
    pairs: Sequence[PairPaths],
    digests: Mapping[str, PairDigests],
    env: Mapping[str, str],
    scratch: Path,
    progress: Callable[[str], None],
) -> dict[str, PairBase]:
    """What the base commit holds for every pair, with base copies under ``scratch``."""
    names = [paths.pair.name for paths in pairs]
    top = find_checkout(policy_path.parent)
    if top is None:
        return _all_unavailable(names, request.ref, f"{policy_path.parent} is not inside a git checkout")
    repo = GitRepo(top, env=env)
    try:
        sha = _resolve(repo, request, progress)
    except GitError as exc:
        return _all_unavailable(names, request.ref, f"base {short(request.ref)}: {exc}")
    if sha is None:
        if request.strict:
            raise UsageError(f"--base {request.ref}: not a commit in the repository at {top}")
        return _all_unavailable(names, request.ref, f"base {short(request.ref)} is not in this clone")
    tree = BaseTree(repo, sha, scratch, max_bytes=policy.limits.max_model_bytes)
    base_policy = _base_policy(tree, policy_path, top)
    return {
        paths.pair.name: _pair_base(paths, tree, top, digests[paths.pair.name], policy=policy, base_policy=base_policy)
        for paths in pairs
    }


def head_commit(policy_path: Path, env: Mapping[str, str]) -> str | None:
    """The commit checked out where the policy lives (recorded with cached results), or None without git."""
    top = find_checkout(policy_path.parent)
    if top is None:
        return None
    return GitRepo(top, env=env).resolve_commit("HEAD")  # None when git is missing or HEAD is unborn


def _all_unavailable(names: Sequence[str], ref: str, why: str) -> dict[str, PairBase]:
    return {name: unavailable(ref, why) for name in names}


def _resolve(repo: GitRepo, request: BaseRequest, progress: Callable[[str], None]) -> str | None:
    sha = repo.resolve_commit(request.ref)
    if sha is None and request.fetch and FULL_SHA.match(request.ref):
        shallow = " (the clone is shallow)" if repo.is_shallow() else ""
        progress(f"fetching base {short(request.ref)}{shallow}")
        repo.fetch_commit(request.ref)
        sha = repo.resolve_commit(request.ref)
    return sha


def _base_policy(tree: BaseTree, policy_path: Path, top: Path) -> Policy | None:
    """The policy as base has it, or None (absent, or not a policy this version reads: treat as changed)."""
    where = repository_path(policy_path, top)
    if where is None:
        return None
    found = tree.file(where)
    if found.state is not FileState.PRESENT or found.local is None:
        return None
    try:
        return parse_policy(found.local.read_text(encoding="utf-8"), f"base:{where}")
    except (PolicyError, UnicodeDecodeError):
        return None


def _pair_base(
    paths: PairPaths, tree: BaseTree, top: Path, head: PairDigests, *, policy: Policy, base_policy: Policy | None
) -> PairBase:
    where = {name: repository_path(path, top) for name, path in
             (("int8", paths.int8), ("fp32", paths.fp32), ("samples", paths.samples)) if path is not None}  # fmt: skip
    outside = [name for name, value in where.items() if value is None]
    if outside:
        return unavailable(tree.sha, f"{paths.pair.name}: the {outside[0]} file is outside the git checkout {top}")
    int8, fp32 = tree.model(str(where["int8"])), tree.model(str(where["fp32"]))
    samples = tree.file(str(where["samples"])) if "samples" in where else None
    changed = policy_changed(policy, base_policy, paths.pair)
    return compare_pair(tree.sha, head, int8=int8, fp32=fp32, samples=samples, policy_changed=changed)
