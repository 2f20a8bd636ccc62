"""The GitHub Action entry: ``INPUT_*`` and ``GITHUB_*`` → settings → gate → publish → exit code.

``os.environ`` is read once, in ``main``; everything below takes the mapping. Input names keep
their hyphens (``INPUT_GITHUB-TOKEN``), and ``required: true`` in ``action.yml`` is not enforced
by GitHub, so every input is validated here with a message naming the input and the fix.

What happens per event (``event.find_activity``): a same-repository PR gets the sticky comment; a
fork's ``pull_request`` (read-only token) leaves ``int8gate-comment.json`` for the ``workflow_run``
poster; a ``workflow_run`` event posts such a file after checking its claim against the PR; other
events publish the summary and outputs only. The exit code is the gate's (0 pass, 1 fail, 2 bad
input); publishing problems are logged and never change it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from int8gate.errors import EXIT_BAD_INPUT, Int8gateError, UsageError
from int8gate.github.client import DEFAULT_API_URL, GitHubClient, GitHubError, Repo
from int8gate.github.event import Activity, EventFacts, check_artifact_claim, find_activity
from int8gate.github.publish import (
    FORK_COMMENT_FILE,
    ForkComment,
    StepOutcome,
    StepStatus,
    add_mask,
    annotation_command,
    append_outputs,
    append_summary,
    comment_outcome,
    emit_annotations,
    error_annotation,
    read_fork_comment,
    report_annotations,
    run_steps,
    step_outputs,
    write_fork_comment,
    write_report_json,
)
from int8gate.github.sticky import StickyAction, StickyResult, post_sticky
from int8gate.judge.verdict import FailOn, Verdict
from int8gate.policy.spec import CommentMode
from int8gate.report.data import Report
from int8gate.report.markdown import RenderOptions, render_report, render_stopped
from int8gate.report.syntax import COMMENT_LIMIT, SUMMARY_LIMIT
from int8gate.report.syntax import marker as marker_for
from int8gate.workspace import Workspace, output_path

Gate = Callable[[Path, Path, Mapping[str, str], FailOn], Report]
ClientFactory = Callable[["ActionSettings"], GitHubClient]


def _input(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(f"INPUT_{name.upper()}", "").strip() or default


def _choice(env: Mapping[str, str], name: str, allowed: list[str], default: str) -> str:
    value = _input(env, name, default)
    if value not in allowed:
        raise UsageError(f"input {name}: {value!r} is not one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class ActionSettings:
    """Everything the Action was asked to do, validated. The token never shows in ``repr``."""

    policy: Path
    comment: CommentMode
    fail_on: FailOn
    report_path: str
    workspace: Path
    working_directory: Path
    scope: str
    fork_folder: str
    api_url: str
    repository: str
    event_name: str
    event_path: Path | None
    summary_path: Path | None
    output_path: Path | None
    token: str = field(default="", repr=False)

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> ActionSettings:
        workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
        working = (workspace / _input(env, "working-directory", ".")).resolve()
        if not Workspace.at(workspace).contains(working):
            raise UsageError(f"input working-directory: {working} is outside the workspace {workspace}")
        comment = CommentMode(_choice(env, "comment", [m.value for m in CommentMode], "update"))
        token = _input(env, "github-token")
        if comment is not CommentMode.OFF and not token:
            raise UsageError("input github-token is empty: pass ${{ github.token }}, or set comment: off")
        policy = _input(env, "policy", ".int8gate.yml")
        job = env.get("GITHUB_JOB", "")
        scope = _input(env, "comment-scope") or re.sub(r"[^A-Za-z0-9._:/@+=-]", "-", f"{job or 'job'}/{policy}")
        marker_for(scope)  # a bad scope is a usage error now, not a failed comment later
        return cls(
            policy=working / policy,
            comment=comment,
            fail_on=FailOn(_choice(env, "fail-on", [m.value for m in FailOn], FailOn.FAIL.value)),
            report_path=_input(env, "report-path", "int8gate-report.json"),
            workspace=workspace,
            working_directory=working,
            scope=scope.replace("--", "-"),
            fork_folder=_input(env, "fork-artifact-folder", "int8gate-fork"),
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            repository=env.get("GITHUB_REPOSITORY", ""),
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event_path=Path(env["GITHUB_EVENT_PATH"]) if env.get("GITHUB_EVENT_PATH") else None,
            summary_path=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
            output_path=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
            token=token,
        )


def read_event(settings: ActionSettings) -> EventFacts:
    """The event as facts; no event file (a local run) means no PR."""
    payload = {}
    if settings.event_path is not None and settings.event_path.is_file():
        payload = json.loads(settings.event_path.read_text(encoding="utf-8"))
    return find_activity(settings.event_name, payload, settings.repository)


def default_client(settings: ActionSettings) -> GitHubClient:
    return GitHubClient(settings.token, base_url=settings.api_url)


def run(settings: ActionSettings, env: Mapping[str, str], *, gate: Gate, client_factory: ClientFactory,
        out: TextIO, err: TextIO) -> int:  # fmt: skip
    """Do the Action's work and return its exit code; every step's outcome is logged to ``err``."""
    if settings.token:
        print(add_mask(settings.token), file=out, flush=True)
    event = read_event(settings)
    if event.activity is Activity.POST_FROM_ARTIFACT:
        return _post_from_artifact(settings, event, client_factory, out=out, err=err)
    try:
        report = gate(settings.policy, settings.workspace, env, settings.fail_on)
    except Int8gateError as exc:
        print(annotation_command(error_annotation(exc)), file=out, flush=True)
        stopped = render_stopped(str(exc))
        _log(run_steps([
            ("summary", lambda: append_summary(settings.summary_path, stopped)),
            ("outputs", lambda: append_outputs(settings.output_path, step_outputs(None, "", None))),
        ]), err)  # fmt: skip
        return exc.exit_code
    return _publish(settings, event, report, client_factory=client_factory, out=out, err=err)


def _publish(settings: ActionSettings, event: EventFacts, report: Report, *, client_factory: ClientFactory,
             out: TextIO, err: TextIO) -> int:  # fmt: skip
    marker = marker_for(settings.scope)
    comment_md = render_report(report, RenderOptions(marker=marker, limit=COMMENT_LIMIT))
    summary_md = render_report(report, RenderOptions(limit=SUMMARY_LIMIT))
    workspace = Workspace.at(settings.workspace)
    sticky: list[StickyResult] = []

    def comment() -> StepOutcome:
        return comment_step(settings, event, comment_md, verdict=report.verdict,
                            client_factory=client_factory, sticky=sticky)

    outcomes = run_steps([
        ("report", lambda: write_report_json(output_path(settings.report_path, workspace), report)),
        ("annotations", lambda: emit_annotations(report_annotations(report), out)),
        ("summary", lambda: append_summary(settings.summary_path, summary_md)),
        ("comment", comment),
    ])  # fmt: skip
    result = sticky[0] if sticky else None
    outputs = step_outputs(report, settings.report_path, result)
    outcomes += run_steps([("outputs", lambda: append_outputs(settings.output_path, outputs))])
    _log(outcomes, err)
    return report.exit_code


def comment_step(settings: ActionSettings, event: EventFacts, markdown: str, *, verdict: Verdict,
                 client_factory: ClientFactory, sticky: list[StickyResult]) -> StepOutcome:  # fmt: skip
    """Post ``markdown`` as the sticky comment, or leave it for the poster when the token is read-only."""
    failed = verdict is not Verdict.PASS
    if settings.comment is CommentMode.OFF:
        return StepOutcome("comment", StepStatus.SKIPPED, "comment: off")
    if event.pr_number is None:
        return StepOutcome("comment", StepStatus.SKIPPED, f"no pull request in a {event.event_name or 'local'} run")
    pr, fork = event.pull_request, event.activity is Activity.FORK_ARTIFACT
    if not fork:
        result = post_sticky(client_factory(settings), Repo.parse(event.repository), event.pr_number,
                             markdown, scope=settings.scope, mode=settings.comment, failed=failed)  # fmt: skip
        sticky.append(result)
        if result.comment_id is not None or pr is None or result.action is not StickyAction.READ_ONLY:
            return comment_outcome(result)
    leave = ForkComment(event.pr_number, event.repository, pr.head_repo if pr else "", pr.head_sha if pr else "",
                        settings.scope, failed, verdict.value, markdown)  # fmt: skip
    return write_fork_comment(output_path(settings.fork_folder, Workspace.at(settings.workspace)), leave)


def comment_main(markdown: Path | None, artifact: Path | None, verdict: Verdict, env: Mapping[str, str], *,
                 client_factory: ClientFactory, out: TextIO, err: TextIO) -> int:  # fmt: skip
    """``int8gate comment``: post a saved comment (``--markdown``) or a fork's artifact (``--report``).

    Settings come from the same ``INPUT_*``/``GITHUB_*`` names as the Action; ``GITHUB_TOKEN``
    stands in for ``INPUT_GITHUB-TOKEN`` so a plain ``run:`` step works.
    """
    settings = ActionSettings.from_environ(env)
    if settings.token:
        print(add_mask(settings.token), file=out, flush=True)
    event = read_event(settings)
    if artifact is not None:
        return _post_from_artifact(settings, event, client_factory, out=out, err=err, path=artifact)
    if markdown is None:
        raise UsageError("comment: pass --markdown FILE (a rendered report) or --report FILE (a fork artifact)")
    try:
        body = markdown.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{markdown}: cannot read the comment text ({exc})") from None
    sticky: list[StickyResult] = []
    outcomes = run_steps([("comment", lambda: comment_step(
        settings, event, body, verdict=verdict, client_factory=client_factory, sticky=sticky))])
    result = sticky[0] if sticky else None
    outcomes += run_steps([("outputs", lambda: append_outputs(settings.output_path, step_outputs(None, "", result)))])
    _log(outcomes, err)
    return 0


def _post_from_artifact(settings: ActionSettings, event: EventFacts, client_factory: ClientFactory, *,
                        out: TextIO, err: TextIO, path: Path | None = None) -> int:  # fmt: skip
    """The trusted ``workflow_run`` side: post what a fork's run left, if it names its own PR."""
    run_facts = event.workflow_run
    if path is None:
        path = output_path(settings.fork_folder, Workspace.at(settings.workspace)) / FORK_COMMENT_FILE
    if run_facts is None or not path.is_file():
        _log((StepOutcome("comment", StepStatus.SKIPPED, f"no {path.name}: nothing to post"),), err)
        return 0
    try:
        left = read_fork_comment(path)
        client = client_factory(settings)
        repo = Repo.parse(event.repository)
        claimed = client.get_pull_request(repo, left.pr_number)
        refusal = check_artifact_claim(claimed, run_facts, event.repository)
        if refusal is not None:
            _log((StepOutcome("comment", StepStatus.SKIPPED, f"not posting: {refusal}"),), err)
            return 0
        result = post_sticky(client, repo, left.pr_number, left.markdown, scope=left.scope,
                             mode=settings.comment, failed=left.failed)  # fmt: skip
    except (GitHubError, Int8gateError) as exc:
        print(annotation_command(error_annotation(exc)).replace("::error", "::warning", 1), file=out)
        _log((StepOutcome("comment", StepStatus.FAILED, str(exc)),), err)
        return 0
    outcomes: tuple[StepOutcome, ...] = (comment_outcome(result),)
    outcomes += run_steps([("outputs", lambda: append_outputs(settings.output_path, step_outputs(None, "", result)))])
    _log(outcomes, err)
    return 0


def _log(outcomes: tuple[StepOutcome, ...], err: TextIO) -> None:
    for outcome in outcomes:
        print(f"int8gate: {outcome.step}: {outcome.status.value}: {outcome.detail}", file=err, flush=True)


def main(environ: Mapping[str, str] | None = None) -> int:
    """The container's entry point."""
    env = dict(os.environ if environ is None else environ)
    try:
        settings = ActionSettings.from_environ(env)
        # The pipeline pulls in ONNX Runtime; the workflow_run poster and the tests do not need it.
        from int8gate.commands import gate  # noqa: PLC0415

        return run(settings, env, gate=gate, client_factory=default_client, out=sys.stdout, err=sys.stderr)
    except Int8gateError as exc:
        print(annotation_command(error_annotation(exc)), flush=True)
        print(f"int8gate: error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, UsageError) else EXIT_BAD_INPUT
    except Exception as exc:  # the last line of defence: a bug must not read as the gate's "fail" (exit 1)
        if env.get("INT8GATE_DEBUG"):
            traceback.print_exc()
        print(f"::error title=int8gate::internal error: {type(exc).__name__}", flush=True)
        token = env.get("INPUT_GITHUB-TOKEN", "")
        text = str(exc).replace(token, "***") if token else str(exc)
        print(f"int8gate: internal error: {type(exc).__name__}: {text} (set INT8GATE_DEBUG=1 for the traceback)",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
