"""Quantization pitfalls as findings, and the ``is_quantized`` decision, from census and runtime facts.

Pure. Codes are stable (policies raise, lower or ignore them by code); severities are defaults.

File layer (``census_findings``):
    not-quantized             fail  no compute op runs quantized: an FP32 graph, whatever the file is called
    weight-only-4bit          fail  only 4-bit weight-only ops (MatMulNBits): float compute on 4-bit weights, not
                                    INT8 (info when the policy allows ``weight-only``, or beside INT8 compute)
    token-quantization        fail  some compute is quantized, but less than the policy's count/MAC share
    format-not-allowed        fail  the format is not in ``require.quantized.formats``
    invalid-scale             fail  a scale is zero, negative, NaN or infinite
    no-compute-ops            warn  no Conv/MatMul/Gemm/attention/RNN: nothing for INT8 to speed up
    weight-only-dq            warn  8-bit weights behind DequantizeLinear but float activations: runs in float
    dynamic-conv              warn  convolutions quantized dynamically (ConvInteger): ONNX Runtime's slow path
    s8-activations-qoperator  warn  QOperator with int8 activations, which ONNX Runtime warns is slow on x86-64
    opset-too-old             warn  opset below 11, which ONNX Runtime's quantizer says cannot fuse nodes
    not-preprocessed          warn  quantized without ``onnxruntime.quantization.preprocess``
    macs-unknown              warn  shapes missing, so only the count share could be checked
    u8s8-no-vnni              warn  u8 activations × s8 weights on a CPU known to lack VNNI (saturation)
    dims-assumed              info  dynamic input dims set to 1 to weight compute by MACs
Runtime layer (``runtime_findings``, over the graph ONNX Runtime wrote):
    float-compute-fed-by-dq   warn  compute still in float reading DequantizeLinear: groups left unfused
    qdq-unfused               warn  else: Q/DQ left around ops with no integer kernel (named by op type)
    float-islands             info  instead of both in a QOperator model: ops the format has no kernel for
Pairing (``pair_findings``):
    io-mismatch               fail  inputs/outputs differ from the FP32 source (names, dtypes, input ranks)
    fp16-reference            info  the "FP32" source is an FP16 model (float16 I/O or weights)
    same-file                 fail  the INT8 file is byte-identical to the FP32 file
    size-not-reduced          warn  the INT8 file is more than 60% of the FP32 file's size
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from int8gate.findings import Finding, Severity, percent
from int8gate.model.census import Census, OpCount, QuantFormat
from int8gate.model.optimized import AfterOptimization
from int8gate.policy.spec import OptLevel, QuantizedRequirement

OLDEST_FUSING_OPSET = 11
"""ONNX Runtime's quantizer: "opset 10 … does not support node fusions. Please update the model to opset >= 11"."""
SIZE_RATIO_WARN = 0.6
"""Above this INT8/FP32 file-size ratio the weights were probably not stored as 8-bit."""
_UNKNOWN_SHARE = "an unknown share"
WEIGHT_ONLY = QuantFormat.WEIGHT_ONLY.value


def is_quantized(census: Census, requirement: QuantizedRequirement) -> bool:
    """Whether the model counts as really quantized: allowed format, count share and MAC share met.

    When MACs are unknown the count share alone decides (``macs-unknown`` says so). 4-bit weight-only ops
    count as quantized only when the policy allows the ``weight-only`` format.
    """
    ops = census.compute_ops
    count, share = _shares(census, requirement)
    if ops.total == 0 or count == 0 or census.format.value not in requirement.formats:
        return False
    if count / ops.total < requirement.min_count_share:
        return False
    return share is None or share >= requirement.min_mac_share


def _shares(census: Census, requirement: QuantizedRequirement) -> tuple[int, float | None]:
    """Quantized compute ops, and their MAC share, as the policy counts them."""
    ops = census.compute_ops
    if WEIGHT_ONLY not in requirement.formats or not ops.weight_only_4bit:
        return ops.quantized, census.mac_share_quantized
    macs = None
    if census.macs_total and census.macs_quantized is not None and census.macs_weight_only_4bit is not None:
        macs = (census.macs_quantized + census.macs_weight_only_4bit) / census.macs_total
    return ops.quantized + ops.weight_only_4bit, macs


def census_findings(census: Census, requirement: QuantizedRequirement, *, vnni: bool | None) -> tuple[Finding, ...]:
    """File-layer findings; ``vnni=False`` (known to lack VNNI) enables the u8s8 saturation warning."""
    found = [*_coverage(census, requirement)]
    if census.invalid_scales:
        names = _first(census.invalid_scales)
        found.append(
            Finding(
                "invalid-scale",
                Severity.FAIL,
                "Quantization scales hold zero, negative, NaN or infinite values, which make outputs meaningless.",
                "Re-run calibration with representative, non-constant data and quantize again.",
                f"{len(census.invalid_scales)} bad scale tensor(s): {names}",
            )
        )
    found += _format_pitfalls(census)
    found += _shape_findings(census)
    if vnni is False and _has(census.activation_type, "uint8") and _has(census.weight_type, "int8"):
        found.append(
            Finding(
                "u8s8-no-vnni",
                Severity.WARN,
                "uint8 activations × int8 weights on a CPU without VNNI: ONNX Runtime's U8S8 kernels can "
                "saturate their 16-bit intermediates and lose accuracy.",
                "Quantize with reduce_range=True (7-bit weights), or set the session option "
                "session.x64quantprecision=1 (slower U8U8 kernels), or run on a VNNI CPU.",
                f"activations {census.activation_type}, weights {census.weight_type}, no VNNI on this CPU",
            )
        )
    return tuple(found)


def _coverage(census: Census, requirement: QuantizedRequirement) -> Iterable[Finding]:
    ops = census.compute_ops
    if ops.total == 0:
        yield Finding(
            "no-compute-ops",
            Severity.WARN,
            "The model has no compute ops (Conv, MatMul, Gemm, attention, LSTM/GRU), so INT8 has nothing to speed up.",
            "",
            f"{sum(item.count for item in census.op_histogram)} nodes, none of them compute",
        )
        return
    yield from _weight_only_4bit(census, requirement)
    if ops.quantized == 0 and ops.weight_only_4bit:
        return
    if ops.quantized == 0:
        yield Finding(
            "not-quantized",
            Severity.FAIL,
            "No compute op runs quantized: this is a float graph, whatever its file name says.",
            "Quantize the FP32 model (onnxruntime.quantization.quantize_static, QDQ format) and commit its output.",
            f"0 of {ops.total} compute ops quantized; {census.quantize_linear} QuantizeLinear, "
            f"{census.dequantize_linear} DequantizeLinear; "
            f"{percent(census.weight_bytes.quantized_share, _UNKNOWN_SHARE)} of weight bytes in 8/4-bit",
        )
        return
    count, mac_share = _shares(census, requirement)
    count_share = count / ops.total
    short_count = count_share < requirement.min_count_share
    short_macs = mac_share is not None and mac_share < requirement.min_mac_share
    if short_count or short_macs:
        yield Finding(
            "token-quantization",
            Severity.FAIL,
            f"Only a token share of the compute runs quantized: {count_share:.0%} of compute ops and "
            f"{percent(mac_share, _UNKNOWN_SHARE)} of MACs.",
            "Quantize every Conv/MatMul/Gemm (drop nodes_to_quantize or op_types_to_quantize limits), or lower "
            "require.quantized if partial quantization is intended.",
            f"{count} of {ops.total} compute ops quantized ({_by_op_quantized(census)}); the policy needs "
            f"≥ {requirement.min_count_share:.0%} of ops and ≥ {requirement.min_mac_share:.0%} of MACs",
        )
    if census.format.value not in requirement.formats:
        yield Finding(
            "format-not-allowed",
            Severity.FAIL,
            f"The quantization format {census.format.value} is not one the policy allows.",
            "Re-quantize in an allowed format, or add this one to require.quantized.formats.",
            f"allowed: {', '.join(requirement.formats) or 'none'}",
        )


def _weight_only_4bit(census: Census, requirement: QuantizedRequirement) -> Iterable[Finding]:
    ops = census.compute_ops
    if not ops.weight_only_4bit:
        return
    allowed = WEIGHT_ONLY in requirement.formats
    alone = ops.quantized == 0
    evidence = f"{ops.weight_only_4bit} of {ops.total} compute ops 4-bit weight-only; weights {census.weight_type}"
    if alone and not allowed:
        yield Finding(
            "weight-only-4bit",
            Severity.FAIL,
            "The model is 4-bit weight-only (MatMulNBits): its weights are stored in 4 bits but it computes in "
            "float, so it is not the INT8 model this gate checks.",
            "To gate 4-bit weight-only models, add weight-only to require.quantized.formats; for INT8 compute, "
            "quantize with quantize_dynamic or quantize_static.",
            evidence,
        )
        return
    counted = "counted as quantized, as the policy allows" if allowed else "not counted as INT8 compute"
    yield Finding(
        "weight-only-4bit",
        Severity.INFO,
        f"{ops.weight_only_4bit} compute op(s) are 4-bit weight-only (MatMulNBits or 4-bit DequantizeLinear "
        f"weights), {counted}.",
        "",
        evidence,
    )


def _format_pitfalls(census: Census) -> Iterable[Finding]:
    ops = census.compute_ops
    if ops.weight_only:
        yield Finding(
            "weight-only-dq",
            Severity.WARN,
            f"{ops.weight_only} compute op(s) read 8-bit weights through DequantizeLinear but float activations, "
            "so ONNX Runtime runs them in float.",
            "Quantize the activations too (quantize_static), or use 4-bit block quantization (MatMulNBits) if "
            "weight-only quantization is the intent.",
            f"{ops.weight_only} of {ops.total} compute ops weight-only",
        )
    if census.dynamic_conv_ops:
        yield Finding(
            "dynamic-conv",
            Severity.WARN,
            f"{census.dynamic_conv_ops} convolution(s) are quantized dynamically (ConvInteger fed by "
            "DynamicQuantizeLinear), ONNX Runtime's slow path for convolutions.",
            "Quantize convolutional models statically (quantize_static with calibration data), in QDQ format.",
            f"{census.dynamic_conv_ops} ConvInteger, {census.dynamic_quantize_linear} DynamicQuantizeLinear",
        )
    qoperator = any(item.format is QuantFormat.QOPERATOR for item in census.format_counts)
    if qoperator and _has(census.activation_type, "int8"):
        yield Finding(
            "s8-activations-qoperator",
            Severity.WARN,
            "QOperator model with int8 (s8) activations, a combination ONNX Runtime's quantizer warns runs badly "
            "on x86-64.",
            "Re-quantize with QuantFormat.QDQ, or with activation_type=QuantType.QUInt8 if QOperator is required.",
            f"activations {census.activation_type}, weights {census.weight_type}",
        )
    if census.compute_ops.quantized and 0 < census.opset < OLDEST_FUSING_OPSET:
        yield Finding(
            "opset-too-old",
            Severity.WARN,
            f"Opset {census.opset} is older than {OLDEST_FUSING_OPSET}, which ONNX Runtime's quantizer needs for "
            "node fusions.",
            "Convert the FP32 model to opset 13 or later (onnx.version_converter, or re-export) and quantize again.",
            f"default-domain opset {census.opset}",
        )
    if census.compute_ops.quantized and (
        census.preprocessed is False or (census.preprocessed is None and census.foldable)
    ):
        mark = "no onnx.quant.pre_process mark" if census.preprocessed is False else "unknown quantizer"
        folds = _ops(census.foldable)
        yield Finding(
            "not-preprocessed",
            Severity.WARN,
            "The model was quantized without ONNX Runtime's pre-processing (shape inference and graph "
            "optimization before quantization).",
            "Run python -m onnxruntime.quantization.preprocess --input fp32.onnx --output prep.onnx, then quantize "
            "prep.onnx.",
            f"{mark}" + (f"; left for pre-processing to fold: {folds}" if folds else ""),
        )


def _shape_findings(census: Census) -> Iterable[Finding]:
    ops = census.compute_ops
    if ops.total and census.mac_share_quantized is None:
        reason = census.macs_unknown_reason or "unknown"
        yield Finding(
            "macs-unknown",
            Severity.WARN,
            f"MACs are unknown for {ops.macs_unknown} of {ops.total} compute ops, so only the count share of "
            "quantized compute was checked.",
            _macs_fix(reason),
            f"{reason}; shapes from {census.shapes_from}",
        )
    elif census.assumed_dims:
        dims = ", ".join(f"{d.input}[{d.axis}]={d.symbol}→{d.value}" for d in census.assumed_dims[:6])
        yield Finding(
            "dims-assumed",
            Severity.INFO,
            "Dynamic input dimensions were set to 1 to weight compute by MACs.",
            "Give the real shapes (--input, or inputs: in the policy) to weight MACs at the sizes you run.",
            dims + (" …" if len(census.assumed_dims) > 6 else ""),
        )


def _macs_fix(reason: str) -> str:
    """What to do about unknown MACs, by the reason the census found."""
    if reason.startswith(("ONNX Runtime could not run", "the shape-recording run")):
        return ("Give every input's real shape and dtype (inputs: in the policy, or --input), or samples:, so "
                "ONNX Runtime can run the model once and record its shapes.")
    if "If/Loop/Scan" in reason:
        return ("Nothing is wrong with the model: those shapes exist only while a branch or loop runs. Fix the "
                "inputs that choose the branch (inputs: or samples:) if a different branch is the one you ship.")
    return ("Run int8gate where the checks can create ONNX Runtime sessions (inspect and check do), or give fixed "
            "input shapes (inputs: in the policy, or --input).")


def runtime_findings(after: AfterOptimization, fmt: QuantFormat | None = None) -> tuple[Finding, ...]:
    """Findings about the graph ONNX Runtime wrote: one for what it left in float between Q/DQ nodes.

    In a QDQ model that is unfused quantized groups (stray Q/DQ in the same finding) or else stray Q/DQ;
    in a QOperator model, ``float-islands``: ops the format has no integer kernel for.
    """
    found: list[Finding] = []
    low_level = after.opt_level in (OptLevel.DISABLE, OptLevel.BASIC)
    level_fix = f"Use optimization level extended or all ({after.opt_level.value} does no QDQ fusion). "
    if fmt is QuantFormat.QOPERATOR and (after.float_compute_fed_by_dq or after.unfused_qdq):
        types = [*after.unfused_op_types, *(item.op for item in after.qdq_neighbors)]
        found.append(
            Finding(
                "float-islands",
                Severity.INFO,
                f"Some ops of this QOperator graph run in float between DequantizeLinear and QuantizeLinear "
                f"({', '.join(dict.fromkeys(types))}): the format has no integer kernel for them.",
                "",
                f"{after.float_compute_fed_by_dq} float compute op(s), {after.unfused_qdq} Q/DQ node(s) around "
                f"float ops; level {after.opt_level.value}",
            )
        )
        return tuple(found)
    if after.float_compute_fed_by_dq:
        found.append(
            Finding(
                "float-compute-fed-by-dq",
                Severity.WARN,
                f"{after.float_compute_fed_by_dq} compute op(s) still run in float after ONNX Runtime's "
                "optimization, reading DequantizeLinear outputs: quantized groups it could not fuse.",
                (level_fix if low_level else "")
                + "For fusion every input of the op needs a DequantizeLinear and its output a QuantizeLinear, "
                "with uint8/int8 types.",
                f"{_ops(after.float_compute_fed_by_dq_by_op)}; {after.integer_kernels} integer kernel(s); "
                f"{after.unfused_qdq} Q/DQ node(s) next to float ops; level {after.opt_level.value}",
            )
        )
    elif after.unfused_qdq:
        found.append(
            Finding(
                "qdq-unfused",
                Severity.WARN,
                f"{after.unfused_qdq} QuantizeLinear/DequantizeLinear node(s) remain around ops ONNX Runtime runs "
                f"in float ({_ops(after.qdq_neighbors)}), converting tensors on every run.",
                (level_fix if low_level else "")
                + "Leave those op types out of quantization (op_types_to_quantize or nodes_to_exclude).",
                f"{after.quantize_linear} QuantizeLinear, {after.dequantize_linear} DequantizeLinear left; "
                f"level {after.opt_level.value}",
            )
        )
    return tuple(found)


def pair_findings(
    mismatches: Sequence[str], *, same_file: bool, size_ratio: float | None, fp16_reference: str | None = None
) -> tuple[Finding, ...]:
    """Findings about an FP32/INT8 pair; ``size_ratio`` is against the FP32 file's float32-equivalent size."""
    found: list[Finding] = []
    if same_file:
        found.append(
            Finding(
                "same-file",
                Severity.FAIL,
                "The INT8 file is byte-identical to its FP32 source.",
                "Commit the quantizer's output, not a copy of the FP32 model.",
                "same SHA-256",
            )
        )
    if mismatches:
        found.append(
            Finding(
                "io-mismatch",
                Severity.FAIL,
                "The INT8 model's inputs or outputs differ from its FP32 source, so they cannot run on the same data.",
                "Quantize the FP32 model the policy names, without renaming or retyping its inputs and outputs.",
                "; ".join(mismatches[:5]) + (" …" if len(mismatches) > 5 else ""),
            )
        )
    if fp16_reference is not None:
        found.append(
            Finding(
                "fp16-reference",
                Severity.INFO,
                "The reference model is FP16, not FP32: the speedup and the output agreement are measured "
                "against FP16 compute, and inputs are cast to each model's own float type.",
                "Name the FP32 export as the reference if you have it, to judge INT8 against what it replaces.",
                fp16_reference,
            )
        )
    if size_ratio is not None and size_ratio > SIZE_RATIO_WARN and not same_file:
        source = ("of what its FP16 source would weigh in float32" if fp16_reference is not None
                  else "the size of its FP32 source")
        found.append(
            Finding(
                "size-not-reduced",
                Severity.WARN,
                f"The INT8 model is {size_ratio:.0%} {source}; 8-bit weights make it about a quarter.",
                "Check that the weights were quantized and that no float copy of them was left in the file.",
                f"size ratio {size_ratio:.2f}",
            )
        )
    return tuple(found)


def _has(types: str | None, name: str) -> bool:
    return types is not None and name in types.split("+")


def _ops(counts: Sequence[OpCount]) -> str:
    return ", ".join(f"{item.op}×{item.count}" for item in counts[:8]) + (" …" if len(counts) > 8 else "")


def _by_op_quantized(census: Census) -> str:
    return ", ".join(f"{s.op} {s.quantized}/{s.total}" for s in census.compute_ops.by_op)


def _first(names: Sequence[str]) -> str:
    return ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
