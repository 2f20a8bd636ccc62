"""Publishing a finished run: job summary, step outputs, annotations, JSON report (the comment: ``comment``).

Each step is independent. ``run_steps`` runs them all and turns a step's own I/O or GitHub failure
into a ``FAILED`` outcome with the reason, so a full disk for the summary still lets the comment
through and GitHub being down never hides the verdict. Workflow commands (``::error``,
``::add-mask::``) are built here with GitHub's escaping rules.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TextIO

from int8gate.errors import Int8gateError, PolicyError, log_safe
from int8gate.github.sticky import StickyAction, StickyResult
from int8gate.judge.verdict import Verdict
from int8gate.report.data import Report
from int8gate.report.jsonable import to_jsonable
from int8gate.report.limits import SUMMARY_LIMIT, fit_summary
from int8gate.workspace import Workspace


class StepStatus(str, Enum):
    """How one publishing step went."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class StepOutcome:
    """One step's result and a one-line reason for the log; ``warning`` also goes up as a ``::warning``."""

    step: str
    status: StepStatus
    detail: str
    warning: str | None = None


@dataclass(frozen=True)
class Annotation:
    """One ``::error``/``::warning``/``::notice`` line, pinned to a file (and line) when known."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None


# -- workflow commands ----------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    """``::name key=value,...::message`` with every part escaped."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in (properties or {}).items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def add_mask(secret: str) -> str:
    """The command that makes the runner mask ``secret`` in every later log line."""
    return f"::add-mask::{escape_data(secret)}"


@dataclass
class _Pause:
    token: str
    out: TextIO


_PAUSED: list[_Pause] = []
"""The open ``commands_paused`` block, if any (one process, one thread: at most one)."""


@contextmanager
def commands_paused(out: TextIO) -> Iterator[None]:
    """Within the block the runner treats no log line as a workflow command (``::stop-commands::``
    with a one-off token, then that token to resume): a second guard, besides escaping every name we
    print, while the gate reads and runs the pull request's files. Our own commands inside the block
    go through ``own_command``."""
    pause = _Pause(secrets.token_hex(16), out)
    print(f"::stop-commands::{pause.token}", file=out, flush=True)
    _PAUSED.append(pause)
    try:
        yield
    finally:
        _PAUSED.remove(pause)
        print(f"::{pause.token}::", file=out, flush=True)


def own_command(line: str, err: TextIO) -> None:
    """Print one of int8gate's own workflow commands (a log group). Inside ``commands_paused`` the
    commands are resumed for this one line and paused again with a new token, all three lines on the
    pause's own stream so the runner sees them in order; elsewhere the line goes to ``err``."""
    if not _PAUSED:
        print(line, file=err, flush=True)
        return
    pause = _PAUSED[-1]
    token = secrets.token_hex(16)
    print(f"::{pause.token}::\n{line}\n::stop-commands::{token}", file=pause.out, flush=True)
    pause.token = token


def annotation_command(note: Annotation) -> str:
    """The workflow command for one annotation."""
    props: dict[str, str] = {}
    if note.title:
        props["title"] = note.title
    if note.file:
        props["file"] = note.file
    if note.file and note.line:
        props["line"] = str(note.line)
    return workflow_command(note.level, note.message, props)


def report_annotations(report: Report) -> tuple[Annotation, ...]:
    """An error on each failing INT8 model file and a warning on each inconclusive one."""
    notes = []
    for model in report.models:
        if model.verdict is Verdict.PASS:
            continue
        level = "error" if model.verdict is Verdict.FAIL else "warning"
        reasons = "; ".join(model.reasons) or model.error or model.verdict.value
        notes.append(Annotation(level, reasons, model.int8, None, f"int8gate: {model.name} {model.verdict.value}"))
    return tuple(notes)


def error_annotation(error: Int8gateError) -> Annotation:
    """An error that stopped the gate, pinned to the policy line when it is a ``PolicyError``."""
    if isinstance(error, PolicyError):
        return Annotation("error", str(error), error.file, error.line, "int8gate: policy")
    return Annotation("error", str(error), None, None, "int8gate")


def step_outputs(report: Report | None, report_path: str, comment: StickyResult | None, *,
                 verdict: Verdict | None = None) -> dict[str, str]:  # fmt: skip
    """The Action's outputs: verdict, the first model's speedup, the report path, the comment id.

    Without a report, ``verdict`` (what a saved comment or a poster's reports said) is shown, else
    ``error``: the gate could not run.
    """
    speedup = ""  # the first model's first thread setting, as documented: empty when that row has none
    if report is not None and report.models and report.models[0].benchmark is not None:
        runs = report.models[0].benchmark.runs
        speedup = f"{runs[0].speedup.estimate:.3f}" if runs and runs[0].speedup is not None else ""
    shown = report.verdict if report is not None else verdict
    return {
        "verdict": shown.value if shown is not None else "error",
        "speedup": speedup,
        "report-path": report_path if report is not None else "",
        "comment-id": str(comment.comment_id) if comment and comment.comment_id is not None else "",
        "comment-action": comment.action.value if comment else StickyAction.SKIPPED.value,
    }


# -- the steps ------------------------------------------------------------------------------------


def append_summary(path: Path | None, markdown: str) -> StepOutcome:
    """Append to ``GITHUB_STEP_SUMMARY``, cut by bytes (at a line end) to stay under 1 MiB."""
    if path is None:
        return StepOutcome("summary", StepStatus.SKIPPED, "GITHUB_STEP_SUMMARY is not set")
    used = path.stat().st_size if path.exists() else 0
    text, cut = fit_summary(markdown, SUMMARY_LIMIT - used)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    return StepOutcome("summary", StepStatus.OK, f"{len(text.encode('utf-8')):,} bytes{' (cut)' if cut else ''}")


def append_outputs(path: Path | None, outputs: Mapping[str, str]) -> StepOutcome:
    """Append to ``GITHUB_OUTPUT`` as ``name<<DELIM`` blocks with a random delimiter (multiline-safe)."""
    if path is None:
        return StepOutcome("outputs", StepStatus.SKIPPED, "GITHUB_OUTPUT is not set")
    blocks = []
    for name, value in outputs.items():
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value:  # pragma: no cover - a UUID in the value is practically impossible
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(blocks))
    return StepOutcome("outputs", StepStatus.OK, ", ".join(f"{k}={v!r}" for k, v in outputs.items()))


def emit_annotations(notes: Iterable[Annotation], out: TextIO) -> StepOutcome:
    """Print the annotations' workflow commands."""
    lines = [annotation_command(note) for note in notes]
    for line in lines:
        print(line, file=out, flush=True)
    return StepOutcome("annotations", StepStatus.OK, f"{len(lines)} annotation(s)")


def write_report_json(path: Path, report: Report, workspace: Workspace) -> StepOutcome:
    """The versioned JSON report, written atomically inside ``workspace`` (never through a symlink)."""
    workspace.write_text(path, json.dumps(to_jsonable(report), indent=2) + "\n")
    return StepOutcome("report", StepStatus.OK, f"wrote {path}")


def comment_outcome(result: StickyResult) -> StepOutcome:
    """The comment step's outcome from the sticky result (read-only is expected on forks, not a failure)."""
    if result.action in (StickyAction.CREATED, StickyAction.UPDATED):
        return StepOutcome("comment", StepStatus.OK, f"{result.action.value}: {result.url}")
    return StepOutcome("comment", StepStatus.SKIPPED, result.reason)


def run_steps(steps: Sequence[tuple[str, Callable[[], StepOutcome]]]) -> tuple[StepOutcome, ...]:
    """Run every step; a step's I/O or GitHub failure becomes its ``FAILED`` outcome, not an exception."""
    outcomes = []
    for name, step in steps:
        try:
            outcomes.append(step())
        except (OSError, UnicodeError, Int8gateError) as exc:
            outcomes.append(StepOutcome(name, StepStatus.FAILED, f"{type(exc).__name__}: {exc}"))
    return tuple(outcomes)


def log_outcomes(outcomes: Iterable[StepOutcome], err: TextIO, out: TextIO | None = None) -> None:
    """One log line per step (``int8gate: STEP: STATUS: DETAIL``) to ``err``; each step's warning to ``out``."""
    for outcome in outcomes:
        if outcome.warning and out is not None:
            note = Annotation("warning", outcome.warning, title=f"int8gate: {outcome.step} {outcome.status.value}")
            print(annotation_command(note), file=out, flush=True)
        print(f"int8gate: {outcome.step}: {outcome.status.value}: {log_safe(outcome.detail)}", file=err, flush=True)
