"""The GitHub Action entry: ``INPUT_*`` and ``GITHUB_*`` → settings → gate → publish → exit code.

``os.environ`` is read once, in ``main``; everything below takes the mapping. Input names keep
their hyphens (``INPUT_GITHUB-TOKEN``), and ``required: true`` in ``action.yml`` is not enforced
by GitHub, so every input is validated here with a message naming the input and the fix.

What happens per event (``event.find_activity``): a same-repository PR gets the sticky comment; a
fork's ``pull_request`` (read-only token) leaves ``int8gate-comment.json`` for the ``workflow_run``
poster; a ``workflow_run`` event posts such a file after checking its claim against the PR; other
events publish the summary and outputs only. The exit code is the gate's (0 pass, 1 fail, 2 bad
input, 3 internal error); publishing problems are logged and never change it.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TextIO

from int8gate.cancel import EXIT_CANCELLED, Cancelled, cancel_on_sigterm
from int8gate.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, Int8gateError, UsageError, log_safe
from int8gate.github.comment import (
    ClientFactory,
    CommentContent,
    CommentSettings,
    comment_step,
    default_client,
    default_scope,
    post_from_artifact,
    read_event,
)
from int8gate.github.event import Activity, EventFacts
from int8gate.github.fork import SourcedReport
from int8gate.github.publish import (
    StepOutcome,
    StepStatus,
    add_mask,
    annotation_command,
    append_outputs,
    append_summary,
    commands_paused,
    emit_annotations,
    error_annotation,
    log_outcomes,
    report_annotations,
    run_steps,
    step_outputs,
    write_report_json,
)
from int8gate.github.sticky import StickyResult
from int8gate.judge.verdict import FailOn
from int8gate.policy.spec import DEFAULT_POLICY_FILE, CommentMode
from int8gate.report.data import Report
from int8gate.report.limits import SUMMARY_LIMIT
from int8gate.report.markdown import options_for, render_report, render_stopped
from int8gate.report.syntax import marker as marker_for
from int8gate.report.syntax import sanitize_scope
from int8gate.workspace import Workspace, output_path


class Gate(Protocol):
    """``commands.check.gate``: the gate over a policy, optionally against a pull request's base commit."""

    def __call__(
        self,
        policy_path: Path,
        workspace_root: Path,
        env: Mapping[str, str],
        fail_on: FailOn,
        /,
        *,
        base_ref: str | None = None,
        base_from_event: bool = False,
        cache_dir: Path | None = None,
        commit: str | None = None,
    ) -> Report: ...


def _input(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(f"INPUT_{name.upper()}", "").strip() or default


def _choice(env: Mapping[str, str], name: str, allowed: list[str], default: str) -> str:
    value = _input(env, name, default)
    if value not in allowed:
        raise UsageError(f"input {name}: {value!r} is not one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class ActionSettings:
    """Everything the Action was asked to do, validated; ``comment`` holds the token (never in ``repr``).

    ``comment_mode`` is None when the ``comment`` input was not given: the policy's
    ``report.comment`` decides then (``update`` by default).
    """

    policy: Path
    fail_on: FailOn
    report_path: str
    workspace: Path
    working_directory: Path
    summary_path: Path | None
    comment: CommentSettings
    comment_mode: CommentMode | None = None
    cache_path: str = ""

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> ActionSettings:
        workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
        working = (workspace / _input(env, "working-directory", ".")).resolve()
        if not Workspace.at(workspace).contains(working):
            raise UsageError(f"input working-directory: {working} is outside the workspace {workspace}")
        given = _input(env, "comment")
        mode = CommentMode(_choice(env, "comment", [m.value for m in CommentMode], given)) if given else None
        policy = _input(env, "policy", DEFAULT_POLICY_FILE)
        scope = _input(env, "comment-scope")
        comment = CommentSettings.from_github_env(
            env, mode=mode or CommentMode.UPDATE, fork_folder=_input(env, "fork-artifact-folder"),
            scope=sanitize_scope(scope) if scope else default_scope(env.get("GITHUB_JOB", ""), policy),
            token=_input(env, "github-token"), author=_input(env, "comment-author"),
        )  # fmt: skip
        return cls(
            policy=working / policy,
            fail_on=FailOn(_choice(env, "fail-on", [m.value for m in FailOn], FailOn.FAIL.value)),
            report_path=_input(env, "report-path", "int8gate-report.json"),
            workspace=workspace,
            working_directory=working,
            summary_path=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
            comment=comment,
            comment_mode=mode,
            cache_path=_input(env, "cache-path"),
        )


def run(settings: ActionSettings, env: Mapping[str, str], *, gate: Gate, client_factory: ClientFactory,
        out: TextIO, err: TextIO) -> int:  # fmt: skip
    """Do the Action's work and return its exit code; every step's outcome is logged to ``err``."""
    comment = settings.comment
    if comment.token:
        print(add_mask(comment.token), file=out, flush=True)
    event = read_event(comment)
    if event.activity is Activity.POST_FROM_ARTIFACT:
        return post_from_artifact(comment, event, client_factory, out=out, err=err, mode=settings.comment_mode)
    pr = event.pull_request
    try:
        with commands_paused(out):
            report = gate(
                settings.policy, settings.workspace, env, settings.fail_on,
                base_ref=pr.base_sha if pr is not None and pr.base_sha else None, base_from_event=True,
                cache_dir=Path(settings.cache_path) if settings.cache_path else None,
                commit=pr.head_sha if pr is not None else env.get("GITHUB_SHA") or None,
            )  # fmt: skip
    except Int8gateError as exc:
        print(annotation_command(error_annotation(exc)), file=out, flush=True)
        stopped = render_stopped(str(exc))
        log_outcomes(run_steps([
            ("summary", lambda: append_summary(settings.summary_path, stopped)),
            ("outputs", lambda: append_outputs(comment.output_path, step_outputs(None, "", None))),
        ]), err, out)  # fmt: skip
        return exc.exit_code
    return _publish(settings, event, report, client_factory=client_factory, out=out, err=err)


def _publish(settings: ActionSettings, event: EventFacts, report: Report, *, client_factory: ClientFactory,
             out: TextIO, err: TextIO) -> int:  # fmt: skip
    settings_now = replace(settings.comment, mode=settings.comment_mode or report.presentation.comment)
    comment_md = render_report(report, options_for(report, marker=marker_for(settings_now.scope)))
    summary_md = render_report(report, options_for(report, limit=SUMMARY_LIMIT))
    workspace = Workspace.at(settings.workspace)
    sticky: list[StickyResult] = []

    content = CommentContent(comment_md, report.verdict, (SourcedReport(settings.report_path, report),))

    def comment() -> StepOutcome:
        return comment_step(settings_now, event, content, client_factory=client_factory, sticky=sticky)

    outcomes = run_steps([
        ("report", lambda: write_report_json(output_path(settings.report_path, workspace), report, workspace)),
        ("annotations", lambda: emit_annotations(report_annotations(report), out)),
        ("summary", lambda: append_summary(settings.summary_path, summary_md)),
        ("comment", comment),
    ])  # fmt: skip
    result = sticky[0] if sticky else None
    written = any(o.step == "report" and o.status is StepStatus.OK for o in outcomes)  # else no path to hand on
    outputs = step_outputs(report, settings.report_path if written else "", result)
    outcomes += run_steps([("outputs", lambda: append_outputs(settings.comment.output_path, outputs))])
    log_outcomes(outcomes, err, out)
    return report.exit_code


def _real_gate(
    policy: Path,
    workspace: Path,
    env: Mapping[str, str],
    fail_on: FailOn,
    /,
    *,
    base_ref: str | None = None,
    base_from_event: bool = False,
    cache_dir: Path | None = None,
    commit: str | None = None,
) -> Report:
    """The gate with its real edges, imported only when it runs: the poster never loads ONNX Runtime."""
    from int8gate.commands.check import gate  # noqa: PLC0415

    return gate(policy, workspace, env, fail_on, base_ref=base_ref, base_from_event=base_from_event,
                cache_dir=cache_dir, commit=commit)  # fmt: skip


def _stopped(env: Mapping[str, str], problem: str) -> None:
    """Before any settings exist: the summary and the outputs (``verdict=error``), as on every other path."""
    summary = Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None
    output = Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None
    log_outcomes(run_steps([
        ("summary", lambda: append_summary(summary, render_stopped(problem))),
        ("outputs", lambda: append_outputs(output, step_outputs(None, "", None))),
    ]), sys.stderr)  # fmt: skip


def main(environ: Mapping[str, str] | None = None) -> int:
    """The container's entry point (the ``int8gate-action`` console script)."""
    env = dict(os.environ if environ is None else environ)
    token = env.get("INPUT_GITHUB-TOKEN", "").strip()
    try:
        with cancel_on_sigterm():  # the gate is PID 1 in the container: without a handler SIGTERM does nothing
            settings = ActionSettings.from_environ(env)
            return run(settings, env, gate=_real_gate, client_factory=default_client, out=sys.stdout, err=sys.stderr)
    except Cancelled:
        print("int8gate: cancelled (SIGTERM); the running step was stopped", file=sys.stderr)
        _stopped(env, "cancelled (SIGTERM)")
        return EXIT_CANCELLED
    except Int8gateError as exc:
        print(annotation_command(error_annotation(exc)), flush=True)
        print(f"int8gate: error: {log_safe(str(exc))}", file=sys.stderr)
        _stopped(env, str(exc))
        return exc.exit_code if isinstance(exc, UsageError) else EXIT_BAD_INPUT
    except Exception as exc:  # the last line of defence: a bug must not read as the gate's "fail" (exit 1)
        if env.get("INT8GATE_DEBUG"):
            traceback.print_exc()
        print(f"::error title=int8gate::internal error: {type(exc).__name__}", flush=True)
        text = str(exc).replace(token, "***") if token else str(exc)
        hint = "set INT8GATE_DEBUG=1 for the traceback"
        print(f"int8gate: internal error: {type(exc).__name__}: {log_safe(text)} ({hint})", file=sys.stderr)
        _stopped(env, f"internal error: {type(exc).__name__}")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
