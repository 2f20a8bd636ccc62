"""Run the gate for a policy: verify → benchmark → fidelity → explain → verdict, into one ``Report``.

The collaborators that touch the machine (census with ONNX Runtime, worker processes, profiling,
the clock, the results cache) come in as ``Edges``, so this module only sequences them and turns
their results into facts for the pure verdict and explanation. A model that crashes or hangs
becomes a failed row; the other models are still measured and the report is still written. Once
the run's ``Deadline`` has passed, no new row, fidelity check or profile starts: what is left is
reported as not measured (a ``run-deadline`` finding says what), and pairs not started yet are
inconclusive, not failed.

Against a base commit (``Provenance``), a pair whose files and settings are unchanged is not
benchmarked again (``benchmark.when: changed``): its census runs, and the verdict stands on the
cached result for the same content when there is one; a changed pair's base INT8 model is
inspected and measured beside the head, for the before → after figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from int8gate.baseline.changes import PairBase, Provenance, benchmark_decision
from int8gate.deadline import Deadline
from int8gate.errors import ModelFileError
from int8gate.findings import Finding, Severity
from int8gate.gate import against
from int8gate.inputs.plan import InputPlan, plan_inputs
from int8gate.inputs.resolved import ResolvedInput, SampleShapes
from int8gate.judge import explain as explain_mod
from int8gate.judge.verdict import FailOn, GateFacts, Verdict, apply_rules, decide, exit_code, overall, speed_row
from int8gate.machine.expected import expected_range
from int8gate.machine.facts import ExpectedRange, RunnerProfile, has_vnni
from int8gate.measure.benchrun import BenchRun, PairMeasurement
from int8gate.measure.fidelity import FidelityContext, FidelityResult, summary
from int8gate.measure.opprofile import ProfileComparison
from int8gate.measure.sidebyside import VsBaseRun
from int8gate.model.inspection import ModelInspection, PairCheck, pair_models
from int8gate.model.values import TensorSpec
from int8gate.policy.spec import (
    AUTO,
    BenchmarkSettings,
    FidelityRequirement,
    OptLevel,
    Policy,
    QuantizedRequirement,
    Requirements,
)
from int8gate.report.data import BenchmarkSection, ModelResult, Presentation, Report, ToolInfo
from int8gate.report.progress import Plan, Stage, Step
from int8gate.report.vsbase import BaseStatus
from int8gate.workspace import PairPaths


class Inspect(Protocol):
    """Census of one model file (``int8gate.model.inspection.inspect_model``)."""

    def __call__(
        self,
        path: Path,
        *,
        input_shapes: Mapping[str, tuple[int, ...]],
        opt_level: OptLevel,
        requirement: QuantizedRequirement,
        max_bytes: int | None,
        runtime_layer: bool,
        vnni: bool | None,
        timeout: float,
    ) -> ModelInspection: ...


class Measure(Protocol):
    """Every benchmark row of a pair, with fidelity and the profile (``int8gate.runtime.bench.measure_models``)."""

    def __call__(
        self,
        fp32: Path,
        int8: Path,
        *,
        threads: Sequence[int],
        inputs: Sequence[ResolvedInput],
        samples: Path | None,
        settings: BenchmarkSettings,
        threshold: float,
        requirement: FidelityRequirement,
        profile: bool,
        refused: str,
        progress: Callable[[int, int], None] | None,
        deadline: Deadline,
        context: FidelityContext,
    ) -> PairMeasurement: ...


def _no_stamp() -> str:
    return ""


@dataclass(frozen=True)
class Edges:
    """Everything the pipeline needs from the outside world; ``stamp`` is the time of day for cache entries."""

    inspect: Inspect
    measure: Measure
    load_declared_inputs: Callable[[Path], Sequence[TensorSpec]]
    sample_shapes: Callable[[Path], SampleShapes]
    clock: Callable[[], float]
    progress: Callable[[Step], None]
    cache: against.ResultStore | None = None
    stamp: Callable[[], str] = _no_stamp
    compare: against.Compare | None = None


def run_plan(policy: Policy, pairs: int, usable_cpus: int, *, skipped: frozenset[int] = frozenset()) -> Plan:
    """What the run will do; its ``expected_seconds`` (every row's budget plus ``PAIR_ALLOWANCE_SECONDS``
    per pair) is the longest it should take, announced before it starts and kept in the report.
    ``skipped``: the pairs (1-based) not benchmarked again (``skipped_pairs``)."""
    rows = len(resolve_threads(policy.benchmark.threads, usable_cpus))
    return Plan(pairs, rows, policy.benchmark.budget_seconds, skipped)


def skipped_pairs(pairs: Sequence[PairPaths], policy: Policy, provenance: Provenance | None) -> frozenset[int]:
    """The pairs (1-based) that will not be benchmarked again: unchanged against base (``benchmark.when``)."""
    if provenance is None or provenance.bases is None:
        return frozenset()
    bases = provenance.bases
    return frozenset(
        k for k, paths in enumerate(pairs, 1)
        if benchmark_decision(bases.get(paths.pair.name), policy.benchmark.when).skipped
    )  # fmt: skip


def resolve_threads(threads: Sequence[int | str], usable: int) -> tuple[int, ...]:
    """Policy thread settings as numbers: ``auto`` is the CPUs this job may use; repeats dropped."""
    out = [usable if item == AUTO else int(item) for item in threads]
    return tuple(dict.fromkeys(out))


def resolve_threshold(requirement: float | str, rng: ExpectedRange) -> tuple[float, str]:
    """The speedup the policy requires, and where the number came from."""
    if requirement == AUTO:
        return rng.low, f"auto: lower edge of the expected range for {rng.label}"
    return float(requirement), "set by the policy"


def run_gate(
    policy: Policy,
    pairs: Sequence[PairPaths],
    runner: RunnerProfile,
    edges: Edges,
    *,
    tool: Callable[[float], ToolInfo],
    fail_on: FailOn = FailOn.FAIL,
    deadline: Deadline | None = None,
    provenance: Provenance | None = None,
) -> Report:
    """Check every pair and assemble the report (the overall verdict follows the models').

    ``deadline`` (default: none) stops new work once it has passed; see the module's docstring. The
    report keeps the expected total (``run_plan``; the caller announces it before the first pair
    starts). A model file used by several pairs is inspected once.
    """
    started = edges.clock()
    deadline = deadline or Deadline.never(edges.clock)
    skipped = skipped_pairs(pairs, policy, provenance)
    expected = run_plan(policy, len(pairs), runner.cpus.effective, skipped=skipped).expected_seconds
    edges = replace(edges, inspect=_inspect_once(edges.inspect))
    origin = provenance or Provenance()
    count = len(pairs)
    results = tuple(
        _check_pair(paths, policy, runner, edges, (k, count), deadline=deadline, origin=origin)
        for k, paths in enumerate(pairs, 1)
    )
    verdict = overall(result.verdict for result in results)
    return Report(
        tool=replace(tool(edges.clock() - started), expected_s=round(expected, 1)),
        verdict=verdict,
        exit_code=exit_code(verdict, fail_on),
        runner=runner,
        models=results,
        title=policy.report.title,
        presentation=Presentation(policy.report.comment, policy.report.details, policy.report.chart),
    )


def _inspect_once(inspect: Inspect) -> Inspect:
    """``inspect`` remembering its answers, so a file shared by pairs is read and inspected once."""
    seen: dict[tuple[object, ...], ModelInspection] = {}

    def cached(
        path: Path,
        *,
        input_shapes: Mapping[str, tuple[int, ...]],
        opt_level: OptLevel,
        requirement: QuantizedRequirement,
        max_bytes: int | None,
        runtime_layer: bool,
        vnni: bool | None,
        timeout: float,
    ) -> ModelInspection:
        key = (path, tuple(sorted(input_shapes.items())), opt_level, requirement, max_bytes, runtime_layer, vnni)
        if key not in seen:  # the time limit is not part of the question
            seen[key] = inspect(path, input_shapes=input_shapes, opt_level=opt_level, requirement=requirement,
                                max_bytes=max_bytes, runtime_layer=runtime_layer, vnni=vnni,
                                timeout=timeout)  # fmt: skip
        return seen[key]

    return cached


@dataclass(frozen=True)
class Measured:
    """What the edges established for one pair, before any judgement."""

    int8: ModelInspection
    fp32: ModelInspection
    pairing: PairCheck
    plan: InputPlan
    runs: tuple[BenchRun, ...]
    fidelity: FidelityResult | None
    expected: ExpectedRange
    threshold: float
    threshold_source: str
    profile: ProfileComparison | None
    profile_error: str | None
    cut: tuple[Finding, ...] = ()
    base_int8: ModelInspection | None = None
    base_fidelity: FidelityResult | None = None
    vs_runs: tuple[VsBaseRun, ...] = ()

    @property
    def qdq_time_share(self) -> float | None:
        """Share of INT8 kernel time in Quantize/DequantizeLinear, when the pair was profiled."""
        return self.profile.qdq_share if self.profile is not None else None


def _check_pair(
    paths: PairPaths,
    policy: Policy,
    runner: RunnerProfile,
    edges: Edges,
    position: tuple[int, int],
    *,
    deadline: Deadline,
    origin: Provenance,
) -> ModelResult:
    pair = paths.pair
    require = policy.requirements_for(pair)
    if deadline.expired():
        reason = f"not checked: {deadline.reason()} before this model pair started"
        finding = deadline_finding(deadline, ("the whole model pair",))
        return ModelResult(pair.name, pair.fp32, pair.int8, Verdict.INCONCLUSIVE, (reason,), findings=(finding,))
    base = origin.bases.get(pair.name) if origin.bases is not None else None
    decision = benchmark_decision(base, policy.benchmark.when) if origin.bases is not None else None
    skipped = decision is not None and decision.skipped
    digests = origin.digests.get(pair.name)
    threads = resolve_threads(policy.benchmark.threads, runner.cpus.effective)
    key = against.cache_key(digests, policy, pair, runner, threads) if digests is not None else None
    try:
        measured = _measure(paths, policy, runner, edges, position, deadline=deadline, base=base,
                            benchmark=not skipped)  # fmt: skip
    except ModelFileError as exc:  # ONNX Runtime refused or crashed on a file that parsed: a failed model
        if deadline.expired():  # unless the run's deadline cut the inspection short: not a failure
            reason = f"not checked: {deadline.reason()} while this model pair was inspected ({exc})"
            finding = deadline_finding(deadline, ("the whole model pair",))
            return ModelResult(pair.name, pair.fp32, pair.int8, Verdict.INCONCLUSIVE, (reason,), findings=(finding,))
        verdict, reasons = decide(GateFacts(error=str(exc)))
        return ModelResult(pair.name, pair.fp32, pair.int8, verdict, reasons, error=str(exc))
    cached = None
    if skipped:
        cached = against.look_up(edges.cache, key)
    else:
        against.keep(edges.cache, key, measured.runs, measured.fidelity, commit=origin.commit, stamp=edges.stamp)
    judged = measured
    if cached is not None:  # the earlier result for the same content stands in for a measurement
        judged = replace(measured, runs=cached.runs, fidelity=cached.fidelity)
    vs_base = None
    if base is not None and decision is not None:
        census = against.census_delta(measured.base_int8, measured.int8) if measured.base_int8 is not None else None
        fidelity = against.fidelity_delta(measured.base_fidelity, measured.fidelity)
        vs_base = against.assemble(base, decision, runs=measured.vs_runs, census=census, fidelity=fidelity,
                                   cached=cached)  # fmt: skip
    findings = _findings(judged, runner, require)
    facts = _facts(judged, require, findings)
    if decision is not None and skipped:
        facts = replace(facts, not_measured=against.skip_text(decision, cached), speed_note=against.cached_note(cached))
    if vs_base is not None:
        facts = replace(facts, vs_base=against.slowdown_rows(vs_base.runs), max_slowdown=require.vs_base.max_slowdown)
    verdict, reasons = decide(facts)
    return ModelResult(
        name=pair.name,
        fp32=pair.fp32,
        int8=pair.int8,
        verdict=verdict,
        reasons=reasons,
        quantization=measured.int8,
        fp32_model=measured.fp32,
        pairing=measured.pairing,
        benchmark=BenchmarkSection(
            measured.runs, measured.plan.inputs, measured.plan.defaulted, measured.threshold, measured.threshold_source
        ),
        fidelity=measured.fidelity,
        expected=judged.expected,
        findings=findings,
        profile=measured.profile,
        profile_error=measured.profile_error,
        vs_base=vs_base,
    )


def _measure(
    paths: PairPaths,
    policy: Policy,
    runner: RunnerProfile,
    edges: Edges,
    position: tuple[int, int],
    *,
    deadline: Deadline,
    base: PairBase | None,
    benchmark: bool,
) -> Measured:
    """Inspect the pair (and a changed pair's base INT8 model); measure and check fidelity when ``benchmark``."""
    pair = paths.pair
    require = policy.requirements_for(pair)
    settings = policy.benchmark
    vnni = has_vnni(runner)
    step = partial(Step, position[0], position[1], pair.name)
    changed = base is not None and base.status is BaseStatus.CHANGED and benchmark
    with_base = changed and base is not None and base.int8 is not None
    # One inspect step per pair (it opens the pair's log group in Actions): the base version is named in it.
    also = f" (and the base version of {paths.int8.name})" if with_base else ""
    edges.progress(step(Stage.INSPECT, detail=f"{paths.int8.name} and {paths.fp32.name}{also}"))
    plan = _plan(paths, edges)
    shapes = {item.name: item.shape for item in plan.inputs}
    # The INT8 model gets the shapes of the inputs it has: a renamed input is the pairing's mismatch to
    # report (exit 1 with the reason), not a usage error about shapes for an input it lacks.
    int8_inputs = {spec.name for spec in edges.load_declared_inputs(paths.int8)}
    int8 = edges.inspect(
        paths.int8, input_shapes={name: shape for name, shape in shapes.items() if name in int8_inputs},
        opt_level=settings.optimization_level,
        requirement=require.quantized, max_bytes=policy.limits.max_model_bytes, runtime_layer=True, vnni=vnni,
        timeout=deadline.limit(settings.timeout_seconds),
    )
    fp32 = edges.inspect(
        paths.fp32, input_shapes=shapes, opt_level=settings.optimization_level,
        requirement=require.quantized, max_bytes=policy.limits.max_model_bytes, runtime_layer=False, vnni=vnni,
        timeout=deadline.limit(settings.timeout_seconds),
    )
    pairing = pair_models(fp32, int8)
    rng = expected_range(runner.cpu.cpu_class, model_macs=fp32.macs_total, fp32_median_ms=None)
    threshold, threshold_source = resolve_threshold(require.min_speedup, rng)
    base_int8 = None
    if with_base and base is not None and base.int8 is not None:
        base_int8 = edges.inspect(
            base.int8, input_shapes=shapes, opt_level=settings.optimization_level,
            requirement=require.quantized, max_bytes=policy.limits.max_model_bytes, runtime_layer=True, vnni=vnni,
            timeout=deadline.limit(settings.timeout_seconds),
        )
    measured = PairMeasurement(())
    vs_runs: tuple[VsBaseRun, ...] = ()
    base_fidelity: FidelityResult | None = None
    skipped: list[str] = []
    if pairing.io_match and benchmark:
        threads = resolve_threads(settings.threads, runner.cpus.effective)
        refused = _refused(int8, require)
        context = FidelityContext(fp32.output_kinds, int8.input_ranges)

        def row_step(row: int, count: int) -> None:
            edges.progress(step(Stage.MEASURE, threads=count, row=row))

        if base_int8 is not None and base is not None and base.int8 is not None and edges.compare is not None:
            base_fp32 = base.fp32 if "fp32" in base.changed else None  # else the head's FP32 serves both
            side = edges.compare(
                paths.fp32, paths.int8, base.int8, base_fp32, threads=threads, inputs=plan.inputs,
                samples=paths.samples, settings=settings, threshold=threshold, requirement=require.fidelity,
                profile=policy.report.profile, refused=refused, context=context, progress=row_step,
                deadline=deadline,
            )  # fmt: skip
            measured, vs_runs, base_fidelity = side.pair, side.runs, side.base_fidelity
        else:
            measured = edges.measure(
                paths.fp32, paths.int8, threads=threads, inputs=plan.inputs, samples=paths.samples,
                settings=settings, threshold=threshold, requirement=require.fidelity, profile=policy.report.profile,
                refused=refused, context=context, progress=row_step, deadline=deadline,
            )  # fmt: skip
        skipped = [f"the row at {run.intra_op_threads} thread(s)" for run in measured.runs if run.not_measured]
        first = measured.runs[0] if measured.runs else None
        if first is not None and first.not_measured:  # the first row's worker compares the outputs
            measured, base_fidelity = replace(measured, fidelity=None), None
            skipped.append("the fidelity check")
    runs = list(measured.runs)
    ok = [run for run in runs if run.error is None and run.fp32 is not None]
    if ok and ok[0].fp32 is not None:  # the small-model class also looks at the measured FP32 latency
        rng = expected_range(runner.cpu.cpu_class, model_macs=fp32.macs_total, fp32_median_ms=ok[0].fp32.median_ms)
    profile = measured.profile if ok else None
    return Measured(
        int8, fp32, pairing, plan, tuple(runs), measured.fidelity, rng, threshold, threshold_source,
        profile, measured.profile_error if ok and policy.report.profile else None,
        (deadline_finding(deadline, skipped),) if skipped else (),
        base_int8, base_fidelity, vs_runs,
    )


def deadline_finding(deadline: Deadline, skipped: Sequence[str]) -> Finding:
    """What the run's deadline left out, and what to change."""
    return Finding(
        "run-deadline",
        Severity.WARN,
        "The run's deadline passed before everything was measured; what was left out is not measured.",
        "Raise limits.max_run_seconds, lower benchmark.budget_seconds, or gate fewer models per run.",
        f"not measured: {', '.join(skipped)}; {deadline.reason()}",
    )


def _refused(int8: ModelInspection, require: Requirements) -> str:
    """Why the pair has already failed, whatever its speed (then no speed confirmation), or ``""``."""
    if not int8.is_quantized:
        return "the pair already failed: the INT8 model is not really quantized"
    allowed = require.quantized.formats
    if allowed and int8.format.value not in allowed:
        return f"the pair already failed: format {int8.format.value} is not allowed by the policy"
    return ""


def _plan(paths: PairPaths, edges: Edges) -> InputPlan:
    declared = edges.load_declared_inputs(paths.fp32)
    samples = edges.sample_shapes(paths.samples) if paths.samples else None
    return plan_inputs(declared, paths.pair.inputs, samples=samples, where=f"{paths.pair.name}: inputs")


def _findings(m: Measured, runner: RunnerProfile, require: Requirements) -> tuple[Finding, ...]:
    """Explanation first (it names the cause), then census, pairing, measurement and fidelity findings."""
    ordered: list[Finding] = []
    rows: list[BenchRun | None] = [run for run in m.runs if run.error is None] or [None]
    for run in rows:
        ordered.extend(explain_mod.explain(_evidence(m.int8, run, m.fidelity, runner, m.qdq_time_share)))
    ordered.extend(m.int8.findings)
    ordered.extend(m.pairing.findings)
    for run in m.runs:
        ordered.extend(run.findings)
    if m.fidelity is not None:
        ordered.extend(m.fidelity.findings)
    ordered.extend(m.cut)
    unique: dict[str, Finding] = {}
    for finding in ordered:  # one per code; the expected-range verdict only from the first row
        key = "expected-range" if finding.code.startswith("expected-range") else finding.code
        unique.setdefault(key, finding)
    return apply_rules(unique.values(), require.findings)


def _evidence(
    int8: ModelInspection,
    run: BenchRun | None,
    fidelity: FidelityResult | None,
    runner: RunnerProfile,
    qdq_share: float | None,
) -> explain_mod.Evidence:
    after = int8.after_optimization
    speed = run.speedup if run is not None else None
    return explain_mod.Evidence(
        runner_class=runner.cpu.cpu_class,
        flags=runner.cpu.flags,
        hypervisor=runner.cpu.hypervisor,
        logical_cpus=runner.cpus.logical,
        effective_cpus=runner.cpus.effective,
        cpu_quota=runner.cpus.quota,
        intra_op_threads=run.intra_op_threads if run is not None else None,
        format=int8.format.value,
        is_quantized=int8.is_quantized,
        mac_share_quantized=int8.mac_share_quantized,
        macs_total=int8.macs_total,
        activation_type=int8.activation_type,
        weight_type=int8.weight_type,
        dynamic_conv_ops=int8.dynamic_conv_ops,
        integer_kernels=after.integer_kernels if after else None,
        float_compute=after.float_compute if after else None,
        float_compute_fed_by_dq=after.float_compute_fed_by_dq if after else None,
        quantize_linear=after.quantize_linear if after else None,
        dequantize_linear=after.dequantize_linear if after else None,
        unfused_op_types=tuple(item.op for item in after.float_compute_fed_by_dq_by_op) if after else (),
        unfused_qdq=after.unfused_qdq if after else 0,
        qdq_neighbor_op_types=tuple(item.op for item in after.qdq_neighbors) if after else (),
        default_thread_pool=False,  # every row sets intra_op_num_threads explicitly
        speedup=speed.estimate if speed else None,
        ci_low=speed.ci_low if speed else None,
        ci_high=speed.ci_high if speed else None,
        fp32_median_ms=run.fp32.median_ms if run is not None and run.fp32 else None,
        int8_median_ms=run.int8.median_ms if run is not None and run.int8 else None,
        qdq_time_share=qdq_share,
        fidelity_ok=fidelity.passed if fidelity is not None and fidelity.error is None else None,
        fidelity_metric=_fidelity_text(fidelity),
    )


def _fidelity_text(fidelity: FidelityResult | None) -> str:
    """The fidelity finding that fails the model, else each output's agreement in a few words."""
    if fidelity is None:
        return ""
    if fidelity.error:
        return fidelity.error
    failing = [f for f in fidelity.findings if f.code in ("fidelity-broken", "fidelity-drift")]
    if failing:
        return failing[0].evidence
    if not fidelity.outputs:
        return "no outputs compared"
    return "; ".join(summary(o) for o in fidelity.outputs[:3])


def _facts(m: Measured, require: Requirements, findings: tuple[Finding, ...]) -> GateFacts:
    int8, fidelity = m.int8, m.fidelity
    share = int8.mac_share_quantized
    share_text = f"{share:.0%} of compute MACs run in integer" if share is not None else "MACs unknown"
    evidence = (
        f"format {int8.format.value}, {share_text}, "
        f"{int8.compute_ops.quantized} of {int8.compute_ops.total} compute ops quantized "
        f"(policy: ≥ {require.quantized.min_mac_share:.0%} of MACs, ≥ {require.quantized.min_count_share:.0%} of ops)"
    )
    return GateFacts(
        is_quantized=int8.is_quantized,
        quantized_evidence=evidence,
        format=int8.format.value,
        allowed_formats=require.quantized.formats,
        io_mismatches=m.pairing.mismatches,
        fidelity_passed=None if fidelity is None else fidelity.passed,
        fidelity_evidence=_fidelity_text(fidelity),
        threshold=m.threshold,
        threshold_source=m.threshold_source,
        speed=tuple(speed_row(run) for run in m.runs),
        findings=findings,
    )

