"""The optimized graph ONNX Runtime itself writes, counted independently of int8gate, for tests to compare against."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import onnxruntime as ort

from int8gate.policy.spec import OptLevel

# Written out here rather than imported from int8gate.optgraph, so the tests check its list too.
INTEGER_KERNELS = (
    "QLinearConv",
    "QLinearMatMul",
    "QGemm",
    "ConvInteger",
    "MatMulInteger",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "QAttention",
)
FLOAT_COMPUTE = ("Conv", "FusedConv", "MatMul", "FusedMatMul", "Gemm", "FusedGemm")
ORT_LEVELS = {
    OptLevel.DISABLE: ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    OptLevel.BASIC: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    OptLevel.EXTENDED: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    OptLevel.ALL: ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def written_by_ort(path: Path, target: Path, level: OptLevel = OptLevel.ALL) -> Counter[str]:
    """Op-type counts of the optimized model ONNX Runtime writes with default session settings."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ORT_LEVELS[level]
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return Counter(node.op_type for node in onnx.load(str(target)).graph.node)
