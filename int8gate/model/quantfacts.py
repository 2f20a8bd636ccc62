"""Facts about a model's quantization parameters: weight bytes by dtype, weight and activation types, scales.

Pure: reads tensors and a ``GraphIndex``; tensor data is read only for small inline scale tensors
(never external data), so these facts come from dims and types alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from onnx import NodeProto, TensorProto, numpy_helper

from int8gate.model.graph import GraphIndex, dtype_name, input_name, int_attr, tensor_nbytes, tensor_numel
from int8gate.model.ops import WEIGHT_ONLY_OPS, compute_spec
from int8gate.model.values import InputRange

_SCALE_VALUES_READ = 1 << 16
"""Scale tensors with more elements than this are not read for the validity check."""


@dataclass(frozen=True)
class WeightBytes:
    """Bytes of stored tensors by dtype (from dims, so external data need not be loaded).

    ``int4`` holds int4 and uint4, ``float16`` holds float16 and bfloat16, ``other`` everything else
    (int32 biases, int64 shapes, …). ``quantized_share`` is (int8 + uint8 + int4) / total.
    """

    int8: int
    uint8: int
    int4: int
    float32: int
    float16: int
    other: int
    total: int
    quantized_share: float | None


_BUCKETS: dict[int, str] = {
    TensorProto.INT8: "int8",
    TensorProto.UINT8: "uint8",
    TensorProto.INT4: "int4",
    TensorProto.UINT4: "int4",
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "float16",
}


def weight_bytes(tensors: Iterable[TensorProto]) -> WeightBytes:
    """Sum tensor sizes into dtype buckets."""
    sums = dict.fromkeys(("int8", "uint8", "int4", "float32", "float16", "other"), 0)
    for tensor in tensors:
        sums[_BUCKETS.get(tensor.data_type, "other")] += tensor_nbytes(tensor) or 0
    total = sum(sums.values())
    quantized = sums["int8"] + sums["uint8"] + sums["int4"]
    return WeightBytes(**sums, total=total, quantized_share=quantized / total if total else None)


@dataclass(frozen=True)
class ScaleGranularity:
    """How many quantized weight tensors use one scale, one per channel, or one per block."""

    per_tensor: int
    per_channel: int
    blocked: int


@dataclass(frozen=True)
class WeightFacts:
    """The dtypes of quantized weights and the granularity of their scales.

    ``per_channel`` is True when any quantized weight has per-channel (or finer, blocked) scales,
    False when all are per-tensor, None when there is no quantized weight to judge.
    """

    weight_types: tuple[str, ...]
    granularity: ScaleGranularity
    per_channel: bool | None


def weight_facts(index: GraphIndex, quantized_nodes: Iterable[NodeProto]) -> WeightFacts:
    """Weight dtypes and scale granularity of the quantized compute nodes' constant weights."""
    types: list[str] = []
    kinds = {"per_tensor": 0, "per_channel": 0, "blocked": 0}
    for node in quantized_nodes:
        for weight_type, kind in _weights(node, index):
            types.append(weight_type)
            if kind is not None:
                kinds[kind] += 1
    granularity = ScaleGranularity(**kinds)
    judged = granularity.per_tensor + granularity.per_channel + granularity.blocked
    per_channel = (granularity.per_channel + granularity.blocked > 0) if judged else None
    return WeightFacts(tuple(types), granularity, per_channel)


def _weights(node: NodeProto, index: GraphIndex) -> Iterable[tuple[str, str | None]]:
    """(dtype, granularity) of each constant weight of a quantized compute node."""
    spec = compute_spec(node)
    if spec is None:
        return
    for slot in spec.weights:
        name = input_name(node, slot)
        if name is None:
            continue
        if spec.quantized or node.op_type in WEIGHT_ONLY_OPS:
            if not index.is_constant(name):
                continue
            if node.op_type == "MatMulNBits":
                yield f"uint{int_attr(node, 'bits', 4)}", "blocked"
                continue
            scale = input_name(node, spec.weight_scale) or input_name(node, spec.weight_zero_point)
            yield _dtype(index, name), _granularity(index, scale, blocked=False)
            continue
        dq = index.producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear" or not dq.input or not index.is_constant(dq.input[0]):
            continue
        blocked = int_attr(dq, "block_size", 0) > 0
        yield _dtype(index, dq.input[0]), _granularity(index, input_name(dq, 1), blocked=blocked)


def _granularity(index: GraphIndex, scale: str | None, *, blocked: bool) -> str | None:
    if blocked:
        return "blocked"
    tensor = index.constants.get(scale) if scale else None
    if tensor is None:
        return None
    return "per_tensor" if tensor_numel(tensor) == 1 else "per_channel"


_ALWAYS_U8 = frozenset({"DynamicQuantizeLinear", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM"})


def activation_types(index: GraphIndex) -> tuple[str, ...]:
    """The integer types activations are quantized to (QuantizeLinear outputs, integer kernels' inputs)."""
    found: list[str] = []
    for node in index.nodes:
        if node.op_type in _ALWAYS_U8:
            found.append("uint8")
        elif node.op_type == "QuantizeLinear" and node.input and not index.is_constant(node.input[0]):
            found.append(_quantized_output_type(node, index))
        else:
            spec = compute_spec(node)
            if spec is not None and spec.quantized and spec.activation_zero_point is not None:
                # the zero point's type is the activation's (value-infos left by quantizers can be stale)
                zero_point = input_name(node, spec.activation_zero_point)
                activation = input_name(node, spec.activation)
                name = zero_point if zero_point in index.elem_types else activation
                if name is not None and name in index.elem_types:
                    found.append(_dtype(index, name))
    return tuple(found)


def _quantized_output_type(node: NodeProto, index: GraphIndex) -> str:
    """QuantizeLinear's output type: inferred, else its zero point's, else ``output_dtype``, else uint8."""
    for name in (node.output[0] if node.output else None, input_name(node, 2)):
        if name is not None and name in index.elem_types:
            return _dtype(index, name)
    output_dtype = int_attr(node, "output_dtype", 0)
    return dtype_name(output_dtype) if output_dtype else "uint8"


_EXTRA_SCALE_SLOTS = {"QLinearConv": (1, 6), "QLinearMatMul": (1, 6), "QGemm": (1, 7), "QAttention": (3,)}


def invalid_scales(index: GraphIndex) -> tuple[str, ...]:
    """Names of constant scale tensors holding a value no scale of theirs may hold.

    Activation and per-tensor or per-channel weight scales must be positive and finite. Block-wise
    4-bit weight scales (MatMulNBits, blocked DequantizeLinear) need only be finite: ONNX Runtime's
    symmetric 4-bit quantizer stores signed scales (the sign folded out of the weights) and a zero
    scale for an all-zero block.
    """
    bad: set[str] = set()
    for node in index.nodes:
        signed = node.op_type in WEIGHT_ONLY_OPS or int_attr(node, "block_size", 0) > 0
        for slot in _scale_slots(node):
            name = input_name(node, slot)
            tensor = index.constants.get(name) if name else None
            if name is not None and tensor is not None and _has_bad_value(tensor, signed=signed):
                bad.add(name)
    return tuple(sorted(bad))


def _scale_slots(node: NodeProto) -> tuple[int, ...]:
    if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
        return (1,)
    spec = compute_spec(node)
    own = (spec.weight_scale,) if spec is not None and spec.weight_scale is not None else ()
    return own + _EXTRA_SCALE_SLOTS.get(node.op_type, ())


def _has_bad_value(tensor: TensorProto, *, signed: bool) -> bool:
    """Whether an inline float tensor has a value no scale may have (external data is never read)."""
    if tensor.data_location == TensorProto.EXTERNAL or tensor_numel(tensor) > _SCALE_VALUES_READ:
        return False
    if tensor.data_type not in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16):
        return False
    if not tensor.raw_data and not tensor.float_data and not tensor.int32_data:
        return False  # no data to judge (a malformed tensor is model.file's business)
    values = np.asarray(numpy_helper.to_array(tensor), dtype=np.float64)
    allowed = np.isfinite(values) if signed else np.isfinite(values) & (values > 0)
    return bool(values.size) and not bool(np.all(allowed))


_INTEGER_RANGES: dict[int, tuple[int, int]] = {
    TensorProto.UINT8: (0, 255),
    TensorProto.INT8: (-128, 127),
    TensorProto.UINT16: (0, 65535),
    TensorProto.INT16: (-32768, 32767),
    TensorProto.UINT4: (0, 15),
    TensorProto.INT4: (-8, 7),
}


def input_ranges(index: GraphIndex) -> tuple[InputRange, ...]:
    """The calibrated range of each float graph input a QuantizeLinear with a fixed scale reads directly.

    The range is what the quantizer maps onto its integer type: ``[(qmin − zp)·s, (qmax − zp)·s]``.
    """
    found: dict[str, InputRange] = {}
    for name in sorted(index.graph_inputs - index.constants.keys()):
        for node in index.consumers.get(name, ()):
            if node.op_type != "QuantizeLinear" or node.input[0] != name:
                continue
            scale = index.constants.get(input_name(node, 1) or "")
            zero_point = index.constants.get(input_name(node, 2) or "")
            if scale is None or tensor_numel(scale) != 1 or (zero_point is not None and tensor_numel(zero_point) != 1):
                continue
            s = float(np.asarray(numpy_helper.to_array(scale), dtype=np.float64).reshape(-1)[0])
            zp = 0 if zero_point is None else int(np.asarray(numpy_helper.to_array(zero_point)).reshape(-1)[0])
            kind = zero_point.data_type if zero_point is not None else TensorProto.UINT8
            qmin, qmax = _INTEGER_RANGES.get(kind, (0, 255))
            if math.isfinite(s) and s > 0:
                found.setdefault(name, InputRange(name, (qmin - zp) * s, (qmax - zp) * s))
    return tuple(found.values())


def _dtype(index: GraphIndex, name: str) -> str:
    return dtype_name(index.elem_types.get(name, TensorProto.UNDEFINED))
