"""Real exporters' habits, applied to the zoo's models or built by hand: the files issue 10 says the gate must accept.

Each function writes an FP32/INT8 pair (or one file) that ONNX Runtime loads and runs, the way one
exporter or quantizer leaves it: Paddle2ONNX's -1 dims, old exporters' initializers listed as inputs,
an input with a default, ai.onnx.ml's ZipMap and a sequence output, an FP16 "FP32" model, ddddocr's
wrongly declared output rank, ONNX Runtime's transformer fusions and their quantized forms
(Attention, SkipLayerNormalization, FusedMatMul / QAttention, DynamicQuantizeMatMul) and its 4-bit
MatMulNBits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.transformers import float16

Edit = Callable[[onnx.ModelProto], None]


def edited_pair(fp32: Path, int8: Path, folder: Path, name: str, edit: Edit, *, int8_too: bool = True) -> tuple[str, str]:
    """Copies of a zoo pair with ``edit`` applied (to the FP32 file only unless ``int8_too``); their file names."""
    names = (f"{name}_fp32.onnx", f"{name}_int8.onnx")
    for source, target, apply in ((fp32, names[0], True), (int8, names[1], int8_too)):
        model = onnx.load(str(source))
        if apply:
            edit(model)
        onnx.save(model, str(folder / target))
    return names


def negative_batch(model: onnx.ModelProto) -> None:
    """Paddle2ONNX writes a dynamic batch as -1."""
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].Clear()
        value.type.tensor_type.shape.dim[0].dim_value = -1
    del model.graph.value_info[:]


def initializers_as_inputs(model: onnx.ModelProto) -> None:
    """Old exporters (IR < 4) list every initializer among the graph inputs too."""
    listed = {value.name for value in model.graph.input}
    model.graph.input.extend(
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in model.graph.initializer
        if t.name not in listed
    )


def input_with_default(model: onnx.ModelProto) -> None:
    """An optional input: a graph input with an initializer as its default (a gain of 1 on the image)."""
    first = model.graph.input[0].name
    model.graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), "gain"))
    model.graph.input.append(helper.make_tensor_value_info("gain", TensorProto.FLOAT, []))
    for node in model.graph.node:
        node.input[:] = ["gained" if name == first else name for name in node.input]
    model.graph.node.insert(0, helper.make_node("Mul", [first, "gain"], ["gained"], name="apply_gain"))


def zipmap_output(model: onnx.ModelProto) -> None:
    """Scores through ai.onnx.ml's ZipMap: the output becomes a sequence of maps (class → probability)."""
    logits = model.graph.output[0]
    classes = logits.type.tensor_type.shape.dim[-1].dim_value
    model.graph.node.extend([
        helper.make_node("Softmax", [logits.name], ["probabilities_tensor"], axis=-1, name="softmax"),
        helper.make_node("ZipMap", ["probabilities_tensor"], ["probabilities"], domain="ai.onnx.ml",
                         classlabels_int64s=list(range(classes)), name="zipmap"),
    ])  # fmt: skip
    del model.graph.output[:]
    seq_map = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, None))
    )
    model.graph.output.append(helper.make_value_info("probabilities", seq_map))
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))


def sequence_output(model: onnx.ModelProto) -> None:
    """The scores wrapped in a sequence of tensors (SequenceConstruct)."""
    logits = model.graph.output[0].name
    model.graph.node.append(helper.make_node("SequenceConstruct", [logits], ["scores"], name="as_sequence"))
    del model.graph.output[:]
    seq = helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, None))
    model.graph.output.append(helper.make_value_info("scores", seq))


def wrong_output_rank(model: onnx.ModelProto) -> None:
    """ddddocr's export declares its output [1, seqlen] for a tensor of another rank."""
    shape = model.graph.output[0].type.tensor_type.shape
    del shape.dim[:]
    shape.dim.add().dim_value = 1
    shape.dim.add().dim_param = "seqlen"


def to_fp16(source: Path, target: Path) -> None:
    """An FP16 "FP32" model: weights, inputs and outputs in float16 (ONNX Runtime's converter)."""
    onnx.save(float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=False), str(target))


HIDDEN, HEADS, SEQ = 32, 4, 8


def transformer_fused_pair(folder: Path) -> tuple[str, str]:
    """A transformer layer in ONNX Runtime's fused contrib ops, FP32 and dynamically quantized.

    FP32: Attention → SkipLayerNormalization → FusedMatMul. INT8: DynamicQuantizeLinear → QAttention →
    SkipLayerNormalization → DynamicQuantizeMatMul, with the same weights (int8 × scale).
    """
    rng = np.random.default_rng(21)
    w_q = rng.integers(-40, 41, (HIDDEN, 3 * HIDDEN)).astype(np.int8)
    w2_q = rng.integers(-40, 41, (HIDDEN, HIDDEN)).astype(np.int8)
    w_scale, w2_scale = np.float32(0.01), np.float32(0.02)
    bias = (rng.standard_normal(3 * HIDDEN) * 0.1).astype(np.float32)
    gamma, beta = np.ones(HIDDEN, np.float32), np.zeros(HIDDEN, np.float32)
    inits = [numpy_helper.from_array(a, n) for n, a in
             (("bias", bias), ("gamma", gamma), ("beta", beta))]  # fmt: skip
    fp32_nodes = [
        helper.make_node("Attention", ["x", "w", "bias"], ["attn"], domain="com.microsoft", num_heads=HEADS),
        helper.make_node("SkipLayerNormalization", ["attn", "x", "gamma", "beta"], ["normed"],
                         domain="com.microsoft", epsilon=1e-5),
        helper.make_node("FusedMatMul", ["normed", "w2"], ["y"], domain="com.microsoft", alpha=1.0),
    ]  # fmt: skip
    fp32_inits = [*inits, numpy_helper.from_array(w_q.astype(np.float32) * w_scale, "w"),
                  numpy_helper.from_array(w2_q.astype(np.float32) * w2_scale, "w2")]  # fmt: skip
    int8_nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_scale", "x_zp"]),
        helper.make_node("QAttention", ["x_q", "w_q", "bias", "x_scale", "w_scale", "", "x_zp", "w_zp"], ["attn"],
                         domain="com.microsoft", num_heads=HEADS),
        helper.make_node("SkipLayerNormalization", ["attn", "x", "gamma", "beta"], ["normed"],
                         domain="com.microsoft", epsilon=1e-5),
        helper.make_node("DynamicQuantizeMatMul", ["normed", "w2_q", "w2_scale", "w2_zp"], ["y"],
                         domain="com.microsoft"),
    ]  # fmt: skip
    int8_inits = [*inits, numpy_helper.from_array(w_q, "w_q"), numpy_helper.from_array(w2_q, "w2_q"),
                  numpy_helper.from_array(np.array(w_scale), "w_scale"), numpy_helper.from_array(np.int8(0), "w_zp"),
                  numpy_helper.from_array(np.array(w2_scale), "w2_scale"),
                  numpy_helper.from_array(np.int8(0), "w2_zp")]  # fmt: skip
    names = ("fused_fp32.onnx", "fused_int8.onnx")
    for name, nodes, initializers in ((names[0], fp32_nodes, fp32_inits), (names[1], int8_nodes, int8_inits)):
        _save(folder / name, nodes, initializers, [("x", [1, SEQ, HIDDEN])], [("y", [1, SEQ, HIDDEN])])
    return names


def matmul_nbits_pair(folder: Path) -> tuple[str, str]:
    """y = x · W, FP32 and as ONNX Runtime's 4-bit MatMulNBits (blocks of 32, signed scales), same weights."""
    k, n, block = 64, 16, 32
    rng = np.random.default_rng(22)
    codes = rng.integers(0, 16, (n, k)).astype(np.uint8)  # 4-bit values, zero point 8
    scales = (rng.uniform(0.01, 0.05, (n, k // block)) * rng.choice([-1, 1], (n, k // block))).astype(np.float32)
    weight = ((codes.astype(np.float32) - 8) * np.repeat(scales, block, axis=1)).T  # (k, n)
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).reshape(n, k // block, block // 2)
    names = ("nbits_fp32.onnx", "nbits_int8.onnx")
    _save(folder / names[0], [helper.make_node("MatMul", ["x", "w"], ["y"])],
          [numpy_helper.from_array(weight.astype(np.float32), "w")], [("x", [1, 4, k])], [("y", [1, 4, n])])
    nbits = helper.make_node("MatMulNBits", ["x", "w_q", "w_s"], ["y"], domain="com.microsoft", K=k, N=n, bits=4,
                             block_size=block)  # fmt: skip
    _save(folder / names[1], [nbits], [numpy_helper.from_array(packed, "w_q"),
          numpy_helper.from_array(scales.reshape(-1), "w_s")], [("x", [1, 4, k])], [("y", [1, 4, n])])  # fmt: skip
    return names


def lfs_pointer(path: Path) -> None:
    """What Git LFS commits in place of the model."""
    path.write_text("version https://git-lfs.github.com/spec/v1\n"
                    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1337\n")  # fmt: skip


def _save(path: Path, nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto],
          inputs: list[tuple[str, list[Any]]], outputs: list[tuple[str, list[Any]]]) -> None:  # fmt: skip
    graph = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in outputs], inits)  # fmt: skip
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets, ir_version=8), str(path))
