"""Inspect one model end to end: safe read → census → ONNX Runtime's optimized graph → findings.

The composition that touches the machine: ``model`` reads and judges the file, ``runtime.shapes``
records the shapes ONNX inference could not (one ONNX Runtime run, only when some MACs are unknown),
``runtime.optimizer`` has ONNX Runtime write the optimized graph in a child process, and
``model.inspection.assemble`` puts it together.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from int8gate.inputs.resolved import ResolvedInput
from int8gate.model.census import take_census, values_to_record
from int8gate.model.file import DEFAULT_MAX_BYTES, read_model
from int8gate.model.graph import graph_io
from int8gate.model.inspection import ModelInspection, assemble
from int8gate.model.optimized import analyze_optimized
from int8gate.model.values import TensorSpec
from int8gate.policy.spec import OptLevel, QuantizedRequirement
from int8gate.runtime.optimizer import DEFAULT_TIMEOUT_SECONDS, optimized_model
from int8gate.runtime.shapes import record_shapes

_NO_SHAPES: Mapping[str, tuple[int, ...]] = MappingProxyType({})
_NO_ENV: Mapping[str, str] = MappingProxyType({})


def inspect_model(
    path: Path,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] = _NO_SHAPES,
    opt_level: OptLevel = OptLevel.ALL,
    requirement: QuantizedRequirement = QuantizedRequirement(),  # noqa: B008 (frozen, shared safely)
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    runtime_layer: bool = True,
    vnni: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    env: Mapping[str, str] = _NO_ENV,
) -> ModelInspection:
    """Census of ``path``; with ``runtime_layer`` also what ONNX Runtime makes of it at ``opt_level``.

    ``vnni=False`` says the CPU lacks VNNI (enables ``u8s8-no-vnni``); ``None`` means unknown.
    ``timeout`` limits ONNX Runtime's child (the policy's ``timeout_seconds``, within the run's
    deadline); ``env`` is the parent environment its allow-listed one is built from.
    Raises ``ModelFileError`` for an unusable or unsafe file, ``UsageError`` for shapes of unknown inputs.
    """
    loaded = read_model(path, max_bytes=max_bytes)
    info = loaded.info
    census = take_census(loaded.model, input_shapes=input_shapes, source=str(path))
    io = graph_io(loaded.model)
    wanted = values_to_record(loaded.model, input_shapes=input_shapes) if census.compute_ops.macs_unknown else ()
    if wanted:  # where ONNX inference stops, one ONNX Runtime run on the planned shapes says what it produced
        recorded = record_shapes(path, _planned(io[0], input_shapes), wanted, env=env, timeout=timeout)
        census = take_census(loaded.model, input_shapes=input_shapes, source=str(path), recorded=recorded)
    del loaded  # the session below loads the model itself; do not hold two copies
    after = None
    if runtime_layer:
        after = analyze_optimized(optimized_model(path, opt_level, env=env, timeout=timeout), opt_level)
    return assemble(info, census, io, after, requirement=requirement, vnni=vnni)


def _planned(declared: tuple[TensorSpec, ...], shapes: Mapping[str, tuple[int, ...]]) -> tuple[ResolvedInput, ...]:
    """The inputs the census assumed: the given shapes, else the declared ones with every dynamic dim 1."""
    planned = []
    for spec in declared:
        shape = shapes.get(spec.name) or tuple(d if isinstance(d, int) else 1 for d in spec.shape or ())
        planned.append(ResolvedInput(spec.name, tuple(shape), spec.dtype, "planned"))
    return tuple(planned)
