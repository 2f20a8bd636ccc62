"""Pure reading of a GitHub event payload: which PR, which repository, fork or not, and what to do.

``find_activity`` takes the event name and the payload (a dict the entry point loaded from
``GITHUB_EVENT_PATH``) and returns ``EventFacts``; nothing here touches the network or the disk.

What each event means for the comment:

- ``pull_request`` from the same repository: the token can write, so post the comment.
- ``pull_request`` from a fork: the token is read-only (posting answers 403), so leave the report
  and the PR number in an artifact for a trusted ``workflow_run`` workflow to post.
- ``pull_request_target``: runs the base branch's workflow with a write token, even for forks.
- ``workflow_run``: the trusted follow-up. For a fork's run GitHub leaves
  ``workflow_run.pull_requests`` empty (actions/runner#3444), so the PR number comes from the
  artifact and must be checked against the run (``check_artifact_claim``) before posting.
- anything else (push, workflow_dispatch, ...): no PR, so job summary and outputs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from int8gate.errors import Int8gateError


class EventPayloadError(Int8gateError):
    """The event payload lacks a field GitHub always sends for this event."""


class Activity(str, Enum):
    """What the Action should do about the PR comment for this event."""

    COMMENT = "comment"
    FORK_ARTIFACT = "fork-artifact"
    POST_FROM_ARTIFACT = "post-from-artifact"
    NO_PULL_REQUEST = "no-pull-request"


@dataclass(frozen=True)
class PullRequestFacts:
    """A pull request as far as the comment cares: its number and where head and base live.

    base_sha: the base branch's commit the pull request is compared with (``pull_request.base.sha``).
    """

    number: int
    head_repo: str
    base_repo: str
    head_sha: str
    head_ref: str
    base_sha: str = ""

    @property
    def is_fork(self) -> bool:
        return self.head_repo != self.base_repo


@dataclass(frozen=True)
class WorkflowRunFacts:
    """The run a ``workflow_run`` event reports on."""

    run_id: int
    event: str
    conclusion: str | None
    head_sha: str
    head_branch: str | None
    head_repo: str
    pull_request_numbers: tuple[int, ...]
    html_url: str = ""


@dataclass(frozen=True)
class EventFacts:
    """Everything the Action needs from the event, decided once."""

    event_name: str
    repository: str
    activity: Activity
    pull_request: PullRequestFacts | None = None
    workflow_run: WorkflowRunFacts | None = None

    @property
    def pr_number(self) -> int | None:
        """The PR to comment on, when the event itself names exactly one."""
        if self.pull_request is not None:
            return self.pull_request.number
        if self.workflow_run is not None and len(self.workflow_run.pull_request_numbers) == 1:
            return self.workflow_run.pull_request_numbers[0]
        return None

    @property
    def is_fork(self) -> bool:
        """True when the code under test comes from another repository than the one it targets."""
        if self.pull_request is not None:
            return self.pull_request.is_fork
        if self.workflow_run is not None:
            return self.workflow_run.head_repo != self.repository
        return False


PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


def find_activity(event_name: str, payload: Mapping[str, Any], repository: str = "") -> EventFacts:
    """Decide from the event what to do about the comment.

    ``repository`` (``GITHUB_REPOSITORY``) is used only when the payload has no ``repository``.
    """
    repo = _repository(payload, repository)
    if event_name in PULL_REQUEST_EVENTS:
        pr = _pull_request(_obj(payload, "pull_request", event_name), event_name)
        fork_read_only = event_name == "pull_request" and pr.is_fork
        activity = Activity.FORK_ARTIFACT if fork_read_only else Activity.COMMENT
        return EventFacts(event_name, repo, activity, pull_request=pr)
    if event_name == "workflow_run":
        run = _workflow_run(_obj(payload, "workflow_run", event_name))
        return EventFacts(event_name, repo, Activity.POST_FROM_ARTIFACT, workflow_run=run)
    return EventFacts(event_name, repo, Activity.NO_PULL_REQUEST)


def check_artifact_claim(claimed: PullRequestFacts, run: WorkflowRunFacts, repository: str) -> str | None:
    """Why a PR read back from the API may not receive this run's comment, or None if it may.

    The artifact a fork's run leaves is untrusted: it could name any PR. ``claimed`` is the PR as
    GitHub reports it now (by number from the artifact); it must target ``repository`` and come from
    the run's head repository at the run's head commit.
    """
    if claimed.base_repo != repository:
        return f"PR #{claimed.number} targets {claimed.base_repo}, not {repository}"
    if claimed.head_repo != run.head_repo:
        return f"PR #{claimed.number} comes from {claimed.head_repo}, the run from {run.head_repo}"
    if claimed.head_sha != run.head_sha:
        return (
            f"PR #{claimed.number} is at {claimed.head_sha[:12]}, the run tested {run.head_sha[:12]} "
            "(the PR moved on; the newer run will comment)"
        )
    return None


def _repository(payload: Mapping[str, Any], fallback: str) -> str:
    repo = payload.get("repository")
    if isinstance(repo, dict) and isinstance(repo.get("full_name"), str):
        return str(repo["full_name"])
    if fallback:
        return fallback
    raise EventPayloadError("event payload: repository.full_name is missing and GITHUB_REPOSITORY is unset")


def _pull_request(pr: Mapping[str, Any], event_name: str) -> PullRequestFacts:
    where = f"{event_name}.pull_request"
    head = _obj(pr, "head", where)
    base = _obj(pr, "base", where)
    head_repo = head.get("repo")
    return PullRequestFacts(
        number=_int(pr, "number", where),
        # A PR whose fork was deleted has head.repo null: it is still not the base repository.
        head_repo=_str(head_repo, "full_name", f"{where}.head.repo") if isinstance(head_repo, dict) else "",
        base_repo=_str(_obj(base, "repo", f"{where}.base"), "full_name", f"{where}.base.repo"),
        head_sha=_str(head, "sha", f"{where}.head"),
        head_ref=_str(head, "ref", f"{where}.head"),
        base_sha=_str(base, "sha", f"{where}.base"),
    )


def _workflow_run(run: Mapping[str, Any]) -> WorkflowRunFacts:
    numbers = []
    for item in run.get("pull_requests") or []:
        if isinstance(item, dict):
            numbers.append(_int(item, "number", "workflow_run.pull_requests[]"))
    head_repo = run.get("head_repository")
    conclusion = run.get("conclusion")
    branch = run.get("head_branch")
    return WorkflowRunFacts(
        run_id=_int(run, "id", "workflow_run"),
        event=_str(run, "event", "workflow_run"),
        conclusion=conclusion if isinstance(conclusion, str) else None,
        head_sha=_str(run, "head_sha", "workflow_run"),
        head_branch=branch if isinstance(branch, str) else None,
        head_repo=_str(head_repo, "full_name", "workflow_run.head_repository") if isinstance(head_repo, dict) else "",
        pull_request_numbers=tuple(numbers),
        html_url=run["html_url"] if isinstance(run.get("html_url"), str) else "",
    )


def _obj(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise EventPayloadError(f"event payload: {where}.{key} is missing or not an object")
    return value


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise EventPayloadError(f"event payload: {where}.{key} is missing or not a string")
    return value


def _int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventPayloadError(f"event payload: {where}.{key} is missing or not an integer")
    return value
