"""The runtime layer of the census: what ONNX Runtime turned a model into after graph optimization.

Pure: reads the optimized ``onnx.ModelProto`` that ``runtime.optimizer`` had ONNX Runtime write (subgraphs
included); no file I/O, no ONNX Runtime. The counts explain a slow QDQ model:
    integer_kernels          quantized compute kernels (QLinearConv, QLinearMatMul, QGemm, ConvInteger,
                             MatMulIntegerToFloat, DynamicQuantizeMatMul, QAttention, MatMulNBits, …)
    integer_other            other integer ops (QLinearAdd, QLinearConcat, QLinearAveragePool, …)
    float_compute            compute ops still in float (Conv, MatMul, Gemm, FusedConv, nchwc Conv, …)
    float_compute_fed_by_dq  of those, how many read an input straight from DequantizeLinear: the
                             quantized groups ONNX Runtime could not fuse into an integer kernel
    quantize_linear, dequantize_linear, dynamic_quantize_linear   Q/DQ nodes left
    unfused_qdq / qdq_neighbors   Q/DQ nodes sitting next to ops that are neither compute, integer
                             kernels nor the graph's inputs/outputs (Add, Softmax, Resize, …), by op type:
                             each converts a tensor back and forth on every run
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx
from onnx import NodeProto

from int8gate.model.census import OpCount
from int8gate.model.graph import GraphIndex, count_ops, index_graph
from int8gate.model.ops import FLOAT_COMPUTE_OPS, QUANTIZED_COMPUTE_OPS
from int8gate.policy.spec import OptLevel

_Q_DQ = frozenset({"QuantizeLinear", "DequantizeLinear"})
_INTEGER_OTHER = frozenset(
    {"QEmbedLayerNormalization", "MulInteger", "ReduceSumInteger", "QOrderedGelu", "QOrderedLayerNormalization"}
)


@dataclass(frozen=True)
class AfterOptimization:
    """Counts over the graph ONNX Runtime wrote at ``opt_level`` (see the module docstring)."""

    opt_level: OptLevel
    nodes: int
    integer_kernels: int
    integer_other: int
    float_compute: int
    float_compute_fed_by_dq: int
    quantize_linear: int
    dequantize_linear: int
    dynamic_quantize_linear: int
    unfused_qdq: int
    integer_kernels_by_op: tuple[OpCount, ...]
    float_compute_by_op: tuple[OpCount, ...]
    float_compute_fed_by_dq_by_op: tuple[OpCount, ...]
    qdq_neighbors: tuple[OpCount, ...]

    @property
    def unfused_op_types(self) -> tuple[str, ...]:
        """Op types of float compute still fed by DequantizeLinear (the unfused quantized groups)."""
        return tuple(item.op for item in self.float_compute_fed_by_dq_by_op)


def is_integer_op(node: NodeProto) -> bool:
    """Whether a node computes on integers (a quantized kernel other than Q/DQ themselves)."""
    op = node.op_type
    return op in QUANTIZED_COMPUTE_OPS or op.startswith("QLinear") or op.startswith("QOrdered") or op in _INTEGER_OTHER


def analyze_optimized(model: onnx.ModelProto, opt_level: OptLevel) -> AfterOptimization:
    """Count what the optimized graph runs; ``opt_level`` is recorded with the counts."""
    index = index_graph(model.graph)
    integer, other, floats, fed = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    for node in index.nodes:
        if node.op_type in QUANTIZED_COMPUTE_OPS:
            integer[node.op_type] += 1
        elif is_integer_op(node):
            other[node.op_type] += 1
        elif node.op_type in FLOAT_COMPUTE_OPS:
            floats[node.op_type] += 1
            if any(index.produced_by(name, "DequantizeLinear") for name in node.input if name):
                fed[node.op_type] += 1
    unfused, neighbors = _qdq_neighbors(index)
    return AfterOptimization(
        opt_level=opt_level,
        nodes=len(index.nodes),
        integer_kernels=sum(integer.values()),
        integer_other=sum(other.values()),
        float_compute=sum(floats.values()),
        float_compute_fed_by_dq=sum(fed.values()),
        quantize_linear=count_ops(index.nodes, "QuantizeLinear"),
        dequantize_linear=count_ops(index.nodes, "DequantizeLinear"),
        dynamic_quantize_linear=count_ops(index.nodes, "DynamicQuantizeLinear"),
        unfused_qdq=unfused,
        integer_kernels_by_op=_ordered(integer),
        float_compute_by_op=_ordered(floats),
        float_compute_fed_by_dq_by_op=_ordered(fed),
        qdq_neighbors=_ordered(neighbors),
    )


def _qdq_neighbors(index: GraphIndex) -> tuple[int, Counter[str]]:
    """Q/DQ nodes next to ops that cannot absorb them, and those ops by type (each neighbor once)."""
    unfused = 0
    seen: set[int] = set()
    neighbors: Counter[str] = Counter()
    for node in index.nodes:
        if node.op_type == "DequantizeLinear":
            around = [c for name in node.output for c in index.consumers.get(name, ())]
        elif node.op_type == "QuantizeLinear" and node.input:
            producer = index.producer.get(node.input[0])
            around = [producer] if producer is not None else []
        else:
            continue
        stray = [n for n in around if not _absorbs(n)]
        if stray:
            unfused += 1
        for neighbor in stray:
            if id(neighbor) not in seen:
                seen.add(id(neighbor))
                neighbors[neighbor.op_type] += 1
    return unfused, neighbors


def _absorbs(node: NodeProto) -> bool:
    """Whether Q/DQ next to this node is expected: integer kernels and compute (counted elsewhere)."""
    return is_integer_op(node) or node.op_type in FLOAT_COMPUTE_OPS


def _ordered(counts: Counter[str]) -> tuple[OpCount, ...]:
    return tuple(OpCount(op=op, count=n) for op, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])))


def nodes_fed_by_dq(model: onnx.ModelProto) -> frozenset[str]:
    """Names of the top-level nodes (other than Q/DQ) with an input produced by a DequantizeLinear node.

    The profile names nodes of the graph ONNX Runtime ran; these are the ones whose time counts as
    "float compute fed by DequantizeLinear" (``measure.opprofile.compare_profiles``).
    """
    dq_outputs = {out for n in model.graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    return frozenset(
        n.name for n in model.graph.node
        if n.op_type not in _Q_DQ | {"DynamicQuantizeLinear"} and any(i in dq_outputs for i in n.input)
    )
