"""The Action's container, built and run the way GitHub's runner runs it, against the loopback stand-in.

Needs a Docker engine (``docker info``); without one the test is skipped with the reason, loudly.
No registry is reachable, so the base image is Debian bookworm made by ``debootstrap`` and
``docker import``; the host's CA bundle reaches the pip step as a BuildKit secret only. The
container runs with ``--network host`` (never the default bridge) so it reaches 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import NoReturn

import pytest
from support.actionfiles import parse_outputs
from support.ghcontract import EVENTS_DIR
from support.ghstandin import ACTIONS, StandIn
from support.paths import REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

ROOT = REPO
BASE_IMAGE = "int8gate-base:bookworm"
IMAGE = "int8gate-action:test"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _skip_loudly(reason: str) -> NoReturn:
    message = f"container test SKIPPED: {reason}"
    print(message, file=sys.stderr)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


def _run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        _skip_loudly("no docker client on PATH")
    info = _run([docker, "info", "--format", "{{.ServerVersion}}"])
    if info.returncode != 0:
        _skip_loudly(f"`docker info` failed, no engine running: {info.stderr.strip()[:200]}")
    return docker


def _ensure_base(docker: str, work: Path) -> None:
    if _run([docker, "image", "inspect", BASE_IMAGE]).returncode == 0:
        return
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        _skip_loudly(f"{BASE_IMAGE} is missing and debootstrap is not installed to make it")
    rootfs = work / "rootfs"
    made = _run([debootstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                 "bookworm", str(rootfs), "http://deb.debian.org/debian"])  # fmt: skip
    if made.returncode != 0:
        _skip_loudly(f"debootstrap failed: {made.stderr.strip()[-300:]}")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run([docker, "import", "-", BASE_IMAGE], stdin=tar.stdout, capture_output=True,
                              text=True, check=False)  # fmt: skip
    tar.wait()
    assert imported.returncode == 0, imported.stderr


def _build(docker: str) -> float:
    """Build the Action's Dockerfile with BuildKit; the CA bundle is a secret for the pip step only."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    args = ["build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
            "--secret", f"id=cacert,src={CA_BUNDLE}", "-t", IMAGE, str(ROOT)]  # fmt: skip
    errors = []
    # A newer client needs the buildx plugin for BuildKit; Debian's docker.io client has it built in.
    for client in dict.fromkeys([docker, "/usr/bin/docker"]):
        if not Path(client).exists():
            continue
        started = time.monotonic()
        built = _run([client, *args], env=env)
        if built.returncode == 0:
            return time.monotonic() - started
        errors.append(f"{client}: {built.stderr.strip()[-400:]}")
    pytest.fail("docker build failed:\n" + "\n".join(errors))



def test_the_action_container_gates_the_example_and_comments_once(tmp_path: Path, standin: StandIn) -> None:
    docker = _docker()
    _ensure_base(docker, tmp_path)
    build_s = _build(docker)
    size = _run([docker, "image", "inspect", IMAGE, "--format", "{{.Size}}"]).stdout.strip()
    leaked = _run([docker, "run", "--rm", "--network", "host", "--entrypoint", "sh", IMAGE, "-c",
                   "ls -A /run/secrets 2>/dev/null; grep -rl 'BEGIN CERTIFICATE' /opt 2>/dev/null | head -1"])  # fmt: skip
    assert "cacert" not in leaked.stdout

    workspace, files, workflow = tmp_path / "workspace", tmp_path / "file_commands", tmp_path / "workflow"
    shutil.copytree(ROOT / "int8gate" / "demo", workspace, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    policy = workspace / ".int8gate.yml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("budget_seconds: 6", "budget_seconds: 2"))
    files.mkdir()
    workflow.mkdir()
    (files / "output").touch()
    (files / "summary.md").touch()
    shutil.copy(EVENTS_DIR / "pull_request.opened.json", workflow / "event.json")
    standin.open_pull("Codertocat/Hello-World", 2)

    env = {
        "INPUT_POLICY": ".int8gate.yml", "INPUT_GITHUB-TOKEN": ACTIONS, "INPUT_COMMENT": "update",
        "INPUT_FAIL-ON": "fail", "INPUT_REPORT-PATH": "int8gate-report.json", "INPUT_WORKING-DIRECTORY": "",
        "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": "/github/workflow/event.json", "GITHUB_API_URL": standin.url,
        "GITHUB_REPOSITORY": "Codertocat/Hello-World", "GITHUB_JOB": "gate", "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": "/github/file_commands/output", "GITHUB_STEP_SUMMARY": "/github/file_commands/summary.md",
    }  # fmt: skip
    command = [docker, "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
               "-v", f"{workspace}:/github/workspace", "-v", f"{files}:/github/file_commands",
               "-v", f"{workflow}:/github/workflow"]  # fmt: skip
    for name in env:
        command += ["-e", name]  # values come from the environment, as the runner passes them
    started = time.monotonic()
    ran = _run([*command, IMAGE], env={**os.environ, **env})
    run_s = time.monotonic() - started

    report = json.loads((workspace / "int8gate-report.json").read_text(encoding="utf-8"))
    outputs = parse_outputs((files / "output").read_text(encoding="utf-8"))
    print(f"\nimage {int(size) / 1e6:.0f} MB, build {build_s:.0f} s, docker run to report {run_s:.1f} s, "
          f"verdict {report['verdict']}, exit {ran.returncode}", file=sys.stderr)  # fmt: skip
    assert ran.returncode == (0 if report["verdict"] == "pass" else 1), ran.stderr[-2000:]
    assert outputs["verdict"] == report["verdict"]
    fake = next(m for m in report["models"] if m["name"] == "convnet-fake")
    assert fake["verdict"] == "fail"
    comments = standin.comments("Codertocat/Hello-World", 2)
    assert len(comments) == 1
    assert outputs["comment-id"] == str(comments[0].id)
    assert "convnet-fake" in (files / "summary.md").read_text(encoding="utf-8")
    assert f"::add-mask::{ACTIONS}" in ran.stdout
    assert ACTIONS not in ran.stderr
