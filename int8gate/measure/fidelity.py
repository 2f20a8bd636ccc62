"""Output agreement between an FP32 model and its INT8 version, judged against the policy.

Pure: arrays in, frozen dataclasses out. Every output is compared over all samples at once
(cosine similarity, max and mean absolute error, SNR in dB); outputs that look like class scores
(a last axis of 2 to 100,000 classes) also get top-1 and top-5 agreement per row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from int8gate.findings import Finding, Severity
from int8gate.policy.spec import FidelityRequirement

SNR_CAP_DB = 200.0
"""The SNR reported when the outputs are identical (the true value is infinite)."""
MAX_CLASSES = 100_000


@dataclass(frozen=True)
class OutputFidelity:
    """How closely one output of the INT8 model follows the FP32 one.

    top1_agreement: share of rows whose arg-max class agrees (``None``: not class-like).
    shape: one sample's shape.
    top5_agreement: share of rows whose FP32 arg-max is among the INT8 top five (``None``: fewer
    than five classes or not class-like).
    finite: False when the INT8 output holds NaN or infinity where the FP32 one does not.
    """

    name: str
    shape: tuple[int, ...]
    cosine: float
    max_abs_error: float
    mean_abs_error: float
    snr_db: float
    top1_agreement: float | None
    top5_agreement: float | None
    finite: bool


@dataclass(frozen=True)
class FidelityResult:
    """The verdict on output agreement: every output's metrics and a finding per failed threshold.

    source: ``"samples"`` when the policy's sample data fed the models, ``"random"`` otherwise.
    error: a one-line cause when the models could not be run (then ``passed`` is False).
    """

    passed: bool
    samples: int
    source: str
    outputs: tuple[OutputFidelity, ...]
    findings: tuple[Finding, ...]
    error: str | None = None


def is_class_scores(shape: Sequence[int], dtype: np.dtype[np.generic]) -> bool:
    """Whether an output looks like classifier scores: float, rank 1 or 2, 2..100,000 classes."""
    return np.issubdtype(dtype, np.floating) and 1 <= len(shape) <= 2 and 2 <= shape[-1] <= MAX_CLASSES


def compare_output(
    name: str,
    reference: npt.NDArray[np.generic],
    candidate: npt.NDArray[np.generic],
    *,
    sample_shape: tuple[int, ...] | None = None,
) -> OutputFidelity:
    """Metrics of ``candidate`` (INT8) against ``reference`` (FP32); shapes must match.

    ``sample_shape`` is one sample's shape when the arrays stack several samples on a leading
    axis; it decides whether the output looks like class scores (default: the arrays' shape).
    """
    if reference.shape != candidate.shape:
        raise ValueError(f"output {name!r}: INT8 shape {candidate.shape} differs from FP32 {reference.shape}")
    ref = np.asarray(reference, dtype=np.float64).ravel()
    cand = np.asarray(candidate, dtype=np.float64).ravel()
    finite = bool(np.all(np.isfinite(cand) | ~np.isfinite(ref)))
    mask = np.isfinite(ref) & np.isfinite(cand)
    same_special = (ref == cand) | (np.isnan(ref) & np.isnan(cand))
    with np.errstate(invalid="ignore"):
        diff = np.where(mask, np.abs(ref - cand), np.where(same_special, 0.0, np.inf))
    energy = float(ref[mask] @ ref[mask])
    noise = float(diff @ diff)
    shape = tuple(int(d) for d in (reference.shape if sample_shape is None else sample_shape))
    top1, top5 = _topk(reference, candidate) if is_class_scores(shape, reference.dtype) else (None, None)
    return OutputFidelity(
        name=name,
        shape=shape,
        cosine=_cosine(ref[mask], cand[mask]) if finite else 0.0,
        max_abs_error=float(diff.max()) if diff.size else 0.0,
        mean_abs_error=float(diff.mean()) if diff.size else 0.0,
        snr_db=_snr_db(energy, noise),
        top1_agreement=top1,
        top5_agreement=top5,
        finite=finite,
    )


def _cosine(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Cosine similarity; two all-zero vectors agree perfectly, one all-zero vector not at all."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.clip(a @ b / (na * nb), -1.0, 1.0))


def _snr_db(signal_energy: float, noise_energy: float) -> float:
    """10·log10(signal / noise), capped at ``SNR_CAP_DB`` for identical outputs."""
    if noise_energy == 0.0:
        return SNR_CAP_DB
    if signal_energy == 0.0 or math.isinf(noise_energy):
        return -SNR_CAP_DB
    return min(10.0 * math.log10(signal_energy / noise_energy), SNR_CAP_DB)


def _topk(reference: npt.NDArray[np.generic], candidate: npt.NDArray[np.generic]) -> tuple[float | None, float | None]:
    """Top-1 and top-5 agreement over rows of class scores (the last axis); no top-5 under 5."""
    classes = reference.shape[-1]
    ref = np.asarray(reference, dtype=np.float64).reshape(-1, classes)
    cand = np.asarray(candidate, dtype=np.float64).reshape(-1, classes)
    ref_top = ref.argmax(axis=1)
    top1 = float(np.mean(ref_top == cand.argmax(axis=1)))
    if classes < 5:
        return top1, None
    cand_top5 = np.argsort(-cand, axis=1, kind="stable")[:, :5]
    top5 = float(np.mean(np.any(cand_top5 == ref_top[:, None], axis=1)))
    return top1, top5


def judge(outputs: Sequence[OutputFidelity], requirement: FidelityRequirement) -> tuple[Finding, ...]:
    """One FAIL finding per output and threshold it misses; nothing when all are met."""
    found: list[Finding] = []
    fix = "Check the quantization of the layers feeding this output (scales, calibration data)."
    for out in outputs:
        if not out.finite:
            found.append(
                Finding(
                    "fidelity-not-finite",
                    Severity.FAIL,
                    f"INT8 output '{out.name}' holds NaN or infinite values where FP32 does not.",
                    fix,
                    f"output {out.name}",
                )
            )
            continue
        checks = (
            ("fidelity-cosine", "cosine similarity", out.cosine, requirement.min_cosine, True),
            ("fidelity-snr", "SNR (dB)", out.snr_db, requirement.min_snr_db, True),
            (
                "fidelity-max-abs-error",
                "max absolute error",
                out.max_abs_error,
                requirement.max_abs_error,
                False,
            ),
            (
                "fidelity-top1",
                "top-1 agreement",
                out.top1_agreement,
                requirement.min_top1_agreement,
                True,
            ),
        )
        for code, label, value, limit, at_least in checks:
            if value is None or limit is None:
                continue
            missed = value < limit if at_least else value > limit
            if missed:
                bound = "at least" if at_least else "at most"
                found.append(
                    Finding(
                        code,
                        Severity.FAIL,
                        f"INT8 output '{out.name}' drifts from FP32: {label} {value:.4g}, "
                        f"policy wants {bound} {limit:g}.",
                        fix,
                        f"{label} {value:.4g} vs {limit:g} over output {out.name}",
                    )
                )
    return tuple(found)


def compare(
    reference: Mapping[str, Sequence[npt.NDArray[np.generic]]],
    candidate: Mapping[str, Sequence[npt.NDArray[np.generic]]],
    requirement: FidelityRequirement,
    *,
    source: str,
) -> FidelityResult:
    """Compare every FP32 output with the INT8 one over all samples and judge the result.

    ``reference[name]`` holds that output for each sample, in sample order, likewise ``candidate``.
    """
    missing = sorted(set(reference) - set(candidate))
    if missing:
        return failed(f"the INT8 model lacks output(s) {', '.join(missing)}", source=source)
    outputs: list[OutputFidelity] = []
    samples = 0
    for name, refs in reference.items():
        cands = candidate[name]
        samples = max(samples, len(refs))
        if len(refs) != len(cands) or not refs:
            return failed(f"output {name}: sample counts differ", source=source)
        try:
            outputs.append(compare_output(name, np.stack(refs), np.stack(cands), sample_shape=tuple(refs[0].shape)))
        except ValueError as err:
            return failed(str(err), source=source)
    findings = judge(outputs, requirement)
    return FidelityResult(
        passed=not findings,
        samples=samples,
        source=source,
        outputs=tuple(outputs),
        findings=findings,
    )


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
