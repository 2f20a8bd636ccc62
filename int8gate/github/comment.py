"""Where a report's comment goes: the sticky comment on the PR, or the fork artifact for a trusted poster.

Shared by the Action and ``int8gate comment``. Each builds its own ``CommentSettings`` (the Action
from its ``INPUT_*`` inputs, the command from its arguments and ``GITHUB_*``/``GITHUB_TOKEN``) and
calls ``comment_step`` (post, or leave the comment in the fork artifact when the token is
read-only) or ``post_from_artifact`` (the trusted ``workflow_run`` side). The posting itself is
``sticky.post_sticky``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from int8gate.errors import Int8gateError, UsageError
from int8gate.github.answers import GitHubError, Repo
from int8gate.github.client import DEFAULT_API_URL, GitHubClient
from int8gate.github.event import Activity, EventFacts, check_artifact_claim, find_activity
from int8gate.github.fork import FORK_COMMENT_FILE, ForkComment, SourcedReport, read_fork_comment, write_fork_comment
from int8gate.github.publish import (
    StepOutcome,
    StepStatus,
    append_outputs,
    comment_outcome,
    log_outcomes,
    run_steps,
    step_outputs,
)
from int8gate.github.sticky import StickyAction, StickyResult, post_sticky
from int8gate.judge.verdict import Verdict
from int8gate.policy.spec import DEFAULT_POLICY_FILE, CommentMode
from int8gate.report.data import Report
from int8gate.report.forkview import ForkRun, fork_verdict, render_fork_comment
from int8gate.report.syntax import sanitize_scope
from int8gate.workspace import JsonFileError, Workspace, output_path, read_json

DEFAULT_FORK_FOLDER = "int8gate-fork"


def default_scope(job: str, policy: str) -> str:
    """The sticky comment's scope when none is given: ``JOB/POLICY``, sanitized like any scope."""
    return sanitize_scope(f"{job or 'job'}/{policy}")


@dataclass(frozen=True)
class CommentSettings:
    """Everything the comment needs: mode, scope, where GitHub and the event are, the fork folder.

    The token never shows in ``repr``. ``fork_folder`` is resolved against ``workspace`` when used,
    so a bad folder fails that step only.
    """

    mode: CommentMode
    scope: str
    fork_folder: str
    workspace: Path
    api_url: str
    repository: str
    event_name: str
    event_path: Path | None
    output_path: Path | None
    token: str = field(default="", repr=False)
    author: str = ""
    """Our comments' author login when it cannot be asked for (a GitHub App's ``<slug>[bot]``); see ``sticky``."""

    @classmethod
    def for_command(
        cls, env: Mapping[str, str], *, scope: str | None, mode: str | None, fork_folder: str | None
    ) -> CommentSettings:
        """``int8gate comment``'s settings: its arguments, then ``GITHUB_TOKEN`` and ``GITHUB_*``."""
        comment = CommentMode(mode or CommentMode.UPDATE.value)
        token = env.get("GITHUB_TOKEN", "")
        if comment is not CommentMode.OFF and not token:
            raise UsageError("GITHUB_TOKEN is empty: set it to ${{ github.token }} for this step, or pass --mode off")
        chosen = sanitize_scope(scope) if scope else default_scope(env.get("GITHUB_JOB", ""), DEFAULT_POLICY_FILE)
        return cls.from_github_env(env, mode=comment, scope=chosen, fork_folder=fork_folder, token=token)

    @classmethod
    def from_github_env(
        cls, env: Mapping[str, str], *, mode: CommentMode, scope: str, fork_folder: str | None, token: str,
        author: str = "",
    ) -> CommentSettings:
        """The settings with where GitHub and the event are taken from the runner's ``GITHUB_*``."""
        return cls(
            mode=mode,
            scope=scope,
            fork_folder=fork_folder or DEFAULT_FORK_FOLDER,
            workspace=Path(env.get("GITHUB_WORKSPACE") or Path.cwd()).resolve(),
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            repository=env.get("GITHUB_REPOSITORY", ""),
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event_path=Path(env["GITHUB_EVENT_PATH"]) if env.get("GITHUB_EVENT_PATH") else None,
            output_path=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
            token=token,
            author=author,
        )

    def fork_dir(self) -> Path:
        """The fork artifact folder, inside the workspace (``WorkspaceError`` otherwise)."""
        return output_path(self.fork_folder, Workspace.at(self.workspace), folder=True)


ClientFactory = Callable[[CommentSettings], GitHubClient]


def default_client(settings: CommentSettings) -> GitHubClient:
    """The real client for these settings."""
    return GitHubClient(settings.token, base_url=settings.api_url)


def read_event(settings: CommentSettings) -> EventFacts:
    """The event as facts; no event file (a local run) means no PR. An event file that is not a JSON
    object is a ``UsageError`` naming ``GITHUB_EVENT_PATH``."""
    payload = {}
    if settings.event_path is not None and settings.event_path.exists():
        try:
            payload = read_json(settings.event_path)
        except JsonFileError as exc:
            raise UsageError(f"the event file (GITHUB_EVENT_PATH) {exc}") from None
        if not isinstance(payload, dict):
            kind = "null" if payload is None else type(payload).__name__
            raise UsageError(f"the event file (GITHUB_EVENT_PATH) {settings.event_path}: holds a JSON {kind}, "
                             "not the event's object")  # fmt: skip
    return find_activity(settings.event_name, payload, settings.repository)


PERMISSIONS_FIX = (
    "int8gate could not comment on pull request #{number}: this repository's token may not write to pull "
    "requests ({reason}). Give the job that permission (keep contents: read for the checkout):\n"
    "permissions:\n  contents: read\n  pull-requests: write"
)
NO_REPORTS_FOR_FORK = (
    "int8gate cannot leave this comment for the workflow_run poster: the poster posts only what it renders "
    "itself from JSON reports, never a fork's Markdown. Pass the reports (int8gate comment --report FILE...)."
)


@dataclass(frozen=True)
class CommentContent:
    """What to comment: the rendered Markdown for a direct post, and the reports behind it for a fork's artifact."""

    markdown: str
    verdict: Verdict
    reports: tuple[SourcedReport, ...] = ()


def comment_step(settings: CommentSettings, event: EventFacts, content: CommentContent, *,
                 client_factory: ClientFactory, sticky: list[StickyResult]) -> StepOutcome:  # fmt: skip
    """Post the sticky comment; on a fork's run, leave the reports for the poster instead.

    Only a fork's ``pull_request`` token is read-only by design. A 403 on a same-repository pull
    request means the workflow did not grant ``pull-requests: write``: that is a failed step with a
    warning naming the fix, and no artifact (no poster would post it). What happened is appended to
    ``sticky`` for the outputs.
    """
    failed = content.verdict is not Verdict.PASS
    if settings.mode is CommentMode.OFF:
        return StepOutcome("comment", StepStatus.SKIPPED, "comment: off")
    if event.pr_number is None:
        return StepOutcome("comment", StepStatus.SKIPPED, f"no pull request in a {event.event_name or 'local'} run")
    pr = event.pull_request
    if event.activity is Activity.FORK_ARTIFACT and pr is not None:
        if not content.reports:
            sticky.append(StickyResult(StickyAction.FAILED, None, None, "no JSON reports to leave for the poster"))
            return StepOutcome("comment", StepStatus.FAILED, "no JSON reports to leave", warning=NO_REPORTS_FOR_FORK)
        sticky.append(StickyResult(StickyAction.READ_ONLY, None, None, "a fork's pull_request token is read-only"))
        leave = ForkComment(pr.number, event.repository, pr.head_repo, pr.head_sha, settings.scope, settings.mode,
                            content.reports)  # fmt: skip
        return write_fork_comment(settings.fork_dir(), leave, Workspace.at(settings.workspace))
    try:
        result = post_sticky(client_factory(settings), Repo.parse(event.repository), event.pr_number,
                             content.markdown, scope=settings.scope, mode=settings.mode, failed=failed,
                             author=settings.author or None, head_sha=pr.head_sha if pr else None)  # fmt: skip
    except GitHubError as exc:
        sticky.append(StickyResult(StickyAction.FAILED, None, None, str(exc)))
        return StepOutcome("comment", StepStatus.FAILED, str(exc), warning=f"int8gate could not comment: {exc}")
    sticky.append(result)
    if result.action is StickyAction.READ_ONLY:
        fix = PERMISSIONS_FIX.format(number=event.pr_number, reason=result.reason)
        return StepOutcome("comment", StepStatus.FAILED, result.reason, warning=fix)
    return comment_outcome(result)


def post_saved(settings: CommentSettings, event: EventFacts, content: CommentContent, *,
               client_factory: ClientFactory, out: TextIO, err: TextIO) -> int:  # fmt: skip
    """``int8gate comment``: post a saved comment or reports as the sticky comment (a fork's run leaves them)."""
    sticky: list[StickyResult] = []
    outcomes = run_steps([("comment", lambda: comment_step(
        settings, event, content, client_factory=client_factory, sticky=sticky))])
    result = sticky[0] if sticky else None
    outputs = step_outputs(None, "", result, verdict=content.verdict)
    outcomes += run_steps([("outputs", lambda: append_outputs(settings.output_path, outputs))])
    log_outcomes(outcomes, err, out)
    return 0


def post_from_artifact(settings: CommentSettings, event: EventFacts, client_factory: ClientFactory, *,
                       out: TextIO, err: TextIO, path: Path | None = None,
                       mode: CommentMode | None = None) -> int:  # fmt: skip
    """The trusted ``workflow_run`` side: render and post what a fork's run left, if it names its own PR.

    ``mode`` overrides the mode the fork's run recorded (the poster's own ``comment`` input, when
    given). Nothing from the artifact is posted as written: the reports are read back into typed
    data and rendered here. Outputs: the verdict of what was posted, empty when nothing was.
    """
    run_facts = event.workflow_run
    if path is None:
        path = settings.fork_dir() / FORK_COMMENT_FILE
    result: StickyResult | None = None
    shown: Report | None = None
    verdict: Verdict | None = None
    if run_facts is None or not path.is_file():
        outcome = StepOutcome("comment", StepStatus.SKIPPED, f"no {path.name}: nothing to post")
    else:
        try:
            left = read_fork_comment(path)
            client = client_factory(settings)
            repo = Repo.parse(event.repository)
            refusal = check_artifact_claim(client.get_pull_request(repo, left.pr_number), run_facts, event.repository)
            if refusal is not None:
                outcome = StepOutcome("comment", StepStatus.SKIPPED, f"not posting: {refusal}")
            else:
                reports = [(item.source, item.report) for item in left.reports]
                verdict = fork_verdict([report for _, report in reports])
                shown = replace(reports[0][1], verdict=verdict) if len(reports) == 1 else None
                fork_run = ForkRun(run_facts.run_id, run_facts.html_url, run_facts.head_repo, run_facts.head_sha)
                result = post_sticky(client, repo, left.pr_number, render_fork_comment(reports, fork_run),
                                     scope=sanitize_scope(left.scope), mode=mode or left.mode,
                                     failed=verdict is not Verdict.PASS, author=settings.author or None,
                                     head_sha=run_facts.head_sha)  # fmt: skip
                outcome = comment_outcome(result)
        except (GitHubError, Int8gateError) as exc:
            result = StickyResult(StickyAction.FAILED, None, None, str(exc))
            outcome = StepOutcome("comment", StepStatus.FAILED, str(exc), warning=f"int8gate could not post: {exc}")
    outputs = step_outputs(shown, "", result, verdict=verdict)
    if verdict is None:
        outputs["verdict"] = ""  # nothing was posted: no verdict to report (not "error": no gate ran here)
    outcomes = (outcome, *run_steps([("outputs", lambda: append_outputs(settings.output_path, outputs))]))
    log_outcomes(outcomes, err, out)
    return 0
