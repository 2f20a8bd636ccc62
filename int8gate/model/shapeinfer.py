"""Shape inference for the census: a light copy of the model, fixed input dims, contrib ops stood in for.

Pure: ``onnx.shape_inference`` on an in-memory copy; no file I/O, no ONNX Runtime. Three steps:
1. ``prepare_for_inference``: copy the model without the data of large tensors (dims and types are all
   inference needs) and fix input shapes: the caller's, else 1 for every dynamic dimension.
2. Inline model-local functions, so their bodies get shapes at each call site.
3. ONNX's shape inference does not know ONNX Runtime's contrib ops (QLinearAdd, QGemm, FusedConv, …),
   so every value after one would lose its shape. A second copy swaps each such op for a standard op
   with the same output shape (QLinearAdd → Add, QGemm → Gemm, QLinearConcat → Concat, …, inputs cast to
   float so type rules pass, output cast back to the op's real type, which its output zero point's type
   says) and is inferred instead; shapes are read back by value name. Where the real output type cannot
   be told, the stand-in's type is not trusted (``stand_in_outputs``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
import onnx.inliner
from onnx import NodeProto, TensorProto, helper

from int8gate.errors import ModelFileError, UsageError, first_line
from int8gate.model.graph import tensor_nbytes, walk_graphs
from int8gate.model.values import AssumedDim, RecordedShapes

KEEP_TENSOR_BYTES = 64 * 1024
"""Tensors up to this size keep their data in the inference copy (shape tensors, scales, zero points)."""
NOT_LOADED = "int8gate:not-loaded"
"""External-data location marking a tensor whose data was left out of the inference copy."""


def prepare_for_inference(
    model: onnx.ModelProto, input_shapes: Mapping[str, tuple[int, ...]]
) -> tuple[onnx.ModelProto, tuple[AssumedDim, ...]]:
    """A light copy of ``model`` with fixed input shapes: the given ones, else 1 for each dynamic dim.

    Negative declared dims (Paddle2ONNX's "dynamic") become dynamic ones first. The copy keeps the
    file's value-infos, which only fill what inference leaves open (``graph.index_graph`` prefers
    inferred shapes), unless a given shape contradicts a dim the model fixed: then they are dropped.
    """
    work = _skeleton(model)
    for value in (*work.graph.input, *work.graph.output, *work.graph.value_info):
        _negative_dims_dynamic(value)
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in work.graph.input if value.name not in initializers]
    unknown = sorted(set(input_shapes) - {value.name for value in inputs} - initializers)
    if unknown:
        names = ", ".join(value.name for value in inputs) or "none"
        raise UsageError(f"input shape given for {', '.join(unknown)}, but the model's inputs are: {names}")
    assumed: list[AssumedDim] = []
    changed = False
    for value in inputs:
        if not value.type.HasField("tensor_type"):
            continue
        tensor_type = value.type.tensor_type
        given = input_shapes.get(value.name)
        if given is not None:
            changed |= _set_shape(value.name, tensor_type, given)
        elif tensor_type.HasField("shape"):
            for axis, dim in enumerate(tensor_type.shape.dim):
                if not dim.HasField("dim_value"):
                    assumed.append(AssumedDim(value.name, axis, dim.dim_param or "?", 1))
                    dim.dim_value = 1
    if changed:  # shapes stored for the old input dims would contradict the new ones: infer afresh
        del work.graph.value_info[:]
        for output in work.graph.output:
            output.type.tensor_type.ClearField("shape")
    return work, tuple(assumed)


def _negative_dims_dynamic(value: onnx.ValueInfoProto) -> None:
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value < 0:
            dim.ClearField("dim_value")


def _set_shape(name: str, tensor_type: onnx.TypeProto.Tensor, shape: tuple[int, ...]) -> bool:
    """Give an input a fixed shape; True when that changes a dimension the model had fixed otherwise."""
    text = "x".join(str(dim) for dim in shape)
    if any(dim < 1 for dim in shape):
        raise UsageError(f"input {name}: shape {text} has a dimension below 1")
    declared = list(tensor_type.shape.dim) if tensor_type.HasField("shape") else None
    if declared is not None and len(declared) != len(shape):
        raise UsageError(f"input {name}: shape {text} has {len(shape)} dims, the model declares {len(declared)}")
    changed = declared is not None and any(
        old.HasField("dim_value") and old.dim_value != new for old, new in zip(declared, shape, strict=True)
    )
    tensor_type.ClearField("shape")
    tensor_type.shape.SetInParent()
    for dim in shape:
        tensor_type.shape.dim.add().dim_value = dim
    return changed


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with the data of large top-level initializers left out (dims and types kept)."""
    work = onnx.ModelProto()
    work.ir_version = model.ir_version
    work.opset_import.extend(model.opset_import)
    work.functions.extend(model.functions)
    source, graph = model.graph, work.graph
    graph.name = source.name
    graph.node.extend(source.node)
    graph.input.extend(source.input)
    graph.output.extend(source.output)
    graph.value_info.extend(source.value_info)
    graph.sparse_initializer.extend(source.sparse_initializer)
    graph.initializer.extend(_light(tensor) for tensor in source.initializer)
    return work


def _light(tensor: TensorProto) -> TensorProto:
    size = tensor_nbytes(tensor)
    if tensor.data_location == TensorProto.EXTERNAL or size is None or size <= KEEP_TENSOR_BYTES:
        return tensor
    light = TensorProto(name=tensor.name, data_type=tensor.data_type, dims=tensor.dims)
    light.data_location = TensorProto.EXTERNAL
    light.external_data.add(key="location", value=NOT_LOADED)
    return light


@dataclass(frozen=True)
class InferredModel:
    """The light model (functions inlined, original nodes) and the graph its shapes were inferred on."""

    model: onnx.ModelProto
    shapes: onnx.GraphProto
    stand_in_outputs: frozenset[str]
    assumed_dims: tuple[AssumedDim, ...]
    error: str | None


def infer(
    model: onnx.ModelProto,
    input_shapes: Mapping[str, tuple[int, ...]],
    *,
    source: str,
    recorded: RecordedShapes | None = None,
) -> InferredModel:
    """Shapes for every value of ``model`` that can be inferred; ``source`` names the model in errors.

    ``recorded`` holds shapes an ONNX Runtime run produced (``runtime.shapes``); they seed inference,
    which carries them on to the values after them and into If/Loop bodies that read them.
    """
    work, assumed = prepare_for_inference(model, input_shapes)
    if work.functions:
        try:
            work = onnx.inliner.inline_local_functions(work)
        except onnx.checker.ValidationError as exc:
            problem = f"its model-local functions cannot be expanded: {first_line(exc)}"
            raise ModelFileError(source, problem) from exc
    shadow, stand_ins = _with_stand_ins(work)
    for output in shadow.graph.output:  # a declared output shape is a hint: some exporters get it wrong
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    if recorded is not None and recorded.shapes:
        _seed(shadow.graph, recorded)
    error: str | None = None
    try:
        shadow = onnx.shape_inference.infer_shapes(shadow, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        error = first_line(exc)
    return InferredModel(work, shadow.graph, stand_ins, assumed, error)


def _seed(graph: onnx.GraphProto, recorded: RecordedShapes) -> None:
    """Put the recorded shapes into ``graph`` as value-infos, replacing what it declared for those values."""
    kept = [value for value in graph.value_info if value.name not in recorded.shapes]
    del graph.value_info[:]
    graph.value_info.extend(kept)
    outputs = {value.name: value for value in graph.output}
    for name, shape in recorded.shapes.items():
        elem_type = helper.np_dtype_to_tensor_dtype(np.dtype(recorded.dtypes.get(name, "float32")))
        value = helper.make_tensor_value_info(name, elem_type, list(shape))
        if name in outputs:
            outputs[name].CopyFrom(value)
        else:
            graph.value_info.append(value)


_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
_POOL_ATTRS = ("auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides")
_GEMM_ATTRS = ("transA", "transB", "alpha", "beta")
_TRANSPOSE_FLAGS = ("transA", "transB", "transBatchA", "transBatchB")


@dataclass(frozen=True)
class _StandIn:
    """A standard op with the same output shape: which inputs it takes and which attributes it keeps."""

    op: str
    slots: tuple[int, ...]
    attrs: tuple[str, ...] = ()
    keep_type: tuple[int, ...] = ()  # slots not cast to float (Where's condition)
    optional: tuple[int, ...] = ()  # slots that may be absent (bias, Gemm's C)
    output_zero_point: int | None = None  # the output's type is this (constant) input's type
    output_dtype: int = TensorProto.FLOAT  # else this type


_STAND_INS = {
    "QLinearAdd": _StandIn("Add", (0, 3), output_zero_point=7),
    "QLinearMul": _StandIn("Mul", (0, 3), output_zero_point=7),
    "QLinearSigmoid": _StandIn("Identity", (0,), output_zero_point=4),
    "QLinearLeakyRelu": _StandIn("Identity", (0,), output_zero_point=4),
    "QLinearSoftmax": _StandIn("Identity", (0,), output_zero_point=4),
    "QLinearAveragePool": _StandIn("AveragePool", (0,), _POOL_ATTRS, output_zero_point=4),
    "QLinearGlobalAveragePool": _StandIn("GlobalAveragePool", (0,), output_zero_point=4),
    "QLinearWhere": _StandIn("Where", (0, 1, 4), keep_type=(0,), output_zero_point=8),
    "QGemm": _StandIn("Gemm", (0, 3, 6), _GEMM_ATTRS[:3], optional=(6,), output_zero_point=8),
    "DynamicQuantizeMatMul": _StandIn("MatMul", (0, 1)),
    "MatMulIntegerToFloat": _StandIn("MatMul", (0, 1)),
    "MatMulInteger16": _StandIn("MatMul", (0, 1), output_dtype=TensorProto.INT32),
    "FusedMatMul": _StandIn("MatMul", (0, 1)),
    "TransposeMatMul": _StandIn("MatMul", (0, 1)),
    "FusedConv": _StandIn("Conv", (0, 1, 2), _CONV_ATTRS, optional=(2,)),
    "FusedGemm": _StandIn("Gemm", (0, 1, 2), _GEMM_ATTRS, optional=(2,)),
    "QuantizeLinear": _StandIn("Identity", (0,), output_zero_point=2, output_dtype=TensorProto.UINT8),
    "DequantizeLinear": _StandIn("Identity", (0,)),
    "Gelu": _StandIn("Identity", (0,)),
    "FastGelu": _StandIn("Identity", (0,)),
    "QuickGelu": _StandIn("Identity", (0,)),
    "BiasGelu": _StandIn("Add", (0, 1)),
    "SkipLayerNormalization": _StandIn("Add", (0, 1)),
}
"""Contrib ops and the standard op with the same output shape (QLinearConcat is built per node)."""


def _with_stand_ins(model: onnx.ModelProto) -> tuple[onnx.ModelProto, frozenset[str]]:
    """A copy of ``model`` with contrib ops replaced by stand-ins, and the outputs whose type is unknown."""
    shadow = onnx.ModelProto()
    shadow.CopyFrom(model)
    graphs = list(walk_graphs(shadow.graph))
    dtypes = {tensor.name: tensor.data_type for graph in graphs for tensor in graph.initializer}
    untyped: set[str] = set()
    counter = itertools.count()
    for graph in graphs:
        rewritten: list[NodeProto] = []
        changed = False
        for node in graph.node:
            stand_in = _stand_in_for(node, dtypes, counter)
            if stand_in is None:
                rewritten.append(node)
                continue
            nodes, typed = stand_in
            rewritten.extend(nodes)
            changed = True
            if not typed:
                untyped.add(node.output[0])
        if changed:
            del graph.node[:]
            graph.node.extend(rewritten)
    return shadow, frozenset(untyped)


def _stand_in_for(
    node: NodeProto, dtypes: Mapping[str, int], counter: Iterator[int]
) -> tuple[list[NodeProto], bool] | None:
    """The nodes standing in for a contrib op (casts, the standard op, a cast back), and whether typed."""
    rule = _STAND_INS.get(node.op_type)
    if node.op_type == "QLinearConcat":  # Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input
        rule = _StandIn("Concat", tuple(range(2, len(node.input), 3)), ("axis",), output_zero_point=1)
    if rule is None or node.domain != "com.microsoft" or not node.output:
        return None
    attrs = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
    if attrs.get("channels_last"):
        return None
    if node.op_type in ("FusedMatMul", "TransposeMatMul") and any(attrs.get(flag) for flag in _TRANSPOSE_FLAGS):
        return None
    nodes: list[NodeProto] = []
    inputs: list[str] = []
    for slot in rule.slots:
        name = node.input[slot] if slot < len(node.input) else ""
        if not name:
            if slot in rule.optional:
                continue
            return None
        if slot in rule.keep_type:
            inputs.append(name)
            continue
        cast = f"{name}__int8gate_float_{next(counter)}"
        nodes.append(helper.make_node("Cast", [name], [cast], to=TensorProto.FLOAT))
        inputs.append(cast)
    kept = {name: value for name, value in attrs.items() if name in rule.attrs}
    output = node.output[0]
    dtype, typed = _output_type(node, rule, dtypes)
    if dtype == TensorProto.FLOAT:
        nodes.append(helper.make_node(rule.op, inputs, [output], **kept))
    else:
        computed = f"{output}__int8gate_float_{next(counter)}"
        nodes.append(helper.make_node(rule.op, inputs, [computed], **kept))
        nodes.append(helper.make_node("Cast", [computed], [output], to=dtype))
    return nodes, typed


def _output_type(node: NodeProto, rule: _StandIn, dtypes: Mapping[str, int]) -> tuple[int, bool]:
    slot = rule.output_zero_point
    if slot is None:
        return rule.output_dtype, True
    name = node.input[slot] if slot < len(node.input) else ""
    if name in dtypes:
        return dtypes[name], True
    if not name and node.op_type == "QuantizeLinear":
        return rule.output_dtype, True
    return TensorProto.FLOAT, False
