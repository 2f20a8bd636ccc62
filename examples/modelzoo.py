"""Builds the int8gate model zoo: seeded FP32 ONNX models and their variants made by ONNX Runtime's own quantizer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

OPSET = 17  # LayerNormalization needs 17; per-channel QDQ needs 13 or more
IR_VERSION = 8  # the IR version that goes with opset 17, so older runtimes load the files too
PRODUCER = "int8gate-modelzoo"
FAKE_DOC = "Deliberately fake INT8: this is the FP32 graph saved under an INT8 name (int8gate's negative example)."


@dataclass(frozen=True)
class InputSpec:
    """The one float32 input of a model family: its name and static shape."""

    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ConvNetConfig:
    """A ResNet-like classifier: a stem, stages of basic residual blocks (Conv+BN+ReLU), pooling and a Gemm head."""

    image_size: int = 112
    stem_width: int = 32
    widths: tuple[int, ...] = (32, 64, 128)
    blocks: tuple[int, ...] = (2, 1, 1)
    classes: int = 10
    seed: int = 20240601

    @property
    def input(self) -> InputSpec:
        return InputSpec("input", (1, 3, self.image_size, self.image_size))


@dataclass(frozen=True)
class TransformerConfig:
    """A pre-LayerNorm transformer encoder block: QKV MatMuls, softmax attention, residual Adds, a GELU MLP."""

    seq: int = 32
    hidden: int = 64
    heads: int = 4
    mlp: int = 256
    seed: int = 20240602

    @property
    def input(self) -> InputSpec:
        return InputSpec("x", (1, self.seq, self.hidden))


EXAMPLE_CONVNET = ConvNetConfig()
TEST_CONVNET = ConvNetConfig(image_size=32, stem_width=16, widths=(16, 32), blocks=(1, 1), seed=7)
TEST_TRANSFORMER = TransformerConfig()


class _Graph:
    """Accumulates named nodes and seeded initializers for one graph."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counts: dict[str, int] = {}

    def _name(self, prefix: str) -> str:
        count = self._counts.get(prefix, 0)
        self._counts[prefix] = count + 1
        return f"{prefix}_{count}"

    def const(self, prefix: str, value: np.ndarray[Any, Any]) -> str:
        name = self._name(prefix)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def normal(self, prefix: str, shape: tuple[int, ...], std: float) -> str:
        return self.const(prefix, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def op(self, op_type: str, inputs: Sequence[str], output: str | None = None, **attrs: Any) -> str:
        name = self._name(op_type.lower())
        out = output or f"{name}_out"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def model(self, name: str, inputs: Sequence[onnx.ValueInfoProto], outputs: Sequence[onnx.ValueInfoProto],
              opset: int = OPSET) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, list(inputs), list(outputs), self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=PRODUCER)
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def _float_io(spec: InputSpec) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(spec.name, TensorProto.FLOAT, list(spec.shape))


def _conv_bn(g: _Graph, x: str, cin: int, cout: int, *, kernel: int = 3, stride: int = 1,
             gamma_scale: float = 1.0, relu: bool = True) -> str:
    """Conv (He-initialised, no bias) followed by an unfolded BatchNormalization, as a PyTorch export leaves it."""
    weight = g.normal("conv_w", (cout, cin, kernel, kernel), float(np.sqrt(2.0 / (cin * kernel * kernel))))
    y = g.op("Conv", [x, weight], kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[kernel // 2] * 4)
    gamma = g.const("bn_gamma", (g.rng.uniform(0.8, 1.2, cout) * gamma_scale).astype(np.float32))
    beta = g.const("bn_beta", (g.rng.standard_normal(cout) * 0.05).astype(np.float32))
    mean = g.const("bn_mean", (g.rng.standard_normal(cout) * 0.05).astype(np.float32))
    var = g.const("bn_var", g.rng.uniform(0.8, 1.2, cout).astype(np.float32))
    y = g.op("BatchNormalization", [y, gamma, beta, mean, var], epsilon=1e-5)
    return g.op("Relu", [y]) if relu else y


def build_convnet(config: ConvNetConfig) -> onnx.ModelProto:
    """The FP32 convolutional classifier described by `config`; input `input` NCHW, output `logits`."""
    g = _Graph(config.seed)
    x = _conv_bn(g, config.input.name, 3, config.stem_width)
    cin = config.stem_width
    for stage, (width, blocks) in enumerate(zip(config.widths, config.blocks, strict=True)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            y = _conv_bn(g, x, cin, width, stride=stride)
            y = _conv_bn(g, y, width, width, gamma_scale=0.5, relu=False)
            shortcut = x if stride == 1 and cin == width else _conv_bn(g, x, cin, width, kernel=1, stride=stride,
                                                                       relu=False)
            x = g.op("Relu", [g.op("Add", [y, shortcut])])
            cin = width
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    head_w = g.normal("head_w", (config.classes, cin), float(np.sqrt(1.0 / cin)))
    head_b = g.const("head_b", np.zeros(config.classes, np.float32))
    g.op("Gemm", [pooled, head_w, head_b], output="logits", transB=1)
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, config.classes])
    return g.model("convnet", [_float_io(config.input)], [logits])


def _dense(g: _Graph, x: str, fan_in: int, fan_out: int) -> str:
    weight = g.normal("w", (fan_in, fan_out), float(np.sqrt(1.0 / fan_in)))
    bias = g.const("b", (g.rng.standard_normal(fan_out) * 0.02).astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, weight]), bias])


def _layer_norm(g: _Graph, x: str, hidden: int) -> str:
    scale = g.const("ln_scale", g.rng.uniform(0.9, 1.1, hidden).astype(np.float32))
    bias = g.const("ln_bias", (g.rng.standard_normal(hidden) * 0.02).astype(np.float32))
    return g.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=1e-5)


def build_transformer(config: TransformerConfig) -> onnx.ModelProto:
    """The FP32 transformer encoder block described by `config`; input `x` [1, seq, hidden], output `y`."""
    g = _Graph(config.seed)
    head_dim = config.hidden // config.heads
    x = config.input.name
    h = _layer_norm(g, x, config.hidden)
    split = g.const("heads_shape", np.array([0, 0, config.heads, head_dim], np.int64))
    q, k, v = (g.op("Reshape", [_dense(g, h, config.hidden, config.hidden), split]) for _ in range(3))
    q = g.op("Transpose", [q], perm=[0, 2, 1, 3])
    k = g.op("Transpose", [k], perm=[0, 2, 3, 1])
    v = g.op("Transpose", [v], perm=[0, 2, 1, 3])
    scale = g.const("attn_scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    probs = g.op("Softmax", [g.op("Mul", [g.op("MatMul", [q, k]), scale])], axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    merge = g.const("merge_shape", np.array([0, 0, config.hidden], np.int64))
    attn = _dense(g, g.op("Reshape", [context, merge]), config.hidden, config.hidden)
    r1 = g.op("Add", [x, attn])
    m = _dense(g, _layer_norm(g, r1, config.hidden), config.hidden, config.mlp)
    # GELU written out with Erf, as exporters emit it at opset 17; ORT fuses it back into one Gelu kernel.
    erf = g.op("Erf", [g.op("Div", [m, g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))])])
    one = g.const("one", np.array(1.0, np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    gelu = g.op("Mul", [g.op("Mul", [m, g.op("Add", [erf, one])]), half])
    g.op("Add", [r1, _dense(g, gelu, config.mlp, config.hidden)], output="y")
    return g.model("transformer_block", [_float_io(config.input)], [_float_io(InputSpec("y", config.input.shape))])


def build_fails_at_run(spec: InputSpec) -> onnx.ModelProto:
    """Loads fine, raises on the first run: a Reshape to a target computed from data at run time that cannot fit."""
    g = _Graph(0)
    # The target is [1, numel + 1] + round(sum(|x|) * 0): one element more than x holds. It depends on the input
    # values, so neither shape inference nor constant folding sees the mismatch before the run. (Built with a Concat
    # of [1] and a computed n instead, ORT's ReshapeFusion rewrites the target to [1, -1] and the run succeeds.)
    numel = int(np.prod(spec.shape))
    zero = g.op("Cast", [g.op("Mul", [g.op("ReduceSum", [g.op("Abs", [spec.name])], keepdims=0),
                                      g.const("zero", np.array(0.0, np.float32))])], to=TensorProto.INT64)
    target = g.op("Add", [zero, g.const("too_big", np.array([1, numel + 1], np.int64))])
    g.op("Reshape", [spec.name, target], output="output")
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, "n"])
    return g.model("fails_at_run", [_float_io(spec)], [out])


def build_hangs(spec: InputSpec) -> onnx.ModelProto:
    """Loads fine, then runs practically forever: a Loop of 2**62 cheap Adds around the input's mean."""
    g = _Graph(0)
    body_nodes = [
        helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going"),
        helper.make_node("Add", ["acc_in", "step"], ["acc_out"], name="accumulate"),
    ]
    body = helper.make_graph(
        body_nodes, "spin",
        [helper.make_tensor_value_info("iter", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(np.array(1e-9, np.float32), "step")],
    )
    start = g.op("ReduceMean", [spec.name], keepdims=0)
    trips = g.const("trip_count", np.array(2**62, np.int64))
    cond = g.const("always", np.array(True))
    g.op("Loop", [trips, cond, start], output="output", body=body)
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [])
    return g.model("hangs", [_float_io(spec)], [out])


def make_fake(model: onnx.ModelProto) -> onnx.ModelProto:
    """The FP32 model unchanged except its doc_string and graph name: a file that only claims to be INT8."""
    fake = onnx.ModelProto()
    fake.CopyFrom(model)
    fake.doc_string = FAKE_DOC
    fake.graph.name = f"{model.graph.name}_int8"
    return fake


class RandomReader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information
    """Feeds `count` seeded standard-normal batches to ONNX Runtime's calibrator."""

    def __init__(self, spec: InputSpec, count: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        batches = [{spec.name: rng.standard_normal(spec.shape).astype(np.float32)} for _ in range(count)]
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray[Any, Any]] | None:
        return next(self._batches, None)


@contextmanager
def quantizer_workdir() -> Iterator[Path]:
    """A temporary current directory for ONNX Runtime's quantizer, which writes scratch files into the cwd."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="int8gate-zoo-") as scratch:
        os.chdir(scratch)
        try:
            yield Path(scratch)
        finally:
            os.chdir(previous)


def preprocess(src: Path, dst: Path) -> None:
    """ONNX Runtime's recommended pre-quantization step: symbolic shape inference and graph optimisation."""
    src, dst = src.resolve(), dst.resolve()  # before the chdir, so relative paths keep their meaning
    with quantizer_workdir():
        quant_pre_process(str(src), str(dst))


def quantize_calibrated(src: Path, dst: Path, spec: InputSpec, *, fmt: QuantFormat = QuantFormat.QDQ,
                        calibration_batches: int = 8, seed: int = 1,
                        nodes_to_quantize: Sequence[str] | None = None) -> None:
    """Static INT8: per-channel QInt8 weights, QUInt8 activations, MinMax calibration on seeded random batches."""
    src, dst = src.resolve(), dst.resolve()
    with quantizer_workdir():
        quantize_static(str(src), str(dst), RandomReader(spec, calibration_batches, seed), quant_format=fmt,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_quantize=list(nodes_to_quantize) if nodes_to_quantize else None)


INT8_CONV_INTEGER = (1, 24, 1)
"""The first ONNX Runtime whose CPU ConvInteger runs int8 weights; the last for Python 3.10 is 1.23.2."""


def ort_version() -> tuple[int, ...]:
    """The installed ONNX Runtime's version as numbers (``1.23.2`` → ``(1, 23, 2)``)."""
    return tuple(int(part) for part in ort.__version__.split("+")[0].split(".")[:3] if part.isdigit())


def quantize_weights_only(src: Path, dst: Path) -> None:
    """Dynamic INT8 (ConvInteger / MatMulInteger with run-time activation ranges)."""
    src, dst = src.resolve(), dst.resolve()
    # QInt8 weights, the quantizer's default, where ONNX Runtime's CPU ConvInteger runs them (>= 1.24.1); before
    # that (Python 3.10's newest wheels are 1.23.2) it has no int8-weight kernel, so the zoo uses uint8 weights,
    # which every version runs. The zoo's run-once check still fails loudly on a model that cannot run.
    weights = QuantType.QInt8 if ort_version() >= INT8_CONV_INTEGER else QuantType.QUInt8
    with quantizer_workdir():
        quantize_dynamic(str(src), str(dst), weight_type=weights)


def run_once(path: Path, spec: InputSpec, *, threads: int = 1) -> list[np.ndarray[Any, Any]]:
    """Load `path` in ONNX Runtime (CPU) and run it on one seeded batch; raises whatever ORT raises."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {spec.name: np.random.default_rng(99).standard_normal(spec.shape).astype(np.float32)}
    outputs: list[np.ndarray[Any, Any]] = session.run(None, feed)
    return outputs


def load_only(path: Path) -> None:
    """Create an ONNX Runtime session for `path` without running it."""
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def first_node(model: onnx.ModelProto, op_type: str) -> onnx.NodeProto:
    node: onnx.NodeProto = next(node for node in model.graph.node if node.op_type == op_type)
    return node


def break_weight_scale(src: Path, dst: Path, *, factor: float = 8.0) -> str:
    """Copy a QDQ model with one Conv's weight scale multiplied by `factor`; returns that Conv's name."""
    model = onnx.load(str(src))
    inits = {init.name: init for init in model.graph.initializer}
    dq_by_output = {node.output[0]: node for node in model.graph.node if node.op_type == "DequantizeLinear"}
    weight_dqs = [
        (conv, dq_by_output[conv.input[1]]) for conv in model.graph.node
        if conv.op_type == "Conv" and conv.input[1] in dq_by_output and dq_by_output[conv.input[1]].input[0] in inits
    ]
    conv, dq = weight_dqs[len(weight_dqs) // 2]  # a layer in the middle, so the error propagates through the rest
    scale = inits[dq.input[1]]
    scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * np.float32(factor), scale.name))
    onnx.save(model, str(dst))
    name: str = conv.name
    return name


def strip_value_info(path: Path) -> None:
    model = onnx.load(str(path))
    del model.graph.value_info[:]
    onnx.save(model, str(path))


@dataclass(frozen=True)
class Zoo:
    """Every test model, built once per test session by `build_zoo`; each quantized one has been loaded and run once.

    conv_* share `conv_input` ("input", 1x3x32x32); tfm_* share `tfm_input` ("x", 1x32x64). Quantized variants:
    qdq and qoperator are static (calibrated, per-channel QInt8 weights, QUInt8 activations) after quant_pre_process;
    dynamic is quantize_dynamic (ConvInteger / MatMulInteger). conv_fake is the FP32 graph under an INT8 name;
    conv_half_fake is static QDQ of only `half_fake_node` (the stem Conv); conv_qdq_noprep is static QDQ of the raw
    FP32 model (BatchNormalization unfused, no value_info); conv_broken_scale is conv_qdq with the weight scale of
    `broken_scale_node` multiplied by 8. fails_at_run and hangs take `conv_input`: the first loads and raises on
    run, the second loads and loops 2**62 times.
    """

    directory: Path
    conv_input: InputSpec
    tfm_input: InputSpec
    half_fake_node: str
    broken_scale_node: str
    conv_fp32: Path
    conv_qdq: Path
    conv_qoperator: Path
    conv_dynamic: Path
    conv_fake: Path
    conv_half_fake: Path
    conv_qdq_noprep: Path
    conv_broken_scale: Path
    tfm_fp32: Path
    tfm_qdq: Path
    tfm_qoperator: Path
    tfm_dynamic: Path
    fails_at_run: Path
    hangs: Path


MODEL_FIELDS = tuple(field.name for field in fields(Zoo) if field.type == "Path" and field.name != "directory")


def build_zoo(directory: Path) -> Zoo:
    """Build every test model into `directory` (pre-processed intermediates go to `directory/prep`)."""
    (directory / "prep").mkdir(parents=True, exist_ok=True)
    conv, tfm = TEST_CONVNET.input, TEST_TRANSFORMER.input
    path = {name: directory / f"{name}.onnx" for name in MODEL_FIELDS}
    onnx.save(build_convnet(TEST_CONVNET), str(path["conv_fp32"]))
    onnx.save(build_transformer(TEST_TRANSFORMER), str(path["tfm_fp32"]))
    onnx.save(make_fake(onnx.load(str(path["conv_fp32"]))), str(path["conv_fake"]))
    onnx.save(build_fails_at_run(conv), str(path["fails_at_run"]))
    onnx.save(build_hangs(conv), str(path["hangs"]))
    for family, spec in (("conv", conv), ("tfm", tfm)):
        prepped = directory / "prep" / f"{family}.onnx"
        preprocess(path[f"{family}_fp32"], prepped)
        quantize_calibrated(prepped, path[f"{family}_qdq"], spec)
        quantize_calibrated(prepped, path[f"{family}_qoperator"], spec, fmt=QuantFormat.QOperator)
        quantize_weights_only(prepped, path[f"{family}_dynamic"])
    conv_prepped = directory / "prep" / "conv.onnx"
    half_fake_node = first_node(onnx.load(str(conv_prepped)), "Conv").name
    quantize_calibrated(conv_prepped, path["conv_half_fake"], conv, nodes_to_quantize=[half_fake_node])
    quantize_calibrated(path["conv_fp32"], path["conv_qdq_noprep"], conv)
    strip_value_info(path["conv_qdq_noprep"])  # quantize_static infers shapes itself and writes value_info back
    broken_scale_node = break_weight_scale(path["conv_qdq"], path["conv_broken_scale"])
    for name, model_path in path.items():
        if name in ("fails_at_run", "hangs"):
            load_only(model_path)
        else:
            run_once(model_path, conv if name.startswith("conv_") else tfm)
    return Zoo(directory=directory, conv_input=conv, tfm_input=tfm, half_fake_node=half_fake_node,
               broken_scale_node=broken_scale_node, **path)
