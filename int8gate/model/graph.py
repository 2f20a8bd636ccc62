"""Walking an ONNX graph: every node of the main graph and its subgraphs, and an index of its tensors.

Pure: works on an in-memory ``onnx.ModelProto``; no file I/O, no ONNX Runtime. ``census`` and
``optimized`` both read graphs through ``index_graph``; ``file`` uses the walkers to check every
tensor (If/Loop/Scan bodies and model-local functions included).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

import onnx
from onnx import AttributeProto, GraphProto, NodeProto, TensorProto, helper

from int8gate.model.values import TensorSpec

Shape = tuple[int | None, ...]
"""A tensor shape with ``None`` for a dimension nobody could infer."""

_ELEMENT_BITS: dict[int, int] = {
    TensorProto.FLOAT: 32,
    TensorProto.UINT8: 8,
    TensorProto.INT8: 8,
    TensorProto.UINT16: 16,
    TensorProto.INT16: 16,
    TensorProto.INT32: 32,
    TensorProto.INT64: 64,
    TensorProto.BOOL: 8,
    TensorProto.FLOAT16: 16,
    TensorProto.DOUBLE: 64,
    TensorProto.UINT32: 32,
    TensorProto.UINT64: 64,
    TensorProto.COMPLEX64: 64,
    TensorProto.COMPLEX128: 128,
    TensorProto.BFLOAT16: 16,
    TensorProto.FLOAT8E4M3FN: 8,
    TensorProto.FLOAT8E4M3FNUZ: 8,
    TensorProto.FLOAT8E5M2: 8,
    TensorProto.FLOAT8E5M2FNUZ: 8,
    TensorProto.UINT4: 4,
    TensorProto.INT4: 4,
    TensorProto.FLOAT4E2M1: 4,
}
_DTYPE_NAMES: dict[int, str] = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}


def dtype_name(data_type: int) -> str:
    """``TensorProto.FLOAT`` → ``"float32"``, ``TensorProto.INT8`` → ``"int8"``; unknown codes say so."""
    if data_type in _DTYPE_NAMES:
        return _DTYPE_NAMES[data_type]
    if data_type in TensorProto.DataType.values():
        return str(TensorProto.DataType.Name(data_type)).lower()
    return f"dtype-{data_type}"


def element_bits(data_type: int) -> int | None:
    """Bits per element, or ``None`` for strings and unknown types."""
    return _ELEMENT_BITS.get(data_type)


def tensor_numel(tensor: TensorProto) -> int:
    """Number of elements a tensor declares (1 for a scalar)."""
    return math.prod(tensor.dims)


def tensor_nbytes(tensor: TensorProto) -> int | None:
    """Bytes a tensor's data takes when packed (4-bit types pack two per byte); ``None`` if unknowable."""
    bits = element_bits(tensor.data_type)
    if bits is None:
        return None
    return (tensor_numel(tensor) * bits + 7) // 8


def attr_value(node: NodeProto, name: str, default: object = None) -> object:
    """A node attribute's value (strings decoded), or ``default`` when the node does not set it."""
    for attr in node.attribute:
        if attr.name == name:
            value: object = helper.get_attribute_value(attr)
            if attr.type == AttributeProto.STRING and isinstance(value, bytes):
                return value.decode("utf-8", errors="replace")
            return value
    return default


def int_attr(node: NodeProto, name: str, default: int = 0) -> int:
    """An integer attribute, or ``default`` when it is missing or not an integer."""
    value = attr_value(node, name, default)
    return value if isinstance(value, int) else default


def input_name(node: NodeProto, slot: int | None) -> str | None:
    """The name of the node's input at ``slot``, or ``None`` when the slot is absent or left empty."""
    if slot is None or slot >= len(node.input) or not node.input[slot]:
        return None
    name: str = node.input[slot]
    return name


def count_ops(nodes: Iterable[NodeProto], op_type: str) -> int:
    """How many of ``nodes`` are ``op_type``."""
    return sum(1 for node in nodes if node.op_type == op_type)


def subgraphs(node: NodeProto) -> Iterator[GraphProto]:
    """The graphs a node carries in its attributes (If branches, Loop and Scan bodies)."""
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == AttributeProto.GRAPHS:
            yield from attr.graphs


def walk_nodes(graph: GraphProto) -> Iterator[NodeProto]:
    """Every node of ``graph`` and of its subgraphs, depth first, each subgraph after its owner."""
    for node in graph.node:
        yield node
        for sub in subgraphs(node):
            yield from walk_nodes(sub)


def walk_graphs(graph: GraphProto) -> Iterator[GraphProto]:
    """``graph`` and every subgraph nested in it."""
    yield graph
    for node in graph.node:
        for sub in subgraphs(node):
            yield from walk_graphs(sub)


def node_tensors(node: NodeProto) -> Iterator[tuple[str, TensorProto]]:
    """Tensors held in a node's attributes (``Constant`` values, ``ConstantOfShape`` fill), with a label."""
    for attr in node.attribute:
        owner = node.name or (node.output[0] if node.output else "")
        label = f"{node.op_type} {owner!r} attribute {attr.name!r}"
        if attr.type == AttributeProto.TENSOR:
            yield label, attr.t
        elif attr.type == AttributeProto.TENSORS:
            for tensor in attr.tensors:
                yield label, tensor
        elif attr.type == AttributeProto.SPARSE_TENSOR:
            yield label, attr.sparse_tensor.values
            yield label, attr.sparse_tensor.indices


def graph_tensors(graph: GraphProto) -> Iterator[tuple[str, TensorProto]]:
    """Initializers, sparse initializers and node-attribute tensors of a graph and its subgraphs."""
    for sub in walk_graphs(graph):
        for tensor in sub.initializer:
            yield f"initializer {tensor.name!r}", tensor
        for sparse in sub.sparse_initializer:
            yield f"sparse initializer {sparse.values.name!r}", sparse.values
            yield f"sparse initializer {sparse.values.name!r} indices", sparse.indices
        for node in sub.node:
            yield from node_tensors(node)


def model_tensors(model: onnx.ModelProto) -> Iterator[tuple[str, TensorProto]]:
    """Every tensor stored in a model: the graph's and those inside model-local function bodies."""
    yield from graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from node_tensors(node)
            for sub in subgraphs(node):
                yield from graph_tensors(sub)


def known_dim(dim: onnx.TensorShapeProto.Dimension) -> int | None:
    """A declared dimension's size, ``None`` when it is dynamic: a name, nothing, or a negative number.

    Exporters write "dynamic" in several ways; Paddle2ONNX writes ``-1`` (a value ONNX Runtime runs
    as dynamic), so a negative size is read as dynamic, never as a size.
    """
    if dim.HasField("dim_value") and dim.dim_value >= 0:
        return int(dim.dim_value)
    return None


def value_shape(value: onnx.ValueInfoProto) -> Shape | None:
    """The shape a value-info declares, ``None`` when it declares no shape (unknown rank)."""
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(known_dim(dim) for dim in tensor_type.shape.dim)


@dataclass(frozen=True)
class GraphIndex:
    """Who produces and consumes each value, which values are constants, and what is known of types/shapes.

    ``nodes`` lists the main graph's nodes and its subgraphs' in walk order. Names are global: ONNX
    requires every value name to be unique across a graph and its subgraphs.
    """

    nodes: tuple[NodeProto, ...]
    producer: Mapping[str, NodeProto]
    consumers: Mapping[str, tuple[NodeProto, ...]]
    constants: Mapping[str, TensorProto]
    elem_types: Mapping[str, int]
    shapes: Mapping[str, Shape | None]
    graph_inputs: frozenset[str]
    graph_outputs: frozenset[str]

    def shape(self, name: str) -> Shape | None:
        """The known shape of a value, or ``None``."""
        return self.shapes.get(name)

    def produced_by(self, name: str, op_type: str) -> NodeProto | None:
        """The node that produces ``name`` when it is an ``op_type`` node, else ``None``."""
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def is_constant(self, name: str) -> bool:
        """Whether the value is an initializer or a ``Constant`` node's output."""
        return name in self.constants


def graph_io(
    model: onnx.ModelProto, *, with_defaults: bool = False
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs and outputs. Inputs with a default (an initializer of the same name: older
    exporters list every weight so, others an optional input) are left out, or with ``with_defaults``
    listed last as ``optional``."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = tuple(_tensor_spec(value) for value in model.graph.input if value.name not in initializers)
    if with_defaults:
        inputs += tuple(replace(_tensor_spec(value), optional=True)
                        for value in model.graph.input if value.name in initializers)  # fmt: skip
    return inputs, tuple(_tensor_spec(value) for value in model.graph.output)


def type_text(value_type: onnx.TypeProto) -> str:
    """A value's type: a tensor's dtype (``float32``), else as ONNX writes it (``seq(map(int64,tensor(float)))``)."""
    if value_type.WhichOneof("value") == "tensor_type":
        return dtype_name(value_type.tensor_type.elem_type)
    return _onnx_type_text(value_type)


def _onnx_type_text(value_type: onnx.TypeProto) -> str:
    kind = value_type.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({_onnx_elem(value_type.tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({_onnx_type_text(value_type.sequence_type.elem_type)})"
    if kind == "map_type":
        key = _onnx_elem(value_type.map_type.key_type)
        return f"map({key},{_onnx_type_text(value_type.map_type.value_type)})"
    if kind == "optional_type":
        return f"optional({_onnx_type_text(value_type.optional_type.elem_type)})"
    return kind or "unknown"


def _onnx_elem(data_type: int) -> str:
    if data_type in TensorProto.DataType.values():
        return str(TensorProto.DataType.Name(data_type)).lower()
    return f"dtype-{data_type}"


def _tensor_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor_type = value.type.tensor_type
    dtype = type_text(value.type)
    if not value.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
        return TensorSpec(value.name, dtype, None)
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        size = known_dim(dim)
        dims.append(size if size is not None else dim.dim_param or None)
    return TensorSpec(value.name, dtype, tuple(dims))


_SHAPE_PRESERVING = frozenset({"DequantizeLinear", "QuantizeLinear", "Identity", "Cast"})


def index_graph(
    graph: GraphProto, *, shapes_from: GraphProto | None = None, untyped: frozenset[str] = frozenset()
) -> GraphIndex:
    """Index a graph and its subgraphs; value types and shapes come from its value-infos and constants.

    ``shapes_from`` is a copy of the graph that shape inference ran on (same value names); its shapes
    come first, and ``graph``'s own value-infos only fill the dims it left open: quantizers copy the
    FP32 model's value-infos, symbolic dims and all, so the file's shapes are often stale. Types come
    from ``graph`` first, then ``shapes_from`` except for the names in ``untyped``.
    """
    nodes = tuple(walk_nodes(graph))
    constants: dict[str, TensorProto] = {}
    elem_types: dict[str, int] = {}
    shapes: dict[str, Shape | None] = {}
    if shapes_from is not None:
        _read_values(shapes_from, {}, shapes, frozenset())
    _read_values(graph, elem_types, shapes, frozenset())
    if shapes_from is not None:
        _read_values(shapes_from, elem_types, {}, untyped)
    for sub in walk_graphs(graph):
        for tensor in sub.initializer:
            constants[tensor.name] = tensor
    for node in nodes:
        tensor = _constant_value(node)
        if tensor is not None:
            constants[node.output[0]] = tensor
    for name, tensor in constants.items():
        elem_types[name] = tensor.data_type
        shapes[name] = tuple(tensor.dims)
    producer: dict[str, NodeProto] = {}
    consumers: dict[str, list[NodeProto]] = {}
    for node in nodes:
        producer.update((name, node) for name in node.output if name)
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(node)
        # Q/DQ/Identity/Cast keep their input's shape: fill the gaps shape inference left
        keeps_shape = node.op_type in _SHAPE_PRESERVING and node.input and node.output
        if keeps_shape and shapes.get(node.output[0]) is None and shapes.get(node.input[0]) is not None:
            shapes[node.output[0]] = shapes[node.input[0]]
    return GraphIndex(
        nodes=nodes,
        producer=producer,
        consumers={name: tuple(found) for name, found in consumers.items()},
        constants=constants,
        elem_types=elem_types,
        shapes=shapes,
        graph_inputs=frozenset(value.name for value in graph.input),
        graph_outputs=frozenset(value.name for value in graph.output),
    )


def _read_values(
    graph: GraphProto, elem_types: dict[str, int], shapes: dict[str, Shape | None], untyped: frozenset[str]
) -> None:
    """Record the types and shapes a graph's value-infos declare, filling only what is not known yet."""
    for sub in walk_graphs(graph):
        for value in (*sub.input, *sub.output, *sub.value_info):
            if not value.type.HasField("tensor_type"):
                continue
            if value.name not in untyped:
                elem_types.setdefault(value.name, value.type.tensor_type.elem_type)
            shapes[value.name] = merge_shapes(shapes.get(value.name), value_shape(value))


def merge_shapes(known: Shape | None, other: Shape | None) -> Shape | None:
    """``known`` with its open dims filled from ``other`` when both have the same rank; else ``known``."""
    if known is None:
        return other
    if other is None or len(other) != len(known):
        return known
    return tuple(a if a is not None else b for a, b in zip(known, other, strict=True))


def _constant_value(node: NodeProto) -> TensorProto | None:
    """The tensor a ``Constant`` node outputs through its ``value`` attribute, if that is how it is given."""
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or not node.output:
        return None
    for attr in node.attribute:
        if attr.name == "value" and attr.type == AttributeProto.TENSOR:
            tensor: TensorProto = attr.t
            return tensor
    return None
