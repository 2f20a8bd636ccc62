"""Checks each explanation rule on plain facts: when it fires, its severity, and the order of causes."""

from __future__ import annotations

from dataclasses import replace

from int8gate.findings import Severity
from int8gate.judge.explain import Evidence, Position, explain, locate
from int8gate.machine.facts import CpuFlags, ExpectedRange, RunnerClass

VNNI = CpuFlags(avx2=True, avx512f=True, avx512bw=True, avx512_vnni=True)
AVX2 = CpuFlags(avx2=True)

GOOD = Evidence(
    runner_class=RunnerClass.X86_VNNI, flags=VNNI, logical_cpus=2, effective_cpus=2,
    intra_op_threads=2, format="qoperator", is_quantized=True, mac_share_quantized=1.0,
    macs_total=500_000_000, activation_type="uint8", weight_type="int8", integer_kernels=20,
    float_compute=0, float_compute_fed_by_dq=0, quantize_linear=1, dequantize_linear=1,
    speedup=1.5, ci_low=1.45, ci_high=1.55, fp32_median_ms=12.0, int8_median_ms=8.0,
    fidelity_ok=True,
)


def codes(ev: Evidence) -> list[str]:
    return [f.code for f in explain(ev)]


def test_locate_uses_the_interval() -> None:
    rng = ExpectedRange(0.9, 1.1, "x", "y")
    assert locate(rng, 1.3, 1.2, 1.4) is Position.ABOVE
    assert locate(rng, 0.8, 0.7, 0.85) is Position.BELOW
    assert locate(rng, 0.85, 0.8, 0.95) is Position.INSIDE  # the interval reaches the range
    assert locate(rng, 1.0, None, None) is Position.INSIDE


def test_a_healthy_result_gives_only_the_range_finding() -> None:
    found = explain(GOOD)
    assert [f.code for f in found] == ["expected-range-inside"]
    assert found[0].severity is Severity.INFO
    assert "1.20×–2.00×" in found[0].message and "modern CPU with VNNI" in found[0].message


def test_above_and_below_the_range() -> None:
    assert codes(replace(GOOD, speedup=2.6, ci_low=2.5, ci_high=2.7)) == ["expected-range-above"]
    below = explain(replace(GOOD, speedup=0.8, ci_low=0.78, ci_high=0.82))
    assert below[-1].code == "expected-range-below" and below[-1].severity is Severity.WARN
    assert below[-1].fix


def test_not_measured_still_states_the_range() -> None:
    found = explain(replace(GOOD, speedup=None, ci_low=None, ci_high=None))
    assert [f.code for f in found] == ["expected-range"]


def test_fake_int8_comes_first_and_fails() -> None:
    ev = replace(GOOD, format="float", is_quantized=False, mac_share_quantized=0.0,
                 intra_op_threads=4, effective_cpus=2, speedup=1.0, ci_low=0.98, ci_high=1.02)
    found = explain(ev)
    assert [f.code for f in found] == ["not-quantized", "threads-over-quota", "expected-range-below"]
    assert found[0].severity is Severity.FAIL


def test_token_quantization_is_not_called_fake() -> None:
    found = explain(replace(GOOD, format="qdq", is_quantized=False, mac_share_quantized=0.05))
    assert found[0].code == "token-quantization" and found[0].severity is Severity.FAIL
    assert "5%" in found[0].message


def test_partial_quantization() -> None:
    found = explain(replace(GOOD, mac_share_quantized=0.4, speedup=1.0, ci_low=0.95, ci_high=1.05))
    assert found[0].code == "partial-quantization"
    assert "40%" in found[0].message


def test_threads_over_quota_explicit_and_default_pool() -> None:
    over = replace(GOOD, logical_cpus=8, effective_cpus=2, cpu_quota=1.5, intra_op_threads=8,
                   speedup=0.9, ci_low=0.8, ci_high=1.0)
    found = explain(over)
    assert found[0].code == "threads-over-quota"
    assert "a CPU quota of 1.5" in found[0].message and "threads: [auto]" in found[0].fix
    default_pool = explain(replace(over, intra_op_threads=None, default_thread_pool=True))
    assert default_pool[0].code == "threads-over-quota"
    assert "8 cores" in default_pool[0].message
    assert "threads-over-quota" not in codes(replace(over, intra_op_threads=2))
    assert "threads-over-quota" not in codes(replace(over, intra_op_threads=None))  # unknown


def test_dynamic_conv_before_unfused_groups() -> None:
    ev = replace(GOOD, format="dynamic", dynamic_conv_ops=3, activation_type="uint8",
                 float_compute_fed_by_dq=2, unfused_op_types=("MatMul",),
                 speedup=0.6, ci_low=0.55, ci_high=0.65)
    assert codes(ev)[:2] == ["dynamic-conv", "float-compute-fed-by-dq"]


def test_float_compute_fed_by_dq_names_op_types_and_profile_share() -> None:
    ev = replace(GOOD, format="qdq", float_compute_fed_by_dq=4, unfused_op_types=("Conv", "MatMul"),
                 qdq_time_share=0.31, speedup=0.7, ci_low=0.65, ci_high=0.75)
    first = explain(ev)[0]
    assert first.code == "float-compute-fed-by-dq"
    assert "Conv, MatMul" in first.message
    assert "31% of INT8 kernel time" in first.evidence


def test_stray_qdq_names_neighbours_and_counts() -> None:
    ev = replace(GOOD, format="qdq", unfused_qdq=10, qdq_neighbor_op_types=("LayerNormalization", "Erf"),
                 quantize_linear=9, dequantize_linear=13, speedup=0.7, ci_low=0.65, ci_high=0.75)
    first = explain(ev)[0]
    assert first.code == "qdq-unfused"
    assert "LayerNormalization, Erf" in first.message and "pre_process" not in first.fix
    assert "9 QuantizeLinear / 13 DequantizeLinear" in first.evidence
    bn = explain(replace(ev, qdq_neighbor_op_types=("BatchNormalization",)))[0]
    assert "quant_pre_process" in bn.fix


def test_unfused_groups_and_stray_qdq_are_one_finding() -> None:
    ev = replace(GOOD, format="qdq", float_compute_fed_by_dq=4, unfused_op_types=("Conv",), unfused_qdq=6,
                 qdq_neighbor_op_types=("Add", "Mul"), speedup=0.7, ci_low=0.65, ci_high=0.75)
    found = codes(ev)
    assert found.count("float-compute-fed-by-dq") == 1 and "qdq-unfused" not in found
    assert "6 more Q/DQ node(s) next to Add, Mul" in explain(ev)[0].evidence


def test_a_qoperator_graph_is_told_about_float_islands_not_qdq_pairs() -> None:
    """det_qop on the corpus, 1.35x faster, was told 'could not fuse' and 'Q/DQ pairs were left around'."""
    fast = replace(GOOD, format="qoperator", float_compute_fed_by_dq=2, unfused_op_types=("ConvTranspose",),
                   unfused_qdq=12, qdq_neighbor_op_types=("Resize", "Sigmoid"), speedup=1.35, ci_low=1.33,
                   ci_high=1.37)  # fmt: skip
    first = explain(fast)[0]
    assert first.code == "float-islands" and first.severity is Severity.INFO and first.fix == ""
    assert "(ConvTranspose, Resize, Sigmoid)" in first.message and "Q/DQ pairs" not in first.message
    assert not {"float-compute-fed-by-dq", "qdq-unfused"} & set(codes(fast))
    slow = explain(replace(fast, speedup=0.8, ci_low=0.78, ci_high=0.82))[0]
    assert slow.code == "float-islands" and slow.severity is Severity.WARN and "QDQ format" in slow.fix


def test_dequantize_linear_left_without_pairs_is_worded_as_such() -> None:
    """minilm_dyn on the corpus, 2.2x faster, was told 'Q/DQ pairs were left around Add' for three
    DequantizeLinear of its embeddings (1% of kernel time)."""
    fast = replace(GOOD, format="dynamic", unfused_qdq=3, qdq_neighbor_op_types=("Add",), quantize_linear=0,
                   dequantize_linear=3, speedup=2.2, ci_low=2.18, ci_high=2.24)  # fmt: skip
    first = explain(fast)[0]
    assert first.code == "qdq-unfused" and first.severity is Severity.INFO and first.fix == ""
    assert first.message.startswith("3 DequantizeLinear node(s) were left before Add") and "pairs" not in first.message
    slow = explain(replace(fast, speedup=0.8, ci_low=0.78, ci_high=0.82))[0]
    assert slow.severity is Severity.WARN and "Leave Add out" in slow.fix


def test_s8s8_qoperator_only_on_x86() -> None:
    ev = replace(GOOD, activation_type="int8", speedup=0.9, ci_low=0.85, ci_high=0.95)
    assert codes(ev)[0] == "s8-activations-qoperator"
    arm = replace(ev, runner_class=RunnerClass.ARM_I8MM, flags=CpuFlags(neon=True, i8mm=True))
    assert "s8-activations-qoperator" not in codes(arm)


def test_small_model_is_named_unless_it_was_fast_anyway() -> None:
    tiny = replace(GOOD, macs_total=2_000_000, fp32_median_ms=0.05, speedup=0.85,
                   ci_low=0.8, ci_high=0.9)
    found = explain(tiny)
    assert [f.code for f in found] == ["model-too-small", "expected-range-inside"]
    assert "2.0 M MACs" in found[0].evidence
    assert "small model on CPU" in found[1].message
    fast = replace(tiny, speedup=1.4, ci_low=1.3, ci_high=1.5)
    assert codes(fast) == ["expected-range-above"]


def test_no_vnni_warns_when_slow_and_informs_when_not() -> None:
    base = replace(GOOD, runner_class=RunnerClass.X86_NO_VNNI, flags=AVX2)
    slow = explain(replace(base, speedup=0.8, ci_low=0.75, ci_high=0.85))
    assert slow[0].code == "no-vnni" and slow[0].severity is Severity.WARN
    assert "session.x64quantprecision=1" in slow[0].fix and "reduce_range=True" in slow[0].fix
    fine = explain(replace(base, speedup=1.0, ci_low=0.97, ci_high=1.03))
    assert fine[0].code == "no-vnni" and fine[0].severity is Severity.INFO
    assert fine[1].code == "expected-range-inside" and "0.90×–1.10×" in fine[1].message


def test_hidden_vnni_hint_on_a_hypervisor_with_avx512() -> None:
    ev = replace(GOOD, runner_class=RunnerClass.X86_NO_VNNI, hypervisor=True,
                 flags=CpuFlags(avx2=True, avx512f=True, avx512bw=True))
    assert "a hypervisor may hide it" in explain(ev)[0].message


def test_drifting_outputs_without_vnni_make_no_vnni_a_warning_that_names_saturation() -> None:
    """Drift itself is one finding from the fidelity check (fidelity-drift); explain adds only the CPU's part."""
    ev = replace(GOOD, runner_class=RunnerClass.X86_NO_VNNI, flags=AVX2, fidelity_ok=False,
                 fidelity_metric="logits cosine 0.91 (≥ 0.99 wanted)", speedup=1.3, ci_low=1.25, ci_high=1.35)
    found = explain(ev)
    assert codes(ev)[0] == "no-vnni" and found[0].severity is Severity.WARN
    assert "reduce_range=True" in found[0].fix
    assert "fidelity-loss" not in codes(ev)
    assert "fidelity-loss" not in codes(replace(GOOD, fidelity_ok=False))
