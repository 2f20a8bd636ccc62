"""Workspace paths: policy paths resolve inside the checkout or fail naming the policy line; writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from int8gate.errors import PolicyError, UsageError, WorkspaceError
from int8gate.policy.load import parse_policy
from int8gate.workspace import (
    JsonFileError,
    Workspace,
    atomic_write_text,
    output_path,
    read_json,
    read_policy_text,
    resolve_pair_paths,
)


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


@pytest.mark.parametrize(
    ("setup", "fp32", "message"),
    [
        ("loop", "models/loop.onnx", ".int8gate.yml:2: models[0].fp32: models/loop.onnx is a symbolic link loop"),
        ("folder", "models/dir.onnx", ".int8gate.yml:2: models[0].fp32: models/dir.onnx is a folder, not a file"),
        ("fifo", "models/fifo.onnx", ".int8gate.yml:2: models[0].fp32: models/fifo.onnx is not a regular file (a FIFO"),
        ("", "models/" + "a" * 5000 + ".onnx", ".int8gate.yml:2: models[0].fp32: models/aaaa"),
    ],
    ids=["symlink-loop", "folder", "fifo", "5000-characters"],
)
def test_unusable_model_paths_say_what_is_wrong(tmp_path: Path, setup: str, fp32: str, message: str) -> None:
    ws = make_tree(tmp_path)
    models = tmp_path / "models"
    if setup == "loop":
        (models / "loop.onnx").symlink_to("loop.onnx")
    elif setup == "folder":
        (models / "dir.onnx").mkdir()
    elif setup == "fifo":
        os.mkfifo(models / "fifo.onnx")
    policy = parse_policy(policy_with(fp32), ".int8gate.yml")
    with pytest.raises(PolicyError) as caught:
        resolve_pair_paths(policy, tmp_path, ws)
    assert str(caught.value).startswith(message)
    assert len(str(caught.value)) < 400  # a 5,000-character name is shortened, not printed whole
    if not setup:
        assert "is too long a path (5,012 characters)" in str(caught.value)


def test_unusable_policy_paths_say_what_is_wrong(tmp_path: Path) -> None:
    ws = Workspace.at(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "loop.yml").symlink_to("loop.yml")
    with pytest.raises(UsageError, match=r"^conf: the policy is a folder, not a file$"):
        read_policy_text(tmp_path / "conf", ws)
    with pytest.raises(UsageError, match=r"^loop\.yml: the policy is a symbolic link loop$"):
        read_policy_text(tmp_path / "loop.yml", ws)
    with pytest.raises(UsageError, match=r"^p{100}\.\.\.p{36}\.yml: the policy is too long a path \([\d,]+ characters\)$"):
        read_policy_text(tmp_path / ("p" * 5000 + ".yml"), ws)


def test_outputs_are_checked_before_anything_runs_and_links_are_refused(tmp_path: Path) -> None:
    ws_root, outside = tmp_path / "ws", tmp_path / "outside"
    ws_root.mkdir()
    outside.mkdir()
    ws = Workspace.at(ws_root)
    (ws_root / "out").symlink_to(outside)
    (ws_root / "adir").mkdir()
    (ws_root / "link.json").symlink_to(outside / "victim.json")
    (ws_root / "fork").symlink_to(outside)
    with pytest.raises(WorkspaceError, match=r"^out/r\.json: out is a symbolic link; int8gate does not write through links$"):
        output_path("out/r.json", ws)
    with pytest.raises(WorkspaceError, match=r"^adir: is a folder, not a file$"):
        output_path("adir", ws)
    with pytest.raises(WorkspaceError, match=r"^link\.json: link\.json is a symbolic link"):
        output_path("link.json", ws)
    with pytest.raises(WorkspaceError, match=r"^fork: fork is a symbolic link"):
        output_path("fork", ws, folder=True)
    assert output_path("new/deeper/r.json", ws) == ws_root / "new" / "deeper" / "r.json"
    assert list(outside.iterdir()) == []


def test_writes_never_go_through_a_link_even_one_made_after_the_check(tmp_path: Path) -> None:
    ws_root, outside = tmp_path / "ws", tmp_path / "outside"
    ws_root.mkdir()
    outside.mkdir()
    ws = Workspace.at(ws_root)
    checked = output_path("art/c.json", ws)
    (ws_root / "art").symlink_to(outside)  # swapped in after the check
    with pytest.raises(WorkspaceError, match="art is a symbolic link or not a folder; not written"):
        ws.write_text(checked, "{}")
    (ws_root / "art").unlink()
    (ws_root / "art").mkdir()
    (ws_root / "art" / "c.json").symlink_to(outside / "victim.json")
    with pytest.raises(WorkspaceError, match=r"c\.json: is a symbolic link; not written"):
        ws.write_text(checked, "{}")
    assert list(outside.iterdir()) == []
    (ws_root / "art" / "c.json").unlink()
    ws.write_text(ws_root / "art" / "deep" / "c.json", "{}")
    assert (ws_root / "art" / "deep" / "c.json").read_text() == "{}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to be a report or an event"),
        ('{"schema_version": 1' + "0" * 5000 + "}", "not valid JSON (Exceeds the limit (4300 digits)"),
        ('{"a": ', "not valid JSON (Expecting value at line 1 column 7)"),
    ],
    ids=["100000-deep", "5000-digits", "malformed"],
)
def test_json_files_from_a_pull_request_fail_in_one_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(JsonFileError) as caught:
        read_json(path)
    assert str(caught.value).startswith(f"{path.as_posix()}: {problem}")
    with pytest.raises(JsonFileError, match=r"r\.json: larger than 5 bytes"):
        read_json(path, max_bytes=5)
    with pytest.raises(JsonFileError, match=r"missing\.json: file not found"):
        read_json(tmp_path / "missing.json")
