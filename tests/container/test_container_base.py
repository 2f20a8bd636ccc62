"""The Action's container on pull requests against their base: a depth-1 clone owned by another uid (as the
runner's workspace is, while the container runs as root), the base commit fetched from its origin, a PR that
re-quantizes a model and a PR that changes none, both against the GitHub stand-in.

Needs a Docker engine, like ``test_container.py`` (skipped loudly without one); the image is the
session's (``conftest.image``: built from this checkout, or ``INT8GATE_TEST_IMAGE``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.actionfiles import parse_outputs
from support.container import Image
from support.ghstandin import ACTIONS, StandIn
from support.gitrepo import Origin, clone_head, git, make_origin, pull_request_event, write_files
from support.paths import REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

RUNNER_UID = 1001  # the uid GitHub's hosted runners check the workspace out as
REPOSITORY = "Codertocat/Hello-World"


def _run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kw)


def _example(work: Path, *, int8: Path) -> None:
    """The bundled example (its policy, a 2 s budget) with ``int8`` as the convnet's INT8 model."""
    examples = REPO / "int8gate" / "demo"
    policy = (examples / ".int8gate.yml").read_text(encoding="utf-8").replace("budget_seconds: 6", "budget_seconds: 2")
    write_files(work, {".int8gate.yml": policy.encode(), "README.md": b"models\n",
                       "models/convnet_fp32.onnx": examples / "models" / "convnet_fp32.onnx",
                       "models/convnet_int8.onnx": int8,
                       "models/convnet_fake_int8.onnx": examples / "models" / "convnet_fake_int8.onnx"})  # fmt: skip


def _pull_request(image: Image, tmp: Path, origin: Origin, standin: StandIn) -> dict[str, Any]:
    """Run the Action's container on the PR from ``origin``'s main to its change branch; what it left."""
    workspace = clone_head(origin, tmp / "workspace", shallow=True)
    subprocess.run(["chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", str(workspace)], check=True)
    files, workflow = tmp / "file_commands", tmp / "workflow"
    files.mkdir()
    workflow.mkdir()
    (files / "output").touch()
    (files / "summary.md").touch()
    (workflow / "event.json").write_text(json.dumps(pull_request_event(origin)), encoding="utf-8")
    env = {
        "INPUT_POLICY": ".int8gate.yml", "INPUT_GITHUB-TOKEN": ACTIONS, "INPUT_COMMENT": "update",
        "INPUT_FAIL-ON": "fail", "INPUT_REPORT-PATH": "int8gate-report.json", "INPUT_WORKING-DIRECTORY": "",
        "INPUT_CACHE-PATH": "", "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": "/github/workflow/event.json", "GITHUB_API_URL": standin.url,
        "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_JOB": "gate", "GITHUB_ACTIONS": "true", "GITHUB_SHA": origin.head,
        "GITHUB_OUTPUT": "/github/file_commands/output", "GITHUB_STEP_SUMMARY": "/github/file_commands/summary.md",
    }  # fmt: skip
    command = [image.docker, "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
               "-v", f"{workspace}:/github/workspace", "-v", f"{files}:/github/file_commands",
               "-v", f"{workflow}:/github/workflow", "-v", f"{origin.bare}:{origin.bare}:ro"]  # fmt: skip
    for name in env:
        command += ["-e", name]
    started = time.monotonic()
    ran = _run([*command, image.ref], env={**os.environ, **env})
    seconds = time.monotonic() - started
    assert (workspace / "int8gate-report.json").is_file(), ran.stderr[-3000:]
    comments = standin.comments(REPOSITORY, 2)
    assert len(comments) == 1
    return {"ran": ran, "seconds": seconds, "workspace": workspace, "comment": comments[0].body,
            "report": json.loads((workspace / "int8gate-report.json").read_text(encoding="utf-8")),
            "outputs": parse_outputs((files / "output").read_text(encoding="utf-8"))}  # fmt: skip


def _owned_by_the_runner(workspace: Path) -> None:
    """The root container's fetch left nothing under .git that the runner's uid does not own."""
    strangers = [p for p in (workspace / ".git").rglob("*") if p.lstat().st_uid != RUNNER_UID]
    assert strangers == []
    assert git(workspace, "-c", f"safe.directory={workspace}", "status", "--porcelain") == "?? int8gate-report.json"


def test_a_requantizing_pr_in_the_container(image: Image, tmp_path: Path, standin: StandIn) -> None:
    fake = REPO / "int8gate" / "demo" / "models" / "convnet_fake_int8.onnx"
    real = REPO / "int8gate" / "demo" / "models" / "convnet_int8.onnx"
    # main holds a float graph under the INT8 name; the PR replaces it with the real quantized model
    origin = make_origin(tmp_path / "origin", lambda w: _example(w, int8=fake),
                         lambda w: write_files(w, {"models/convnet_int8.onnx": real}))  # fmt: skip
    standin.open_pull(REPOSITORY, 2, head_sha=origin.head)
    got = _pull_request(image, tmp_path, origin, standin)
    models = {m["name"]: m for m in got["report"]["models"]}
    vs = models["convnet"]["vs_base"]
    assert (vs["status"], vs["base_ref"], vs["changed"]) == ("changed", origin.base, ["int8"])
    assert (vs["census_delta"]["before"]["format"], vs["census_delta"]["after"]["format"]) == ("float", "qdq")
    assert models["convnet-fake"]["vs_base"]["benchmark"]["skipped"] is True  # its files did not change
    assert f"fetching base {origin.base[:12]} (the clone is shallow)" in got["ran"].stderr
    assert f"**Against base `{origin.base[:12]}`:**" in got["comment"]
    assert "| format | float | qdq |" in got["comment"]
    assert got["outputs"]["verdict"] == got["report"]["verdict"]
    _owned_by_the_runner(got["workspace"])
    print(f"\nchanged PR: docker run {got['seconds']:.1f} s, verdict {got['report']['verdict']}", file=sys.stderr)


def test_a_pr_that_changes_no_model_in_the_container(image: Image, tmp_path: Path, standin: StandIn) -> None:
    real = REPO / "int8gate" / "demo" / "models" / "convnet_int8.onnx"
    origin = make_origin(tmp_path / "origin", lambda w: _example(w, int8=real),
                         lambda w: write_files(w, {"README.md": b"models, explained\n"}))  # fmt: skip
    standin.open_pull(REPOSITORY, 2, head_sha=origin.head)
    got = _pull_request(image, tmp_path, origin, standin)
    for model in got["report"]["models"]:
        assert model["vs_base"]["benchmark"]["skipped"] is True
        assert model["benchmark"]["runs"] == []
    assert "measuring at" not in got["ran"].stderr
    assert got["ran"].returncode == 1  # the fake on main is still caught: a verdict, not a shrug
    assert got["report"]["verdict"] == "fail"
    assert "**Unchanged against" in got["comment"] and "convnet-fake" in got["comment"]
    _owned_by_the_runner(got["workspace"])
    print(f"\nunchanged PR: docker run {got['seconds']:.1f} s", file=sys.stderr)
