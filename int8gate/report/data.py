"""The one report object and its versioned JSON form.

Everything the gate found for one run — runner, per-model census, measurements, fidelity,
findings and verdicts — is one frozen ``Report``. The Markdown renderer reads it; ``jsonable.to_jsonable``
writes it as the JSON artifact. Dataclass field names are the JSON names (a field may rename
itself with ``metadata={"json": "name"}``), so renaming a field is a contract change: bump
``SCHEMA_VERSION`` and add a line to the history below.

Schema history:
    1 — first release: ``schema_version``, ``tool``, ``verdict``, ``exit_code``, ``runner``,
        ``models[]`` (``name``, ``verdict``, ``reasons``, ``quantization``, ``fp32_model``,
        ``pairing``, ``benchmark``, ``fidelity``, ``expected``, ``findings``, ``error``, ``profile``
        (time per op type, FP32 and INT8), ``profile_error``); ``presentation`` (the policy's
        ``report.comment``, ``details`` and ``chart``, so a report read back renders as asked).
        Added since, without a version change: ``tool.expected_s``; per benchmark row
        ``budget_seconds``, ``confirmation``, ``stopped_by`` ``clear``; ``profile.threads``,
        ``profile.runs``; ``models[].vs_base`` (``report.vsbase``): the pair against the pull
        request's base commit (``status``, ``base_ref``, ``benchmark``, side-by-side figures,
        ``census_delta``, ``cached``), ``null`` when there was no base to compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from int8gate.findings import Finding
from int8gate.inputs.resolved import ResolvedInput
from int8gate.judge.verdict import Verdict
from int8gate.machine.facts import ExpectedRange, RunnerProfile
from int8gate.measure.benchrun import BenchRun
from int8gate.measure.fidelity import FidelityResult
from int8gate.measure.opprofile import ProfileComparison
from int8gate.model.inspection import ModelInspection, PairCheck
from int8gate.model.values import AssumedDim
from int8gate.policy.spec import CommentMode
from int8gate.report.jsonable import ReportFormatError, from_jsonable
from int8gate.report.vsbase import VsBase

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BenchmarkSection:
    """The measurements of one model pair: one row per thread setting."""

    runs: tuple[BenchRun, ...]
    inputs: tuple[ResolvedInput, ...] = ()
    defaulted_dims: tuple[AssumedDim, ...] = ()
    threshold: float | None = None
    threshold_source: str = ""


@dataclass(frozen=True)
class ModelResult:
    """Everything known about one FP32/INT8 pair, and the verdict with its reasons."""

    name: str
    fp32: str
    int8: str
    verdict: Verdict
    reasons: tuple[str, ...]
    quantization: ModelInspection | None = None
    fp32_model: ModelInspection | None = None
    pairing: PairCheck | None = None
    benchmark: BenchmarkSection | None = None
    fidelity: FidelityResult | None = None
    expected: ExpectedRange | None = None
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    profile: ProfileComparison | None = None
    profile_error: str | None = None
    vs_base: VsBase | None = None


@dataclass(frozen=True)
class ToolInfo:
    """What produced the report; ``expected_s``: the longest the run should have taken, announced
    before it started (every row's budget plus a per-pair allowance)."""

    name: str
    version: str
    policy: str
    started_at: str
    duration_s: float
    expected_s: float | None = None


@dataclass(frozen=True)
class Presentation:
    """How the policy asks the report to be shown and published (``report:`` in ``.int8gate.yml``)."""

    comment: CommentMode = CommentMode.UPDATE
    details: bool = True
    chart: bool = True


@dataclass(frozen=True)
class Report:
    """One gate run: the runner it ran on, every model's result, and the overall verdict."""

    tool: ToolInfo
    verdict: Verdict
    exit_code: int
    runner: RunnerProfile
    models: tuple[ModelResult, ...]
    title: str = "int8gate"
    presentation: Presentation = Presentation()
    schema_version: int = SCHEMA_VERSION


def read_report(data: Any, source: str = "report") -> Report:
    """A report's JSON read back into a ``Report``, every value checked (``ReportFormatError`` names the key)."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ReportFormatError(f"{source}: not an int8gate report of schema version {SCHEMA_VERSION}")
    report: Report = from_jsonable(Report, data, source)
    _require_finite(report, source)
    return report


def _require_finite(report: Report, source: str) -> None:
    """Refuse a ``null`` (read back as NaN) where the report is drawn and judged from a number: the
    speedups, thresholds and expected range. The writer never leaves these non-finite; a hand-made
    artifact could, and the chart's axis arithmetic would fail on it."""
    for i, model in enumerate(report.models):
        where = f"{source}.models[{i}]"
        figures: list[tuple[str, float | None]] = []
        if model.expected is not None:
            figures += [("expected.low", model.expected.low), ("expected.high", model.expected.high)]
        if model.benchmark is not None:
            figures.append(("benchmark.threshold", model.benchmark.threshold))
            for j, run in enumerate(model.benchmark.runs):
                figures.append((f"benchmark.runs[{j}].threshold", run.threshold))
                if run.speedup is not None:
                    figures.append((f"benchmark.runs[{j}].speedup.estimate", run.speedup.estimate))
        for key, value in figures:
            if value is not None and not math.isfinite(value):
                raise ReportFormatError(f"{where}.{key}: expected a number, not null")
