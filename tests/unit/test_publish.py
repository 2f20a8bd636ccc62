"""Publishing steps: workflow-command escaping, summary and output files, the fork artifact, step isolation."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from support import reportdata
from support.actionfiles import parse_outputs

from int8gate.errors import PolicyError
from int8gate.github.answers import GitHubUnavailableError
from int8gate.github.fork import (
    FORK_COMMENT_FILE,
    ForkArtifactError,
    ForkComment,
    SourcedReport,
    read_fork_comment,
    write_fork_comment,
)
from int8gate.github.publish import (
    Annotation,
    StepOutcome,
    StepStatus,
    add_mask,
    annotation_command,
    append_outputs,
    append_summary,
    emit_annotations,
    error_annotation,
    escape_data,
    escape_property,
    run_steps,
    step_outputs,
)
from int8gate.judge.verdict import Verdict
from int8gate.measure.stats import Call
from int8gate.policy.spec import CommentMode
from int8gate.report.limits import SUMMARY_LIMIT
from int8gate.workspace import Workspace


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    note = Annotation("error", "line 1\nline 2: 100%", "models/x,y.onnx", 12, "int8gate: x")
    assert annotation_command(note) == (
        "::error title=int8gate%3A x,file=models/x%2Cy.onnx,line=12::line 1%0Aline 2: 100%25"
    )
    assert add_mask("ghs_abc%") == "::add-mask::ghs_abc%25"


def test_a_policy_error_is_pinned_to_its_line() -> None:
    note = error_annotation(PolicyError(".int8gate.yml", 7, "models[0].int8", "file not found"))
    assert (note.file, note.line) == (".int8gate.yml", 7)
    assert annotation_command(note).startswith("::error title=int8gate%3A policy,file=.int8gate.yml,line=7::")


def test_outputs_are_multiline_safe(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("earlier=1\n", encoding="utf-8")
    values = {"verdict": "fail", "reasons": "line one\nline two\nEOF", "empty": ""}
    outcome = append_outputs(path, values)
    assert outcome.status is StepStatus.OK
    text = path.read_text(encoding="utf-8").removeprefix("earlier=1\n")
    assert parse_outputs(text) == values
    assert text.count("ghadelimiter_") == 6
    assert append_outputs(None, values).status is StepStatus.SKIPPED


def test_summary_stays_under_one_mib_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("# earlier step content\n", encoding="utf-8")
    huge = "| row | ✅ ünïcode |\n" * 80_000
    outcome = append_summary(path, huge)
    data = path.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    assert data.startswith(b"# earlier step content\n")
    assert "(cut)" in outcome.detail
    assert data.decode("utf-8").rstrip().endswith("the JSON report has everything.")
    small = tmp_path / "small.md"
    assert append_summary(small, "hello").status is StepStatus.OK
    assert small.read_text(encoding="utf-8") == "hello\n"


def test_one_failing_step_does_not_stop_the_others(tmp_path: Path) -> None:
    def broken_disk() -> StepOutcome:
        return append_summary(tmp_path / "no-such-dir" / "summary.md", "x")

    def github_down() -> StepOutcome:
        raise GitHubUnavailableError("POST /repos/o/r/issues/1/comments: HTTP 502; gave up", 502)

    out = io.StringIO()
    outcomes = run_steps([
        ("summary", broken_disk),
        ("comment", github_down),
        ("annotations", lambda: emit_annotations([Annotation("warning", "slow")], out)),
    ])  # fmt: skip
    assert [(o.step, o.status) for o in outcomes] == [
        ("summary", StepStatus.FAILED), ("comment", StepStatus.FAILED), ("annotations", StepStatus.OK)
    ]  # fmt: skip
    assert "HTTP 502" in outcomes[1].detail
    assert out.getvalue() == "::warning::slow\n"


def test_the_fork_comment_round_trips_and_refuses_junk(tmp_path: Path) -> None:
    left = ForkComment(2, "octo-org/octo-repo", "forker/octo-repo", "ec26c3e5" * 5, "job/.int8gate.yml",
                       CommentMode.UPDATE, (SourcedReport("int8gate-report.json", reportdata.crashed()),))  # fmt: skip
    assert write_fork_comment(tmp_path, left, Workspace.at(tmp_path)).status is StepStatus.OK
    assert read_fork_comment(tmp_path / FORK_COMMENT_FILE) == left
    good = json.loads((tmp_path / FORK_COMMENT_FILE).read_text())
    bad = tmp_path / "bad.json"
    runner = good["reports"][0]["report"]["runner"]
    for junk, message in [
        ({**good, "pr_number": "2"}, "pr_number"),
        ({**good, "pr_number": True}, "pr_number"),
        ({**good, "mode": "loudly"}, "loudly"),
        ({**good, "reports": []}, "1 to 64 reports"),
        ({"version": 1, "markdown": "<img src=x onerror=alert(1)>"}, "not an int8gate fork comment"),
        ({**good, "reports": [{"source": "r.json", "report": {**good["reports"][0]["report"], "verdict": "great"}}]},
         r"reports\[0\].report.verdict: 'great' is not one of pass, fail, inconclusive"),
        ({**good, "reports": [{"source": "r.json", "report": {**good["reports"][0]["report"],
                                                               "runner": {**runner, "cpus": []}}}]},
         r"reports\[0\].report.runner.cpus: expected an object"),
        ({**good, "reports": [{"source": 7, "report": {}}]}, "source"),
    ]:  # fmt: skip
        bad.write_text(json.dumps(junk), encoding="utf-8")
        with pytest.raises(ForkArtifactError, match=message):
            read_fork_comment(bad)
    bad.write_text(json.dumps(good).replace('"duration_s": ', '"duration_s": NaN, "x": ', 1), encoding="utf-8")
    with pytest.raises(ForkArtifactError, match="not a readable JSON file"):
        read_fork_comment(bad)
    bad.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(ForkArtifactError, match="not a readable JSON file"):
        read_fork_comment(bad)
    with pytest.raises(ForkArtifactError, match="no fork comment file"):
        read_fork_comment(tmp_path / "missing.json")


@pytest.mark.parametrize(("number", "key", "message"), [
    ("1e400", "duration_s", r"report.tool.duration_s: inf is out of range"),
    (str(10**400), "duration_s", r"report.tool.duration_s: an integer of 401 digits is out of range"),
    ("null", "estimate", r"report.models\[0\].benchmark.runs\[0\].speedup.estimate: expected a number, not null"),
    ("null", "low", r"report.models\[0\].expected.low: expected a number, not null"),
    ("null", "threshold", r"report.models\[0\].benchmark.runs\[0\].threshold: expected a number, not null"),
])  # fmt: skip
def test_a_fork_artifact_with_an_unusable_number_is_refused_in_one_line(tmp_path: Path, number: str, key: str,
                                                                       message: str) -> None:  # fmt: skip
    """A number that is no finite float (1e400 reads as inf, 10**400 overflows float()), or null where the
    chart computes with the value, is a bad artifact (the poster says so), not a crash while drawing."""
    left = ForkComment(2, "octo-org/octo-repo", "forker/octo-repo", "ec26c3e5" * 5, "job/.int8gate.yml",
                       CommentMode.UPDATE, (SourcedReport("int8gate-report.json", reportdata.pass_and_fake()),))  # fmt: skip
    assert write_fork_comment(tmp_path, left, Workspace.at(tmp_path)).status is StepStatus.OK
    text = (tmp_path / FORK_COMMENT_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    model = data["reports"][0]["report"]["models"][0]
    assert model["expected"] is not None and model["benchmark"]["threshold"] is not None
    bad = tmp_path / "bad.json"
    bad.write_text(re.sub(rf'("{key}": )[-0-9.e]+', rf"\g<1>{number}", text, count=1), encoding="utf-8")
    with pytest.raises(ForkArtifactError, match=message) as caught:
        read_fork_comment(bad)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_the_speedup_output_is_the_first_models_first_thread_setting() -> None:
    """action.yml and the README promise the first model at its first thread setting: when that row
    failed, the output is empty, not the next row's speedup passed off as the first."""
    measured = reportdata.row(4, 3.1, 1.7, 1.70, 1.95, Call.FASTER)
    first_failed = reportdata.model("resnet", verdict=Verdict.FAIL, runs=(reportdata.failed_row(1, "boom"), measured))
    assert step_outputs(reportdata.report((first_failed,), Verdict.FAIL), "r.json", None)["speedup"] == ""
    first_measured = reportdata.model("resnet", verdict=Verdict.PASS, runs=(measured, reportdata.failed_row(1, "boom")))
    expected = f"{measured.speedup.estimate:.3f}" if measured.speedup else "no speedup"
    assert step_outputs(reportdata.report((first_measured,), Verdict.PASS), "r.json", None)["speedup"] == expected
    assert step_outputs(reportdata.report((reportdata.model("resnet", verdict=Verdict.FAIL),), Verdict.FAIL), "",
                        None)["speedup"] == ""  # fmt: skip
