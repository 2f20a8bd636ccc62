"""The census on hand-built graphs: formats, exact count and MAC shares, weights, subgraphs, functions, and pitfalls."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from support.onnxbuild import BIG_CONV_MACS, SMALL_CONV_MACS, GraphBuilder, conv_pair, floats, weights

from int8gate.findings import Severity
from int8gate.model.census import Census, QuantFormat, take_census
from int8gate.model.pitfalls import census_findings, is_quantized
from int8gate.policy.spec import QuantizedRequirement

DEFAULT = QuantizedRequirement()


def codes(
    census: Census, *, vnni: bool | None = None, requirement: QuantizedRequirement = DEFAULT
) -> dict[str, Severity]:
    return {f.code: f.severity for f in census_findings(census, requirement, vnni=vnni)}


def test_mac_share_is_exact_when_the_big_conv_is_quantized() -> None:
    census = take_census(conv_pair(quantize_big=True, quantize_small=False))
    assert census.format is QuantFormat.QDQ
    assert (census.compute_ops.total, census.compute_ops.quantized) == (2, 1)
    assert census.macs_total == BIG_CONV_MACS + SMALL_CONV_MACS == 63_488
    assert census.mac_share_quantized == BIG_CONV_MACS / (BIG_CONV_MACS + SMALL_CONV_MACS)
    assert census.count_share_quantized == 0.5
    assert is_quantized(census, DEFAULT)  # half the ops, but 87% of the MACs


def test_quantizing_only_the_small_conv_is_token_quantization() -> None:
    census = take_census(conv_pair(quantize_big=False, quantize_small=True))
    assert census.count_share_quantized == 0.5  # the same count share as above ...
    assert census.mac_share_quantized == SMALL_CONV_MACS / (BIG_CONV_MACS + SMALL_CONV_MACS)  # ... but 13% of MACs
    assert not is_quantized(census, DEFAULT)
    assert codes(census)["token-quantization"] is Severity.FAIL


def test_a_float_graph_with_stray_qdq_is_float_and_not_quantized() -> None:
    g = GraphBuilder()
    relu = g.node("Relu", [g.qdq(g.node("Conv", ["x", g.const("w", floats(4, 3, 3, 3))]))])
    model = g.model([("x", [1, 3, 8, 8])], [(relu, None)])
    census = take_census(model)
    assert census.format is QuantFormat.FLOAT
    assert (census.quantize_linear, census.dequantize_linear) == (1, 1)
    assert not is_quantized(census, DEFAULT)
    assert codes(census)["not-quantized"] is Severity.FAIL


def _qlinear_conv(g: GraphBuilder, x: str, *, activation: type = np.uint8) -> str:
    xs = g.const("xs", np.array(0.1, np.float32))
    xz = g.const("xz", np.array(128 if activation is np.uint8 else 0, activation))
    ws, wz = g.const("ws", np.full(4, 0.02, np.float32)), g.const("wz", np.zeros(4, np.int8))
    xq = g.node("QuantizeLinear", [x, xs, xz])
    y = g.node("QLinearConv", [xq, xs, xz, g.const("w", weights(4, 3, 3, 3)), ws, wz, xs, xz])
    return g.node("DequantizeLinear", [y, xs, xz])


def _dynamic_conv(g: GraphBuilder, x: str) -> str:
    xq = g.node("DynamicQuantizeLinear", [x], outputs=3)
    scale, zero = g.nodes[-1].output[1], g.nodes[-1].output[2]
    conv = g.node("ConvInteger", [xq, g.const("w", weights(4, 3, 3, 3)), zero, g.const("wz", np.array(0, np.int8))])
    mul = g.node("Mul", [g.node("Cast", [conv], to=TensorProto.FLOAT), scale])
    return g.node("Mul", [mul, g.const("ws", np.array(0.02, np.float32))])


def test_formats_are_named_from_the_quantized_compute() -> None:
    g = GraphBuilder()
    qop = g.model([("x", [1, 3, 8, 8])], [(_qlinear_conv(g, "x"), None)])
    g = GraphBuilder()
    dyn = g.model([("x", [1, 3, 8, 8])], [(_dynamic_conv(g, "x"), None)])
    g = GraphBuilder()
    first = _qlinear_conv(g, "x")
    second = g.node("Conv", [g.qdq(first), g.dq_weight(weights(2, 4, 1, 1))])
    mixed = g.model([("x", [1, 3, 8, 8])], [(second, None)])
    assert take_census(qop).format is QuantFormat.QOPERATOR
    assert take_census(dyn).format is QuantFormat.DYNAMIC
    census = take_census(mixed)
    assert census.format is QuantFormat.MIXED
    assert {(c.format, c.count) for c in census.format_counts} == {(QuantFormat.QDQ, 1), (QuantFormat.QOPERATOR, 1)}
    assert not is_quantized(census, QuantizedRequirement(formats=("qdq", "qoperator")))
    assert "format-not-allowed" in codes(census, requirement=QuantizedRequirement(formats=("qdq",)))


def test_dynamic_conv_is_flagged_with_uint8_activations() -> None:
    g = GraphBuilder()
    census = take_census(g.model([("x", [1, 3, 8, 8])], [(_dynamic_conv(g, "x"), None)]))
    assert census.dynamic_conv_ops == 1
    assert census.activation_type == "uint8" and census.weight_type == "int8"
    assert codes(census)["dynamic-conv"] is Severity.WARN


def test_s8_activations_in_qoperator_are_flagged() -> None:
    g = GraphBuilder()
    census = take_census(g.model([("x", [1, 3, 8, 8])], [(_qlinear_conv(g, "x", activation=np.int8), None)]))
    assert census.activation_type == "int8"
    assert "s8-activations-qoperator" in codes(census)


def test_weight_bytes_by_dtype_are_exact() -> None:
    census = take_census(conv_pair(quantize_big=True, quantize_small=False))
    w = census.weight_bytes
    # int8 weight 8x3x3x3 + int8 zero point; uint8 activation zero point; float scales (2×4) + float conv 4x8x1x1
    assert (w.int8, w.uint8, w.int4, w.float32, w.float16, w.other) == (216 + 1, 1, 0, 8 + 128, 0, 0)
    assert w.total == 354
    assert w.quantized_share == 218 / 354


def test_per_channel_and_per_tensor_scales_are_told_apart() -> None:
    per_tensor = take_census(conv_pair(quantize_big=True, quantize_small=True))
    assert per_tensor.per_channel is False
    assert per_tensor.weight_scales.per_tensor == 2
    g = GraphBuilder()
    w = g.dq_weight(weights(8, 3, 3, 3), scale=np.full(8, 0.02, np.float32), axis=0)
    y = g.node("Conv", [g.qdq("x"), w])
    census = take_census(g.model([("x", [1, 3, 8, 8])], [(y, None)]))
    assert census.per_channel is True
    assert (census.weight_scales.per_channel, census.weight_scales.per_tensor) == (1, 0)
    assert take_census(conv_pair(quantize_big=False, quantize_small=False)).per_channel is None


def test_bad_scales_fail() -> None:
    g = GraphBuilder()
    y = g.node("Conv", [g.qdq("x"), g.dq_weight(weights(4, 3, 1, 1), scale=0.0)])
    census = take_census(g.model([("x", [1, 3, 4, 4])], [(y, None)]))
    assert len(census.invalid_scales) == 1
    assert codes(census)["invalid-scale"] is Severity.FAIL


def test_weight_only_8bit_and_4bit_are_not_int8_compute() -> None:
    g = GraphBuilder()
    y = g.node("MatMul", ["x", g.dq_weight(weights(4, 8))])
    census = take_census(g.model([("x", [1, 4])], [(y, None)]))
    assert (census.compute_ops.quantized, census.compute_ops.weight_only) == (0, 1)
    assert "weight-only-dq" in codes(census) and "not-quantized" in codes(census)
    g = GraphBuilder()
    packed = helper.make_tensor("w4", TensorProto.INT4, [4, 8], [1] * 32)
    g.initializers.append(packed)
    scale = g.const("s", np.array(0.1, np.float32))
    g.initializers.append(helper.make_tensor("z4", TensorProto.INT4, [], [0]))
    y = g.node("MatMul", ["x", g.node("DequantizeLinear", ["w4", scale, "z4"])])
    census = take_census(g.model([("x", [1, 4])], [(y, None)], opset=21))
    assert (census.compute_ops.quantized, census.compute_ops.weight_only_4bit) == (0, 1)
    assert census.format is QuantFormat.WEIGHT_ONLY
    assert census.weight_type == "int4"
    assert census.weight_bytes.int4 == 16 + 1
    assert codes(census) == {"weight-only-4bit": Severity.FAIL}  # named for what it is, not "not-quantized"
    assert not is_quantized(census, DEFAULT)
    allowed = QuantizedRequirement(formats=(*DEFAULT.formats, "weight-only"))
    assert is_quantized(census, allowed) and codes(census, requirement=allowed) == {"weight-only-4bit": Severity.INFO}


def _matmul_nbits(scales: np.ndarray) -> onnx.ModelProto:
    """y = x · W with W (K=32, N=2) in MatMulNBits form: 4-bit blocks of 32, one scale per column block."""
    g = GraphBuilder()
    packed = g.const("w_q", np.full((2, 1, 16), 0x99, np.uint8))  # every 4-bit value 9: (9 - 8) · scale
    y = g.node("MatMulNBits", ["x", packed, g.const("w_s", scales.astype(np.float32))],
               domain="com.microsoft", K=32, N=2, bits=4, block_size=32)  # fmt: skip
    return g.model([("x", [1, 32])], [(y, None)], extra_opsets=[("com.microsoft", 1)])


def test_matmul_nbits_is_weight_only_and_its_signed_scales_are_valid() -> None:
    """ONNX Runtime's symmetric 4-bit quantizer stores signed block scales; that is not an invalid scale."""
    census = take_census(_matmul_nbits(np.array([0.5, -0.25])))
    assert census.format is QuantFormat.WEIGHT_ONLY and census.weight_type == "uint4"
    assert census.macs_total == 32 * 2 and census.macs_weight_only_4bit == 64
    assert census.invalid_scales == ()
    assert census.weight_scales.blocked == 1
    assert take_census(_matmul_nbits(np.array([0.5, np.nan]))).invalid_scales == ("w_s_2",)


def test_if_branches_are_both_walked() -> None:
    then_g = GraphBuilder()
    then_g.nodes.append(helper.make_node("MatMul", ["x", then_g.const("w", floats(4, 8))], ["t"]))
    else_g = GraphBuilder()
    else_g.nodes.append(helper.make_node("MatMul", [else_g.qdq("x"), else_g.dq_weight(weights(4, 8))], ["e"]))
    branches = {
        name: helper.make_graph(
            b.nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 8])], b.initializers
        )
        for name, b, out in (("then", then_g, "t"), ("else", else_g, "e"))
    }
    node = helper.make_node("If", ["cond"], ["y"], then_branch=branches["then"], else_branch=branches["else"])
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    census = take_census(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert census.subgraphs == 2
    assert (census.compute_ops.total, census.compute_ops.quantized) == (2, 1)
    assert census.macs_total == 2 * 32 and census.mac_share_quantized == 0.5


def _qdq_linear_function() -> onnx.FunctionProto:
    """local.QLinear(x, wq, ws, wz) = MatMul(DQ(Q(x)), DQ(wq)), with its activation scale as Constant nodes."""
    nodes = [
        helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array(0.1, np.float32))),
        helper.make_node("Constant", [], ["z"], value=numpy_helper.from_array(np.array(128, np.uint8))),
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
        helper.make_node("MatMul", ["xd", "wd"], ["y"]),
    ]
    return helper.make_function(
        "local", "QLinear", ["x", "wq", "ws", "wz"], ["y"], nodes, [helper.make_opsetid("", 17)]
    )


def test_model_local_functions_count_at_each_call() -> None:
    g = GraphBuilder()
    scale, zero = g.const("ws", np.array(0.02, np.float32)), g.const("wz", np.array(0, np.int8))
    h = g.node("QLinear", ["x", g.const("w", weights(4, 8)), scale, zero], domain="local")
    y = g.node("QLinear", [h, g.const("w", weights(8, 2)), scale, zero], domain="local")
    model = g.model([("x", [1, 4])], [(y, None)], extra_opsets=[("local", 1)], functions=[_qdq_linear_function()])
    census = take_census(model)
    assert census.functions == 1
    assert (census.compute_ops.total, census.compute_ops.quantized) == (2, 2)
    assert census.macs_total == 1 * 8 * 4 + 1 * 2 * 8
    assert census.mac_share_quantized == 1.0
    assert census.activation_type == "uint8"


def test_unknown_shapes_leave_the_mac_share_unknown_and_say_so() -> None:
    g = GraphBuilder()
    picked = g.node("NonZero", ["x"])  # a data-dependent shape: nothing downstream can be inferred
    flat = g.node("Cast", [picked], to=TensorProto.FLOAT)
    y = g.node("MatMul", [g.qdq(flat), g.dq_weight(weights(4, 4))])
    census = take_census(g.model([("x", [2, 4])], [(y, None)]))
    assert census.mac_share_quantized is None and census.macs_total is None
    assert census.compute_ops.macs_unknown == 1
    assert codes(census)["macs-unknown"] is Severity.WARN
    assert is_quantized(census, DEFAULT)  # decided on the count share alone, as the finding says


def test_dynamic_dims_are_assumed_one_and_given_shapes_scale_macs() -> None:
    g = GraphBuilder()
    y = g.node("MatMul", [g.qdq("x"), g.dq_weight(weights(4, 8))])
    model = g.model([("x", ["batch", 4])], [(y, None)])
    census = take_census(model)
    assert census.macs_total == 32 and [d.symbol for d in census.assumed_dims] == ["batch"]
    assert codes(census)["dims-assumed"] is Severity.INFO
    assert take_census(model, input_shapes={"x": (5, 4)}).macs_total == 5 * 32


@pytest.mark.parametrize(("vnni", "expected"), [(False, True), (True, False), (None, False)])
def test_u8s8_warning_only_without_vnni(vnni: bool | None, expected: bool) -> None:
    census = take_census(conv_pair(quantize_big=True, quantize_small=True))
    assert ("u8s8-no-vnni" in codes(census, vnni=vnni)) is expected


def test_old_opset_and_missing_preprocessing_are_flagged() -> None:
    model = conv_pair(quantize_big=True, quantize_small=True)
    model.opset_import[0].version = 10
    model.metadata_props.add(key="onnx.infer", value="onnxruntime.quant")  # what ORT's quantizer writes
    census = take_census(model)
    assert census.preprocessed is False
    assert {"opset-too-old", "not-preprocessed"} <= codes(census).keys()
    model.metadata_props.add(key="onnx.quant.pre_process", value="onnxruntime.quant")
    assert "not-preprocessed" not in codes(take_census(model))


def test_op_histogram_is_sorted_by_count() -> None:
    census = take_census(conv_pair(quantize_big=True, quantize_small=True))
    pairs = [(item.op, item.count) for item in census.op_histogram]
    assert pairs[0] == ("DequantizeLinear", 4)
    assert ("Conv", 2) in pairs and ("QuantizeLinear", 2) in pairs
    assert [c for _, c in pairs] == sorted((c for _, c in pairs), reverse=True)


def test_inferred_shapes_beat_the_stale_value_info_a_quantizer_copies() -> None:
    """ONNX Runtime's quantizers copy the FP32 model's value-infos, symbolic dims and all, into the INT8 file."""
    model = conv_pair(quantize_big=True, quantize_small=True)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    conv_outputs = [node.output[0] for node in model.graph.node if node.op_type == "Conv"]
    model.graph.value_info.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", None, "h", "w"])
                                  for name in conv_outputs)  # fmt: skip
    census = take_census(model, input_shapes={"x": (1, 3, 16, 16)})
    assert census.compute_ops.macs_unknown == 0
    assert census.macs_total == BIG_CONV_MACS + SMALL_CONV_MACS


def test_a_wrongly_declared_output_shape_does_not_stop_inference() -> None:
    """ddddocr's export declares its output [1, seqlen]; ONNX Runtime produces a rank-3 tensor."""
    model = conv_pair(quantize_big=True, quantize_small=True)
    output = model.graph.output[0].type.tensor_type.shape
    del output.dim[:]
    output.dim.add().dim_value = 1
    output.dim.add().dim_param = "seqlen"
    census = take_census(model)
    assert census.shape_inference_error is None
    assert census.macs_total == BIG_CONV_MACS + SMALL_CONV_MACS


def test_a_negative_dim_is_dynamic() -> None:
    """Paddle2ONNX writes a dynamic batch as -1; ONNX Runtime runs such a model."""
    model = conv_pair(quantize_big=True, quantize_small=True)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -1
    census = take_census(model)
    assert [(d.input, d.axis, d.value) for d in census.assumed_dims] == [("x", 0, 1)]
    assert census.macs_total == BIG_CONV_MACS + SMALL_CONV_MACS
    assert take_census(model, input_shapes={"x": (2, 3, 16, 16)}).macs_total == 2 * census.macs_total


def test_output_kinds_come_from_the_op_that_produces_each_output() -> None:
    g = GraphBuilder()
    logits = g.node("MatMul", ["x", g.const("w", floats(4, 3))])
    scores = g.node("Softmax", [logits], axis=-1)
    shown = g.node("Reshape", [scores, g.const("shape", np.array([1, 3], np.int64))])  # moves values only
    exp = g.node("Exp", [logits])  # tf2onnx's softmax: Exp / ReduceSum, broadcast back
    total = g.node("Expand", [g.node("ReduceSum", [exp, g.const("axes", np.array([-1], np.int64))]),
                              g.const("to", np.array([1, 3], np.int64))])  # fmt: skip
    decomposed = g.node("Div", [exp, total])
    probability = g.node("Sigmoid", [logits])
    label = g.node("ArgMax", [logits], axis=-1)
    model = g.model([("x", [1, 4])], [(shown, None), (decomposed, None), (probability, None), (logits, None)])
    model.graph.output.append(helper.make_tensor_value_info(label, TensorProto.INT64, None))
    assert dict(take_census(model).output_kinds) == {
        shown: "class-scores", decomposed: "class-scores", probability: "probabilities", logits: "values",
        label: "integers",
    }


def test_the_calibrated_range_of_each_quantized_input_is_read_from_its_quantizelinear() -> None:
    g = GraphBuilder()
    y = g.node("MatMul", [g.qdq("x", scale=0.02, dtype=np.uint8), g.dq_weight(weights(4, 2))])
    census = take_census(g.model([("x", [1, 4])], [(y, None)]))
    ((name, low, high),) = [(r.input, r.low, r.high) for r in census.input_ranges]
    assert name == "x" and low == pytest.approx(-128 * 0.02) and high == pytest.approx(127 * 0.02)
    g = GraphBuilder()
    y = g.node("MatMul", [g.qdq("x", dtype=np.int8), g.dq_weight(weights(4, 2))])
    assert take_census(g.model([("x", [1, 4])], [(y, None)])).input_ranges[0].low == pytest.approx(-12.8)
    assert take_census(conv_pair(quantize_big=False, quantize_small=True)).input_ranges == ()  # x is not quantized


def test_a_recurrent_state_output_is_told_apart() -> None:
    """silero-vad: inputs state [2, batch, 128] and input, outputs stateN [?, batch, ?] and output."""
    g = GraphBuilder()
    state_n = g.node("Add", ["state", g.const("one", np.ones((2, 1, 4), np.float32))])
    y = g.node("MatMul", ["x", g.const("w", floats(4, 2))])
    model = g.model([("x", [1, 4]), ("state", [2, "batch", 4])], [(y, [1, 2])])
    model.graph.output.append(helper.make_tensor_value_info(state_n, TensorProto.FLOAT, ["a", "batch", "b"]))
    model.graph.output[1].name = "stateN"
    model.graph.node[0].output[0] = "stateN"
    assert dict(take_census(model).output_kinds) == {y: "values", "stateN": "state"}
