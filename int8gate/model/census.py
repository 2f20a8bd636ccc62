"""The file layer of the quantization census: what an ``onnx.ModelProto`` contains and how much compute it quantizes.

Pure: an in-memory model in, a frozen ``Census`` out; no file I/O, no ONNX Runtime. Tensor data is never
needed beyond small scale tensors, so a model loaded without its external data works the same.

How a model is read:
- Model-local functions are inlined at their call sites (a function called twice counts twice; an
  unused one not at all); If/Loop/Scan bodies are walked (a loop body counts one iteration).
- Shapes come from ONNX shape inference after fixing the inputs: shapes the caller gives first, then
  every remaining dynamic input dimension set to 1 (listed in ``assumed_dims``). MAC shares are
  therefore exact for the shapes given and a batch-1 estimate otherwise. Where inference stops (a
  shape computed from data, an op it does not know), ``values_to_record`` names the values whose
  shapes would settle the MACs; one ONNX Runtime run records them (``runtime.shapes``) and
  ``take_census(recorded=...)`` seeds inference with them. ``shapes_from`` says which way the shapes
  were found; ``macs_unknown_reason`` why some MACs are still unknown.
- A compute op (see ``ops``) runs quantized when it is an integer kernel (QLinearConv, ConvInteger,
  MatMulIntegerToFloat, …) or, in QDQ form, when its activation and weights all come straight from
  ``DequantizeLinear``. Weights behind DequantizeLinear with float activations are "weight-only": 8-bit
  ones in ``compute_ops.weight_only`` (ONNX Runtime runs them in float), 4-bit ones and MatMulNBits in
  ``compute_ops.weight_only_4bit`` (4-bit weights, float activations). Neither is INT8 compute;
  ``pitfalls.is_quantized`` counts 4-bit weight-only ops only when the policy allows ``weight-only``.
- Format: ``qdq`` (DQ-fed compute), ``qoperator`` (QLinear*/QGemm/QAttention, or integer kernels fed by
  a static QuantizeLinear), ``dynamic`` (DynamicQuantizeLinear-fed integer kernels,
  DynamicQuantizeMatMul/LSTM), ``mixed`` (more than one of those), ``weight-only`` (no INT8 compute,
  only 4-bit weight-only ops), ``float`` (neither, even if stray Q/DQ nodes exist).
The findings drawn from a census (codes and severities) live in ``pitfalls``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import onnx
from onnx import NodeProto, TensorProto

from int8gate.model.graph import (
    GraphIndex,
    count_ops,
    index_graph,
    model_tensors,
    subgraphs,
    walk_graphs,
    walk_nodes,
)
from int8gate.model.macs import node_macs
from int8gate.model.ops import WEIGHT_ONLY_OPS, ComputeSpec, compute_spec
from int8gate.model.outputs import output_kinds
from int8gate.model.quantfacts import (
    ScaleGranularity,
    WeightBytes,
    activation_types,
    input_ranges,
    invalid_scales,
    weight_bytes,
    weight_facts,
)
from int8gate.model.shapeinfer import infer
from int8gate.model.values import AssumedDim, InputRange, RecordedShapes


class QuantFormat(str, Enum):
    """How a model expresses quantization (ONNX Runtime's two static formats, dynamic, or a mix)."""

    QDQ = "qdq"
    QOPERATOR = "qoperator"
    DYNAMIC = "dynamic"
    MIXED = "mixed"
    WEIGHT_ONLY = "weight-only"
    FLOAT = "float"


@dataclass(frozen=True)
class OpCount:
    """How many nodes of one op type (``domain`` is empty for the default ONNX domain)."""

    op: str
    count: int
    domain: str = ""


@dataclass(frozen=True)
class ComputeOpStats:
    """One compute op type: how many, how many run quantized, and their MACs (``None`` if unknown)."""

    op: str
    total: int
    quantized: int
    macs: int | None


@dataclass(frozen=True)
class ComputeOps:
    """Compute ops by count: all, the quantized ones, and weight-only ones (8-bit; 4-bit), which are not INT8."""

    total: int
    quantized: int
    weight_only: int
    macs_unknown: int
    by_op: tuple[ComputeOpStats, ...]
    weight_only_4bit: int = 0


@dataclass(frozen=True)
class FormatCount:
    """How many quantized compute ops use one format (explains a ``mixed`` model)."""

    format: QuantFormat
    count: int


@dataclass(frozen=True)
class Census:
    """Everything the file says about quantization; ``pitfalls`` turns it into findings."""

    format: QuantFormat
    format_counts: tuple[FormatCount, ...]
    compute_ops: ComputeOps
    count_share_quantized: float | None
    mac_share_quantized: float | None
    macs_total: int | None
    macs_quantized: int | None
    macs_weight_only_4bit: int | None
    weight_bytes: WeightBytes
    activation_type: str | None
    weight_type: str | None
    per_channel: bool | None
    weight_scales: ScaleGranularity
    opset: int
    op_histogram: tuple[OpCount, ...]
    quantize_linear: int
    dequantize_linear: int
    dynamic_quantize_linear: int
    dynamic_conv_ops: int
    subgraphs: int
    functions: int
    assumed_dims: tuple[AssumedDim, ...]
    shape_inference_error: str | None
    shapes_from: str
    macs_unknown_reason: str | None
    preprocessed: bool | None
    foldable: tuple[OpCount, ...]
    invalid_scales: tuple[str, ...]
    producer: str
    input_ranges: tuple[InputRange, ...]
    output_kinds: tuple[tuple[str, str], ...]


SHAPES_ONNX = "onnx shape inference"
SHAPES_ONNX_AND_RUN = "onnx shape inference and one ONNX Runtime run"


def take_census(
    model: onnx.ModelProto,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    source: str = "model",
    recorded: RecordedShapes | None = None,
) -> Census:
    """The census of ``model``; ``input_shapes`` fixes input dims for MACs; ``source`` names it in errors.

    ``recorded``: the shapes one ONNX Runtime run produced for ``values_to_record``'s values.
    """
    inferred = infer(model, input_shapes or {}, source=source, recorded=recorded)
    index = index_graph(inferred.model.graph, shapes_from=inferred.shapes, untyped=inferred.stand_in_outputs)
    compute = _classify(index)
    facts = weight_facts(index, compute.quantized_nodes + compute.weight_only_4bit_nodes)
    counts = Counter(compute.formats.values())
    macs_total, macs_quantized = _mac_totals(compute)
    ops = compute.summary()
    return Census(
        format=_overall_format(counts, weight_only_4bit=ops.weight_only_4bit),
        format_counts=tuple(FormatCount(fmt, n) for fmt, n in sorted(counts.items(), key=lambda i: i[0].value)),
        compute_ops=ops,
        count_share_quantized=ops.quantized / ops.total if ops.total else None,
        mac_share_quantized=(macs_quantized / macs_total if macs_total and macs_quantized is not None else None),
        macs_total=macs_total,
        macs_quantized=macs_quantized,
        macs_weight_only_4bit=_sum_known(compute.macs[i] for i in compute.weight_only_4bit) if macs_total else None,
        weight_bytes=weight_bytes(tensor for _, tensor in model_tensors(model)),
        activation_type=_joined(activation_types(index)),
        weight_type=_joined(facts.weight_types),
        per_channel=facts.per_channel,
        weight_scales=facts.granularity,
        opset=_default_opset(model),
        op_histogram=_histogram(index.nodes),
        quantize_linear=count_ops(index.nodes, "QuantizeLinear"),
        dequantize_linear=count_ops(index.nodes, "DequantizeLinear"),
        dynamic_quantize_linear=count_ops(index.nodes, "DynamicQuantizeLinear"),
        dynamic_conv_ops=sum(
            1
            for i, fmt in compute.formats.items()
            if fmt is QuantFormat.DYNAMIC and compute.nodes[i].op_type == "ConvInteger"
        ),
        subgraphs=sum(1 for node in walk_nodes(model.graph) for _ in subgraphs(node)),
        functions=len(model.functions),
        assumed_dims=inferred.assumed_dims,
        shape_inference_error=inferred.error,
        shapes_from=SHAPES_ONNX_AND_RUN if recorded is not None and recorded.shapes else SHAPES_ONNX,
        macs_unknown_reason=_unknown_reason(compute, index, inferred.model.graph, recorded, inferred.error),
        preprocessed=_preprocessed(model),
        foldable=_foldable(index),
        invalid_scales=invalid_scales(index),
        producer=" ".join(part for part in (model.producer_name, model.producer_version) if part),
        input_ranges=input_ranges(index),
        output_kinds=tuple(output_kinds(model).items()),
    )


def values_to_record(
    model: onnx.ModelProto, *, input_shapes: Mapping[str, tuple[int, ...]] | None = None
) -> tuple[str, ...]:
    """The values whose shapes would settle the MACs ONNX shape inference leaves unknown (none: all known).

    For a top-level compute op, its non-constant inputs and its outputs; for one inside an If/Loop/Scan
    body, the values its top-level owner reads (inputs and outer-scope names), which let inference
    reach into the body. Only values a top-level node of the file produces (or a graph input) are
    named: those are the ones ONNX Runtime can hand back.
    """
    inferred = infer(model, input_shapes or {}, source="model")
    index = index_graph(inferred.model.graph, shapes_from=inferred.shapes, untyped=inferred.stand_in_outputs)
    top_level = {name for node in model.graph.node for name in node.output if name}
    owner = _owners(inferred.model.graph)
    wanted: list[str] = []
    for node in index.nodes:
        if compute_spec(node) is None or node_macs(node, index.shape) is not None:
            continue
        top = owner.get(id(node), node)
        names = [*top.input, *top.output] if top is node else [*top.input, *_outer_names(top)]
        wanted.extend(name for name in names if name and not index.is_constant(name))
    return tuple(name for name in dict.fromkeys(wanted) if name in top_level)


def _owners(graph: onnx.GraphProto) -> dict[int, NodeProto]:
    """For every node inside a subgraph, the top-level node that holds it (by ``id``)."""
    owners: dict[int, NodeProto] = {}
    for top in graph.node:
        for sub in subgraphs(top):
            for node in walk_nodes(sub):
                owners[id(node)] = top
    return owners


def _outer_names(top: NodeProto) -> list[str]:
    """Names the subgraphs of ``top`` read without defining them (outer-scope values)."""
    names: list[str] = []
    for sub in subgraphs(top):
        defined = {value.name for graph in walk_graphs(sub) for value in graph.input}
        defined |= {tensor.name for graph in walk_graphs(sub) for tensor in graph.initializer}
        defined |= {name for node in walk_nodes(sub) for name in node.output}
        names.extend(name for node in walk_nodes(sub) for name in node.input if name and name not in defined)
    return names


def _unknown_reason(
    compute: _Classified,
    index: GraphIndex,
    graph: onnx.GraphProto,
    recorded: RecordedShapes | None,
    inference_error: str | None,
) -> str | None:
    """Why some compute ops' MACs are unknown, in words that point at the fix (``None``: all known)."""
    unknown = [node for node, macs in zip(compute.nodes, compute.macs, strict=True) if macs is None]
    if not unknown:
        return None
    if recorded is not None and recorded.error:
        return recorded.error
    top = {id(node) for node in graph.node}
    nested = sum(1 for node in unknown if id(node) not in top)
    ops = ", ".join(sorted({node.op_type for node in unknown}))
    if recorded is None:
        cause = f"ONNX shape inference failed: {inference_error}" if inference_error else (
            "ONNX shape inference could not follow their shapes")
        return f"{cause} ({len(unknown)} × {ops}); no ONNX Runtime run was made to record them"
    if nested == len(unknown):
        return (f"{nested} {ops} inside If/Loop/Scan bodies whose shapes neither inference nor the recorded "
                "run reached (a branch that did not run, or a loop-carried shape)")
    return f"{len(unknown)} {ops}: ONNX Runtime's run did not record shapes for them"


@dataclass(frozen=True)
class _Classified:
    """Every compute node with its MACs, and the format of the quantized ones."""

    nodes: tuple[NodeProto, ...]
    macs: tuple[int | None, ...]
    formats: Mapping[int, QuantFormat]  # position in ``nodes`` → format, quantized nodes only
    weight_only: frozenset[int]
    weight_only_4bit: frozenset[int]

    @property
    def quantized_nodes(self) -> tuple[NodeProto, ...]:
        return tuple(self.nodes[i] for i in sorted(self.formats))

    @property
    def weight_only_4bit_nodes(self) -> tuple[NodeProto, ...]:
        return tuple(self.nodes[i] for i in sorted(self.weight_only_4bit))

    def summary(self) -> ComputeOps:
        by_op: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            by_op.setdefault(node.op_type, []).append(i)
        stats = tuple(
            ComputeOpStats(
                op=op,
                total=len(members),
                quantized=sum(1 for i in members if i in self.formats),
                macs=_sum_known(self.macs[i] for i in members),
            )
            for op, members in sorted(by_op.items())
        )
        return ComputeOps(
            total=len(self.nodes),
            quantized=len(self.formats),
            weight_only=len(self.weight_only),
            macs_unknown=sum(1 for m in self.macs if m is None),
            by_op=stats,
            weight_only_4bit=len(self.weight_only_4bit),
        )


def _classify(index: GraphIndex) -> _Classified:
    nodes: list[NodeProto] = []
    macs: list[int | None] = []
    formats: dict[int, QuantFormat] = {}
    weight_only: set[int] = set()
    weight_only_4bit: set[int] = set()
    for node in index.nodes:
        spec = compute_spec(node)
        if spec is None:
            continue
        position = len(nodes)
        nodes.append(node)
        macs.append(node_macs(node, index.shape))
        if spec.quantized:
            formats[position] = _kernel_format(node, index)
            continue
        fed = "weights-4bit" if node.op_type in WEIGHT_ONLY_OPS else _dq_fed(node, spec, index)
        if fed == "all":
            formats[position] = QuantFormat.QDQ
        elif fed == "weights-4bit":
            weight_only_4bit.add(position)
        elif fed == "weights":
            weight_only.add(position)
    return _Classified(tuple(nodes), tuple(macs), formats, frozenset(weight_only), frozenset(weight_only_4bit))


def _dq_fed(node: NodeProto, spec: ComputeSpec, index: GraphIndex) -> str:
    """``all`` (activation and weights from DQ), ``weights``/``weights-4bit`` (weights only), or ``none``."""
    slots = [slot for slot in spec.weights if slot < len(node.input) and node.input[slot]]
    dq_weights = [index.produced_by(node.input[slot], "DequantizeLinear") for slot in slots]
    if not slots or any(dq is None for dq in dq_weights):
        return "none"
    if index.produced_by(node.input[spec.activation], "DequantizeLinear") is not None:  # slot 0 < a weight slot
        return "all"
    four_bit = (TensorProto.INT4, TensorProto.UINT4)
    if all(dq is not None and dq.input and index.elem_types.get(dq.input[0]) in four_bit for dq in dq_weights):
        return "weights-4bit"
    return "weights"


_ALWAYS_DYNAMIC = frozenset({"DynamicQuantizeMatMul", "DynamicQuantizeLSTM"})
_DYNAMIC_OR_STATIC = frozenset({"ConvInteger", "MatMulInteger", "MatMulIntegerToFloat", "MatMulInteger16"})


def _kernel_format(node: NodeProto, index: GraphIndex) -> QuantFormat:
    if node.op_type in _ALWAYS_DYNAMIC:
        return QuantFormat.DYNAMIC
    fed = node.input and index.produced_by(node.input[0], "DynamicQuantizeLinear")
    if node.op_type in _DYNAMIC_OR_STATIC and fed:
        return QuantFormat.DYNAMIC
    return QuantFormat.QOPERATOR


def _overall_format(counts: Mapping[QuantFormat, int], *, weight_only_4bit: int) -> QuantFormat:
    present = [fmt for fmt, n in counts.items() if n]
    if not present:
        return QuantFormat.WEIGHT_ONLY if weight_only_4bit else QuantFormat.FLOAT
    return present[0] if len(present) == 1 else QuantFormat.MIXED


def _mac_totals(compute: _Classified) -> tuple[int | None, int | None]:
    total = _sum_known(compute.macs)
    quantized = _sum_known(compute.macs[i] for i in compute.formats)
    return total, (quantized if total is not None else None)


def _sum_known(values: Iterable[int | None]) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _joined(names: Iterable[str]) -> str | None:
    unique = sorted(set(names))
    return "+".join(unique) if unique else None


def _default_opset(model: onnx.ModelProto) -> int:
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return max(versions) if versions else 0


def _histogram(nodes: Iterable[NodeProto]) -> tuple[OpCount, ...]:
    counts = Counter((node.op_type, "" if node.domain == "ai.onnx" else node.domain) for node in nodes)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    return tuple(OpCount(op=op, count=n, domain=domain) for (op, domain), n in ordered)


_PREPROCESS_MARK = "onnx.quant.pre_process"  # written by onnxruntime.quantization.preprocess, kept by quantizers
_ORT_QUANTIZER_MARK = ("onnx.infer", "onnxruntime.quant")


def _preprocessed(model: onnx.ModelProto) -> bool | None:
    """True with the pre-processing mark; False for ONNX Runtime's quantizer output without it; else unknown."""
    props = {prop.key: prop.value for prop in model.metadata_props}
    if _PREPROCESS_MARK in props:
        return True
    key, value = _ORT_QUANTIZER_MARK
    if props.get(key) == value or model.producer_name == "onnx.quantize":
        return False
    return None


_FOLDS_INTO = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
_PASS_THROUGH = frozenset({"QuantizeLinear", "DequantizeLinear"})


def _foldable(index: GraphIndex) -> tuple[OpCount, ...]:
    """Nodes pre-processing (ONNX Runtime's basic optimizations) would have removed or folded."""
    found: Counter[str] = Counter()
    for node in index.nodes:
        if node.op_type in ("Identity", "Dropout") and node.domain in ("", "ai.onnx"):
            found[node.op_type] += 1
        elif node.op_type == "BatchNormalization" and node.input:
            source = index.producer.get(node.input[0])
            while source is not None and source.op_type in _PASS_THROUGH and source.input:
                source = index.producer.get(source.input[0])
            if source is not None and source.op_type in _FOLDS_INTO:
                found[f"BatchNormalization after {source.op_type}"] += 1
    return tuple(OpCount(op=op, count=n) for op, n in sorted(found.items()))
