"""The table of compute ops: which ops cost multiply–accumulates, where their weights sit, which are quantized.

Pure: reads a ``NodeProto``; no file I/O, no ONNX Runtime.

A compute op is one whose cost is multiply–accumulates (MACs) over a weight or a second activation:
Conv, ConvTranspose, MatMul, Gemm, Einsum, attention, LSTM/GRU/RNN, ONNX Runtime's fused forms
(FusedConv, FusedGemm, FusedMatMul, NhwcConv, …) and the quantized forms (QLinearConv, ConvInteger,
QLinearMatMul, MatMulInteger, MatMulIntegerToFloat, DynamicQuantizeMatMul, QGemm, QAttention,
DynamicQuantizeLSTM, MatMulInteger16) and the 4-bit weight-only MatMulNBits, which stores its weights
in 4 bits and is not INT8 compute. Their MACs: ``macs``.
"""

from __future__ import annotations

from dataclasses import dataclass

from onnx import NodeProto


@dataclass(frozen=True)
class ComputeSpec:
    """Where a compute op keeps its activation and weights, and whether it is a quantized kernel.

    ``weights`` are the input slots that hold weights (or the second operand of a MatMul);
    for quantized kernels ``weight_scale``/``weight_zero_point``/``activation_zero_point`` are slots too.
    """

    activation: int
    weights: tuple[int, ...]
    quantized: bool = False
    weight_scale: int | None = None
    weight_zero_point: int | None = None
    activation_zero_point: int | None = None


_FLOAT = {
    "Conv": ComputeSpec(0, (1,)),
    "ConvTranspose": ComputeSpec(0, (1,)),
    "FusedConv": ComputeSpec(0, (1,)),
    "NhwcConv": ComputeSpec(0, (1,)),
    "NhwcFusedConv": ComputeSpec(0, (1,)),
    "MatMul": ComputeSpec(0, (1,)),
    "FusedMatMul": ComputeSpec(0, (1,)),
    "TransposeMatMul": ComputeSpec(0, (1,)),
    "Gemm": ComputeSpec(0, (1,)),
    "FusedGemm": ComputeSpec(0, (1,)),
    "Einsum": ComputeSpec(0, (1,)),
    "Attention": ComputeSpec(0, (1,)),
    "MultiHeadAttention": ComputeSpec(0, (1,)),
    "LSTM": ComputeSpec(0, (1, 2)),
    "GRU": ComputeSpec(0, (1, 2)),
    "RNN": ComputeSpec(0, (1, 2)),
}
_QUANTIZED = {
    "QLinearConv": ComputeSpec(0, (3,), True, 4, 5, 2),
    "ConvInteger": ComputeSpec(0, (1,), True, None, 3, 2),
    "QLinearMatMul": ComputeSpec(0, (3,), True, 4, 5, 2),
    "MatMulInteger": ComputeSpec(0, (1,), True, None, 3, 2),
    "MatMulInteger16": ComputeSpec(0, (1,), True),
    "MatMulIntegerToFloat": ComputeSpec(0, (1,), True, 3, 5, 4),
    "DynamicQuantizeMatMul": ComputeSpec(0, (1,), True, 2, 3),
    "QGemm": ComputeSpec(0, (3,), True, 4, 5, 2),
    "QAttention": ComputeSpec(0, (1,), True, 4, 7, 6),
    "DynamicQuantizeLSTM": ComputeSpec(0, (1, 2), True, 8, 9),
}
_WEIGHT_ONLY = {
    "MatMulNBits": ComputeSpec(0, (1,), False, 2, 3),
}
FLOAT_COMPUTE_OPS = frozenset(_FLOAT)
QUANTIZED_COMPUTE_OPS = frozenset(_QUANTIZED)
WEIGHT_ONLY_OPS = frozenset(_WEIGHT_ONLY)
"""Kernels with 4-bit packed weights and float activations (ONNX Runtime's 4-bit quantizer)."""
COMPUTE_OPS = FLOAT_COMPUTE_OPS | QUANTIZED_COMPUTE_OPS | WEIGHT_ONLY_OPS


def compute_spec(node: NodeProto) -> ComputeSpec | None:
    """The compute description of a node, or ``None`` when it is not a compute op."""
    return _QUANTIZED.get(node.op_type) or _FLOAT.get(node.op_type) or _WEIGHT_ONLY.get(node.op_type)

