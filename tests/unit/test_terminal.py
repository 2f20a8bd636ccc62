"""Plain terminal text (``inspect``, ``bench``, ``env``): golden files, the same facts as the comment."""

from __future__ import annotations

from support import reportdata
from support.golden import check_golden

from int8gate.judge.verdict import Verdict
from int8gate.measure.stats import Call
from int8gate.model.values import AssumedDim
from int8gate.report.data import BenchmarkSection
from int8gate.report.terminal import render_bench_text, render_inspection_text, render_runner_text


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
