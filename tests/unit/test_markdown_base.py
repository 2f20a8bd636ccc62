"""The comment against a base commit: a "vs base" column, before → after for a changed pair, and one line
for the unchanged pairs that were not benchmarked again."""

from __future__ import annotations

import json

from support import reportdata
from support.golden import check_golden

from int8gate.report.data import Report
from int8gate.report.jsonable import from_jsonable, to_jsonable
from int8gate.report.markdown import RenderOptions, render_report
from int8gate.report.syntax import marker


def test_against_base_matches_golden() -> None:
    check_golden("against_base.md", render_report(reportdata.against_base(), RenderOptions(marker=marker("ci/int8gate"))))


def test_a_changed_pair_shows_before_and_after_and_unchanged_ones_fold_into_one_line() -> None:
    text = render_report(reportdata.against_base(), RenderOptions())
    header = next(line for line in text.splitlines() if line.startswith("| model |"))
    assert header == "| model | verdict | INT8 speedup (95% CI) | vs base | quantized | fidelity |"
    assert "| resnet | ✅ pass | 1t: **2.36×** (2.30–2.41)<br>4t: **1.82×** (1.75–1.90) | 1t: INT8 time **−58.8%** (−59.9…−57.7%)" in text
    assert "| INT8 speedup over FP32, 1t | 0.97× (0.95–0.99) | 2.36× (2.30–2.41) |" in text
    assert "| MACs in integer | 8% | 100% |" in text
    assert "| detector | ✅ pass | 1t: **2.00×** (1.90–2.10) | new |" in text
    assert ("**Unchanged against `f95f852bd8fc`, not benchmarked again (2 pairs, ✅ pass):** segmenter (cached), tagger"
            in text)  # fmt: skip
    assert "### ✅ segmenter" not in text and "| segmenter | ✅" not in text
    assert "| ranker | ❌ fail | 1t: 0.91× (0.88–0.93) cached | unchanged |" in text  # a failing one keeps its row
    assert "### ❌ ranker" in text


def test_without_a_base_the_table_has_no_vs_base_column() -> None:
    assert "vs base" not in render_report(reportdata.pass_and_fake(), RenderOptions())


def test_a_report_against_base_reads_back_whole_from_its_json() -> None:
    """The fork's poster and ``merge`` render from the JSON report: ``vs_base`` must survive the trip."""
    report = reportdata.against_base()
    back = from_jsonable(Report, json.loads(json.dumps(to_jsonable(report))))
    assert [m.vs_base for m in back.models] == [m.vs_base for m in report.models]
    assert render_report(back, RenderOptions()) == render_report(report, RenderOptions())
