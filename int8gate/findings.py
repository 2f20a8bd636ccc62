"""The one shape every diagnosis takes: a coded finding with a severity, evidence and a fix; and every code.

Census pitfalls, measurement-quality checks and the explanation engine all produce ``Finding``s;
the verdict decides which of them fail the gate (the policy may raise or lower a code's severity),
and the Markdown renderer is the only place that turns them into text for people.

``CODES`` is the one registry of finding codes, each with its default severity: a ``Finding`` with a
code not in it cannot be made (a test checks every finding the package makes is registered),
and the policy schema's ``findingCode`` enum (``require.findings.fail/warn/ignore``) is generated
from it, so a typo in a policy is an error with "did you mean". After adding or renaming a code
here, regenerate the schema with ``UPDATE_GOLDEN=1 python -m pytest tests/unit/test_codes.py`` and
review the diff (the same command as the golden files).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class Severity(str, Enum):
    """How much a finding matters; ``FAIL`` findings fail the model unless the policy lowers them."""

    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One diagnosis. ``code`` is stable (policies and scripts refer to it); the rest is for people.

    message: one plain sentence saying what is wrong or notable.
    fix: one sentence saying what to do about it ("" when nothing needs doing).
    evidence: the figures behind it, short ("12 of 53 Conv fed by DequantizeLinear").
    """

    code: str
    severity: Severity
    message: str
    fix: str = ""
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"finding code {self.code!r} is not registered in int8gate.findings.CODES")


@dataclass(frozen=True)
class CodeInfo:
    """A finding code's default severity and what it means, in a few words."""

    severity: Severity
    meaning: str


_I, _W, _F = Severity.INFO, Severity.WARN, Severity.FAIL
CODES: Mapping[str, CodeInfo] = MappingProxyType({
    # the file: is it really quantized, and how (model.pitfalls)
    "not-quantized": CodeInfo(_F, "no compute op runs quantized: a float graph under an INT8 name"),
    "token-quantization": CodeInfo(_F, "less of the compute is quantized than the policy requires"),
    "partial-quantization": CodeInfo(_W, "a float share of the MACs caps the speedup"),
    "format-not-allowed": CodeInfo(_F, "a quantization format the policy does not allow"),
    "weight-only-4bit": CodeInfo(_F, "4-bit weight-only (MatMulNBits): float compute, not INT8"),
    "weight-only-dq": CodeInfo(_W, "8-bit weights behind DequantizeLinear with float activations"),
    "invalid-scale": CodeInfo(_F, "a quantization scale that makes outputs meaningless"),
    "no-compute-ops": CodeInfo(_W, "no compute op for INT8 to speed up"),
    "dynamic-conv": CodeInfo(_W, "convolutions quantized dynamically, ONNX Runtime's slow path"),
    "s8-activations-qoperator": CodeInfo(_W, "QOperator with int8 activations, slow on x86-64"),
    "opset-too-old": CodeInfo(_W, "an opset too old for ONNX Runtime's quantizer to fuse nodes"),
    "not-preprocessed": CodeInfo(_W, "quantized without ONNX Runtime's pre-processing"),
    "macs-unknown": CodeInfo(_W, "some MACs unknown: only the count share of quantized compute was checked"),
    "dims-assumed": CodeInfo(_I, "dynamic input dims set to 1 to weight MACs"),
    "u8s8-no-vnni": CodeInfo(_W, "u8 x s8 kernels that can saturate on a CPU without VNNI"),
    # the graph ONNX Runtime runs (model.pitfalls, judge.explain)
    "float-compute-fed-by-dq": CodeInfo(_W, "quantized groups ONNX Runtime could not fuse: float compute on DQ"),
    "qdq-unfused": CodeInfo(_W, "Q/DQ left around ops with no integer kernel"),
    "float-islands": CodeInfo(_I, "a QOperator graph's ops without an integer kernel, run in float between DQ and Q"),
    # the pair (model.pitfalls)
    "io-mismatch": CodeInfo(_F, "the INT8 model's inputs or outputs differ from the FP32 source"),
    "same-file": CodeInfo(_F, "the INT8 file is the FP32 file"),
    "size-not-reduced": CodeInfo(_W, "the INT8 file is not much smaller than the FP32 one"),
    "fp16-reference": CodeInfo(_I, "the reference model is FP16, not FP32"),
    # why it is (not) faster here (judge.explain)
    "threads-over-quota": CodeInfo(_W, "more threads than the container's CPUs"),
    "model-too-small": CodeInfo(_I, "too small for integer kernels to pay"),
    "no-vnni": CodeInfo(_W, "a CPU without VNNI: INT8 near FP32 speed"),
    "expected-range": CodeInfo(_I, "the speedup expected on this runner (not measured)"),
    "expected-range-above": CodeInfo(_I, "measured above the expected range"),
    "expected-range-inside": CodeInfo(_I, "measured inside the expected range"),
    "expected-range-below": CodeInfo(_W, "measured below the expected range"),
    # the measurement's quality (measure.stats)
    "high-dispersion": CodeInfo(_W, "latencies varied widely"),
    "drift": CodeInfo(_W, "the speedup drifted during the sessions"),
    "latency-too-short": CodeInfo(_W, "runs too short for the clock"),
    "budget-cut": CodeInfo(_W, "the budget ran out before the target interval"),
    "deadline-cut": CodeInfo(_W, "the run's deadline stopped a row before its interval was narrow enough"),
    "run-deadline": CodeInfo(_W, "the run's deadline passed before everything was measured"),
    "other-load": CodeInfo(_W, "other work ran on the machine while measuring"),
    "harness-overhead": CodeInfo(_I, "calling the model from Python is a visible share of a run"),
    "outliers": CodeInfo(_I, "many runs far from the usual"),
    "single-session": CodeInfo(_W, "one session only: the interval misses between-session variation"),
    "over-budget": CodeInfo(_W, "the row took longer than its budget: its minimum of sessions did not fit"),
    # the outputs (measure.fidelity)
    "fidelity-broken": CodeInfo(_F, "an INT8 output broken on any input (NaN, shape, stuck, scale)"),
    "fidelity-drift": CodeInfo(_F, "INT8 outputs drift from FP32 beyond the policy, on inputs that can tell"),
    "fidelity-synthetic": CodeInfo(_I, "drift on random inputs reported, not graded"),
    "fidelity-failed": CodeInfo(_F, "the outputs could not be compared"),
})  # fmt: skip
"""Every finding code int8gate emits, with its default severity (policies may change it by code); the policy
schema's enum is generated from the keys: policies name these codes, so renaming one is a contract change."""


def with_severity(finding: Finding, severity: Severity) -> Finding:
    """Return the finding with its severity replaced (policy overrides)."""
    return Finding(finding.code, severity, finding.message, finding.fix, finding.evidence)


def percent(value: float | None, unknown: str = "unknown") -> str:
    """A share as a whole percentage for a finding's text (``0.8`` → ``80%``), ``unknown`` when not known."""
    return unknown if value is None else f"{value:.0%}"
