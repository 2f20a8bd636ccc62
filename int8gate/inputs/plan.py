"""Which inputs a model pair is measured on: names, concrete shapes and dtypes, and stated defaults.

Pure over the graph's declared inputs: a policy ``inputs:`` entry (or ``--input``) fixes a shape;
a dynamic dimension left open gets a stated default (1 on the batch axis, ``DEFAULT_DIM``
elsewhere) and the report says which, so a surprising figure can be traced to its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from int8gate.errors import UsageError
from int8gate.inputs.resolved import ResolvedInput, SampleShapes
from int8gate.model.values import AssumedDim, TensorSpec
from int8gate.policy.spec import InputSpec

DEFAULT_BATCH = 1
DEFAULT_DIM = 128
MAX_ELEMENTS = 1 << 28  # 256 Mi elements: larger generated inputs are refused, not allocated
FEEDABLE_DTYPES = ("bool", "float16", "float32", "float64", "int32", "int64", "int8", "uint8")
"""The dtypes ``--input NAME=DIMS:DTYPE`` accepts."""
@dataclass(frozen=True)
class InputPlan:
    """The resolved inputs and every default the gate had to choose."""

    inputs: tuple[ResolvedInput, ...]
    defaulted: tuple[AssumedDim, ...]


def parse_input_option(text: str) -> InputSpec:
    """``--input x=1x3x224x224[:float32]`` → ``InputSpec``; a one-line ``UsageError`` otherwise."""
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise UsageError(f"--input {text!r}: expected NAME=DIMS[:DTYPE], e.g. input=1x3x224x224")
    dims_text, _, dtype = rest.partition(":")
    try:
        shape = tuple(int(part) for part in dims_text.lower().split("x")) if dims_text else ()
    except ValueError:
        raise UsageError(f"--input {text!r}: dims must be whole numbers joined by x") from None
    if any(dim < 1 for dim in shape):
        raise UsageError(f"--input {text!r}: dims must be at least 1")
    if dtype and dtype not in FEEDABLE_DTYPES:
        raise UsageError(f"--input {text!r}: dtype must be one of {', '.join(FEEDABLE_DTYPES)}")
    return InputSpec(name=name, shape=shape, dtype=dtype or None)


def plan_inputs(
    declared: Sequence[TensorSpec],
    specs: Sequence[InputSpec],
    *,
    samples: SampleShapes | None = None,
    where: str = "inputs",
) -> InputPlan:
    """Concrete shapes for every declared input (see ``graph_io``) from samples, specs, fixed dims, defaults.

    An ``optional`` input (one with a default in the model) is fed only when ``specs`` names it.
    """
    by_name = {spec.name: spec for spec in specs}
    known = {d.name for d in declared}
    for name in by_name:
        if name not in known:
            shown = ", ".join(sorted(d.name for d in declared if not d.optional))
            raise UsageError(f"{where}: the model has no input named {name!r} (it has {shown})")
    resolved: list[ResolvedInput] = []
    defaulted: list[AssumedDim] = []
    for decl in declared:
        spec = by_name.get(decl.name)
        if decl.optional and spec is None:
            continue  # an input with a default in the model runs on it unless the policy names it
        sample = _sample_for(decl, declared, samples)
        if sample is not None:
            shape = spec.shape if spec is not None and spec.shape is not None else sample[0]
            resolved.append(ResolvedInput(decl.name, shape, sample[1], "samples"))
            continue
        if spec is not None and spec.shape is not None:
            _check_rank(decl, spec.shape, where)
            shape = spec.shape
            source = "policy"
        else:
            shape, chosen = _default_shape(decl)
            defaulted.extend(chosen)
            source = "model" if not chosen else "default"
        dtype = spec.dtype if spec is not None and spec.dtype else decl.dtype
        _check_size(decl.name, shape, where)
        resolved.append(ResolvedInput(decl.name, shape, dtype, source))
    return InputPlan(tuple(resolved), tuple(defaulted))


def _sample_for(
    decl: TensorSpec,
    declared: Sequence[TensorSpec],
    samples: SampleShapes | None,
) -> tuple[tuple[int, ...], str] | None:
    """One sample's shape and dtype for ``decl``: by name (.npz), or the lone array of a .npy for a
    single-input model. A leading axis beyond the model's rank counts samples and is dropped; on an
    input whose batch is 1 or dynamic, the batch axis of calibration data counts samples of batch 1."""
    if samples is None:
        return None
    found = samples.get(decl.name) or (samples.get("") if len(declared) == 1 else None)
    if found is None:
        return None
    shape, dtype = found
    if decl.shape and len(shape) == len(decl.shape) + 1:
        shape = shape[1:]
    elif decl.shape and len(shape) == len(decl.shape) and shape and _batch_one_or_dynamic(decl):
        shape = (1, *shape[1:])
    return shape, dtype


def _batch_one_or_dynamic(decl: TensorSpec) -> bool:
    first = decl.shape[0] if decl.shape else None
    return first is None or first == 1 or isinstance(first, str)


def _check_rank(decl: TensorSpec, shape: tuple[int, ...], where: str) -> None:
    dims = decl.shape or ()
    if dims and len(shape) != len(dims):
        raise UsageError(f"{where}: input {decl.name!r} has rank {len(dims)}, the shape given has {len(shape)}")
    for axis, (want, got) in enumerate(zip(dims, shape, strict=True)):
        if isinstance(want, int) and want > 0 and want != got:
            raise UsageError(f"{where}: input {decl.name!r} axis {axis} is fixed at {want} by the model, not {got}")


def _default_shape(decl: TensorSpec) -> tuple[tuple[int, ...], list[AssumedDim]]:
    shape: list[int] = []
    chosen: list[AssumedDim] = []
    for axis, dim in enumerate(decl.shape or ()):
        if isinstance(dim, int) and dim > 0:
            shape.append(dim)
            continue
        value = DEFAULT_BATCH if axis == 0 else DEFAULT_DIM
        shape.append(value)
        chosen.append(AssumedDim(decl.name, axis, dim if isinstance(dim, str) else "?", value))
    return tuple(shape), chosen


def _check_size(name: str, shape: tuple[int, ...], where: str) -> None:
    elements = 1
    for dim in shape:
        elements *= dim
    if elements > MAX_ELEMENTS:
        raise UsageError(f"{where}: input {name!r} of shape {shape} has {elements:,} elements; that is too large")
