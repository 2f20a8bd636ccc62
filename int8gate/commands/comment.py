"""``comment``: post JSON reports (``--report``), a saved comment (``--markdown``) or a fork run's artifact
(``--artifact``) as the sticky comment.

Its settings are its own: the arguments, then ``GITHUB_TOKEN`` and the runner's ``GITHUB_*``
(``github.comment.CommentSettings.for_command``), so a plain ``run:`` step works. On a fork's
read-only run the reports are left for the ``workflow_run`` poster, which renders them itself;
a saved Markdown file cannot be left (the poster never posts text it did not render).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from int8gate.errors import UsageError
from int8gate.github.comment import (
    CommentContent,
    CommentSettings,
    default_client,
    post_from_artifact,
    post_saved,
    read_event,
)
from int8gate.github.fork import FORK_FILE_CAP, SourcedReport
from int8gate.github.publish import add_mask
from int8gate.judge.verdict import Verdict
from int8gate.policy.spec import CommentMode
from int8gate.report.data import read_report
from int8gate.report.fleet import merge, parse_runner, render_fleet
from int8gate.report.markdown import RenderOptions, options_for, render_report
from int8gate.report.syntax import marker
from int8gate.workspace import JsonFileError, read_json


def run_comment(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Post and log each step's outcome; publishing problems are logged, the exit code stays 0."""
    settings = CommentSettings.for_command(env, scope=args.scope, mode=args.mode, fork_folder=args.fork_artifact_folder)
    if settings.token:
        print(add_mask(settings.token), file=out, flush=True)
    event = read_event(settings)
    if args.artifact:
        given = CommentMode(args.mode) if args.mode else None
        return post_from_artifact(settings, event, default_client, out=out, err=err, path=Path(args.artifact),
                                  mode=given)  # fmt: skip
    if args.markdown:
        content = CommentContent(_read_text(Path(args.markdown)), Verdict(args.verdict))
    else:
        content = reports_content(args.report, settings.scope)
    return post_saved(settings, event, content, client_factory=default_client, out=out, err=err)


def reports_content(names: Sequence[str], scope: str) -> CommentContent:
    """JSON reports as a comment: one shown as the report, several as the fleet comparison."""
    loaded = []
    for name in names:
        try:
            data = read_json(Path(name), max_bytes=FORK_FILE_CAP)
        except JsonFileError as exc:  # missing, too large, not UTF-8, malformed, nested too deeply: one line
            raise UsageError(f"cannot read a JSON report: {exc}") from None
        loaded.append((name, data, read_report(data, name)))
    reports = tuple(SourcedReport(name, report) for name, _, report in loaded)
    if len(loaded) == 1:
        report = loaded[0][2]
        return CommentContent(render_report(report, options_for(report, marker=marker(scope))), report.verdict, reports)
    fleet = merge([parse_runner(data, name) for name, data, _ in loaded])
    return CommentContent(render_fleet(fleet, RenderOptions(marker=marker(scope))), fleet.verdict, reports)


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > FORK_FILE_CAP:
            raise UsageError(f"{path}: larger than {FORK_FILE_CAP:,} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
