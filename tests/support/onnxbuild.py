"""Tiny ONNX graphs built by hand with ``onnx.helper`` for the census, optimized-graph, model-file and inspect tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Dims = Sequence[int | str] | None


class GraphBuilder:
    """Collects nodes and initializers; ``model`` wraps them into a ModelProto."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, prefix: str, array: np.ndarray[Any, Any]) -> str:
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: Sequence[str], *, domain: str = "", outputs: int = 1, **attrs: Any) -> str:
        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), names, name=self.name(op), domain=domain, **attrs))
        return names[0]

    def dq_weight(
        self, weight: np.ndarray[Any, Any], scale: float | np.ndarray[Any, Any] = 0.02, axis: int | None = None
    ) -> str:
        """An int8/uint8/int4 weight initializer behind DequantizeLinear; returns the float weight's name."""
        scales = np.asarray(scale, np.float32)
        zero = np.zeros(scales.shape, weight.dtype)
        attrs: dict[str, Any] = {} if axis is None else {"axis": axis}
        return self.node(
            "DequantizeLinear", [self.const("w", weight), self.const("ws", scales), self.const("wz", zero)], **attrs
        )

    def qdq(self, x: str, scale: float = 0.1, dtype: type = np.uint8) -> str:
        """QuantizeLinear then DequantizeLinear on an activation; returns the dequantized name."""
        s = self.const("s", np.array(scale, np.float32))
        z = self.const("z", np.array(128 if dtype is np.uint8 else 0, dtype))
        return self.node("DequantizeLinear", [self.node("QuantizeLinear", [x, s, z]), s, z])

    def model(
        self,
        inputs: Sequence[tuple[str, Dims]],
        outputs: Sequence[tuple[str, Dims]],
        *,
        opset: int = 17,
        extra_opsets: Sequence[tuple[str, int]] = (),
        functions: Sequence[onnx.FunctionProto] = (),
        elem_type: int = TensorProto.FLOAT,
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            "g",
            [helper.make_tensor_value_info(n, elem_type, d) for n, d in inputs],
            [helper.make_tensor_value_info(n, elem_type, d) for n, d in outputs],
            self.initializers,
        )
        opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in extra_opsets)]
        return helper.make_model(graph, opset_imports=opsets, functions=list(functions), ir_version=8)


def weights(*shape: int, dtype: type = np.int8, seed: int = 0) -> np.ndarray[Any, Any]:
    """Seeded small integer weights."""
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(dtype)


def floats(*shape: int, seed: int = 0) -> np.ndarray[Any, Any]:
    """Seeded float32 weights."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def conv_pair(*, quantize_big: bool, quantize_small: bool) -> onnx.ModelProto:
    """x 1x3x16x16 → Conv 8x3x3x3 (pad 1; 55 296 MACs) → Relu → Conv 4x8x1x1 (8 192 MACs); QDQ where asked."""
    g = GraphBuilder()
    x = g.qdq("x") if quantize_big else "x"
    w1 = g.dq_weight(weights(8, 3, 3, 3)) if quantize_big else g.const("w", floats(8, 3, 3, 3))
    c1 = g.node("Conv", [x, w1], pads=[1, 1, 1, 1])
    r = g.node("Relu", [c1])
    r = g.qdq(r) if quantize_small else r
    w2 = g.dq_weight(weights(4, 8, 1, 1)) if quantize_small else g.const("w", floats(4, 8, 1, 1))
    g.nodes.append(helper.make_node("Conv", [r, w2], ["y"], name="conv_small"))
    return g.model([("x", [1, 3, 16, 16])], [("y", [1, 4, 16, 16])])


BIG_CONV_MACS = 1 * 8 * 16 * 16 * 3 * 3 * 3
SMALL_CONV_MACS = 1 * 4 * 16 * 16 * 8 * 1 * 1
