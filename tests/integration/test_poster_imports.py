"""The workflow_run poster, run as its own process: it posts the comment without loading ONNX Runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support import reportdata
from support.ghcontract import EVENTS_DIR
from support.ghstandin import ACTIONS, StandIn

from int8gate.github.fork import ForkComment, SourcedReport, write_fork_comment
from int8gate.policy.spec import CommentMode

PROBE = """\
import json, sys
from int8gate.action import main
code = main()
print(json.dumps({"exit": code, "loaded": sorted(m for m in ("onnxruntime", "onnx", "numpy") if m in sys.modules)}))
"""


def test_the_poster_posts_without_importing_onnx_runtime(tmp_path: Path, standin: StandIn) -> None:
    event = json.loads((EVENTS_DIR / "derived/workflow_run.completed.fork-pr.json").read_text(encoding="utf-8"))
    head = event["workflow_run"]["head_sha"]
    standin.open_pull("octo-org/octo-repo", 2, head_repo="forker/octo-repo", head_sha=head)
    workspace = tmp_path / "ws"
    write_fork_comment(workspace / "int8gate-fork", ForkComment(
        2, "octo-org/octo-repo", "forker/octo-repo", head, "gate/.int8gate.yml", CommentMode.UPDATE,
        (SourcedReport("int8gate-report.json", reportdata.pass_and_fake()),)))  # fmt: skip
    shutil.copy(EVENTS_DIR / "derived/workflow_run.completed.fork-pr.json", tmp_path / "event.json")
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.update({"GITHUB_WORKSPACE": str(workspace), "GITHUB_EVENT_NAME": "workflow_run",
                "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_API_URL": standin.url,
                "GITHUB_REPOSITORY": "octo-org/octo-repo", "INPUT_GITHUB-TOKEN": ACTIONS})  # fmt: skip
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["exit"] == 0
    assert len(standin.comments("octo-org/octo-repo", 2)) == 1, done.stderr[-2000:]
    assert "onnxruntime" not in result["loaded"], result
