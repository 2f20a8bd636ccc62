"""Inspect one model end to end (safe read → census → ONNX Runtime's optimized graph → findings) and pair two.

Orchestration at the edge: ``modelfile`` reads the untrusted file, ``census`` and ``pitfalls`` judge it,
``ortgraph`` + ``optgraph`` add the runtime layer. ``ModelInspection`` is the ``inspect`` JSON contract
(field names are JSON names) and the ``quantization`` section of every report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType

import onnx

from int8gate.findings import Finding
from int8gate.model.census import Census, take_census
from int8gate.model.file import DEFAULT_MAX_BYTES, read_model
from int8gate.model.graph import dtype_name
from int8gate.model.optimized import AfterOptimization, analyze_optimized
from int8gate.model.pitfalls import census_findings, is_quantized, pair_findings, runtime_findings
from int8gate.policy.spec import OptLevel, QuantizedRequirement
from int8gate.runtime.optimizer import optimized_model

_NO_SHAPES: Mapping[str, tuple[int, ...]] = MappingProxyType({})


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, dtype, and dims (a number, a symbol, or ``None`` when unnamed)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True)
class ModelInspection(Census):
    """The quantization census of one model file (see ``census``, ``optgraph`` and ``pitfalls``).

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


def inspect_model(
    path: Path,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] = _NO_SHAPES,
    opt_level: OptLevel = OptLevel.ALL,
    requirement: QuantizedRequirement = QuantizedRequirement(),  # noqa: B008 (frozen, shared safely)
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    runtime_layer: bool = True,
    vnni: bool | None = None,
) -> ModelInspection:
    """Census of ``path``; with ``runtime_layer`` also what ONNX Runtime makes of it at ``opt_level``.

    ``vnni=False`` says the CPU lacks VNNI (enables ``u8s8-no-vnni``); ``None`` means unknown.
    Raises ``ModelFileError`` for an unusable or unsafe file, ``UsageError`` for shapes of unknown inputs.
    """
    loaded = read_model(path, max_bytes=max_bytes)
    info = loaded.info
    census = take_census(loaded.model, input_shapes=input_shapes, source=str(path))
    inputs, outputs = _io(loaded.model)
    del loaded  # the session below loads the model itself; do not hold two copies
    after = analyze_optimized(optimized_model(path, opt_level), opt_level) if runtime_layer else None
    findings = census_findings(census, requirement, vnni=vnni) + (runtime_findings(after) if after else ())
    return ModelInspection(
        **{field.name: getattr(census, field.name) for field in fields(Census)},
        path=info.path,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        external_data_bytes=info.external_data_bytes,
        is_quantized=is_quantized(census, requirement),
        inputs=inputs,
        outputs=outputs,
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


def _io(model: onnx.ModelProto) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = tuple(_spec(value) for value in model.graph.input if value.name not in initializers)
    return inputs, tuple(_spec(value) for value in model.graph.output)


def _spec(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor_type = value.type.tensor_type
    dtype = dtype_name(tensor_type.elem_type) if value.type.HasField("tensor_type") else "non-tensor"
    if not value.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
        return TensorSpec(value.name, dtype, None)
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(dim.dim_value)
        else:
            dims.append(dim.dim_param or None)
    return TensorSpec(value.name, dtype, tuple(dims))
