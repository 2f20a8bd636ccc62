"""Judging output agreement between an FP32 model and its INT8 version, honestly about the inputs used.

Pure: the metrics come from ``agreement`` (accumulated in the worker as outputs stream); this module
decides what they may fail. Two kinds of failure:

- **Broken on any input** (``fidelity-broken``, always judged): an INT8 output holds NaN/inf where
  FP32 does not, has another shape or dtype, is stuck (the same for every sample while FP32's
  differ), or is more than ``MAX_RMS_RATIO``× FP32's magnitude.
- **Drift** (``fidelity-drift``), judged only when the inputs can support it: real samples, or
  synthetic inputs inside the range the INT8 model was calibrated on (``synthetic_check``). Each
  output is judged by the metric its kind supports (``OutputKind``): top-1 agreement for class
  scores, mean error over FP32's range for probabilities, cosine and SNR for other values, exact
  agreement for integers; ``max_abs_error`` applies to every float output when the policy sets it.
  A recurrent state output is not graded for drift: its drift shows in the outputs computed from it
  (silero-vad's working QOperator copy on held-out speech: its output cosine 0.998, its state 0.989).

Why synthetic inputs usually cannot grade drift (measured on the real-model corpus, issue 10): on
int8gate's seeded random inputs, every one of the 19 working real INT8 models missed cosine 0.99 or
SNR 20 dB (a text detector: cosine 0.000, its probability map near zero everywhere), and no line on
any agreement metric, raw or relative to FP32's own sensitivity to input noise, separated working
models from broken ones across models. Those models were calibrated on real data; random inputs
put their activations outside the calibrated ranges. Where the synthetic inputs lie inside the INT8
model's calibrated input ranges (a model calibrated on the same kind of data), the thresholds apply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from int8gate.findings import Finding, Severity
from int8gate.inputs.feeds import iter_random_feeds
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.agreement import SNR_CAP_DB, OutputFidelity, compare_output
from int8gate.model.values import InputRange
from int8gate.policy.spec import FidelityRequirement

__all__ = ["SNR_CAP_DB", "OutputFidelity", "compare_output"]

MAX_RMS_RATIO = 10.0
"""INT8 outputs more than this many times FP32's RMS are broken on any input.

Measured on the corpus's working INT8 models on random inputs: 0.30-4.5× (the 0.3 is a detector
whose near-zero probabilities INT8 rounds to 0); a QOperator detector with one weight scale ×4: 1,010×.
"""
MAX_OUTSIDE_CALIBRATION = 0.005
"""Synthetic inputs grade drift only when at most this share of their values falls outside the range
the INT8 model was calibrated on (the zoo's N(0,1)-calibrated models: 0.01%; the corpus's image
models: 2.1% for an ImageNet-normalized detector, 32% for [-1, 1] inputs; audio: 38-60%)."""


class OutputKind(str, Enum):
    """What an output holds, from the op that produces it in the FP32 graph (``model.outputs``)."""

    CLASS_SCORES = "class-scores"
    PROBABILITIES = "probabilities"
    VALUES = "values"
    INTEGERS = "integers"
    STATE = "state"


@dataclass(frozen=True)
class FidelityContext:
    """What judging needs from the two models' census: each FP32 output's kind, the INT8 input ranges."""

    output_kinds: tuple[tuple[str, str], ...] = ()
    input_ranges: tuple[InputRange, ...] = ()

    @property
    def kinds(self) -> dict[str, OutputKind]:
        """Output name → kind."""
        return {name: OutputKind(kind) for name, kind in self.output_kinds}


@dataclass(frozen=True)
class SyntheticCheck:
    """Whether synthetic inputs can grade drift for this pair, and why (one plain sentence)."""

    graded: bool
    reason: str


@dataclass(frozen=True)
class FidelityResult:
    """The verdict on output agreement: every output's metrics, and the findings that fail it.

    source: ``"samples"`` (the policy's sample data) or ``"random"`` (seeded synthetic inputs).
    graded: whether drift was judged (always with samples; with synthetic inputs see ``basis``).
    basis: which inputs were compared and why drift was or was not graded, for the report.
    error: a one-line cause when the models could not be run (then ``passed`` is False).
    """

    passed: bool
    samples: int
    source: str
    outputs: tuple[OutputFidelity, ...]
    findings: tuple[Finding, ...]
    error: str | None = None
    graded: bool = True
    basis: str = ""


def synthetic_check(
    inputs: Sequence[ResolvedInput], ranges: Sequence[InputRange], *, count: int, seed: int
) -> SyntheticCheck:
    """Whether the seeded synthetic inputs (``inputs.feeds``) lie inside the INT8 model's calibrated ranges.

    Every input must be a float input that the INT8 model quantizes with a fixed, calibrated range, and
    at most ``MAX_OUTSIDE_CALIBRATION`` of its synthetic values may fall outside that range.
    """
    by_name = {r.input: r for r in ranges}
    for spec in inputs:
        if not np.issubdtype(np.dtype(spec.dtype), np.floating):
            return SyntheticCheck(False, f"input {spec.name} is {spec.dtype}: random values are not its data")
        if spec.name not in by_name:
            return SyntheticCheck(False, f"the INT8 model has no calibrated range for input {spec.name} "
                                         "(dynamic quantization, or the input is not quantized directly)")
    outside = dict.fromkeys((s.name for s in inputs), 0)
    total = dict.fromkeys((s.name for s in inputs), 0)
    for feed in iter_random_feeds(inputs, count, seed):
        for name, array in feed.items():
            r = by_name[name]
            outside[name] += int(np.count_nonzero((array < r.low) | (array > r.high)))
            total[name] += array.size
    for spec in inputs:
        share = outside[spec.name] / max(total[spec.name], 1)
        r = by_name[spec.name]
        where = f"input {spec.name}: {share:.1%} of the random values fall outside [{r.low:.3g}, {r.high:.3g}]"
        if share > MAX_OUTSIDE_CALIBRATION:
            return SyntheticCheck(False, f"{where}, the range the INT8 model was calibrated on")
    shown = ", ".join(f"{r.input} [{r.low:.3g}, {r.high:.3g}]" for r in ranges if r.input in outside)
    return SyntheticCheck(True, f"the random inputs lie inside the INT8 model's calibrated ranges ({shown})")


def evaluate(
    outputs: Sequence[OutputFidelity],
    requirement: FidelityRequirement,
    *,
    source: str,
    kinds: Mapping[str, OutputKind],
    synthetic: SyntheticCheck | None,
    inputs_text: str,
) -> FidelityResult:
    """Judge the compared outputs: broken ones always fail, drift only where the inputs can grade it."""
    typed = tuple(replace(o, kind=kinds.get(o.name, _default_kind(o)).value) for o in outputs)
    graded = source == "samples" or (synthetic is not None and synthetic.graded)
    broken = list(_broken(typed))
    findings = [*broken, *(_drift(typed, requirement) if graded and not broken else ())]
    basis = inputs_text
    if source != "samples":
        reason = synthetic.reason if synthetic is not None else "no calibrated input ranges were given"
        basis = f"{inputs_text}; drift {'graded' if graded else 'not graded'}: {reason}"
        if not graded and not broken and any(True for _ in _drift(typed, requirement)):
            findings.append(_synthetic_note(typed, reason))  # only when grading would have failed it
    samples = max((o.samples for o in typed), default=0)
    passed = not any(f.severity is Severity.FAIL for f in findings)
    return FidelityResult(passed, samples, source, typed, tuple(findings), graded=graded, basis=basis)


def _default_kind(output: OutputFidelity) -> OutputKind:
    return OutputKind.INTEGERS if output.exact_agreement is not None else OutputKind.VALUES


def _broken(outputs: Sequence[OutputFidelity]) -> Iterable[Finding]:
    causes: list[str] = []
    for out in outputs:
        if out.problem is not None:
            causes.append(f"{out.name}: {out.problem}")
        elif not out.finite:
            causes.append(f"{out.name}: NaN or infinite values where FP32 has none")
        elif out.stuck:
            causes.append(f"{out.name}: the same for all {out.samples} samples while FP32's output changes")
        elif out.rms_ratio is not None and out.rms_ratio > MAX_RMS_RATIO:
            causes.append(f"{out.name}: {out.rms_ratio:.3g}× FP32's magnitude (RMS)")
    if causes:
        yield Finding(
            "fidelity-broken",
            Severity.FAIL,
            f"The INT8 model's output is broken on any input: {causes[0]}.",
            "Check the quantization parameters of the layers feeding it (a zero, huge or wrongly scaled scale, "
            "or a zero point outside the type), then quantize again.",
            "; ".join(causes[:4]) + (" …" if len(causes) > 4 else ""),
        )


def _drift(outputs: Sequence[OutputFidelity], requirement: FidelityRequirement) -> Iterable[Finding]:
    misses = [miss for out in outputs if out.problem is None and out.finite and out.kind != OutputKind.STATE.value
              for miss in _misses(out, requirement)]  # fmt: skip
    if not misses:
        return
    yield Finding(
        "fidelity-drift",
        Severity.FAIL,
        f"The INT8 model's outputs drift from FP32's beyond the policy: {misses[0]}.",
        "Calibrate on more representative inputs, use per-channel weights, and leave the most sensitive "
        "nodes in float (nodes_to_exclude); or relax require.fidelity if this drift is acceptable.",
        "; ".join(misses[:4]) + (" …" if len(misses) > 4 else ""),
    )


def _misses(out: OutputFidelity, req: FidelityRequirement) -> list[str]:
    """The policy thresholds one output misses, by the metric its kind supports."""
    checks: list[tuple[str, float | None, float | None, bool]] = []
    if out.kind == OutputKind.CLASS_SCORES.value and out.top1_agreement is not None:
        checks.append(("top-1 agreement", out.top1_agreement, req.min_top1_agreement, True))
    elif out.kind == OutputKind.PROBABILITIES.value and out.range_error is not None:
        checks.append(("mean error / FP32 range", out.range_error, req.max_range_error, False))
    elif out.kind == OutputKind.INTEGERS.value:
        checks.append(("exact agreement", out.exact_agreement, req.min_top1_agreement, True))
    else:
        checks += [("cosine", out.cosine, req.min_cosine, True), ("SNR dB", out.snr_db, req.min_snr_db, True)]
    if out.kind != OutputKind.INTEGERS.value:
        checks.append(("max abs error", out.max_abs_error, req.max_abs_error, False))
    misses = []
    for label, value, limit, at_least in checks:
        if value is None or limit is None or not math.isfinite(value):
            continue
        if (value < limit) if at_least else (value > limit):
            misses.append(f"{out.name} {label} {value:.4g} ({'≥' if at_least else '≤'} {limit:g} wanted)")
    return misses


def _synthetic_note(outputs: Sequence[OutputFidelity], reason: str) -> Finding:
    worst = "; ".join(summary(o) for o in outputs[:3])
    return Finding(
        "fidelity-synthetic",
        Severity.INFO,
        "Outputs were compared on random inputs, which cannot tell a working INT8 model from a drifting one "
        "here, so drift was reported, not graded; only outputs broken on any input would fail.",
        "Give samples: (a .npz or .npy file, or a folder of them, e.g. your calibration data) to grade drift.",
        f"{reason}; {worst}",
    )


def summary(out: OutputFidelity) -> str:
    """One output's agreement in a few words, by the metric its kind supports."""
    if out.problem is not None:
        return f"{out.name}: {out.problem}"
    if out.kind == OutputKind.CLASS_SCORES.value and out.top1_agreement is not None:
        return f"{out.name} top-1 {out.top1_agreement:.0%}"
    if out.kind == OutputKind.PROBABILITIES.value and out.range_error is not None:
        return f"{out.name} error {out.range_error:.2%} of range"
    if out.kind == OutputKind.INTEGERS.value and out.exact_agreement is not None:
        return f"{out.name} exact {out.exact_agreement:.0%}"
    return f"{out.name} cosine {out.cosine:.4f}, SNR {out.snr_db:.1f} dB"


def failed(cause: str, *, source: str) -> FidelityResult:
    """A fidelity result for models that could not be compared, with the cause as a finding."""
    finding = Finding(
        "fidelity-failed",
        Severity.FAIL,
        "The FP32 and INT8 outputs could not be compared.",
        "Make both models run on the same inputs and produce the same outputs.",
        cause,
    )
    return FidelityResult(passed=False, samples=0, source=source, outputs=(), findings=(finding,), error=cause)
