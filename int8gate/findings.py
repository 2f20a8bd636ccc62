"""The one shape every diagnosis takes: a coded finding with a severity, evidence and a fix; and every code.

Census pitfalls, measurement-quality checks and the explanation engine all produce ``Finding``s;
the verdict decides which of them fail the gate (the policy may raise or lower a code's severity),
and the Markdown renderer is the only place that turns them into text for people.

``CODES`` is the one registry of finding codes: a ``Finding`` with a code not in it cannot be made,
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

CODES: Mapping[str, str] = MappingProxyType({
    # One model's census (model/pitfalls) and the explanation of a measurement (judge/explain).
    "not-quantized": "the INT8 model does no integer compute (a float graph under an INT8 name)",
    "token-quantization": "only a token share of the compute is quantized",
    "partial-quantization": "part of the multiply-accumulates stayed in float, capping any speedup",
    "format-not-allowed": "the quantization format is not one the policy allows",
    "no-compute-ops": "the model has no compute ops to judge",
    "invalid-scale": "a quantization scale is zero, negative, or not finite",
    "u8s8-no-vnni": "uint8 activations with int8 weights on a CPU without VNNI (16-bit intermediates saturate)",
    "weight-only-dq": "8-bit weights read through DequantizeLinear with float activations: run in float",
    "dynamic-conv": "convolutions quantized dynamically (ConvInteger), which ONNX Runtime runs slowly",
    "s8-activations-qoperator": "a QOperator model with int8 activations, which runs badly on x86-64",
    "opset-too-old": "the opset is older than ONNX Runtime's quantizer needs for node fusions",
    "not-preprocessed": "the FP32 model was not pre-processed (shape inference, folding) before quantization",
    "macs-unknown": "multiply-accumulate counts could not be computed (unknown shapes)",
    "dims-assumed": "dynamic dimensions were given default sizes for the census",
    "float-compute-fed-by-dq": "float compute ops fed by DequantizeLinear remain after optimization",
    "qdq-unfused": "Quantize/DequantizeLinear pairs that ONNX Runtime did not fuse",
    "same-file": "the INT8 and FP32 entries name the same model",
    "io-mismatch": "the INT8 model's inputs or outputs differ from its FP32 source",
    "size-not-reduced": "the INT8 model is not smaller than its FP32 source",
    "threads-over-quota": "more threads than the CPUs this job may use",
    "model-too-small": "the model is too small for integer kernels to pay",
    "no-vnni": "the CPU has no VNNI, so INT8 kernels gain little",
    "fidelity-loss": "outputs drift from FP32 beyond the tolerance (the explanation)",
    "expected-range": "the speedup expected on this runner (nothing measured)",
    "expected-range-above": "the measured speedup is above the expected range",
    "expected-range-inside": "the measured speedup is inside the expected range",
    "expected-range-below": "the measured speedup is below the expected range",
    # The quality of a measurement (measure/stats).
    "high-dispersion": "latencies varied widely from run to run",
    "drift": "latencies drifted during the measurement",
    "latency-too-short": "runs are too short for the clock to time well",
    "budget-cut": "the time budget ran out before the interval was narrow enough",
    "deadline-cut": "the run's deadline stopped a row before its interval was narrow enough",
    "run-deadline": "the run's deadline passed before everything was measured",
    "other-load": "other work ran on the machine while measuring",
    "harness-overhead": "the cost of calling the model is a visible part of a run",
    "outliers": "many runs took far longer or shorter than usual",
    "single-session": "only one worker session was measured",
    # Output agreement (measure/fidelity).
    "fidelity-not-finite": "an INT8 output holds NaN or infinity where FP32 does not",
    "fidelity-cosine": "cosine similarity to FP32 below the policy's minimum",
    "fidelity-snr": "signal-to-noise ratio to FP32 below the policy's minimum",
    "fidelity-max-abs-error": "maximum absolute error above the policy's maximum",
    "fidelity-top1": "top-1 agreement with FP32 below the policy's minimum",
    "fidelity-failed": "the fidelity check could not run the models",
})  # fmt: skip
"""Every finding code and what it means in one phrase; the policy schema's enum is generated from the keys."""


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


def with_severity(finding: Finding, severity: Severity) -> Finding:
    """Return the finding with its severity replaced (policy overrides)."""
    return Finding(finding.code, severity, finding.message, finding.fix, finding.evidence)


def percent(value: float | None, unknown: str = "unknown") -> str:
    """A share as a whole percentage for a finding's text (``0.8`` → ``80%``), ``unknown`` when not known."""
    return unknown if value is None else f"{value:.0%}"
