"""The Action's container, run the way GitHub's runner runs it, against the loopback stand-in.

A Docker engine is needed (``docker info``); without one these tests are skipped, loudly. The
workspace is the pull request's checkout, so it is planted with Python files that shadow what
int8gate imports: neither the entry nor any child it starts may run one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from support.actionfiles import parse_outputs
from support.container import Image, docker_run, run
from support.ghcontract import EVENTS_DIR
from support.ghstandin import ACTIONS, StandIn
from support.hostile import plant, ran
from support.paths import REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]
RUNNER_UID = 1001  # the user a GitHub runner runs as


def _chown_tree(root: Path, uid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def _workspace(tmp_path: Path) -> tuple[Path, Path, Path]:
    workspace, files, workflow = tmp_path / "workspace", tmp_path / "file_commands", tmp_path / "workflow"
    shutil.copytree(REPO / "int8gate" / "demo", workspace, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    policy = workspace / ".int8gate.yml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("budget_seconds: 6", "budget_seconds: 2"))
    files.mkdir()
    workflow.mkdir()
    (files / "output").touch()
    (files / "summary.md").touch()
    return workspace, files, workflow


def _volumes(workspace: Path, files: Path, workflow: Path) -> dict[Path, str]:
    return {workspace: "/github/workspace", files: "/github/file_commands", workflow: "/github/workflow"}


def _github_env(standin: StandIn, event: str, **inputs: str) -> dict[str, str]:
    env = {
        "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": "/github/workflow/event.json", "GITHUB_API_URL": standin.url,
        "GITHUB_REPOSITORY": "Codertocat/Hello-World", "GITHUB_JOB": "gate", "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": "/github/file_commands/output", "GITHUB_STEP_SUMMARY": "/github/file_commands/summary.md",
    }  # fmt: skip
    env.update({f"INPUT_{name.replace('_', '-').upper()}": value for name, value in inputs.items()})
    return env


def test_the_gate_in_a_hostile_checkout_runs_none_of_it_and_comments_once(
    tmp_path: Path, standin: StandIn, image: Image
) -> None:
    workspace, files, workflow = _workspace(tmp_path)
    plant(workspace)
    as_root = os.geteuid() == 0
    if as_root:
        _chown_tree(workspace, RUNNER_UID)  # a self-hosted runner's user owns the checkout; the container runs as root
    shutil.copy(EVENTS_DIR / "pull_request.opened.json", workflow / "event.json")
    standin.open_pull("Codertocat/Hello-World", 2)
    env = _github_env(standin, "pull_request", policy=".int8gate.yml", github_token=ACTIONS, comment="update",
                      fail_on="fail", report_path="reports/int8gate-report.json", working_directory="")  # fmt: skip

    ran_, run_s = docker_run(image, env, _volumes(workspace, files, workflow))

    assert ran(workspace) == [], ran_.stderr[-2000:]
    not_theirs = [str(p.relative_to(workspace)) for p in [workspace, *workspace.rglob("*")]
                  if as_root and p.lstat().st_uid != RUNNER_UID]  # fmt: skip
    assert not_theirs == [], "created root-owned: the next checkout could not clean them"
    report = json.loads((workspace / "reports" / "int8gate-report.json").read_text(encoding="utf-8"))
    outputs = parse_outputs((files / "output").read_text(encoding="utf-8"))
    size = run([image.docker, "image", "inspect", image.ref, "--format", "{{.Size}}"]).stdout.strip()
    built = f"build {image.build_s:.0f} s, " if image.build_s is not None else ""
    print(f"\nimage {int(size) / 1e6:.0f} MB, {built}docker run to report {run_s:.1f} s, "
          f"verdict {report['verdict']}, exit {ran_.returncode}", file=sys.stderr)  # fmt: skip
    assert ran_.returncode == 1, ran_.stderr[-2000:]  # the gate's "fail": the bundled fake is caught
    assert outputs["verdict"] == report["verdict"] == "fail"
    verdicts = {m["name"]: m["verdict"] for m in report["models"]}
    assert verdicts["convnet-fake"] == "fail"
    assert all(row["error"] is None for m in report["models"] for row in m["benchmark"]["runs"])
    comments = standin.comments("Codertocat/Hello-World", 2)
    assert len(comments) == 1
    assert outputs["comment-id"] == str(comments[0].id)
    assert "convnet-fake" in (files / "summary.md").read_text(encoding="utf-8")
    assert f"::add-mask::{ACTIONS}" in ran_.stdout
    assert ACTIONS not in ran_.stderr
