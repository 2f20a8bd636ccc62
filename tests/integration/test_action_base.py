"""The Action on a pull request, end to end with the real gate: a real PR event payload whose base and head
point at a repository made here, a depth-1 clone as ``actions/checkout`` leaves it, and the GitHub stand-in
receiving the comment. A re-quantizing PR shows before → after; a PR that changes no model is not benchmarked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.actionfiles import parse_outputs
from support.ghstandin import ACTIONS, StandIn
from support.gitrepo import Origin, clone_head, make_origin, pull_request_event, write_files

from examples.modelzoo import Zoo
from int8gate.action import main

REPO = "Codertocat/Hello-World"
POLICY = b"""\
models:
  - {name: net, fp32: models/net_fp32.onnx, int8: models/net_int8.onnx}
require: {speedup: 0.5, vs_base: {max_slowdown: 0.5}}
benchmark: {threads: [1], budget_seconds: 0.6, sessions: 2, warmup_runs: 2, confirm: false}
report: {profile: false}
"""


def _base(zoo: Zoo, int8: Path) -> dict[str, bytes | Path]:
    return {".int8gate.yml": POLICY, "models/net_fp32.onnx": zoo.conv_fp32, "models/net_int8.onnx": int8,
            "README.md": b"models\n"}  # fmt: skip


def run_action(tmp: Path, origin: Origin, standin: StandIn, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """One Action run on the PR from ``origin``'s main to its change branch, in a fresh shallow checkout."""
    workspace = clone_head(origin, tmp / "ws", shallow=True)
    (tmp / "event.json").write_text(json.dumps(pull_request_event(origin)), encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"], "GITHUB_WORKSPACE": str(workspace), "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(tmp / "event.json"), "GITHUB_API_URL": standin.url, "GITHUB_REPOSITORY": REPO,
        "GITHUB_JOB": "gate", "GITHUB_OUTPUT": str(tmp / "output"), "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        "INPUT_GITHUB-TOKEN": ACTIONS, "INPUT_COMMENT": "update", "INPUT_FAIL-ON": "fail",
    }  # fmt: skip
    code = main(env)
    out, err = capsys.readouterr()
    report = json.loads((workspace / "int8gate-report.json").read_text(encoding="utf-8"))
    comments = standin.comments(REPO, 2)
    assert len(comments) == 1
    return {"code": code, "report": report, "comment": comments[0].body, "err": err, "out": out,
            "outputs": parse_outputs((tmp / "output").read_text(encoding="utf-8")), "workspace": workspace}  # fmt: skip


def test_a_requantizing_pr_shows_before_and_after(
    zoo: Zoo, tmp_path: Path, standin: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = make_origin(tmp_path / "origin", lambda w: write_files(w, _base(zoo, zoo.conv_half_fake)),
                         lambda w: write_files(w, {"models/net_int8.onnx": zoo.conv_qdq}))  # fmt: skip
    standin.open_pull(REPO, 2, head_sha=origin.head)
    got = run_action(tmp_path, origin, standin, capsys)
    vs = got["report"]["models"][0]["vs_base"]
    assert (vs["status"], vs["base_ref"]) == ("changed", origin.base)
    assert f"int8gate: fetching base {origin.base[:12]} (the clone is shallow)" in got["err"]
    comment = got["comment"]
    assert f"**Against base `{origin.base[:12]}`:** the INT8 model changed against base {origin.base[:12]}" in comment
    assert "| compute ops quantized | 1 of 7 | 7 of 7 |" in comment
    assert "| MACs in integer |" in comment and "| fidelity: worst cosine, SNR |" in comment
    assert "| vs base |" in comment and "| INT8 time, head / base, 1t | 1× | **" in comment
    assert vs["int8_latency_ratio"]["estimate"] > 0
    assert got["outputs"]["verdict"] == got["report"]["verdict"]


def test_a_pr_that_changes_no_model_finishes_without_benchmarking(
    zoo: Zoo, tmp_path: Path, standin: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = make_origin(tmp_path / "origin", lambda w: write_files(w, _base(zoo, zoo.conv_qdq)),
                         lambda w: write_files(w, {"README.md": b"models, explained\n"}))  # fmt: skip
    standin.open_pull(REPO, 2, head_sha=origin.head)
    got = run_action(tmp_path, origin, standin, capsys)
    model = got["report"]["models"][0]
    assert model["vs_base"]["benchmark"]["skipped"] is True
    assert model["benchmark"]["runs"] == []
    assert "measuring" not in got["err"]  # no worker was started for a benchmark
    assert (got["code"], got["report"]["verdict"]) == (0, "pass")
    assert (f"**Unchanged against `{origin.base[:12]}`, not benchmarked again (1 pair, ✅ pass):** net"
            in got["comment"])  # fmt: skip
    assert got["outputs"]["speedup"] == ""  # nothing was measured in this run
