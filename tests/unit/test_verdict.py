"""The verdict: which facts fail a model, which leave it inconclusive, and how exit codes follow."""

from __future__ import annotations

import pytest

from int8gate.findings import Finding, Severity
from int8gate.judge.verdict import FailOn, GateFacts, SpeedRow, Verdict, apply_rules, decide, exit_code, overall
from int8gate.measure.stats import Call
from int8gate.policy.spec import FindingRules

FAST = SpeedRow(threads=1, call=Call.FASTER, estimate=1.6, ci_low=1.55, ci_high=1.65)
NOISY = SpeedRow(threads=2, call=Call.WITHIN_NOISE, estimate=1.21, ci_low=1.15, ci_high=1.27)
SLOW = SpeedRow(threads=2, call=Call.SLOWER, estimate=0.7, ci_low=0.68, ci_high=0.72)
GOOD = GateFacts(is_quantized=True, quantized_evidence="100% of MACs", format="qdq",
                 allowed_formats=("qdq", "qoperator"), fidelity_passed=True, threshold=1.2, speed=(FAST,))


def test_quantized_fast_faithful_model_passes_with_its_reasons() -> None:
    verdict, reasons = decide(GOOD)
    assert verdict is Verdict.PASS
    assert any("1.60× (95% CI 1.55–1.65)" in r and "required ≥ 1.20×" in r for r in reasons)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"is_quantized": False, "quantized_evidence": "0% of MACs"}, "not really quantized: 0% of MACs"),
        ({"format": "dynamic"}, "format dynamic is not allowed"),
        ({"io_mismatches": ("output logits: rank 2 vs 3",)}, "does not match its FP32 source"),
        ({"fidelity_passed": False, "fidelity_evidence": "cosine 0.42"}, "outputs drift from FP32: cosine 0.42"),
        ({"speed": (FAST, SLOW)}, "slower than required at 2 threads: 0.70×"),
        ({"speed": (SpeedRow(1, None, None, None, None, error="worker killed by SIGKILL"),)}, "benchmark failed at 1 thread"),
        ({"error": "model crashed"}, "could not be checked: model crashed"),
        ({"findings": (Finding("qdq-unfused", Severity.FAIL, "Q/DQ left around Resize"),)}, "qdq-unfused: Q/DQ left"),
    ],
)
def test_each_failing_fact_fails_the_model_and_says_why(change: dict[str, object], needle: str) -> None:
    facts = GateFacts(**{**GOOD.__dict__, **change})
    verdict, reasons = decide(facts)
    assert verdict is Verdict.FAIL
    assert any(needle in reason for reason in reasons), reasons


def test_interval_straddling_the_threshold_is_inconclusive_not_fail() -> None:
    verdict, reasons = decide(GateFacts(**{**GOOD.__dict__, "speed": (FAST, NOISY)}))
    assert verdict is Verdict.INCONCLUSIVE
    assert reasons == ("speedup at 2 threads is within noise of the threshold: 1.21× (95% CI 1.15–1.27), required ≥ 1.20×",)


def test_policy_rules_raise_lower_and_drop_findings() -> None:
    found = (
        Finding("qdq-unfused", Severity.WARN, "a"),
        Finding("not-preprocessed", Severity.WARN, "b"),
        Finding("dynamic-conv", Severity.FAIL, "c"),
    )
    rules = FindingRules(fail=("qdq-unfused",), warn=("dynamic-conv",), ignore=("not-preprocessed",))
    assert [(f.code, f.severity) for f in apply_rules(found, rules)] == [
        ("qdq-unfused", Severity.FAIL),
        ("dynamic-conv", Severity.WARN),
    ]


def test_overall_and_exit_codes() -> None:
    assert overall([Verdict.PASS, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert overall([Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE]) is Verdict.FAIL
    assert overall([]) is Verdict.INCONCLUSIVE
    assert exit_code(Verdict.FAIL) == 1
    assert exit_code(Verdict.INCONCLUSIVE) == 0
    assert exit_code(Verdict.INCONCLUSIVE, FailOn.INCONCLUSIVE) == 1
    assert exit_code(Verdict.FAIL, FailOn.NEVER) == 0
    assert exit_code(Verdict.PASS, FailOn.INCONCLUSIVE) == 0


def test_a_failing_finding_that_restates_a_fact_is_not_a_second_reason() -> None:
    fake = GateFacts(**{**GOOD.__dict__, "is_quantized": False, "quantized_evidence": "0% of MACs",
                        "findings": (Finding("not-quantized", Severity.FAIL, "float graph"),
                                     Finding("invalid-scale", Severity.FAIL, "a scale is zero"))})
    verdict, reasons = decide(fake)
    assert verdict is Verdict.FAIL
    assert reasons == ("not really quantized: 0% of MACs", "invalid-scale: a scale is zero")
