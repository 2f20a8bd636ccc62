"""The fork comment artifact: what a fork PR's run leaves for the trusted ``workflow_run`` poster.

A fork's ``pull_request`` token is read-only, so the run writes the rendered comment and the PR it
belongs to into ``int8gate-comment.json``; the poster reads it back as untrusted data (every field's
type checked) and posts it only if the PR really comes from the run's head (``event.check_artifact_claim``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from int8gate.errors import Int8gateError
from int8gate.github.publish import StepOutcome, StepStatus
from int8gate.report.jsonable import to_jsonable
from int8gate.workspace import atomic_write_text

FORK_COMMENT_FILE = "int8gate-comment.json"
FORK_COMMENT_VERSION = 1
_FORK_FILE_CAP = 4 << 20


class ForkArtifactError(Int8gateError):
    """The fork comment artifact is missing, too large or not what a fork run writes."""


@dataclass(frozen=True)
class ForkComment:
    """What a fork PR's run leaves for the trusted ``workflow_run`` poster (untrusted when read back)."""

    pr_number: int
    repository: str
    head_repo: str
    head_sha: str
    scope: str
    failed: bool
    verdict: str
    markdown: str
    version: int = FORK_COMMENT_VERSION


def write_fork_comment(folder: Path, comment: ForkComment) -> StepOutcome:
    """Write the comment file into ``folder`` for ``actions/upload-artifact``."""
    path = folder / FORK_COMMENT_FILE
    atomic_write_text(path, json.dumps(to_jsonable(comment), indent=2) + "\n")
    return StepOutcome("fork-artifact", StepStatus.OK, f"wrote {path} for the workflow_run poster")


def read_fork_comment(path: Path) -> ForkComment:
    """Read a fork comment file back, checking every field's type (a fork could have written anything)."""
    try:
        if path.stat().st_size > _FORK_FILE_CAP:
            raise ForkArtifactError(f"{path}: larger than {_FORK_FILE_CAP:,} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ForkArtifactError(f"{path}: no fork comment file (did the PR run upload one?)") from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise ForkArtifactError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("version") != FORK_COMMENT_VERSION:
        raise ForkArtifactError(f"{path}: not an int8gate fork comment (version {FORK_COMMENT_VERSION})")
    kinds = {"pr_number": int, "repository": str, "head_repo": str, "head_sha": str, "scope": str,
             "failed": bool, "verdict": str, "markdown": str}  # fmt: skip
    for key, kind in kinds.items():
        value = data.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ForkArtifactError(f"{path}: {key} is missing or not a {kind.__name__}")
    return ForkComment(**{key: data[key] for key in kinds})
