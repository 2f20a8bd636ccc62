"""Workspace paths: policy paths resolve inside the checkout or fail naming the policy line; writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from int8gate.errors import PolicyError, UsageError, WorkspaceError
from int8gate.policy.load import parse_policy
from int8gate.workspace import Workspace, atomic_write_text, output_path, read_policy_text, resolve_pair_paths


def make_tree(root: Path) -> Workspace:
    (root / "models").mkdir()
    for name in ("a.onnx", "a_int8.onnx"):
        (root / "models" / name).write_bytes(b"x")
    return Workspace.at(root)


def policy_with(fp32: str, int8: str = "models/a_int8.onnx") -> str:
    return f"models:\n  - fp32: {fp32}\n    int8: {int8}\n"


def test_paths_resolve_relative_to_the_policy(tmp_path: Path) -> None:
    ws = make_tree(tmp_path)
    policy = parse_policy(policy_with("models/a.onnx"), ".int8gate.yml")
    (pair,) = resolve_pair_paths(policy, tmp_path, ws)
    assert pair.fp32 == tmp_path / "models" / "a.onnx"


@pytest.mark.parametrize(
    ("fp32", "message"),
    [
        ("models/missing.onnx", ".int8gate.yml:2: models[0].fp32: file not found: models/missing.onnx"),
        ("../outside.onnx", ".int8gate.yml:2: models[0].fp32: ../outside.onnx points outside the workspace"),
        ("/etc/x.onnx", ".int8gate.yml:2: models[0].fp32: use a path relative to the policy file"),
        ("models/link.onnx", ".int8gate.yml:2: models[0].fp32: models/link.onnx points outside the workspace"),
    ],
)
def test_bad_model_paths_name_the_policy_line(tmp_path: Path, fp32: str, message: str) -> None:
    inside = tmp_path / "repo"
    inside.mkdir()
    ws = make_tree(inside)
    (tmp_path / "outside.onnx").write_bytes(b"x")
    (inside / "models" / "link.onnx").symlink_to(tmp_path / "outside.onnx")
    policy = parse_policy(policy_with(fp32), ".int8gate.yml")
    with pytest.raises(PolicyError) as caught:
        resolve_pair_paths(policy, inside, ws)
    assert str(caught.value).startswith(message)


def test_missing_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.int8gate\.yml: policy file not found"):
        read_policy_text(tmp_path / ".int8gate.yml", Workspace.at(tmp_path))


def test_report_paths_outside_the_workspace_are_refused(tmp_path: Path) -> None:
    ws = Workspace.at(tmp_path / "ws")
    (tmp_path / "ws").mkdir()
    assert output_path("reports/r.json", ws) == ws.root / "reports" / "r.json"
    with pytest.raises(WorkspaceError, match="must stay inside the workspace"):
        output_path("/proc/self/r.json", ws)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    atomic_write_text(target, "old")

    with pytest.raises(TypeError):
        atomic_write_text(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode)[-3:] == "644"  # readable by the artifact uploader


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give files away")
def test_what_root_writes_belongs_to_the_workspace_owner(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    os.chown(workspace, 4242, 4343)  # the runner's user on a self-hosted machine; the container runs as root
    atomic_write_text(workspace / "reports" / "x64" / "int8gate-report.json", "{}\n")
    atomic_write_text(workspace / "int8gate-report.json", "{}\n")
    created = [workspace / "reports", workspace / "reports" / "x64", workspace / "reports" / "x64" / "int8gate-report.json",
               workspace / "int8gate-report.json"]  # fmt: skip
    assert [(p.stat().st_uid, p.stat().st_gid) for p in created] == [(4242, 4343)] * 4
    assert tmp_path.stat().st_uid == 0  # nothing above the folder written into is touched
