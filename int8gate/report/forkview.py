"""The comment the trusted poster renders from a fork run's JSON reports, with a line naming that run.

Everything in the reports came from the fork (its workflow, its runner), so only int8gate's own
renderer turns them into Markdown: every text is escaped (``syntax.escape``: no HTML, no mention, no
reference), the policy's title is not used, and the headline's verdict follows the models'. The
line on top names the run from facts in GitHub's own ``workflow_run`` event, not from the reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from int8gate.judge.verdict import Verdict, overall
from int8gate.report.data import Report
from int8gate.report.fleet import merge, parse_runner, render_fleet
from int8gate.report.jsonable import to_jsonable
from int8gate.report.limits import COMMENT_LIMIT
from int8gate.report.markdown import RenderOptions, options_for, render_report
from int8gate.report.syntax import code, escape

_RUN_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9._~/-]*")


@dataclass(frozen=True)
class ForkRun:
    """The fork's run, as GitHub's ``workflow_run`` event describes it."""

    run_id: int
    url: str
    head_repo: str
    head_sha: str


def fork_run_note(run: ForkRun) -> str:
    """``<sub>From run 123 of forker/repo at 0a1b2c3d4e5f …</sub>``: where the numbers come from."""
    name = f"run {run.run_id}"
    link = f"[{name}]({run.url})" if _RUN_URL.fullmatch(run.url) else name
    return (
        f"<sub>From the fork's {link} ({escape(run.head_repo)} at {code(run.head_sha[:12])}), rendered from its "
        "JSON report by this repository's workflow, which ran none of the fork's code.</sub>"
    )


def fork_verdict(reports: Sequence[Report]) -> Verdict:
    """The verdict the comment shows: the worst of the models' verdicts, not a report's own claim."""
    return overall(model.verdict for report in reports for model in report.models)


def render_fork_comment(reports: Sequence[tuple[str, Report]], run: ForkRun, limit: int = COMMENT_LIMIT) -> str:
    """One report as the report, several as the fleet comparison, under the note naming the run."""
    note = fork_run_note(run)
    room = limit - len(note) - 2
    if len(reports) == 1:
        (_, report), = reports
        shown = replace(report, title="int8gate", verdict=fork_verdict([report]))
        body = render_report(shown, options_for(shown, limit=room))
    else:
        runners = []
        for source, report in reports:
            shown = replace(report, verdict=fork_verdict([report]))
            runners.append(parse_runner(to_jsonable(shown), source))
        body = render_fleet(merge(runners), RenderOptions(limit=room))
    return f"{note}\n\n{body}"
