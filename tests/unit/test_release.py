"""The release action.yml: the repository's own, with the image pulled by digest instead of built."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.paths import REPO

SCRIPT = REPO / "docker" / "release_action.py"
DIGEST = "sha256:" + "3f" * 32


def _release(tmp_path: Path, image: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(REPO / "action.yml", tmp_path / "action.yml")
    return subprocess.run([sys.executable, str(SCRIPT), image, str(tmp_path / "action.yml")],
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_the_release_action_pulls_the_image_by_digest_and_keeps_every_input_and_output(tmp_path: Path) -> None:
    image = f"ghcr.io/int8gate/int8gate@{DIGEST}"
    assert _release(tmp_path, image).returncode == 0
    source = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    released = yaml.safe_load((tmp_path / "action.yml").read_text(encoding="utf-8"))
    assert released["runs"] == {"using": "docker", "image": f"docker://{image}"}
    assert {k: v for k, v in released.items() if k != "runs"} == {k: v for k, v in source.items() if k != "runs"}
    lint = shutil.which("check-jsonschema")
    if lint is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    done = subprocess.run([lint, "--builtin-schema", "vendor.github-actions", str(tmp_path / "action.yml")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("image", ["ghcr.io/int8gate/int8gate:v1", "ghcr.io/int8gate/int8gate@sha256:abc",
                                   f"ghcr.io/int8gate/int8gate@{DIGEST}\n  evil: 1"])  # fmt: skip
def test_a_tag_or_a_malformed_digest_is_refused(tmp_path: Path, image: str) -> None:
    done = _release(tmp_path, image)
    assert done.returncode == 2
    assert "not an image reference pinned by digest" in done.stderr
    assert (tmp_path / "action.yml").read_text(encoding="utf-8") == (REPO / "action.yml").read_text(encoding="utf-8")
