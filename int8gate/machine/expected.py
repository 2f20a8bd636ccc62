"""The INT8 speedup int8gate expects on a runner class, and when a model counts as small.

    class                                         expected INT8 speedup
    x86-amx / x86-vnni (AVX-512 VNNI or AVX-VNNI)  1.2x - 2.0x
    x86-no-vnni (AVX2 only, or AVX-512 w/o VNNI)   0.9x - 1.1x
    any class, small model                         0.8x - 1.0x

Arm rows are int8gate's ASSUMPTION, not a measured table: ONNX Runtime's MLAS has SDOT/UDOT
(``asimddp``) and SMMLA/UMMLA (``i8mm``) u8/s8 GEMM kernels that play the role VNNI plays on x86, so
an Arm core with ``i8mm`` gets the VNNI range and one with only ``asimddp`` a slightly lower one
(1.1x - 1.8x); plain NEON gets the no-VNNI range. Re-measure and adjust when Arm runners are used.
"""

from __future__ import annotations

from int8gate.machine.facts import ExpectedRange, RunnerClass

SMALL_MODEL_MACS = 20_000_000
"""Below this many multiply-accumulates per inference a model counts as small (integer kernels rarely pay)."""
SMALL_MODEL_FP32_MS = 1.0
"""Below this FP32 median latency (ms) a model counts as small: fixed per-op overhead dominates."""



_CLASS_RANGES: dict[RunnerClass, tuple[float, float, str, str]] = {
    RunnerClass.X86_AMX: (1.2, 2.0, "modern CPU with AMX", "AMX-INT8 tiles and VNNI; the VNNI row of "
                          "the table applies, and AMX can land above it on large matrix products"),
    RunnerClass.X86_VNNI: (1.2, 2.0, "modern CPU with VNNI", "AVX-512 VNNI or AVX-VNNI gives ONNX "
                           "Runtime fast u8/s8 dot-product kernels for medium-to-large models"),
    RunnerClass.X86_NO_VNNI: (0.9, 1.1, "CPU without VNNI", "without VNNI, u8/s8 products take a "
                              "slower multi-instruction path; INT8 may be similar or slightly slower"),
    RunnerClass.ARM_I8MM: (1.2, 2.0, "Arm with i8mm", "assumption: SMMLA/UMMLA kernels play the "
                           "role of VNNI (no measured table for Arm yet)"),
    RunnerClass.ARM_DOTPROD: (1.1, 1.8, "Arm with dot-product", "assumption: SDOT/UDOT kernels, "
                              "slightly below the VNNI range (no measured table for Arm yet)"),
    RunnerClass.ARM_NEON: (0.9, 1.1, "Arm without dot-product", "assumption: plain NEON integer "
                           "kernels, treated like x86 without VNNI"),
    RunnerClass.UNKNOWN: (0.9, 1.1, "CPU without known INT8 instructions", "no VNNI, AMX, AVX2 or "
                          "Arm dot-product found, so no INT8 advantage is expected"),
}


def is_small_model(*, model_macs: int | None, fp32_median_ms: float | None) -> bool:
    """Small: fewer than ``SMALL_MODEL_MACS`` MACs or an FP32 median under ``SMALL_MODEL_FP32_MS``."""
    return (model_macs is not None and model_macs < SMALL_MODEL_MACS) or (
        fp32_median_ms is not None and fp32_median_ms < SMALL_MODEL_FP32_MS
    )


def expected_range(
    runner_class: RunnerClass, *, model_macs: int | None, fp32_median_ms: float | None
) -> ExpectedRange:
    """The expected INT8 speedup for this runner class and model size (small models: 0.8x - 1.0x)."""
    if is_small_model(model_macs=model_macs, fp32_median_ms=fp32_median_ms):
        why = []
        if model_macs is not None and model_macs < SMALL_MODEL_MACS:
            why.append(f"{model_macs / 1e6:.1f} M MACs (< {SMALL_MODEL_MACS / 1e6:.0f} M)")
        if fp32_median_ms is not None and fp32_median_ms < SMALL_MODEL_FP32_MS:
            why.append(f"FP32 median {fp32_median_ms:.3f} ms (< {SMALL_MODEL_FP32_MS:g} ms)")
        return ExpectedRange(0.8, 1.0, "small model on CPU", "; ".join(why) + ": quantize/dequantize "
                             "overhead and fast FP32 kernels can win for tiny models")
    low, high, label, reason = _CLASS_RANGES[runner_class]
    return ExpectedRange(low, high, label, reason)
