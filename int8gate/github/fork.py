"""The fork comment artifact: what a fork PR's run leaves for the trusted ``workflow_run`` poster.

A fork's ``pull_request`` token is read-only, so the run writes the JSON reports it would have
commented on, and the PR they belong to, into ``int8gate-comment.json``. It carries no Markdown:
the poster reads every field back as untrusted data (each report into a typed ``Report``), checks
the PR against the run (``event.check_artifact_claim``) and renders the comment itself with the
escaping renderer.

History: 1 carried the rendered Markdown (posted as written); 2 carries the reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from int8gate.errors import Int8gateError
from int8gate.github.publish import StepOutcome, StepStatus
from int8gate.policy.spec import CommentMode
from int8gate.report.data import Report, read_report
from int8gate.report.jsonable import ReportFormatError, to_jsonable
from int8gate.workspace import Workspace, atomic_write_text

FORK_COMMENT_FILE = "int8gate-comment.json"
FORK_COMMENT_VERSION = 2
FORK_FILE_CAP = 16 << 20
MAX_REPORTS = 64


class ForkArtifactError(Int8gateError):
    """The fork comment artifact is missing, too large or not what a fork run writes."""


@dataclass(frozen=True)
class SourcedReport:
    """A report and where it came from (its file, or the Action's report path): the fleet view names it."""

    source: str
    report: Report


@dataclass(frozen=True)
class ForkComment:
    """What a fork PR's run leaves for the trusted ``workflow_run`` poster (untrusted when read back).

    One report is shown as the report; several (matrix legs) as the fleet comparison.
    """

    pr_number: int
    repository: str
    head_repo: str
    head_sha: str
    scope: str
    mode: CommentMode
    reports: tuple[SourcedReport, ...]
    version: int = FORK_COMMENT_VERSION


def write_fork_comment(folder: Path, comment: ForkComment, workspace: Workspace | None = None) -> StepOutcome:
    """Write the comment file into ``folder`` for ``actions/upload-artifact``: inside ``workspace``,
    never through a symlink (the Action passes it: a fork controls the checkout); without one the
    folder is trusted as given (a test's fixture)."""
    path = folder / FORK_COMMENT_FILE
    text = json.dumps(to_jsonable(comment), indent=1) + "\n"
    if workspace is None:
        atomic_write_text(path, text)
    else:
        workspace.write_text(path, text)
    return StepOutcome("fork-artifact", StepStatus.OK, f"wrote {path} for the workflow_run poster")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_fork_comment(path: Path) -> ForkComment:
    """Read a fork comment file back, checking every field (a fork could have written anything)."""
    try:
        if path.stat().st_size > FORK_FILE_CAP:
            raise ForkArtifactError(f"{path}: larger than {FORK_FILE_CAP:,} bytes")
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except FileNotFoundError:
        raise ForkArtifactError(f"{path}: no fork comment file (did the PR run upload one?)") from None
    except (OSError, UnicodeError, ValueError, RecursionError) as exc:
        raise ForkArtifactError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("version") != FORK_COMMENT_VERSION:
        raise ForkArtifactError(f"{path}: not an int8gate fork comment (version {FORK_COMMENT_VERSION})")
    kinds = {"pr_number": int, "repository": str, "head_repo": str, "head_sha": str, "scope": str, "mode": str,
             "reports": list}  # fmt: skip
    for key, kind in kinds.items():
        value = data.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ForkArtifactError(f"{path}: {key} is missing or not a {kind.__name__}")
    if not 1 <= len(data["reports"]) <= MAX_REPORTS:
        raise ForkArtifactError(f"{path}: reports must hold 1 to {MAX_REPORTS} reports")
    try:
        mode = CommentMode(data["mode"])
        reports = tuple(_sourced(item, f"reports[{i}]") for i, item in enumerate(data["reports"]))
    except (ValueError, ReportFormatError) as exc:
        raise ForkArtifactError(f"{path}: {exc}") from None
    fields = {key: data[key] for key in ("pr_number", "repository", "head_repo", "head_sha", "scope")}
    return ForkComment(**fields, mode=mode, reports=reports)


def _sourced(item: Any, where: str) -> SourcedReport:
    if not isinstance(item, dict) or not isinstance(item.get("source"), str):
        raise ReportFormatError(f"{where}.source: missing or not text")
    return SourcedReport(item["source"], read_report(item.get("report"), f"{where}.report"))
