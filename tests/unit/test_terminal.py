"""Plain terminal text (``check``/``demo``, ``inspect``, ``bench``, ``env``): golden files, one screen, colour."""

from __future__ import annotations

import dataclasses
import io

import pytest
from support import reportdata
from support.golden import check_golden

from int8gate.commands.output import use_color
from int8gate.judge.verdict import Verdict
from int8gate.measure.stats import Call
from int8gate.model.values import AssumedDim
from int8gate.report.data import BenchmarkSection
from int8gate.report.terminal import (
    Written,
    render_bench_text,
    render_inspection_text,
    render_report_text,
    render_runner_text,
)


def test_inspect_text_matches_golden() -> None:
    real = render_inspection_text(reportdata.inspection("models/resnet_int8.onnx", quantized=True, size=360_000))
    fake = render_inspection_text(reportdata.inspection("models/resnet-fake_int8.onnx", quantized=False, size=1_320_000))
    check_golden("inspect.txt", f"{real}\n{fake}\n")


def test_bench_text_matches_golden() -> None:
    section = BenchmarkSection(
        (reportdata.row(1, 9.2, 3.9, 2.28, 2.38, Call.FASTER), reportdata.failed_row(4, "worker crashed with SIGSEGV")),
        reportdata.INPUTS, (AssumedDim("input", 0, "batch", 1),), 1.2, "auto",
    )  # fmt: skip
    verdict = (Verdict.FAIL, ("benchmark failed at 4 threads: worker crashed with SIGSEGV",))
    check_golden("bench.txt", render_bench_text(section, reportdata.fidelity(0.99991, True), verdict) + "\n")


def test_env_text_matches_golden() -> None:
    check_golden("env.txt", render_runner_text(reportdata.runner()) + "\n")


def test_demo_report_matches_golden_and_fits_one_screen() -> None:
    text = render_report_text(reportdata.demo(), [Written("Markdown", "demo.md"), Written("the job summary", "")])
    check_golden("demo.txt", text + "\n")
    lines = text.splitlines()
    assert len(lines) <= 40 and max(len(line) for line in lines) <= 100
    for markup in ("<details>", "<sub>", "\\[", "```", "**", "| --- |"):
        assert markup not in text


def test_colour_only_when_asked_and_only_on_verdicts() -> None:
    report = reportdata.demo()
    plain = render_report_text(report)
    coloured = render_report_text(report, color=True)
    assert "\033[" not in plain
    assert "\033[1;31mFAIL" in coloured and "\033[33minconclusive" in coloured
    assert coloured.count("\033[0m") == 5  # the headline, and each model's verdict in the table and its section


def test_a_model_name_cannot_move_the_cursor_or_recolour_the_log() -> None:
    good = reportdata.demo().models[0]
    evil = dataclasses.replace(good, name="x\x1b[2J\x1b[31mPASS\u202e\nfake", reasons=("r\x1b]0;title\x07",))
    text = render_report_text(dataclasses.replace(reportdata.demo(), models=(evil,)))
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "x?[2J?[31mPASS??fake" in text


@pytest.mark.parametrize(("env", "tty", "expected"), [
    ({}, True, True), ({}, False, False), ({"NO_COLOR": "1"}, True, False), ({"TERM": "dumb"}, True, False),
])
def test_colour_needs_a_terminal_and_no_NO_COLOR(env: dict[str, str], tty: bool, expected: bool) -> None:
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    assert use_color(Stream(), env) is expected


def test_fidelity_on_random_inputs_says_not_graded_not_a_cosine() -> None:
    """The corpus's detector: cosine 0.0000 on random inputs, not graded; the column must not show that cosine."""
    report = reportdata.demo()
    real = report.models[0]
    assert real.fidelity is not None
    ungraded = dataclasses.replace(real, name="ppocr_det_qop", fidelity=dataclasses.replace(
        real.fidelity, graded=False, source="random"))  # fmt: skip
    before = next(line for line in render_report_text(report).splitlines() if line.startswith("  convnet "))
    text = render_report_text(dataclasses.replace(report, models=(ungraded, *report.models[1:])))
    row = next(line for line in text.splitlines() if line.startswith("  ppocr_det_qop "))
    assert row.endswith("ok, not graded") and "cos" not in row
    assert len(row) <= len(before) + len("ppocr_det_qop") - len("convnet")  # no wider than a cosine


@pytest.mark.parametrize("hostile", ["::error file=x::pwned", "  ::stop-commands::t", "##[error]pwned"])
def test_no_line_starts_a_workflow_command_whatever_the_policy_names(hostile: str) -> None:
    report = reportdata.pass_and_fake()
    first = dataclasses.replace(report.models[0], name=hostile)
    report = dataclasses.replace(report, title=hostile, models=(first, *report.models[1:]))
    texts = [render_report_text(report), render_inspection_text(reportdata.inspection(hostile, quantized=True, size=1))]
    lines = [line for text in texts for line in text.splitlines()]
    assert sum(hostile.strip() in line for line in lines) >= 3  # the name is still shown
    assert not [line for line in lines if line.lstrip().startswith(("::", "##["))]
