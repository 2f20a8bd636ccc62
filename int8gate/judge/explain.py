"""Explain why INT8 is (or is not) faster here: ordered findings from runner, census and measurement facts.

Pure. The caller fills an ``Evidence`` (plain facts, no foreign types) from the runner profile, the
model census with its post-optimization layer, one benchmark row and the fidelity check; ``explain``
returns ``Finding``s with the most important cause first. The order is a fixed rank of causes:

    not-quantized | token-quantization > partial-quantization > threads-over-quota > dynamic-conv
    > float-compute-fed-by-dq | qdq-unfused | float-islands > s8-activations-qoperator > model-too-small
    > no-vnni > expected-range-{above,inside,below}

What ONNX Runtime left in float between Q/DQ nodes is one finding, worded for the format: in a
QDQ model, float compute fed by DequantizeLinear (unfused groups, with any stray Q/DQ in its
evidence), else Q/DQ around ops with no integer kernel; in a QOperator model, float islands.

so a reviewer reads the cause before the symptom ("below the expected range"). When nothing is
wrong, the expected-range finding (this machine's class, its range, and where the result sits) is
the only one and so comes first. Codes shared with the census (``pitfalls``) name the same cause:
the caller keeps the first finding per code, and this one carries the runtime context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from int8gate.findings import Finding, Severity, percent
from int8gate.machine.expected import SMALL_MODEL_FP32_MS, SMALL_MODEL_MACS, expected_range, is_small_model
from int8gate.machine.facts import CpuFlags, ExpectedRange, RunnerClass

PARTIAL_MAC_SHARE = 0.8
"""Below this share of MACs running quantized, the float remainder explains a missing speedup."""

_X86_NO_VNNI = (RunnerClass.X86_NO_VNNI, RunnerClass.UNKNOWN)


class Position(str, Enum):
    """Where a measured speedup sits against the expected range (by its interval when it has one)."""

    ABOVE = "above"
    INSIDE = "inside"
    BELOW = "below"


@dataclass(frozen=True)
class Evidence:
    """The plain facts explanation needs for one model at one thread setting (``None``: unknown).

    Runner: ``runner_class``, ``flags``, ``hypervisor``, ``logical_cpus`` (host), ``effective_cpus``
    (min of affinity and ceil(quota)), ``cpu_quota``; ``intra_op_threads`` is what the row used
    (``None``: unknown); ``default_thread_pool`` says it was ONNX Runtime's default (host-sized) pool.
    Census: ``format`` (qdq|qoperator|dynamic|mixed|float), ``is_quantized``,
    ``mac_share_quantized``, ``macs_total``, ``activation_type``/``weight_type`` (``uint8``|``int8``),
    ``dynamic_conv_ops`` (ConvInteger or dynamically quantized Conv nodes).
    After ORT optimization: ``integer_kernels``, ``float_compute``, ``float_compute_fed_by_dq``,
    ``quantize_linear``, ``dequantize_linear`` counts and ``unfused_op_types`` (op types of float
    compute still fed by DequantizeLinear), ``unfused_qdq`` (Q/DQ nodes left next to float ops) and
    ``qdq_neighbor_op_types`` (those ops' types).
    Measurement: ``speedup``/``ci_low``/``ci_high`` (FP32 time / INT8 time), medians in ms,
    ``qdq_time_share`` (share of INT8 time in Quantize/DequantizeLinear, from profiling).
    Fidelity: ``fidelity_ok`` and a short ``fidelity_metric`` ("cosine 0.93 < 0.99").
    """

    runner_class: RunnerClass
    flags: CpuFlags = field(default_factory=CpuFlags)
    hypervisor: bool = False
    logical_cpus: int | None = None
    effective_cpus: int | None = None
    cpu_quota: float | None = None
    intra_op_threads: int | None = None
    default_thread_pool: bool = False
    format: str | None = None
    is_quantized: bool | None = None
    mac_share_quantized: float | None = None
    macs_total: int | None = None
    activation_type: str | None = None
    weight_type: str | None = None
    dynamic_conv_ops: int = 0
    integer_kernels: int | None = None
    float_compute: int | None = None
    float_compute_fed_by_dq: int | None = None
    quantize_linear: int | None = None
    dequantize_linear: int | None = None
    unfused_op_types: tuple[str, ...] = ()
    unfused_qdq: int = 0
    qdq_neighbor_op_types: tuple[str, ...] = ()
    speedup: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    fp32_median_ms: float | None = None
    int8_median_ms: float | None = None
    qdq_time_share: float | None = None
    fidelity_ok: bool | None = None
    fidelity_metric: str = ""


def locate(rng: ExpectedRange, estimate: float, ci_low: float | None, ci_high: float | None) -> Position:
    """Above when the whole interval is above the range, below when wholly below, else inside."""
    low = ci_low if ci_low is not None else estimate
    high = ci_high if ci_high is not None else estimate
    if low > rng.high:
        return Position.ABOVE
    if high < rng.low:
        return Position.BELOW
    return Position.INSIDE


def _x(value: float) -> str:
    return f"{value:.2f}×"


def _measured(ev: Evidence) -> str:
    if ev.speedup is None:
        return "not measured"
    if ev.ci_low is not None and ev.ci_high is not None:
        return f"{_x(ev.speedup)} [{_x(ev.ci_low)}, {_x(ev.ci_high)}]"
    return _x(ev.speedup)


def _slow(ev: Evidence, rng: ExpectedRange) -> bool:
    """True when the result is below the expected range, or was not measured."""
    if ev.speedup is None:
        return True
    return locate(rng, ev.speedup, ev.ci_low, ev.ci_high) is Position.BELOW


def _fake(ev: Evidence) -> Finding | None:
    if ev.is_quantized is not False:
        return None
    share = ev.mac_share_quantized
    if share:
        return Finding(
            "token-quantization", Severity.FAIL,
            f"Only {share:.0%} of the multiply-accumulates run in INT8: the model is INT8 in name, "
            "and the float remainder sets its speed.",
            "Quantize every Conv/MatMul/Gemm (drop nodes_to_quantize or op_types_to_quantize limits).",
            f"format {ev.format}; quantized MAC share {share:.1%}",
        )
    return Finding(
        "not-quantized", Severity.FAIL,
        "The INT8 model does no integer compute: it is a floating-point graph saved under an INT8 "
        "name, so any speed difference is noise.",
        "Quantize the FP32 model with onnxruntime.quantization (quantize_static for CNNs, "
        "quantize_dynamic for transformers) and commit that output.",
        f"format {ev.format or 'float'}; quantized MAC share {percent(share)}",
    )


def _partial(ev: Evidence) -> Finding | None:
    share = ev.mac_share_quantized
    if not ev.is_quantized or share is None or share >= PARTIAL_MAC_SHARE:
        return None
    return Finding(
        "partial-quantization", Severity.WARN,
        f"Only {share:.0%} of the model's multiply-accumulates run in INT8; the float remainder "
        "caps any speedup.",
        "Quantize the remaining Conv/MatMul/Gemm nodes (check nodes_to_exclude and op_types_to_quantize "
        "in the quantization call).",
        f"quantized MAC share {share:.0%} < {PARTIAL_MAC_SHARE:.0%}",
    )


def _threads(ev: Evidence) -> Finding | None:
    eff = ev.effective_cpus
    if eff is None:
        return None
    limit = (f"a CPU quota of {ev.cpu_quota:g}" if ev.cpu_quota is not None
             else f"{eff} usable CPU{'s' if eff != 1 else ''}")
    if ev.intra_op_threads is not None and ev.intra_op_threads > eff:
        return Finding(
            "threads-over-quota", Severity.WARN,
            f"The benchmark ran {ev.intra_op_threads} threads but this container allows {limit}, so "
            "threads wait on each other and on the throttle, and both timings stretch unevenly.",
            f"Use threads: [auto] (= {eff} here) or a number no larger than {eff} in .int8gate.yml.",
            f"intra_op_threads {ev.intra_op_threads} > effective CPUs {eff}",
        )
    if ev.default_thread_pool and ev.logical_cpus is not None and ev.logical_cpus > eff:
        return Finding(
            "threads-over-quota", Severity.WARN,
            f"ONNX Runtime's default thread pool is sized from the host's {ev.logical_cpus} cores, "
            f"but this container allows {limit}.",
            f"Set intra_op_num_threads to {eff} (int8gate's threads: auto does this).",
            f"default pool {ev.logical_cpus} threads > effective CPUs {eff}",
        )
    return None


def _dynamic_conv(ev: Evidence) -> Finding | None:
    if ev.dynamic_conv_ops <= 0:
        return None
    return Finding(
        "dynamic-conv", Severity.WARN,
        "The convolutions are quantized dynamically: each call re-quantizes activations at run time "
        "and runs ConvInteger, which ONNX Runtime does not optimize like its static INT8 kernels.",
        "Quantize convolutional models statically (quantize_static with a calibration reader, QDQ "
        "format); keep quantize_dynamic for MatMul-heavy models such as transformers.",
        f"{ev.dynamic_conv_ops} dynamically quantized Conv node(s); format {ev.format}",
    )


def _profile_share(ev: Evidence) -> list[str]:
    if ev.qdq_time_share is None:
        return []
    return [f"{ev.qdq_time_share:.0%} of INT8 kernel time in Quantize/DequantizeLinear"]


def _unfused(ev: Evidence, rng: ExpectedRange) -> Finding | None:
    """One finding for what ONNX Runtime left in float between Q/DQ nodes, worded for the format."""
    if ev.format == "qoperator" and (ev.float_compute_fed_by_dq or ev.unfused_qdq):
        return _islands(ev, rng)
    return _fed_by_dq(ev) or _stray_qdq(ev, rng)


def _islands(ev: Evidence, rng: ExpectedRange) -> Finding:
    types = ", ".join(dict.fromkeys((*ev.unfused_op_types, *ev.qdq_neighbor_op_types))) or "float ops"
    slow = _slow(ev, rng)
    return Finding(
        "float-islands", Severity.WARN if slow else Severity.INFO,
        f"Some ops of this QOperator graph run in float between DequantizeLinear and QuantizeLinear "
        f"({types}): the QOperator format has no integer kernel for them, so their tensors are converted "
        "on every run.",
        "Usual for these op types; if they take much of the INT8 time in the profile, quantize in QDQ format "
        "(ONNX Runtime fuses more there) or leave them out of the quantized region." if slow else "",
        "; ".join([f"{ev.float_compute_fed_by_dq or 0} float compute op(s) and {ev.unfused_qdq} Q/DQ node(s) "
                   "between them", *_profile_share(ev)]),
    )


def _fed_by_dq(ev: Evidence) -> Finding | None:
    fed = ev.float_compute_fed_by_dq or 0
    if fed <= 0:
        return None
    types = ", ".join(ev.unfused_op_types) or "compute ops"
    stray = [f"{ev.unfused_qdq} more Q/DQ node(s) next to {', '.join(ev.qdq_neighbor_op_types)}"] \
        if ev.unfused_qdq and ev.qdq_neighbor_op_types else []
    return Finding(
        "float-compute-fed-by-dq", Severity.WARN,
        f"ONNX Runtime could not fuse the quantized {types} into integer kernels: they still run in "
        "float, reading DequantizeLinear outputs, so INT8 only adds conversions.",
        f"Give each {types} a DequantizeLinear on every input and a QuantizeLinear on its output "
        "(run quant_pre_process, then quantize_static), and keep graph optimization at 'all'.",
        "; ".join([f"{fed} float {types} node(s) fed by DequantizeLinear after optimization",
                   *stray, *_profile_share(ev)]),
    )


def _stray_qdq(ev: Evidence, rng: ExpectedRange) -> Finding | None:
    if ev.unfused_qdq <= 0:
        return None
    types = ", ".join(ev.qdq_neighbor_op_types) or "float ops"
    if ev.quantize_linear == 0 and ev.dequantize_linear:  # no pairs: 8-bit constants read back as float
        slow = _slow(ev, rng)  # a dynamic transformer's embeddings: 1% of kernel time at 2.2x
        return Finding(
            "qdq-unfused", Severity.WARN if slow else Severity.INFO,
            f"{ev.dequantize_linear} DequantizeLinear node(s) were left before {types}: those tensors are "
            "stored in 8 bits and turned back into float on every run.",
            f"Leave {types} out of quantization (op_types_to_quantize / nodes_to_exclude)." if slow else "",
            "; ".join([f"{ev.unfused_qdq} Q/DQ node(s) next to {types}", *_profile_share(ev)]),
        )
    parts = [f"{ev.unfused_qdq} Q/DQ node(s) next to {types}"]
    if ev.quantize_linear is not None and ev.dequantize_linear is not None:
        parts.append(f"{ev.quantize_linear} QuantizeLinear / {ev.dequantize_linear} DequantizeLinear left")
    fix = f"Leave {types} out of quantization (op_types_to_quantize / nodes_to_exclude)."
    if "BatchNormalization" in ev.qdq_neighbor_op_types:
        fix = ("Run quant_pre_process on the FP32 model before quantizing, so BatchNormalization folds "
               "into the preceding Conv; " + fix[0].lower() + fix[1:])
    return Finding(
        "qdq-unfused", Severity.WARN,
        f"Q/DQ pairs were left around {types}, which have no integer kernel: ONNX Runtime runs them in "
        "float and converts their tensors to and from INT8 on every run.",
        fix, "; ".join([*parts, *_profile_share(ev)]),
    )


def _s8s8(ev: Evidence) -> Finding | None:
    if ev.format != "qoperator" or ev.activation_type != "int8":
        return None
    if ev.runner_class not in (RunnerClass.X86_AMX, RunnerClass.X86_VNNI, RunnerClass.X86_NO_VNNI):
        return None
    return Finding(
        "s8-activations-qoperator", Severity.WARN,
        "The QOperator model uses signed 8-bit activations (S8S8), which ONNX Runtime runs through a "
        "slow path on x86-64.",
        "Re-quantize with activation_type=QuantType.QUInt8 for QOperator, or use the QDQ format.",
        f"format qoperator; activations {ev.activation_type}, weights {ev.weight_type or 'unknown'}",
    )


def _small(ev: Evidence, rng: ExpectedRange) -> Finding | None:
    if not is_small_model(model_macs=ev.macs_total, fp32_median_ms=ev.fp32_median_ms):
        return None
    if ev.speedup is not None and locate(rng, ev.speedup, ev.ci_low, ev.ci_high) is Position.ABOVE:
        return None
    size = []
    if ev.macs_total is not None:
        size.append(f"{ev.macs_total / 1e6:.1f} M MACs (small: < {SMALL_MODEL_MACS / 1e6:.0f} M)")
    if ev.fp32_median_ms is not None:
        size.append(f"FP32 median {ev.fp32_median_ms:.3f} ms (small: < {SMALL_MODEL_FP32_MS:g} ms)")
    return Finding(
        "model-too-small", Severity.INFO,
        "The model is too small for integer kernels to pay: per-op overhead and ONNX Runtime's fast "
        "float kernels dominate, so INT8 is expected at 0.8×–1.0× of FP32 here.",
        "Judge INT8 on a realistic input size (batch, resolution, sequence length) or keep FP32 for "
        "this model.",
        "; ".join(size),
    )


def _no_vnni(ev: Evidence, rng: ExpectedRange) -> Finding | None:
    if ev.runner_class not in _X86_NO_VNNI or not ev.is_quantized:
        return None
    hidden = " (a hypervisor may hide it)" if ev.hypervisor and ev.flags.avx512f else ""
    slow = _slow(ev, rng) or ev.fidelity_ok is False
    return Finding(
        "no-vnni", Severity.WARN if slow else Severity.INFO,
        f"This CPU has no VNNI{hidden}, so ONNX Runtime multiplies u8×s8 through a slower AVX2 path "
        "whose 16-bit intermediate sums can saturate; INT8 is expected near FP32 speed here.",
        "Benchmark on a VNNI runner (Ice Lake/Cascade Lake or newer, Zen 4) for a representative "
        "number; if outputs drift, quantize with reduce_range=True or set the session config "
        "session.x64quantprecision=1.",
        f"class {ev.runner_class.value}; AVX2 {'yes' if ev.flags.avx2 else 'no'}, AVX-512 "
        f"{'yes' if ev.flags.avx512f else 'no'}, VNNI no",
    )


def _range(ev: Evidence, rng: ExpectedRange) -> Finding:
    machine = expected_range(ev.runner_class, model_macs=None, fp32_median_ms=None).label
    where = f"{rng.label}: expected {_x(rng.low)}–{_x(rng.high)}"
    if ev.speedup is None:
        return Finding("expected-range", Severity.INFO,
                       f"This runner is a {machine}; INT8 is expected at {_x(rng.low)}–{_x(rng.high)} "
                       f"of FP32 speed for a {rng.label} ({rng.reason}).", "", where)
    pos = locate(rng, ev.speedup, ev.ci_low, ev.ci_high)
    where_here = f"on a {machine}" if rng.label == machine else f"for a {rng.label} on a {machine}"
    message = (f"INT8 measured {_measured(ev)} of FP32 speed, {pos.value} the {_x(rng.low)}–{_x(rng.high)} "
               f"expected {where_here}.")
    fix = ("" if pos is not Position.BELOW else
           "See the findings above for the cause; if none applies, compare per-op-type times in the "
           "profile to find where INT8 loses.")
    return Finding(f"expected-range-{pos.value}", Severity.WARN if pos is Position.BELOW else Severity.INFO,
                   message, fix, f"{rng.reason}; class {ev.runner_class.value}; {where}; measured {_measured(ev)}")


def explain(ev: Evidence) -> tuple[Finding, ...]:
    """Ordered findings for one model at one thread setting: the most important cause first."""
    rng = expected_range(ev.runner_class, model_macs=ev.macs_total, fp32_median_ms=ev.fp32_median_ms)
    if ev.is_quantized is False:
        candidates = [_fake(ev), _threads(ev)]
    else:
        candidates = [_partial(ev), _threads(ev), _dynamic_conv(ev), _unfused(ev, rng),
                      _s8s8(ev), _small(ev, rng), _no_vnni(ev, rng)]
    found = [f for f in candidates if f is not None]
    return (*found, _range(ev, rng))
