"""The Markdown renderer: golden files for whole reports, escaping of repository text, the size limit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support import reportdata
from support.golden import check_golden

from int8gate.errors import UsageError
from int8gate.github.publish import append_summary
from int8gate.measure.stats import Call
from int8gate.report import markdown
from int8gate.report.data import Report
from int8gate.report.limits import COMMENT_LIMIT, COMMENT_TARGET, SUMMARY_LIMIT
from int8gate.report.markdown import RenderOptions, render_report, render_stopped
from int8gate.report.syntax import code, escape, marker


@pytest.mark.parametrize(
    ("name", "build"),
    [("pass_and_fake.md", reportdata.pass_and_fake), ("crashed.md", reportdata.crashed)],
)
def test_report_matches_golden(name: str, build: object) -> None:
    report: Report = build()  # type: ignore[operator]
    check_golden(name, render_report(report, RenderOptions(marker=marker("ci/int8gate"))))


def test_job_summary_matches_golden(tmp_path: Path) -> None:
    """What the Action appends to GITHUB_STEP_SUMMARY: the report without the marker, under 1 MiB."""
    summary = tmp_path / "summary.md"
    append_summary(summary, render_report(reportdata.pass_and_fake(), RenderOptions(limit=SUMMARY_LIMIT)))
    check_golden("summary.md", summary.read_text(encoding="utf-8"))


def test_stopped_summary_matches_golden() -> None:
    check_golden("stopped.md", render_stopped(".int8gate.yml:7: models[0].int8: file not found: models/x.onnx"))


def test_headline_leads_with_verdict_and_speedup() -> None:
    text = render_report(reportdata.pass_and_fake(), RenderOptions())
    first, table_header = text.splitlines()[0], text.splitlines()[2]
    assert first == "## ❌ int8gate: fail (1 pass, 1 fail)"
    assert "INT8 speedup (95% CI)" in table_header
    assert "| resnet | ✅ pass | 1t: **2.36×** (2.28–2.38)<br>4t: **1.82×** (1.70–1.95) |" in text


def test_twenty_models_three_threads_fold_toward_the_target_and_say_so() -> None:
    report = reportdata.fleet(20, 3)
    full = render_report(report, RenderOptions(limit=10**9))
    assert len(full) > COMMENT_LIMIT  # the case really needs folding
    folded = render_report(report, RenderOptions())
    assert len(folded.encode("utf-8")) <= COMMENT_TARGET
    assert "Folded to keep the comment under 16,384 bytes" in folded
    assert all(f"model-{i:02d}" in folded for i in range(20))  # every model keeps its row
    assert folded.count("\n### ✅ model-") == 20  # and its section, opening with the verdict
    summary = render_report(report, RenderOptions(limit=SUMMARY_LIMIT))
    assert summary == full  # the job summary keeps everything


def test_a_few_models_keep_every_detail_in_the_comment() -> None:
    text = render_report(reportdata.pass_and_fake(), RenderOptions())
    assert "Folded" not in text and "**Measurements**" in text and "**Where the time went**" in text


def test_each_section_opens_with_verdict_and_cause_and_shows_at_most_three_findings() -> None:
    text = render_report(reportdata.fleet(1, 1), RenderOptions(limit=10**9))
    section = text[text.index("### "):]
    lines = section.splitlines()
    assert lines[2].startswith("**Passes:** ") and lines[2].count(". ") == 0
    visible = section[: section.index("<details>")]
    assert visible.count("\n- ⚠️") == 3  # of the model's 8 findings
    assert "<summary>More: 5 more findings, census, reasons, measurements</summary>" in section


def test_impossible_limit_still_gives_a_well_formed_verdict() -> None:
    text = render_report(reportdata.fleet(20, 3), RenderOptions(marker=marker("ci"), limit=2000))
    assert len(text) <= 2000 and text.endswith("the JSON report has everything.\n")
    assert text.startswith("<!-- int8gate:ci -->\n\n## ✅ int8gate: pass (20 pass)")
    assert "<details>" not in text and "```" not in text


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[click](https://evil.example)", "[click]"),
        ("@octocat please look", "@octocat"),
        ("fixes #12", "#12"),
        ("a | b", " | "),
        ("**bold** _it_ ~~x~~ `c`", "**bold**"),
        (":rocket: launch", ":rocket:"),
        ("two\nlines", "\n"),
    ],
)
def test_escape_neutralises_repository_text(raw: str, bad: str) -> None:
    assert bad not in escape(raw)


def test_code_survives_backticks() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"


def test_marker_is_a_hidden_comment_and_refuses_a_scope_that_could_close_it() -> None:
    assert marker("ci/gate:ubuntu-latest") == "<!-- int8gate:ci/gate:ubuntu-latest -->"
    with pytest.raises(UsageError):
        marker("ci --> <script>")


def test_the_chart_draws_the_threshold_and_expected_range_on_an_axis_near_the_data() -> None:
    close = dataclasses.replace(reportdata.pass_and_fake(), models=tuple(
        dataclasses.replace(m, benchmark=dataclasses.replace(m.benchmark, runs=(reportdata.row(1, 9.8, 10, 0.97, 0.99, Call.SLOWER),))) if m.benchmark else m
        for m in reportdata.pass_and_fake().models
    ))  # fmt: skip
    text = render_report(close, RenderOptions())
    chart = text[text.index("```mermaid"):text.index("```", text.index("```mermaid") + 3)]
    assert "bar [0.98, 0.98]" in chart
    assert "line [1.2, 1.2]" in chart and "line [2, 2]" in chart  # the threshold (= expected low here) and high
    assert 'y-axis "speedup (x)" 0.8 --> 2.1' in chart  # not from 0: 0.98 and 1.01 stay apart
    assert 'title "INT8 speedup (x); required 1.20; expected 1.2-2.0"' in chart
    assert "red line: the required speedup; green lines: the range expected on this runner" in text


def test_the_main_cause_opens_the_section_with_its_fix_and_is_not_repeated() -> None:
    text = render_report(reportdata.pass_and_fake(), RenderOptions())
    section = text[text.index("### ❌ resnet-fake"):]
    opening = section.splitlines()[2]
    assert opening.startswith("**Fails:** not really quantized — the INT8 model does no integer compute")
    assert "<sub>`not-quantized`</sub><br>**Fix:** Quantize it with onnxruntime.quantization." in opening
    assert section.count("`not-quantized`") == 1


def test_a_brief_section_names_the_measurement_quality_and_the_range_under_also() -> None:
    text = markdown._render(reportdata.demo(), RenderOptions(fold=2), COMMENT_TARGET)  # the brief level
    fake = text[text.index("### ❌ convnet-fake"):]
    fake = fake[: fake.index("\n### ") if "\n### " in fake else len(fake)]
    assert "**Fails:** not really quantized — the INT8 model does no integer compute" in fake
    assert "- ⚠️ The INT8 model is 100% the size of its FP32 source" in fake  # the model's own warning
    assert "Also: `other-load`, `high-dispersion`, `budget-cut`" in fake  # the measurement's, named
    assert "Latencies varied" not in fake
