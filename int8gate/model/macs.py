"""MACs per compute node from inferred shapes (the compute ops themselves: ``ops``).

Pure: reads a ``NodeProto`` and a shape lookup; no file I/O, no ONNX Runtime.

Formulas (``prod`` over a shape; every dimension must be known, else the node's MACs are ``None``):
    Conv family         prod(output) × prod(weight[1:])
    ConvTranspose       prod(input) × prod(weight[1:])
    MatMul family       prod(output) × K, K = A's last dim (second-to-last with ``transA``)
    Gemm family         prod(output) × K, K = A[1] (A[0] with ``transA``)
    MatMulNBits         prod(A[:-1]) × K × N from its attributes
    Einsum (2+ inputs)  product of the sizes of all distinct labels (the full iteration space)
    LSTM/GRU/RNN        seq × batch × (numel(W) + numel(R)); direction and gate count live in W and R
    Attention (contrib) B·S·H_in·H_qkv projection + B·S·S·(H_q + H_v) for scores and context
    MultiHeadAttention  B·S·L·(D_q + D_v); ONNX Attention (opset 23) B·N_q·S·L·(H_q + H_v)
A Loop/Scan body's nodes count once (one iteration); both If branches count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from onnx import NodeProto

from int8gate.model.graph import Shape, attr_value, int_attr

ShapeOf = Callable[[str], Shape | None]


def node_macs(node: NodeProto, shape_of: ShapeOf) -> int | None:
    """Multiply–accumulates one execution of ``node`` performs, ``None`` when shapes are missing."""
    formula = _FORMULAS.get(node.op_type)
    if formula is None:
        return None
    return formula(node, _Shapes(node, shape_of))


class _Shapes:
    """Fully known input/output shapes of one node (``None`` when any dimension is unknown)."""

    def __init__(self, node: NodeProto, shape_of: ShapeOf) -> None:
        self._node = node
        self._shape_of = shape_of

    def input(self, slot: int) -> tuple[int, ...] | None:
        return self._known(self._node.input, slot)

    def output(self, slot: int = 0) -> tuple[int, ...] | None:
        return self._known(self._node.output, slot)

    def _known(self, names: Sequence[str], slot: int) -> tuple[int, ...] | None:
        if slot >= len(names) or not names[slot]:
            return None
        shape = self._shape_of(names[slot])
        if shape is None or any(dim is None for dim in shape):
            return None
        return tuple(dim for dim in shape if dim is not None)


def _conv(node: NodeProto, s: _Shapes) -> int | None:
    weight_slot = 3 if node.op_type == "QLinearConv" else 1
    out, weight = s.output(), s.input(weight_slot)
    if out is None or weight is None:
        return None
    return math.prod(out) * math.prod(weight[1:])


def _conv_transpose(node: NodeProto, s: _Shapes) -> int | None:
    x, weight = s.input(0), s.input(1)
    if x is None or weight is None:
        return None
    return math.prod(x) * math.prod(weight[1:])


def _matmul(node: NodeProto, s: _Shapes) -> int | None:
    a, out = s.input(0), s.output()
    if a is None or out is None or not a:
        return None
    k = a[-2] if int_attr(node, "transA") and len(a) >= 2 else a[-1]
    return math.prod(out) * k


def _gemm(node: NodeProto, s: _Shapes) -> int | None:
    a, out = s.input(0), s.output()
    if a is None or out is None or len(a) != 2:
        return None
    return math.prod(out) * (a[0] if int_attr(node, "transA") else a[1])


def _matmul_nbits(node: NodeProto, s: _Shapes) -> int | None:
    a = s.input(0)
    k, n = int_attr(node, "K"), int_attr(node, "N")
    if a is None or k <= 0 or n <= 0:
        return None
    return math.prod(a[:-1]) * k * n


def _recurrent(node: NodeProto, s: _Shapes) -> int | None:
    x, w, r = s.input(0), s.input(1), s.input(2)
    if x is None or w is None or r is None or len(x) != 3:
        return None
    return x[0] * x[1] * (math.prod(w) + math.prod(r))


def _attention(node: NodeProto, s: _Shapes) -> int | None:
    if node.domain in ("", "ai.onnx"):
        return _onnx_attention(node, s)
    x, w = s.input(0), s.input(1)
    if x is None or w is None or len(x) != 3 or len(w) != 2:
        return None
    batch, seq, _ = x
    sizes = attr_value(node, "qkv_hidden_sizes")
    if isinstance(sizes, list) and len(sizes) == 3:
        q_hidden, v_hidden = int(sizes[0]), int(sizes[2])
    else:
        q_hidden = v_hidden = w[1] // 3
    return math.prod(x) * w[1] + batch * seq * seq * (q_hidden + v_hidden)


def _onnx_attention(node: NodeProto, s: _Shapes) -> int | None:
    q, k, v = s.input(0), s.input(1), s.input(2)
    if q is None or k is None or v is None or len(q) != len(k) or len(k) != len(v):
        return None
    if len(q) == 4:  # (B, heads, S, head_size)
        return q[0] * q[1] * q[2] * k[2] * (q[3] + v[3])
    if len(q) == 3:  # (B, S, hidden): heads from the attributes
        q_heads, kv_heads = int_attr(node, "q_num_heads"), int_attr(node, "kv_num_heads")
        if q_heads <= 0 or kv_heads <= 0:
            return None
        return q[0] * q[1] * k[1] * (q[2] + q_heads * v[2] // kv_heads)
    return None


def _multi_head_attention(node: NodeProto, s: _Shapes) -> int | None:
    q, k, v = s.input(0), s.input(1), s.input(2)
    if q is None or k is None or v is None or len(q) != 3:
        return None
    if len(k) == 3 and len(v) == 3:  # (B, L, D)
        kv_len, v_hidden = k[1], v[2]
    elif len(k) == 4 and len(v) == 4:  # (B, N, L, H)
        kv_len, v_hidden = k[2], v[1] * v[3]
    else:
        return None
    return q[0] * q[1] * kv_len * (q[2] + v_hidden)


def _einsum(node: NodeProto, s: _Shapes) -> int | None:
    equation = attr_value(node, "equation")
    if not isinstance(equation, str):
        return None
    terms = equation.replace(" ", "").split("->")[0].split(",")
    if len(terms) < 2:
        return 0  # a transpose, trace or reduction: no multiply–accumulates to speak of
    shapes = [s.input(slot) for slot in range(len(terms))]
    known = [shape for shape in shapes if shape is not None]
    if len(known) != len(terms):
        return None
    ellipsis_dims = max(len(shape) - len(term.replace("...", "")) for term, shape in zip(terms, known, strict=True))
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, known, strict=True):
        labels = _einsum_labels(term, len(shape), ellipsis_dims)
        if labels is None:
            return None
        for label, dim in zip(labels, shape, strict=True):
            sizes[label] = max(sizes.get(label, 1), dim)
    return math.prod(sizes.values())


def _einsum_labels(term: str, rank: int, ellipsis_dims: int) -> list[str] | None:
    head, dots, tail = term.partition("...")
    if not dots:
        return list(term) if len(term) == rank else None
    own = rank - len(head) - len(tail)
    if own < 0:
        return None
    return [*head, *(f".{ellipsis_dims - own + i}" for i in range(own)), *tail]


_FORMULAS: dict[str, Callable[[NodeProto, _Shapes], int | None]] = {
    "Conv": _conv,
    "FusedConv": _conv,
    "NhwcConv": _conv,
    "NhwcFusedConv": _conv,
    "QLinearConv": _conv,
    "ConvInteger": _conv,
    "ConvTranspose": _conv_transpose,
    "MatMul": _matmul,
    "FusedMatMul": _matmul,
    "TransposeMatMul": _matmul,
    "QLinearMatMul": _matmul,
    "MatMulInteger": _matmul,
    "MatMulInteger16": _matmul,
    "MatMulIntegerToFloat": _matmul,
    "DynamicQuantizeMatMul": _matmul,
    "Gemm": _gemm,
    "FusedGemm": _gemm,
    "QGemm": _gemm,
    "MatMulNBits": _matmul_nbits,
    "Einsum": _einsum,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "RNN": _recurrent,
    "DynamicQuantizeLSTM": _recurrent,
    "Attention": _attention,
    "QAttention": _attention,
    "MultiHeadAttention": _multi_head_attention,
}
MAC_OPS = frozenset(_FORMULAS)
"""Ops with a MAC formula (every compute op has one)."""
