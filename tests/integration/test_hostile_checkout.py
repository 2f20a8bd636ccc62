"""``int8gate check`` run from inside a hostile repository imports none of its Python files, nor do its children."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.hostile import plant, ran
from support.paths import REPO

POLICY = """\
version: 1
models:
  - name: convnet-fake
    fp32: models/convnet_fp32.onnx
    int8: models/convnet_fake_int8.onnx
benchmark: {threads: [1], budget_seconds: 0.5}
"""


def _console_script() -> Path:
    script = Path(sys.executable).parent / "int8gate"
    if not script.is_file():
        pytest.skip(f"no int8gate console script beside {sys.executable} (pip install -e '.[dev]')")
    return script


def test_check_from_a_hostile_checkout_runs_none_of_its_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "int8gate" / "demo" / "models", repo / "models")
    (repo / ".int8gate.yml").write_text(POLICY, encoding="utf-8")
    plant(repo)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    done = subprocess.run([str(_console_script()), "check", "--json", "report.json"], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=240)  # fmt: skip
    assert ran(repo) == [], done.stderr[-2000:]
    assert done.returncode == 1, done.stderr[-2000:]  # the fake is caught: the gate's own "fail"
    report = json.loads((repo / "report.json").read_text(encoding="utf-8"))
    rows = report["models"][0]["benchmark"]["runs"]
    assert rows and all(row["error"] is None for row in rows), rows  # the workers really ran
