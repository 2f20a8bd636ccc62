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
    runtime = runtime_findings(after, census.format) if after else ()
    findings = census_findings(census, requirement, vnni=vnni) + runtime
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
    """Check that ``int8`` can run on ``fp32``'s inputs and answer with its outputs.

    Inputs must match by name, dtype, rank and fixed dims; outputs by name and dtype. A declared output
    shape is not compared: exporters get it wrong (ddddocr declares rank 2 for a rank-3 output), so the
    shapes the two models really produce are compared when they run (``measure.fidelity``). Float
    dtypes may differ (an FP16 "FP32" model beside an INT8 model with float32 inputs): the worker casts
    the inputs for each model, and the ``fp16-reference`` finding says what the reference is.
    """
    mismatches = (
        *_compare("input", fp32.inputs, int8.inputs, shapes=True),
        *_compare("output", fp32.outputs, int8.outputs, shapes=False),
    )
    ratio = int8.size_bytes / fp32.size_bytes if fp32.size_bytes else None
    fp16 = fp16_reference(fp32)
    # an FP16 source is half an FP32 file: judge the INT8 size against what the FP32 file would weigh
    equivalent = fp32.size_bytes + fp32.weight_bytes.float16
    return PairCheck(
        io_match=not mismatches,
        mismatches=mismatches,
        size_ratio=ratio,
        fp32_size_bytes=fp32.size_bytes,
        int8_size_bytes=int8.size_bytes,
        fp32_sha256=fp32.sha256,
        int8_sha256=int8.sha256,
        findings=pair_findings(
            mismatches,
            same_file=fp32.sha256 == int8.sha256,
            size_ratio=int8.size_bytes / equivalent if equivalent else None,
            fp16_reference=fp16,
        ),
    )


FLOAT_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64"})


def fp16_reference(fp32: ModelInspection) -> str | None:
    """Why the "FP32" model is really an FP16 one (float16 inputs or mostly float16 weights), else ``None``."""
    half = [spec.name for spec in (*fp32.inputs, *fp32.outputs) if spec.dtype in ("float16", "bfloat16")]
    weights = fp32.weight_bytes
    mostly_half = weights.float16 > weights.float32
    if not half and not mostly_half:
        return None
    parts = [f"{len(half)} float16 input(s)/output(s)"] if half else []
    if mostly_half:
        parts.append(f"{weights.float16:,} bytes of float16 weights, {weights.float32:,} of float32")
    return "; ".join(parts)


def _compare(
    kind: str, fp32: tuple[TensorSpec, ...], int8: tuple[TensorSpec, ...], *, shapes: bool
) -> tuple[str, ...]:
    found: list[str] = []
    theirs = {spec.name: spec for spec in int8}
    ours = {spec.name for spec in fp32}
    for spec in fp32:
        other = theirs.get(spec.name)
        if other is None:
            found.append(f"{kind} {spec.name!r} of the FP32 model is missing from the INT8 model")
            continue
        if spec.dtype != other.dtype and not {spec.dtype, other.dtype} <= FLOAT_DTYPES:
            found.append(f"{kind} {spec.name!r}: {spec.dtype} in FP32, {other.dtype} in INT8")
        if shapes and spec.shape is not None and other.shape is not None:
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


