"""MACs per compute node match hand-computed figures, and shape inference gets fixed input dims and contrib stand-ins."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper
from support.onnxbuild import GraphBuilder, floats, weights

from int8gate.errors import UsageError
from int8gate.model.graph import Shape, index_graph
from int8gate.model.macs import MAC_OPS, node_macs
from int8gate.model.ops import COMPUTE_OPS, compute_spec
from int8gate.model.shapeinfer import NOT_LOADED, infer, prepare_for_inference


def macs(
    op: str, inputs: dict[str, Shape | None], output: Shape | None, *, domain: str = "", **attrs: Any
) -> int | None:
    names = list(inputs)
    node = helper.make_node(op, names, ["out"], domain=domain, **attrs)
    shapes = {**inputs, "out": output}
    return node_macs(node, shapes.get)


def test_conv_counts_grouped_strided_kernels() -> None:
    # 16 output channels over 2 groups of 4 input channels, 3x3, stride 2: 5x5 outputs
    assert macs("Conv", {"x": (1, 8, 10, 10), "w": (16, 4, 3, 3)}, (1, 16, 5, 5), group=2) == 16 * 25 * 4 * 9


def test_conv_transpose_counts_from_the_input_side() -> None:
    assert macs("ConvTranspose", {"x": (1, 4, 5, 5), "w": (4, 6, 3, 3)}, (1, 6, 7, 7)) == 100 * 54


def test_matmul_broadcasts_batch_dims() -> None:
    assert macs("MatMul", {"a": (2, 3, 4, 5), "b": (5, 7)}, (2, 3, 4, 7)) == 2 * 3 * 4 * 7 * 5


def test_gemm_honours_trans_a() -> None:
    assert macs("Gemm", {"a": (5, 4), "b": (5, 6)}, (4, 6), transA=1) == 4 * 6 * 5


def test_lstm_counts_every_gate_of_every_step() -> None:
    hidden, features, steps, batch = 8, 10, 7, 2
    w, r = (1, 4 * hidden, features), (1, 4 * hidden, hidden)
    got = macs("LSTM", {"x": (steps, batch, features), "w": w, "r": r}, None)
    assert got == steps * batch * (4 * hidden * features + 4 * hidden * hidden)


@pytest.mark.parametrize(
    ("equation", "a", "b"),
    [("bij,bjk->bik", (2, 3, 4), (2, 4, 5)), ("...ij,jk->...ik", (2, 3, 4), (4, 5))],
)
def test_einsum_counts_the_iteration_space(equation: str, a: Shape, b: Shape) -> None:
    assert macs("Einsum", {"a": a, "b": b}, None, equation=equation) == 2 * 3 * 4 * 5


def test_matmul_nbits_uses_its_k_and_n_attributes() -> None:
    got = macs("MatMulNBits", {"a": (1, 8, 64), "b": (32, 2, 16)}, (1, 8, 32), domain="com.microsoft", K=64, N=32)
    assert got == 8 * 64 * 32


def test_contrib_attention_adds_projection_and_scores() -> None:
    batch, seq, hidden = 2, 8, 16
    got = macs(
        "Attention", {"x": (batch, seq, hidden), "w": (hidden, 3 * hidden)}, None, domain="com.microsoft", num_heads=2
    )
    assert got == batch * seq * hidden * 3 * hidden + batch * seq * seq * (hidden + hidden)


def test_quantized_conv_reads_its_weight_from_slot_three() -> None:
    inputs: dict[str, Shape | None] = {"x": (1, 3, 8, 8), "xs": (), "xz": (), "w": (4, 3, 3, 3)}
    assert macs("QLinearConv", inputs, (1, 4, 6, 6)) == 4 * 36 * 27


def test_unknown_dims_make_macs_unknown() -> None:
    assert macs("MatMul", {"a": (None, 5), "b": (5, 7)}, (None, 7)) is None
    assert macs("Conv", {"x": (1, 3, 8, 8), "w": None}, (1, 4, 6, 6)) is None


def test_every_compute_op_has_a_spec_and_a_formula() -> None:
    assert MAC_OPS == COMPUTE_OPS
    for op in COMPUTE_OPS:
        assert compute_spec(helper.make_node(op, ["a", "b", "c"], ["y"])) is not None
    assert compute_spec(helper.make_node("Relu", ["a"], ["y"])) is None


def test_prepare_fixes_dynamic_dims_to_one_and_says_so() -> None:
    g = GraphBuilder()
    g.node("MatMul", ["x", g.const("w", floats(4, 2))])
    model = g.model([("x", ["batch", 4])], [("y", None)])
    work, assumed = prepare_for_inference(model, {})
    assert [(d.input, d.axis, d.symbol, d.value) for d in assumed] == [("x", 0, "batch", 1)]
    assert work.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # the caller's model is untouched


def test_prepare_uses_given_shapes_and_rejects_wrong_ones() -> None:
    g = GraphBuilder()
    g.node("Relu", ["x"])
    model = g.model([("x", ["batch", 4])], [("y", None)])
    _, assumed = prepare_for_inference(model, {"x": (3, 4)})
    assert assumed == ()
    with pytest.raises(UsageError, match="model's inputs are: x"):
        prepare_for_inference(model, {"nope": (1, 4)})
    with pytest.raises(UsageError, match="has 3 dims, the model declares 2"):
        prepare_for_inference(model, {"x": (1, 4, 4)})


def test_large_tensors_lose_their_data_in_the_inference_copy() -> None:
    g = GraphBuilder()
    big = g.const("w", floats(256, 256))  # 256 KiB, above the kept size
    g.node("MatMul", ["x", big])
    model = g.model([("x", [1, 256])], [("y", None)])
    work, _ = prepare_for_inference(model, {})
    light = work.graph.initializer[0]
    assert light.data_location == TensorProto.EXTERNAL
    assert light.external_data[0].value == NOT_LOADED and not light.raw_data
    assert list(light.dims) == [256, 256]
    assert model.graph.initializer[0].raw_data  # the caller's model keeps its data


def test_contrib_ops_get_shapes_through_stand_ins() -> None:
    # QLinearConv → QLinearAdd (com.microsoft, unknown to ONNX) → QLinearConv: the second conv still gets a shape
    g = GraphBuilder()
    xs, xz = g.const("xs", np.array(0.1, np.float32)), g.const("xz", np.array(128, np.uint8))
    ws, wz = g.const("ws", np.array(0.02, np.float32)), g.const("wz", np.array(0, np.int8))
    xq = g.node("QuantizeLinear", ["x", xs, xz])
    c1 = g.node("QLinearConv", [xq, xs, xz, g.const("w", weights(4, 3, 3, 3)), ws, wz, xs, xz])
    add = g.node("QLinearAdd", [c1, xs, xz, c1, xs, xz, xs, xz], domain="com.microsoft")
    c2 = g.node("QLinearConv", [add, xs, xz, g.const("w", weights(2, 4, 1, 1)), ws, wz, xs, xz])
    g.node("DequantizeLinear", [c2, xs, xz])
    model = g.model([("x", [1, 3, 8, 8])], [(g.nodes[-1].output[0], None)], extra_opsets=[("com.microsoft", 1)])
    inferred = infer(model, {}, source="m")
    index = index_graph(inferred.model.graph, shapes_from=inferred.shapes, untyped=inferred.stand_in_outputs)
    assert index.shape(add) == (1, 4, 6, 6)
    assert index.elem_types[add] == TensorProto.UINT8  # the stand-in's output is cast back to the real type
    assert index.shape(c2) == (1, 2, 6, 6)
    assert math.prod((1, 2, 6, 6)) * 4 == node_macs(g.nodes[-2], index.shape)
