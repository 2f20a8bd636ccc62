"""Builds synthetic but complete reports (every field set by hand) for renderer and golden-file tests."""

from __future__ import annotations

from dataclasses import replace

from int8gate.findings import Finding, Severity
from int8gate.inputs.resolved import ResolvedInput
from int8gate.judge.verdict import Verdict
from int8gate.machine.facts import (
    Arch,
    CpuCounts,
    CpuFlags,
    CpuInfo,
    ExpectedRange,
    OrtInfo,
    RunnerClass,
    RunnerProfile,
)
from int8gate.measure.benchrun import BenchRun
from int8gate.measure.fidelity import FidelityResult, OutputFidelity
from int8gate.measure.opprofile import OpTypeRow, ProfileComparison
from int8gate.measure.sidebyside import VsBaseRun
from int8gate.measure.stats import Call, LatencySummary, Speedup, StopReason
from int8gate.model.census import ComputeOps, ComputeOpStats, FormatCount, OpCount, QuantFormat
from int8gate.model.inspection import ModelInspection, PairCheck
from int8gate.model.optimized import AfterOptimization
from int8gate.model.quantfacts import ScaleGranularity, WeightBytes
from int8gate.model.values import TensorSpec
from int8gate.policy.spec import OptLevel
from int8gate.report.data import BenchmarkSection, ModelResult, Report, ToolInfo
from int8gate.report.vsbase import (
    BaseStatus,
    BenchmarkDecision,
    CachedResult,
    CensusDelta,
    CensusSide,
    FidelityDelta,
    FidelitySide,
    VsBase,
)

SETUP = "one worker process per session pair; shared intra-op pool"


def runner() -> RunnerProfile:
    flags = CpuFlags(sse4_1=True, avx2=True, avx512f=True, avx512bw=True, avx512vl=True, avx512_vnni=True)
    return RunnerProfile(
        cpu=CpuInfo("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "GenuineIntel", Arch.X86_64, 6, 106,
                    flags, RunnerClass("x86-vnni")),
        cpus=CpuCounts(logical=8, usable=8, quota=4.0, effective=4, smt=True, quota_source="cgroup v2 cpu.max"),
        memory_bytes=16 * 2**30,
        container=True,
        onnxruntime=OrtInfo("1.32.0", ("CPUExecutionProvider",), "Release"),
    )


def inspection(path: str, *, quantized: bool, size: int) -> ModelInspection:
    fmt = QuantFormat.QDQ if quantized else QuantFormat.FLOAT
    conv = ComputeOpStats("Conv", 12, 12 if quantized else 0, 830_000_000)
    after = AfterOptimization(
        opt_level=OptLevel.ALL, nodes=40, integer_kernels=12 if quantized else 0, integer_other=0,
        float_compute=0 if quantized else 13, float_compute_fed_by_dq=0, quantize_linear=2 if quantized else 0,
        dequantize_linear=2 if quantized else 0, dynamic_quantize_linear=0, unfused_qdq=0,
        integer_kernels_by_op=(OpCount("QLinearConv", 12, "com.microsoft"),) if quantized else (),
        float_compute_by_op=() if quantized else (OpCount("Conv", 12), OpCount("Gemm", 1)),
        float_compute_fed_by_dq_by_op=(), qdq_neighbors=(),
    )
    findings = () if quantized else (
        Finding("not-quantized", Severity.FAIL, "The INT8 model does no integer compute.", "Quantize it.", "format float"),
    )
    return ModelInspection(
        path=path, size_bytes=size, sha256=("ab" if quantized else "cd") * 32, external_data_bytes=0, format=fmt,
        is_quantized=quantized,
        compute_ops=ComputeOps(13, 13 if quantized else 0, 0, 0, (conv, ComputeOpStats("Gemm", 1, 1 if quantized else 0, 5120))),
        count_share_quantized=1.0 if quantized else 0.0, mac_share_quantized=1.0 if quantized else 0.0,
        macs_total=830_005_120, macs_quantized=830_005_120 if quantized else 0, macs_weight_only_4bit=0,
        weight_bytes=WeightBytes(int8=320_000 if quantized else 0, uint8=10, int4=0,
                                 float32=1_300_000 if not quantized else 4_000, float16=0, other=100,
                                 total=size, quantized_share=0.97 if quantized else 0.0),
        activation_type="uint8" if quantized else None, weight_type="int8" if quantized else None,
        per_channel=True if quantized else None,
        weight_scales=ScaleGranularity(per_tensor=0, per_channel=13 if quantized else 0, blocked=0),
        opset=17, op_histogram=(OpCount("Conv", 12), OpCount("Relu", 9)), quantize_linear=13 if quantized else 0,
        dequantize_linear=27 if quantized else 0, dynamic_quantize_linear=0, dynamic_conv_ops=0,
        format_counts=(FormatCount(fmt, 13),), subgraphs=0, functions=0, assumed_dims=(), preprocessed=True,
        shape_inference_error=None, shapes_from="onnx shape inference", macs_unknown_reason=None,
        foldable=(), invalid_scales=(),
        producer="onnx.quantize", input_ranges=(), output_kinds=(("logits", "values"),), inputs=(TensorSpec("input", "float32", (1, 3, 112, 112)),),
        outputs=(TensorSpec("logits", "float32", (1, 10)),), after_optimization=after, findings=findings,
    )


def latency(median: float) -> LatencySummary:
    return LatencySummary(n=400, median_ms=median, p90_ms=median * 1.05, p99_ms=median * 1.2, mean_ms=median * 1.01,
                          min_ms=median * 0.97, max_ms=median * 1.6, robust_cv=0.02, outliers=3)


def row(threads: int, fp32_ms: float, int8_ms: float, low: float, high: float, call: Call) -> BenchRun:
    """A row against the 1.2× threshold, stopped and confirmed (or not) as the rules would; a slower
    row belongs to a fake that already failed, so it is never confirmed."""
    estimate = fp32_ms / int8_ms
    clear = low > 1.2 * 1.1 or high < 1.2 / 1.1
    confirmation = (
        "confirmation not needed: the interval is clear of the threshold by more than 10%" if clear
        else "confirmation skipped: the pair already failed: the INT8 model is not really quantized"
    )  # fmt: skip
    return BenchRun(
        intra_op_threads=threads, threshold=1.2, fp32=latency(fp32_ms), int8=latency(int8_ms),
        speedup=Speedup(estimate, low, high, (high - low) / (2 * estimate)), call=call,
        stopped_by=StopReason.CLEAR if clear else StopReason.TARGET, confirmed=False, sessions=4, rounds=400,
        seconds=6.0, setup=SETUP, harness_overhead_ms=0.05, session_speedups=(estimate,) * 4,
        budget_seconds=10.0, confirmation=confirmation,
    )


def failed_row(threads: int, error: str) -> BenchRun:
    return BenchRun(
        intra_op_threads=threads, threshold=1.2, fp32=None, int8=None, speedup=None, call=None, stopped_by=None,
        confirmed=False, sessions=0, rounds=0, seconds=1.0, setup=SETUP, harness_overhead_ms=0.0, error=error,
    )


def fidelity(cosine: float, passed: bool) -> FidelityResult:
    out = OutputFidelity("logits", (1, 10), cosine, 0.06, 0.01, 32.5, 1.0, 1.0, True)
    return FidelityResult(passed=passed, samples=8, source="random", outputs=(out,), findings=())


EXPECTED = ExpectedRange(1.2, 2.0, "modern CPU with VNNI", "AVX-512 VNNI")
INPUTS = (ResolvedInput("input", (1, 3, 112, 112), "float32", "policy"),)


PROFILE = ProfileComparison(
    rows=(OpTypeRow("QLinearConv", 0.0, 2.9, 2.9), OpTypeRow("Conv", 7.8, 0.0, -7.8),
          OpTypeRow("QuantizeLinear", 0.0, 0.21, 0.21), OpTypeRow("DequantizeLinear", 0.0, 0.12, 0.12),
          OpTypeRow("Gemm", 0.02, 0.02, 0.0)),
    fp32_total_ms=7.82, int8_total_ms=3.25, qdq_ms=0.33, qdq_share=0.1015, fed_by_dq_ms=0.02,
    fed_by_dq_share=0.006, fed_by_dq_op_types=("Gemm",),
)  # fmt: skip


def model(name: str, *, verdict: Verdict, quantized: bool = True, runs: tuple[BenchRun, ...] = (),
          reasons: tuple[str, ...] = (), findings: tuple[Finding, ...] = (),
          fid: FidelityResult | None = None, profile: ProfileComparison | None = None) -> ModelResult:
    fp32 = inspection(f"models/{name}_fp32.onnx", quantized=False, size=1_320_000)
    int8 = inspection(f"models/{name}_int8.onnx", quantized=quantized, size=360_000 if quantized else 1_320_000)
    pairing = PairCheck(True, (), int8.size_bytes / fp32.size_bytes, fp32.size_bytes, int8.size_bytes,
                        fp32.sha256, int8.sha256, ())
    return ModelResult(
        name=name, fp32=f"models/{name}_fp32.onnx", int8=f"models/{name}_int8.onnx", verdict=verdict,
        reasons=reasons, quantization=int8, fp32_model=fp32, pairing=pairing,
        benchmark=BenchmarkSection(runs, INPUTS, (), 1.2, "auto: lower edge of the expected range"),
        fidelity=fid, expected=EXPECTED, findings=findings, profile=profile,
    )


def report(models: tuple[ModelResult, ...], verdict: Verdict) -> Report:
    return Report(
        tool=ToolInfo("int8gate", "0.1.0", ".int8gate.yml", "2026-11-27T00:00:00+00:00", 42.0, 43.0),
        verdict=verdict, exit_code=1 if verdict is Verdict.FAIL else 0, runner=runner(), models=models,
        title="int8gate",
    )


def pass_and_fake() -> Report:
    good = model(
        "resnet", verdict=Verdict.PASS,
        runs=(row(1, 9.2, 3.9, 2.28, 2.38, Call.FASTER), row(4, 3.1, 1.7, 1.70, 1.95, Call.FASTER)),
        reasons=("quantized: format qdq, 100% of compute MACs run in integer",
                 "faster than required at 1 thread: 2.36× (95% CI 2.28–2.38), required ≥ 1.20×"),
        findings=(Finding("expected-range-above", Severity.INFO, "Measured 2.36×, above the 1.20×–2.00× expected.",
                          "", "modern CPU with VNNI"),),
        fid=fidelity(0.99991, True),
        profile=PROFILE,
    )
    fake = model(
        "resnet-fake", verdict=Verdict.FAIL, quantized=False,
        runs=(row(1, 9.4, 9.4, 0.99, 1.01, Call.SLOWER), row(4, 3.1, 3.0, 0.95, 1.10, Call.SLOWER)),
        reasons=("not really quantized: format float, 0% of compute MACs run in integer",),
        findings=(Finding("not-quantized", Severity.FAIL, "The INT8 model does no integer compute: it is a "
                          "floating-point graph saved under an INT8 name.", "Quantize it with onnxruntime.quantization.",
                          "format float; quantized MAC share 0%"),
                  Finding("size-not-reduced", Severity.WARN, "The INT8 model is 100% the size of its FP32 source.",
                          "Check that the weights were quantized.", "size ratio 1.00")),
        fid=fidelity(1.0, True),
    )
    return report((good, fake), Verdict.FAIL)


def crashed() -> Report:
    broken = model(
        "detector <b>@team</b> | #12", verdict=Verdict.FAIL,
        runs=(failed_row(1, "worker killed by SIGSEGV while running the INT8 model"),),
        reasons=("benchmark failed at 1 thread: worker killed by SIGSEGV while running the INT8 model",),
        fid=FidelityResult(False, 0, "random", (), (), error="the INT8 model failed on its first run: Reshape"),
    )
    return report((broken,), Verdict.FAIL)


def fleet(models: int, threads: int) -> Report:
    rows = tuple(row(t, 9.0 + t, 4.0, 2.0, 2.5, Call.FASTER) for t in range(1, threads + 1))
    codes = ("high-dispersion", "drift", "budget-cut", "other-load", "outliers", "qdq-unfused", "dims-assumed",
             "not-preprocessed")
    findings = tuple(
        Finding(codes[i], Severity.WARN, "A long explanation of something that matters. " * 6,
                "A long fix that says what to do. " * 4, "evidence " * 10)
        for i in range(8)
    )
    many = tuple(
        model(f"model-{i:02d}-with-a-rather-long-name", verdict=Verdict.PASS, runs=rows,
              reasons=tuple(f"reason {j}: " + "detail " * 30 for j in range(4)), findings=findings,
              fid=fidelity(0.9999, True))
        for i in range(models)
    )
    return report(many, Verdict.PASS)


def demo() -> Report:
    """What ``int8gate demo`` reports on a 2-vCPU VNNI runner (a real run's figures and wording, fixed here)."""

    def warn(code: str, message: str, fix: str, evidence: str) -> Finding:
        return Finding(code, Severity.WARN, message, fix, evidence)

    noisy = warn("high-dispersion", "Latencies varied widely from run to run, so the speedup is less certain.",
                 "Run on a quieter or dedicated runner, or raise benchmark.budget_seconds.",
                 "robust CV 11% (FP32 11%, INT8 11%)")
    cut = warn("budget-cut", "The time budget ran out before the interval was as narrow as the target.",
               "Raise benchmark.budget_seconds or widen benchmark.target_halfwidth.", "±19.5% reached, ±2.0% wanted")
    load = warn("other-load", "Other work was running on the machine while measuring.",
                "Run the gate in a job of its own on a runner that is not shared.",
                "other processes used 65% of 2 CPUs; 351 preemptions/s, load average 1.36")
    required = "required ≥ 1.20×, auto: lower edge of the expected range for modern CPU with VNNI"
    real = model(
        "convnet", verdict=Verdict.INCONCLUSIVE,
        runs=(row(1, 7.49, 2.89, 1.80, 2.81, Call.FASTER), row(2, 16.86, 5.69, 0.94, 9.77, Call.WITHIN_NOISE)),
        reasons=(f"speedup at 2 threads is within noise of the threshold: 2.96× (95% CI 0.94–9.77), {required}",),
        findings=(
            Finding("expected-range-inside", Severity.INFO,
                    "On this modern CPU with VNNI, INT8 measured 2.59× [1.80×, 2.81×] of FP32 speed, inside the "
                    "1.20×–2.00× expected for a modern CPU with VNNI.", "", "class x86-vnni"),
            noisy, cut, load,
        ),
        fid=fidelity(1.0, True), profile=PROFILE,
    )
    fake = model(
        "convnet-fake", verdict=Verdict.FAIL, quantized=False,
        runs=(row(1, 6.74, 6.69, 0.99, 1.03, Call.SLOWER), row(2, 11.58, 9.98, 0.73, 1.75, Call.WITHIN_NOISE)),
        reasons=(
            "not really quantized: format float, 0% of compute MACs run in integer, 0 of 12 compute ops quantized "
            "(policy: ≥ 80% of MACs, ≥ 50% of ops)",
            "quantization format float is not allowed by the policy (qdq, qoperator, dynamic, mixed)",
            f"slower than required at 1 thread: 1.01× (95% CI 0.99–1.03), {required}",
            f"speedup at 2 threads is within noise of the threshold: 1.16× (95% CI 0.73–1.75), {required}",
        ),
        findings=(
            Finding("not-quantized", Severity.FAIL,
                    "The INT8 model does no integer compute: it is a floating-point graph saved under an INT8 "
                    "name, so any speed difference is noise.",
                    "Quantize the FP32 model with onnxruntime.quantization (quantize_static for CNNs, "
                    "quantize_dynamic for transformers) and commit that output.", "format float; quantized MAC share 0%"),
            warn("size-not-reduced", "The INT8 model is 100% the size of its FP32 source; 8-bit weights make it "
                 "about a quarter.", "Check that the weights were quantized and that no float copy of them was "
                 "left in the file.", "size ratio 1.00"),
            load, noisy, cut,
        ),
        fid=fidelity(1.0, True),
    )
    full = report((real, fake), Verdict.FAIL)
    return Report(tool=ToolInfo("int8gate", "0.1.0", ".int8gate.yml", "2026-11-27T00:00:00+00:00", 18.0),
                  verdict=full.verdict, exit_code=0, runner=full.runner, models=full.models, title="int8gate demo")
BASE_REF = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"


def against_base() -> Report:
    """A pull request's report against its base: a re-quantized pair, a new one, unchanged ones (collapsed or not)."""
    def ratio(estimate: float, low: float, high: float) -> Speedup:
        return Speedup(estimate, low, high, (high - low) / (2 * estimate))

    def side(share: float, quantized: int, q: int, dq: int, fed: int, size: int) -> CensusSide:
        return CensusSide("qdq", 13, quantized, share, q, dq, fed, size, "ab" * 32)

    skipped = BenchmarkDecision(True, "neither the pair's files nor its policy changed against base f95f852bd8fc")
    runs = (VsBaseRun(1, ratio(0.412, 0.401, 0.423), ratio(0.97, 0.95, 0.99), ratio(2.36, 2.30, 2.41)),
            VsBaseRun(4, ratio(0.551, 0.532, 0.570), ratio(1.01, 0.98, 1.04), ratio(1.82, 1.75, 1.90)))
    requantized = replace(
        model("resnet", verdict=Verdict.PASS,
              runs=(row(1, 9.2, 3.9, 2.30, 2.41, Call.FASTER), row(4, 3.1, 1.7, 1.75, 1.90, Call.FASTER)),
              reasons=("quantized: format qdq, 100% of compute MACs run in integer",), fid=fidelity(0.99991, True)),
        vs_base=VsBase(BaseStatus.CHANGED, BASE_REF, BenchmarkDecision(False, "the INT8 model changed against base "
                       "f95f852bd8fc"), "the INT8 model changed against base f95f852bd8fc", ("int8",),
                       runs[0].int8_latency_ratio, runs[0].base_speedup, runs[0].head_speedup, runs,
                       CensusDelta(side(0.08, 1, 2, 14, 11, 1_240_000), side(1.0, 13, 2, 2, 0, 360_000),
                                   ("not-preprocessed",), ("qdq-unfused", "partial-quantization")),
                       FidelityDelta(FidelitySide(True, 0.9994, 36.1), FidelitySide(True, 0.99991, 39.2))),
    )  # fmt: skip
    new = replace(
        model("detector", verdict=Verdict.PASS, runs=(row(1, 5.0, 2.5, 1.9, 2.1, Call.FASTER),),
              reasons=("quantized: format qdq, 100% of compute MACs run in integer",), fid=fidelity(0.9995, True)),
        vs_base=VsBase(BaseStatus.NEW, BASE_REF, BenchmarkDecision(False, "new"),
                       "the INT8 model is new: models/detector_int8.onnx is absent on base f95f852bd8fc", ("int8",)),
    )  # fmt: skip
    cached = CachedResult("k" * 64, "2026-11-29T08:00:00+00:00", "aa" * 20, "0.1.0",
                          (row(1, 8.0, 4.0, 1.95, 2.05, Call.FASTER),), fidelity(0.9999, True))
    unchanged = replace(
        model("segmenter", verdict=Verdict.PASS, reasons=("not benchmarked again: …",)),
        vs_base=VsBase(BaseStatus.UNCHANGED, BASE_REF, skipped, "the same files as base f95f852bd8fc", cached=cached),
    )
    bare = replace(
        model("tagger", verdict=Verdict.PASS, reasons=("not benchmarked again: …",)),
        vs_base=VsBase(BaseStatus.UNCHANGED, BASE_REF, skipped, "the same files as base f95f852bd8fc"),
    )
    slower = replace(
        model("ranker", verdict=Verdict.FAIL, reasons=("slower than required at 1 thread: 0.91× … (cached: …)",)),
        vs_base=VsBase(BaseStatus.UNCHANGED, BASE_REF, skipped, "the same files as base f95f852bd8fc",
                       cached=replace(cached, runs=(row(1, 4.0, 4.4, 0.88, 0.93, Call.SLOWER),))),
    )
    nothing = BenchmarkSection((), INPUTS, (), 1.2, "auto: lower edge of the expected range")  # not measured this run
    not_measured = tuple(replace(m, benchmark=nothing, fidelity=None) for m in (unchanged, bare, slower))
    return report((requantized, new, *not_measured), Verdict.FAIL)
