"""The inspection of one model file as data, and the pairing check of an FP32 model with its INT8 version.

Pure: ``gate.examine`` reads the file (``file``), takes the census (``census``), has ONNX Runtime write
the optimized graph (``runtime.optimizer``, counted by ``optimized``) and calls ``assemble``.
``ModelInspection`` is the ``inspect`` JSON contract (field names are JSON names) and the
``quantization`` section of every report.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from int8gate.findings import Finding
from int8gate.model.census import Census
from int8gate.model.file import ModelFileInfo
from int8gate.model.optimized import AfterOptimization
from int8gate.model.pitfalls import census_findings, is_quantized, pair_findings, runtime_findings
from int8gate.model.values import TensorSpec
from int8gate.policy.spec import QuantizedRequirement


@dataclass(frozen=True)
class ModelInspection(Census):
    """The quantization census of one model file (see ``census``, ``optimized`` and ``pitfalls``).

    Every ``Census`` field, plus the file's facts, the ``is_quantized`` decision, the graph's
    inputs and outputs, what ONNX Runtime makes of it, and the findings. ``size_bytes`` includes
    external data; ``sha256`` is the ``.onnx`` file's digest. ``after_optimization`` is ``None``
    when the runtime layer was not asked for.
    """

    path: str
    size_bytes: int
    sha256: str
    external_data_bytes: int
    is_quantized: bool
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    after_optimization: AfterOptimization | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class PairCheck:
    """Whether an INT8 model can stand in for its FP32 source, and how their files compare."""

    io_match: bool
    mismatches: tuple[str, ...]
    size_ratio: float | None
    fp32_size_bytes: int
    int8_size_bytes: int
    fp32_sha256: str
    int8_sha256: str
    findings: tuple[Finding, ...]


def assemble(
    info: ModelFileInfo,
    census: Census,
    io: tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]],
    after: AfterOptimization | None,
    *,
    requirement: QuantizedRequirement,
    vnni: bool | None,
) -> ModelInspection:
    """One model's inspection from its file facts, census, inputs/outputs and (optionally) optimized graph.

    ``vnni=False`` says the CPU lacks VNNI (enables ``u8s8-no-vnni``); ``None`` means unknown.
    """
    findings = census_findings(census, requirement, vnni=vnni) + (runtime_findings(after) if after else ())
    return ModelInspection(
        **{field.name: getattr(census, field.name) for field in fields(Census)},
        path=info.path,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        external_data_bytes=info.external_data_bytes,
        is_quantized=is_quantized(census, requirement),
        inputs=io[0],
        outputs=io[1],
        after_optimization=after,
        findings=findings,
    )


def pair_models(fp32: ModelInspection, int8: ModelInspection) -> PairCheck:
    """Check that ``int8`` has ``fp32``'s inputs and outputs (names, dtypes, ranks, fixed dims)."""
    mismatches = (
        *_compare("input", fp32.inputs, int8.inputs),
        *_compare("output", fp32.outputs, int8.outputs),
    )
    ratio = int8.size_bytes / fp32.size_bytes if fp32.size_bytes else None
    return PairCheck(
        io_match=not mismatches,
        mismatches=mismatches,
        size_ratio=ratio,
        fp32_size_bytes=fp32.size_bytes,
        int8_size_bytes=int8.size_bytes,
        fp32_sha256=fp32.sha256,
        int8_sha256=int8.sha256,
        findings=pair_findings(mismatches, same_file=fp32.sha256 == int8.sha256, size_ratio=ratio),
    )


def _compare(kind: str, fp32: tuple[TensorSpec, ...], int8: tuple[TensorSpec, ...]) -> tuple[str, ...]:
    found: list[str] = []
    theirs = {spec.name: spec for spec in int8}
    ours = {spec.name for spec in fp32}
    for spec in fp32:
        other = theirs.get(spec.name)
        if other is None:
            found.append(f"{kind} {spec.name!r} of the FP32 model is missing from the INT8 model")
            continue
        if spec.dtype != other.dtype:
            found.append(f"{kind} {spec.name!r}: {spec.dtype} in FP32, {other.dtype} in INT8")
        if spec.shape is not None and other.shape is not None:
            if len(spec.shape) != len(other.shape):
                found.append(f"{kind} {spec.name!r}: rank {len(spec.shape)} in FP32, {len(other.shape)} in INT8")
                continue
            for axis, (a, b) in enumerate(zip(spec.shape, other.shape, strict=True)):
                if isinstance(a, int) and isinstance(b, int) and a != b:
                    found.append(f"{kind} {spec.name!r}: dim {axis} is {a} in FP32, {b} in INT8")
    found += [
        f"{kind} {spec.name!r} of the INT8 model is not in the FP32 model" for spec in int8 if spec.name not in ours
    ]
    return tuple(found)


