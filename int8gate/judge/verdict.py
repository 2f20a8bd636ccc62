"""The verdict: pass / fail / inconclusive per model and overall, with reasons a reviewer can act on.

Pure decisions over plain facts. A model fails when it is not really quantized, its inputs and
outputs do not match its FP32 source, its outputs drift past the fidelity tolerance, a finding of
severity ``fail`` remains after the policy's overrides, it crashed, or it is measurably slower than
the threshold. It is inconclusive when the speedup interval straddles the threshold. Exit codes:
0 pass, 1 fail, and inconclusive counts as a failure only when the caller asks for that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from int8gate.errors import EXIT_FAIL, EXIT_PASS
from int8gate.findings import Finding, Severity, with_severity
from int8gate.measure.benchrun import BenchRun
from int8gate.measure.stats import Call
from int8gate.policy.spec import FindingRules


class Verdict(str, Enum):
    """The gate's answer for one model and for the whole run."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class FailOn(str, Enum):
    """Which overall verdicts make the exit code non-zero."""

    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NEVER = "never"


@dataclass(frozen=True)
class SpeedRow:
    """One thread setting's measured speedup, or the error that stopped it."""

    threads: int
    call: Call | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    error: str | None = None
    not_measured: str | None = None


def speed_row(run: BenchRun) -> SpeedRow:
    """The verdict's view of one benchmark row."""
    speed = run.speedup
    return SpeedRow(
        threads=run.intra_op_threads,
        call=run.call,
        estimate=speed.estimate if speed else None,
        ci_low=speed.ci_low if speed else None,
        ci_high=speed.ci_high if speed else None,
        error=run.error,
        not_measured=run.not_measured,
    )


@dataclass(frozen=True)
class SlowdownRow:
    """One thread setting's head INT8 time / base INT8 time, measured side by side, with its 95% interval."""

    threads: int
    estimate: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class GateFacts:
    """What the verdict needs to know about one model pair (``None``: not established).

    not_measured: why this run did not benchmark the pair (it is unchanged against base); the speed
    rows, if any, then come from an earlier result and ``speed_note`` says which.
    vs_base, max_slowdown: the side-by-side rows against base and the policy's tolerance (``None``: not judged).
    """

    error: str | None = None
    is_quantized: bool | None = None
    quantized_evidence: str = ""
    format: str | None = None
    allowed_formats: tuple[str, ...] = ()
    io_mismatches: tuple[str, ...] = ()
    fidelity_passed: bool | None = None
    fidelity_evidence: str = ""
    threshold: float | None = None
    threshold_source: str = ""
    speed: tuple[SpeedRow, ...] = ()
    findings: tuple[Finding, ...] = ()
    not_measured: str = ""
    speed_note: str = ""
    vs_base: tuple[SlowdownRow, ...] = ()
    max_slowdown: float | None = None


def apply_rules(findings: Iterable[Finding], rules: FindingRules) -> tuple[Finding, ...]:
    """The findings with the policy's severity overrides applied; ignored codes are dropped."""
    out = []
    for finding in findings:
        if finding.code in rules.ignore:
            continue
        if finding.code in rules.fail:
            out.append(with_severity(finding, Severity.FAIL))
        elif finding.code in rules.warn:
            out.append(with_severity(finding, Severity.WARN))
        else:
            out.append(finding)
    return tuple(out)


def decide(facts: GateFacts) -> tuple[Verdict, tuple[str, ...]]:
    """The model's verdict and every reason behind it, most serious first."""
    fails: list[str] = []
    doubts: list[str] = []
    if facts.error:
        fails.append(f"could not be checked: {facts.error}")
    if facts.is_quantized is False:
        fails.append(f"not really quantized: {facts.quantized_evidence}")
    if facts.format and facts.allowed_formats and facts.format not in facts.allowed_formats:
        allowed = ", ".join(facts.allowed_formats)
        fails.append(f"quantization format {facts.format} is not allowed by the policy ({allowed})")
    fails.extend(f"does not match its FP32 source: {problem}" for problem in facts.io_mismatches)
    if facts.fidelity_passed is False:
        fails.append(f"outputs drift from FP32: {facts.fidelity_evidence}")
    fails.extend(
        f"{item.code}: {item.message}"
        for item in facts.findings
        if item.severity is Severity.FAIL and not _covered(item.code, facts)
    )
    for row in facts.speed:
        _speed_reason(row, facts, fails, doubts)
    if facts.max_slowdown is not None:
        for slowdown in facts.vs_base:
            _slowdown_reason(slowdown, facts.max_slowdown, fails, doubts)
    if fails:
        return Verdict.FAIL, tuple(fails + doubts)
    if doubts:
        return Verdict.INCONCLUSIVE, tuple(doubts)
    if not facts.speed and not facts.not_measured:
        return Verdict.INCONCLUSIVE, ("no speed measurement was made",)
    return Verdict.PASS, tuple(_pass_reasons(facts))


def census_verdict(is_quantized: bool, findings: Iterable[Finding]) -> tuple[Verdict, tuple[str, ...]]:
    """``inspect``'s verdict on one model (no measurement): fail when it is not really quantized or a
    finding of severity ``fail`` remains; pass otherwise."""
    facts = GateFacts(is_quantized=is_quantized, findings=tuple(findings))
    fails = [] if is_quantized else ["not really quantized"]
    fails.extend(
        f"{item.code}: {item.message}"
        for item in facts.findings
        if item.severity is Severity.FAIL and not _covered(item.code, facts)
    )
    if fails:
        return Verdict.FAIL, tuple(fails)
    return Verdict.PASS, ("quantized, and no finding fails it",)


def _covered(code: str, facts: GateFacts) -> bool:
    """A failing finding that restates a fact already given as a reason (not quantized, format, I/O, fidelity)."""
    if code in {"not-quantized", "token-quantization"}:
        return facts.is_quantized is False
    if code == "format-not-allowed":
        return bool(facts.format and facts.allowed_formats and facts.format not in facts.allowed_formats)
    if code == "io-mismatch":
        return bool(facts.io_mismatches)
    return code.startswith("fidelity-") and facts.fidelity_passed is False


def _speed_reason(row: SpeedRow, facts: GateFacts, fails: list[str], doubts: list[str]) -> None:
    where = f"at {row.threads} thread{'s' if row.threads != 1 else ''}"
    if row.error:
        fails.append(f"benchmark failed {where}: {row.error}")
        return
    if row.not_measured:
        doubts.append(f"not measured {where}: {row.not_measured}")
        return
    shown = _interval(row)
    need = _threshold_text(facts) + (f" ({facts.speed_note})" if facts.speed_note else "")
    if row.call is Call.SLOWER:
        fails.append(f"slower than required {where}: {shown}, {need}")
    elif row.call is Call.WITHIN_NOISE:
        doubts.append(f"speedup {where} is within noise of the threshold: {shown}, {need}")


def _slowdown_reason(row: SlowdownRow, max_slowdown: float, fails: list[str], doubts: list[str]) -> None:
    """Head INT8 time / base INT8 time against 1 + max_slowdown: above beyond noise fails, straddling doubts."""
    limit = 1.0 + max_slowdown
    where = f"at {row.threads} thread{'s' if row.threads != 1 else ''}"
    shown = f"head INT8 takes {_ratio(row)} of base's time, allowed ≤ {limit:.2f}× by require.vs_base.max_slowdown"
    if row.ci_low > limit:
        fails.append(f"slower than base {where}: {shown}")
    elif row.ci_high > limit:
        doubts.append(f"slowdown against base {where} is within noise of the tolerance: {shown}")


def _ratio(row: SlowdownRow) -> str:
    return f"{row.estimate:.2f}× (95% CI {row.ci_low:.2f}–{row.ci_high:.2f})"


def _pass_reasons(facts: GateFacts) -> list[str]:
    reasons = []
    if facts.not_measured:
        reasons.append(f"not benchmarked again: {facts.not_measured}")
    if facts.is_quantized:
        reasons.append(f"quantized: {facts.quantized_evidence}")
    note = f" ({facts.speed_note})" if facts.speed_note else ""
    reasons.extend(
        f"faster than required at {row.threads} thread{'s' if row.threads != 1 else ''}: "
        f"{_interval(row)}, {_threshold_text(facts)}{note}"
        for row in facts.speed
    )
    if facts.max_slowdown is not None:
        reasons.extend(
            f"not slower than base at {row.threads} thread{'s' if row.threads != 1 else ''}: head INT8 takes "
            f"{_ratio(row)} of base's time, allowed ≤ {1.0 + facts.max_slowdown:.2f}×"
            for row in facts.vs_base
        )
    if facts.fidelity_passed:
        reasons.append(f"outputs agree with FP32: {facts.fidelity_evidence}")
    return reasons


def _interval(row: SpeedRow) -> str:
    if row.estimate is None:
        return "no estimate"
    if row.ci_low is None or row.ci_high is None:
        return f"{row.estimate:.2f}×"
    return f"{row.estimate:.2f}× (95% CI {row.ci_low:.2f}–{row.ci_high:.2f})"


def _threshold_text(facts: GateFacts) -> str:
    if facts.threshold is None:
        return "no threshold"
    source = f", {facts.threshold_source}" if facts.threshold_source else ""
    return f"required ≥ {facts.threshold:.2f}×{source}"


def overall(verdicts: Iterable[Verdict]) -> Verdict:
    """Fail if any model fails; else inconclusive if any is; else pass (an empty run is inconclusive)."""
    seen = list(verdicts)
    if not seen:
        return Verdict.INCONCLUSIVE
    if Verdict.FAIL in seen:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in seen:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def exit_code(verdict: Verdict, fail_on: FailOn = FailOn.FAIL) -> int:
    """0 or 1 for a verdict; ``fail_on`` says which verdicts should break the build."""
    if fail_on is FailOn.NEVER:
        return EXIT_PASS
    if verdict is Verdict.FAIL:
        return EXIT_FAIL
    if verdict is Verdict.INCONCLUSIVE and fail_on is FailOn.INCONCLUSIVE:
        return EXIT_FAIL
    return EXIT_PASS
