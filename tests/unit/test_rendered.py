"""The golden comments as GitHub renders them (its cmark-gfm, ``support.githubhtml``): tables have the right rows
and columns, nothing outside the sanitiser's allow-list, ``<details>`` balanced, and repository-controlled names
can neither break a table nor open a tag."""

from __future__ import annotations

import dataclasses

import pytest
from support import reportdata
from support.githubhtml import parse, render, sanitiser_violations, table_shape
from support.paths import GOLDEN

from int8gate.report.data import Report
from int8gate.report.markdown import RenderOptions, render_report
from int8gate.report.syntax import ZWSP, marker

SUMMARY_HEADER = ["model", "verdict", "INT8 speedup (95% CI)", "quantized", "fidelity"]
GOLDEN_COMMENTS = ["pass_and_fake.md", "crashed.md", "summary.md", "fleet.md", "stopped.md"]


@pytest.mark.parametrize("name", GOLDEN_COMMENTS)
def test_golden_comment_is_well_formed_html_within_the_allow_list(name: str) -> None:
    html = render((GOLDEN / name).read_text(encoding="utf-8"))
    root, problems = parse(html)
    assert problems == []
    assert sanitiser_violations(root) == []
    assert html.count("<details>") == html.count("</details>")
    for table in root.find_all("table"):  # every row has as many cells as the header
        header, rows = table_shape(table)
        assert rows and set(rows) == {len(header)}, (name, header, rows)


def test_the_summary_table_has_one_row_per_model_and_the_chart_stays_a_mermaid_block() -> None:
    root, _ = parse(render((GOLDEN / "pass_and_fake.md").read_text(encoding="utf-8")))
    summary = root.find_all("table")[0]
    assert table_shape(summary) == (SUMMARY_HEADER, [5, 5])
    (chart,) = [pre for pre in root.find_all("pre") if pre.attrs.get("lang") == "mermaid"]
    assert chart.text().lstrip().startswith('%%{init:') and "xychart-beta" in chart.text()
    assert "line [1.2, 1.2, 1.2, 1.2]" in chart.text()
    headings = [h.text() for h in root.find_all("h3")]
    assert headings == ["✅ resnet — pass", "❌ resnet-fake — fail"]


HOSTILE_NAMES = [
    "a | b | c",
    "x</td></tr></table><img src=x onerror=alert(1)>",
    "</details><details open><summary>pwned",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1)) @octocat #12",
    "`code` **bold** <!-- hide -->",
    "name\n| --- |\n| forged | row |",
]


def hostile_report() -> Report:
    base = reportdata.pass_and_fake()
    models = tuple(dataclasses.replace(base.models[i % 2], name=name) for i, name in enumerate(HOSTILE_NAMES))
    return dataclasses.replace(base, models=models)


@pytest.mark.parametrize("limit", [65_536, 6_000], ids=["full", "folded"])
def test_names_from_the_repository_cannot_break_a_table_or_open_a_tag(limit: int) -> None:
    text = render_report(hostile_report(), RenderOptions(marker=marker("ci"), limit=limit))
    root, problems = parse(render(text))
    assert problems == []
    assert sanitiser_violations(root) == []
    assert not root.find_all("script") and not root.find_all("img")
    assert all(not (a.attrs.get("href") or "").startswith("javascript") for a in root.find_all("a"))
    summary = root.find_all("table")[0]
    header, rows = table_shape(summary)
    assert header == SUMMARY_HEADER and rows == [5] * len(HOSTILE_NAMES)
    first_cells = [tr.find_all("td")[0].text() for tr in summary.find_all("tr")[1:]]
    # shown as text, whole; a zero-width space (invisible) breaks the mention and the issue reference
    assert [cell.replace(ZWSP, "") for cell in first_cells] == [" ".join(name.split()) for name in HOSTILE_NAMES]
    assert not any("@octocat" in cell or "#12" in cell for cell in first_cells)
    assert len(root.find_all("details")) == text.count("<details>")
