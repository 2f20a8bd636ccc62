"""The Action's container, run the way GitHub's runner runs it, against the loopback stand-in.

A Docker engine is needed (``docker info``); without one these tests are skipped, loudly. The
workspace is the pull request's checkout, so it is planted with Python files that shadow what
int8gate imports: neither the entry nor any child it starts may run one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support import reportdata
from support.actionfiles import parse_outputs
from support.container import Image, docker_run, loopback_registry, run
from support.ghcontract import EVENTS_DIR
from support.ghstandin import ACTIONS, StandIn
from support.hostile import plant, ran
from support.paths import REPO

from int8gate.github.fork import ForkComment, SourcedReport, write_fork_comment
from int8gate.policy.spec import CommentMode

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


def _poster_workspace(tmp_path: Path, standin: StandIn) -> tuple[Path, Path, Path, dict[str, str]]:
    """A workflow_run poster job: the fork's artifact downloaded into an empty workspace, GitHub's event."""
    workspace, files, workflow = tmp_path / "workspace", tmp_path / "file_commands", tmp_path / "workflow"
    for folder in (workspace, files, workflow):
        folder.mkdir(parents=True)
    (files / "output").touch()
    event = EVENTS_DIR / "derived" / "workflow_run.completed.fork-pr.json"
    shutil.copy(event, workflow / "event.json")
    head = json.loads(event.read_text(encoding="utf-8"))["workflow_run"]["head_sha"]
    standin.open_pull("octo-org/octo-repo", 2, head_repo="forker/octo-repo", head_sha=head)
    write_fork_comment(workspace / "int8gate-fork", ForkComment(
        2, "octo-org/octo-repo", "forker/octo-repo", head, "gate/.int8gate.yml", CommentMode.UPDATE,
        (SourcedReport("int8gate-report.json", reportdata.pass_and_fake()),)))  # fmt: skip
    env = {**_github_env(standin, "workflow_run", github_token=ACTIONS, fork_artifact_folder="int8gate-fork"),
           "GITHUB_REPOSITORY": "octo-org/octo-repo"}  # fmt: skip
    return workspace, files, workflow, env


def _posted(standin: StandIn, files: Path, ran_: subprocess.CompletedProcess[str]) -> None:
    assert ran_.returncode == 0, ran_.stderr[-2000:]
    (comment,) = standin.comments("octo-org/octo-repo", 2)
    assert "From the fork's [run " in comment.body
    outputs = parse_outputs((files / "output").read_text(encoding="utf-8"))
    assert (outputs["verdict"], outputs["comment-id"]) == ("fail", str(comment.id))


def test_the_poster_in_the_image_renders_and_posts_the_forks_report(tmp_path: Path, standin: StandIn,
                                                                   image: Image) -> None:  # fmt: skip
    workspace, files, workflow, env = _poster_workspace(tmp_path, standin)
    ran_, seconds = docker_run(image, env, _volumes(workspace, files, workflow))
    _posted(standin, files, ran_)
    print(f"\nposter: docker run to posted comment {seconds:.2f} s", file=sys.stderr)


def test_the_image_pushed_by_digest_is_pulled_and_run_by_that_digest(tmp_path: Path, standin: StandIn,
                                                                    image: Image) -> None:  # fmt: skip
    docker = image.docker
    built_id = run([docker, "image", "inspect", image.ref, "--format", "{{.Id}}"]).stdout.strip()
    for registry in loopback_registry(tmp_path):
        repository = f"{registry.host}/int8gate/action"
        assert run([docker, "tag", image.ref, f"{repository}:release"]).returncode == 0
        pushed = run([docker, "push", f"{repository}:release"])
        assert pushed.returncode == 0, pushed.stderr[-1000:]
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed.stdout)
        assert digest is not None, pushed.stdout[-1000:]
        assert registry.manifest_digest("int8gate/action", "release") == digest.group(1)
        served = registry.verify_pull("int8gate/action", digest.group(1))

        release = tmp_path / "action.yml"
        shutil.copy(REPO / "action.yml", release)
        written = run([sys.executable, str(REPO / "docker" / "release_action.py"), f"{repository}@{digest.group(1)}",
                       str(release)])  # fmt: skip
        assert written.returncode == 0, written.stderr
        runs = yaml.safe_load(release.read_text(encoding="utf-8"))["runs"]
        pinned = runs["image"].removeprefix("docker://")  # what the runner hands to `docker pull`

        # No tag of ours left locally: the engine resolves the digest at the registry.
        assert run([docker, "rmi", f"{repository}:release", image.ref]).returncode == 0
        started = time.monotonic()
        pulled = run([docker, "pull", pinned])
        pull_s = time.monotonic() - started
        try:
            assert pulled.returncode == 0, pulled.stderr[-1000:]
            assert f"Digest: {digest.group(1)}" in pulled.stdout  # resolved at the registry
            assert run([docker, "image", "inspect", pinned, "--format", "{{.Id}}"]).stdout.strip() == built_id
            workspace, files, workflow, env = _poster_workspace(tmp_path / "poster", standin)
            ran_, seconds = docker_run(Image(docker, pinned, None), env, _volumes(workspace, files, workflow))
            _posted(standin, files, ran_)
            fetched = pulled.stdout.count("Pull complete")
            print(f"\nregistry served {served / 1e6:.0f} MB by digest; docker pull {pull_s:.1f} s ({fetched} layers "
                  f"not already here); poster from the pulled image {seconds:.2f} s", file=sys.stderr)  # fmt: skip
        finally:
            run([docker, "tag", pinned, image.ref])  # the session's image again, for its own clean-up
            run([docker, "rmi", pinned])
