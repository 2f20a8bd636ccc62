"""Measure a model pair in worker processes: a row per thread setting, each within its budget.

**The budget is a promise.** ``benchmark.budget_seconds`` bounds each row's wall time by the injected
``clock``, everything included: worker start-up, session creation, warm-up, the rounds, any
confirmation, and for the pair's first row its fidelity runs and profile. A row adds one worker
(one session per model, ``runtime.worker``) at a time and tells each how long it may take
(``limit_seconds``); before each new worker it applies the rules of ``measure.stopping`` — clear,
target, budget — and after the first phase the confirmation rule. Only the minimum of sessions
(``benchmark.sessions``, each at least ``rounds.MIN_ROUNDS_FLOOR`` rounds) runs whatever the budget;
a row that overruns for that reason carries an ``over-budget`` finding saying what budget it needs.

**No repeated work.** The first worker of a pair's first row also runs the fidelity feeds (they
warm its sessions) and the profile (which also measures the harness overhead); later rows reuse
that overhead figure, and a reference profile already made for the same FP32 file, inputs and
threads is not made again (``ProfileCache``).

Each worker's rounds last ``budget / (SLICES_PER_SESSION · sessions)`` seconds (at least
``MIN_SLICE_SECONDS``), so a row that needs more than the minimum of sessions has room for them. A
worker that crashes, is killed, runs out of memory or hangs past ``timeout_seconds`` turns its row
into a failed row with the cause; nothing here raises for a model's sake.

**The run's ``Deadline``** (``int8gate.deadline``) bounds a row too: a row that starts after it has
passed is *not measured*; a row that starts with less time left than its budget gets only that time
(and says ``stopped_by: deadline`` when the deadline, not its budget, ended it); a worker's time
limit is the smaller of ``timeout_seconds`` and the time left, and a worker the deadline stopped is
not an error: the row keeps the sessions it has.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no types-protobuf in dev deps

from int8gate.deadline import Deadline
from int8gate.findings import Finding, Severity
from int8gate.inputs.declared import inputs_of
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure import fidelity as fid
from int8gate.measure import stats, stopping
from int8gate.measure.benchrun import BenchRun, PairMeasurement
from int8gate.measure.opprofile import OpProfile, ProfileComparison, ProfileFormatError, compare_profiles, parse_profile
from int8gate.model.optimized import nodes_fed_by_dq
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.child import ChildError, module_command, run_child
from int8gate.runtime.profiler import optimized_path, profile_path
from int8gate.runtime.protocol import WorkerRequest, WorkerResult, setup_description
from int8gate.runtime.rounds import MIN_ROUNDS_FLOOR

Clock = Callable[[], float]


SLICES_PER_SESSION = 3
"""A worker's rounds last ``budget / (3 · sessions)`` seconds, so about 3× the minimum sessions fit."""
MIN_SLICE_SECONDS = 0.2
MIN_ROUNDS = 5
MAX_SESSIONS = 200
"""At most this many sessions per row, confirmation included (with ``MAX_SAMPLES_PER_SESSION``, the
row's latencies stay within a few hundred MB whatever the budget)."""
FIRST_PHASE_SHARE = 0.5
"""When a confirmation may follow, the first phase's minimum sessions are planned within half the budget."""
PROFILE_SHARE = 0.15
"""The first worker of a pair may spend this share of the budget on the profile, on top of its share."""
PROFILE_RUNS = 10
STARTUP_GUESS = 0.2
"""Seconds a worker takes to start before its own clock runs (Python, imports), until a row has measured it."""


WORKER_MODULE = "int8gate.runtime.worker"


@dataclass(frozen=True)
class WorkerLauncher:
    """Starts worker processes through ``child.run_child``: the command, the parent environment (the
    worker gets its allow-listed part), and the time limit."""

    env: Mapping[str, str]
    timeout_seconds: float
    command: tuple[str, ...] = field(default_factory=lambda: module_command(WORKER_MODULE))

    def run(self, request: WorkerRequest, *, timeout: float | None = None) -> WorkerResult | str:
        """The worker's result, or a one-line cause when it failed (``timeout`` overrides the launcher's)."""
        limit = self.timeout_seconds if timeout is None else timeout
        try:
            text = run_child(self.command, request.to_json(), env=self.env, timeout=limit)
        except ChildError as exc:
            return exc.cause("worker")
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            return WorkerResult.from_json(lines[-1])
        except (IndexError, ValueError, TypeError, KeyError) as err:
            return f"worker wrote an unreadable result ({err})"


Launch = Callable[[WorkerRequest], "WorkerResult | str"]


def _request(
    fp32: Path,
    int8: Path,
    *,
    threads: int,
    settings: BenchmarkSettings,
    inputs: Sequence[ResolvedInput],
    samples: Path | None,
    **extra: Any,
) -> WorkerRequest:
    """A worker request with the fields every worker of a pair shares, plus its own.

    With no ``inputs`` given, the FP32 model's declared inputs are read here, once per pair, so no
    worker has to load the model with onnx; a file onnx cannot read is left for the worker to report.
    """
    if not inputs:
        try:
            inputs = inputs_of(fp32)
        except (OSError, DecodeError):
            inputs = ()
    return WorkerRequest(
        models=(str(Path(fp32).absolute()), str(Path(int8).absolute())),  # the worker starts in its own folder
        threads=threads,
        optimization_level=settings.optimization_level.value,
        inputs=tuple(inputs),
        samples=None if samples is None else str(Path(samples).absolute()),
        seed=settings.seed,
        fidelity_samples=settings.fidelity_samples,
        **extra,
    )


def _launcher(
    env: Mapping[str, str] | None, settings: BenchmarkSettings, worker_command: Sequence[str] | None
) -> WorkerLauncher:
    command = tuple(worker_command) if worker_command else module_command(WORKER_MODULE)
    return WorkerLauncher(env or {}, settings.timeout_seconds, command)


@dataclass(frozen=True)
class FirstWorker:
    """What the first worker of a row does besides timing: fidelity, the profile (models by index)."""

    fidelity: bool = False
    profile_models: tuple[int, ...] = ()
    outputs_dir: str | None = None


@dataclass
class _Row:
    """The sessions gathered so far for one row (mutable while measuring, never returned)."""

    results: list[WorkerResult] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)

    def samples(self) -> list[stats.SessionSamples]:
        return [stats.SessionSamples(r.latencies_ns[0], r.latencies_ns[1]) for r in self.results]

    def _fixed(self) -> float:
        """Seconds a worker spends outside its rounds (start-up, sessions, warm-up), on average."""
        pairs = zip(self.costs, self.results, strict=True)
        return float(np.mean([c - r.extra_seconds - r.rounds_seconds for c, r in pairs]))

    def _per_round(self) -> float:
        return float(np.mean([r.rounds_seconds / max(r.rounds, 1) for r in self.results]))

    def session_cost(self, slice_seconds: float) -> float:
        """Seconds an ordinary worker takes: outside its rounds, plus its slice or its minimum of rounds."""
        return self._fixed() + max(slice_seconds, MIN_ROUNDS * self._per_round())

    def least_cost(self) -> float:
        """Seconds a worker squeezed to the floor of rounds takes."""
        return self._fixed() + MIN_ROUNDS_FLOOR * self._per_round()

    def startup(self) -> float:
        """Seconds a worker takes before its own clock starts, on average."""
        if not self.results:
            return STARTUP_GUESS
        return max(float(np.mean([c - r.elapsed_seconds for c, r in zip(self.costs, self.results, strict=True)])), 0.0)


def measure_pair(
    fp32: Path,
    int8: Path,
    *,
    inputs: Sequence[ResolvedInput] = (),
    samples: Path | None = None,
    threads: int,
    settings: BenchmarkSettings,
    threshold: float,
    clock: Clock = time.monotonic,
    env: Mapping[str, str] | None = None,
    worker_command: Sequence[str] | None = None,
    refused: str = "",
    deadline: Deadline | None = None,
) -> BenchRun:
    """One row: the speedup of ``int8`` over ``fp32`` at ``threads`` intra-op threads, within the budget.

    ``inputs`` are resolved input specs (empty: read from the FP32 model, free dims = 1); ``env`` is
    the parent environment the workers' allow-listed one is built from; ``refused`` says why the pair
    has already failed (no confirmation then); ``deadline`` is the run's (module docstring).
    """
    base = _request(fp32, int8, threads=threads, settings=settings, inputs=inputs, samples=samples)
    launch = _bounded_launch(_launcher(env, settings, worker_command), deadline)
    with tempfile.TemporaryDirectory(prefix="int8gate-row-") as tmp:  # the profile step measures the overhead
        run, _ = measure_row(base, launch, settings=settings, threshold=threshold, clock=clock, refused=refused,
                             deadline=deadline, first=FirstWorker(profile_models=(0, 1), outputs_dir=tmp))  # fmt: skip
    return run


def measure_row(
    base: WorkerRequest,
    launch: Launch,
    *,
    settings: BenchmarkSettings,
    threshold: float,
    clock: Clock,
    refused: str = "",
    deadline: Deadline | None = None,
    first: FirstWorker = FirstWorker(),
    overhead_ms: float | None = None,
    narrow: Callable[[Sequence[WorkerResult]], bool] | None = None,
) -> tuple[BenchRun, WorkerResult | None]:
    """Measure one row (module docstring); the row and its first worker's result (``None`` if it failed).

    ``narrow``: a further condition for stopping before the budget (``runtime.sidebyside``: the head
    INT8 / base INT8 interval at its target too), given the sessions so far.
    ``overhead_ms`` is the harness overhead already measured for this pair (then the first worker
    measures it only if it profiles anyway).
    """
    start = clock()
    if deadline is not None and deadline.expired():
        return not_measured_row(base.threads, threshold, deadline, settings.budget_seconds), None
    budget = min(settings.budget_seconds, deadline.remaining() if deadline is not None else math.inf)
    row = _Row()
    stop, error, confirmed, note = _gather(row, base, launch, settings=settings, threshold=threshold, clock=clock,
                                           refused=refused, deadline=deadline, first=first, start=start,
                                           budget=budget, narrow=narrow)  # fmt: skip
    if budget < settings.budget_seconds and stop is stats.StopReason.BUDGET:
        stop = stats.StopReason.DEADLINE  # the run's deadline, not the row's budget, set its end
    first_result = row.results[0] if row.results else None
    measured_overhead = first_result.overhead_ns / 1e6 if first_result and first_result.overhead_ns else None
    shell = BenchRun(
        intra_op_threads=base.threads,
        threshold=threshold,
        fp32=None,
        int8=None,
        speedup=None,
        call=None,
        stopped_by=None,
        confirmed=confirmed,
        sessions=len(row.results),
        rounds=sum(r.rounds for r in row.results),
        seconds=clock() - start,
        setup=first_result.setup if first_result else setup_description(base.threads),
        harness_overhead_ms=measured_overhead if measured_overhead is not None else (overhead_ms or 0.0),
        budget_seconds=budget,
        confirmation=note,
    )
    if error is None and not row.results and deadline is not None and stop is stats.StopReason.DEADLINE:
        return replace(shell, not_measured=deadline.reason()), None
    if error is not None or not row.results:
        return replace(shell, error=error or "no session finished"), first_result
    return _finish(shell, row, settings, stop or stats.StopReason.BUDGET), first_result


def _gather(
    row: _Row,
    base: WorkerRequest,
    launch: Launch,
    *,
    settings: BenchmarkSettings,
    threshold: float,
    clock: Clock,
    refused: str,
    deadline: Deadline | None,
    first: FirstWorker,
    start: float,
    budget: float,
    narrow: Callable[[Sequence[WorkerResult]], bool] | None = None,
) -> tuple[stats.StopReason | None, str | None, bool, str]:
    """Add sessions to ``row`` by the stopping and confirmation rules within ``budget`` seconds from
    ``start``: the rule that stopped it, the error (a failed worker), whether it was confirmed and why
    (or why not). A worker the run's deadline stopped is not an error: the row keeps what it has."""
    end = start + budget
    minimum = max(settings.sessions, 1)
    slice_seconds = max(budget / (SLICES_PER_SESSION * minimum), MIN_SLICE_SECONDS)
    may_confirm = settings.confirm and not refused
    phase_start, confirmed, note = 0, False, ""
    stop: stats.StopReason | None = None
    while len(row.results) < MAX_SESSIONS:
        in_phase, reserve = len(row.results) - phase_start, 0.0
        if in_phase >= minimum:
            speedup = stats.estimate_speedup(row.samples(), seed=settings.seed)
            zone = stopping.near_zone(_doubts(row, settings, threads=base.threads, speedup=speedup))
            stop = stopping.stop_rule(speedup, sessions=in_phase, minimum=minimum, threshold=threshold, zone=zone,
                                      target_halfwidth=settings.target_halfwidth)  # fmt: skip
            if stop is not None and narrow is not None and not narrow(row.results):
                stop = None
            near = not stopping.clear_of(speedup, threshold, zone)
            # Keep room for a confirmation of ordinary sessions; one of the least sessions will still do.
            ordinary = row.session_cost(slice_seconds)
            reserve = minimum * ordinary if may_confirm and not confirmed and near else 0.0
            if stop is None and clock() + ordinary > end - reserve:
                stop = stats.StopReason.BUDGET
            if stop is not None and phase_start == 0:
                decision = stopping.confirmation(speedup, threshold, zone, allowed=may_confirm,
                                                 refused_because=refused or "turned off by the policy")  # fmt: skip
                note = decision.reason
                if decision.wanted and clock() + minimum * row.least_cost() <= end:
                    phase_start, confirmed, stop = len(row.results), True, None
                    note = f"confirmed: first result {_interval(speedup)} {decision.reason}"
                    continue
                if decision.wanted:
                    note = f"not confirmed: the budget left no room ({decision.reason})"
            if stop is not None:
                return stop, None, confirmed, note
        index = len(row.results)
        request = _for_session(
            base, index, slice_seconds,
            limit=_limit(row, clock(), start=start, end=end - reserve, budget=budget, minimum=minimum,
                         in_phase=in_phase, first_phase=phase_start == 0 and may_confirm),
            first=first if index == 0 else FirstWorker(),
            profile_extra=PROFILE_SHARE * budget if index == 0 and first.profile_models else 0.0,
        )  # fmt: skip
        t0 = clock()
        result = launch(request)
        if isinstance(result, str):
            if deadline is not None and deadline.expired():
                return stats.StopReason.DEADLINE, None, confirmed, note
            return stop, result, confirmed, note
        row.costs.append(clock() - t0)
        row.results.append(result)
    return stop, None, confirmed, note


def _bounded_launch(launcher: WorkerLauncher, deadline: Deadline | None) -> Launch:
    """``launcher.run`` with each worker's time limit cut to the time the run's deadline leaves."""
    if deadline is None:
        return launcher.run
    return lambda request: launcher.run(request, timeout=deadline.limit(launcher.timeout_seconds))


def not_measured_row(threads: int, threshold: float, deadline: Deadline, budget: float = 0.0) -> BenchRun:
    """A row the run's deadline left out: no figures, not a failure (the verdict is inconclusive)."""
    return BenchRun(
        intra_op_threads=threads, threshold=threshold, fp32=None, int8=None, speedup=None, call=None,
        stopped_by=None, confirmed=False, sessions=0, rounds=0, seconds=0.0, setup="",
        harness_overhead_ms=0.0, not_measured=deadline.reason(), budget_seconds=budget,
    )  # fmt: skip


def _limit(
    row: _Row, now: float, *, start: float, end: float, budget: float, minimum: int, in_phase: int, first_phase: bool
) -> float:
    """How long the next worker may take by its own clock (its fidelity step not counted); ``end``
    is the row's end less the time kept for a confirmation.

    A worker among the phase's minimum shares the time left with the others still to come; the
    first phase of a row that may be confirmed plans its minimum within ``FIRST_PHASE_SHARE`` of the
    budget that the pair's fidelity and profile steps (done so far) left. Past the minimum a worker
    may take what is left.
    """
    if in_phase < minimum:
        extras = sum(r.extra_seconds for r in row.results)
        phase_end = min(end, start + extras + FIRST_PHASE_SHARE * (budget - extras)) if first_phase else end
        share = (phase_end - now) / (minimum - in_phase)
    else:
        share = end - now
    return max(share - row.startup(), 0.001)


def _for_session(
    base: WorkerRequest, index: int, slice_seconds: float, *, limit: float, first: FirstWorker, profile_extra: float
) -> WorkerRequest:
    """The ``index``-th session's request: rotated creation order, its own round order, its limit."""
    return replace(
        base,
        rotate=index % len(base.models),
        order_seed=base.seed * 1_000_003 + index,
        warmup_runs=base.warmup_runs,
        min_rounds=MIN_ROUNDS,
        max_seconds=slice_seconds,
        limit_seconds=limit + profile_extra,
        fidelity=first.fidelity,
        profile_models=first.profile_models,
        profile_runs=PROFILE_RUNS,
        outputs_dir=first.outputs_dir,
    )


def _interval(speedup: stats.Speedup) -> str:
    return f"{speedup.estimate:.2f}× ({speedup.ci_low:.2f}–{speedup.ci_high:.2f})"


def _load(row: _Row, threads: int) -> stats.MachineLoad:
    seconds_run = sum(r.rounds_seconds for r in row.results)
    return stats.MachineLoad(
        involuntary_switches_per_s=sum(r.involuntary_switches for r in row.results) / max(seconds_run, 1e-9),
        load_average=max(r.load_average for r in row.results),
        usable_cpus=row.results[0].usable_cpus,
        threads=threads,
        other_cpu_share=_other_cpu_share(row.results, seconds_run),
    )


def _quality(
    row: _Row, settings: BenchmarkSettings, *, threads: int, speedup: stats.Speedup, stop: stats.StopReason,
    overhead_ms: float,
) -> tuple[Finding, ...]:  # fmt: skip
    sessions = row.samples()
    return stats.quality_findings(
        sessions,
        fp32=stats.summarize([ns for s in sessions for ns in s.fp32_ns]),
        int8=stats.summarize([ns for s in sessions for ns in s.int8_ns]),
        speedup=speedup,
        stopped_by=stop,
        target_halfwidth=settings.target_halfwidth,
        clock_tick_ns=max(r.clock_tick_ns for r in row.results),
        harness_overhead_ms=overhead_ms,
        load=_load(row, threads),
    )


def _doubts(row: _Row, settings: BenchmarkSettings, *, threads: int, speedup: stats.Speedup) -> set[str]:
    """Codes of the quality findings the sessions so far carry (the near zone widens on a doubt)."""
    found = _quality(row, settings, threads=threads, speedup=speedup, stop=stats.StopReason.TARGET, overhead_ms=0.0)
    return {f.code for f in found}


def _finish(shell: BenchRun, row: _Row, settings: BenchmarkSettings, stop: stats.StopReason) -> BenchRun:
    """Fill ``shell`` with the summaries, estimate, call and quality findings of the sessions."""
    sessions = row.samples()
    fp32 = stats.summarize([ns for s in sessions for ns in s.fp32_ns])
    int8 = stats.summarize([ns for s in sessions for ns in s.int8_ns])
    speedup = stats.estimate_speedup(sessions, seed=settings.seed)
    findings = _quality(row, settings, threads=shell.intra_op_threads, speedup=speedup, stop=stop,
                        overhead_ms=shell.harness_overhead_ms)  # fmt: skip
    over = _over_budget(shell)
    return replace(
        shell,
        fp32=fp32,
        int8=int8,
        speedup=speedup,
        call=stats.call(speedup, shell.threshold),
        stopped_by=stop,
        session_speedups=stats.session_speedups(sessions),
        findings=findings + over,
    )


OVER_BUDGET_TOLERANCE = 0.05
"""A row may end this share past its budget before it is called over budget (the last worker's exit)."""


def _over_budget(shell: BenchRun) -> tuple[Finding, ...]:
    """An ``over-budget`` finding when the row's minimum could not fit its budget."""
    if shell.seconds <= shell.budget_seconds * (1 + OVER_BUDGET_TOLERANCE):
        return ()
    return (
        Finding(
            "over-budget",
            Severity.WARN,
            "The row took longer than its time budget: its minimum of sessions and rounds does not fit in it.",
            f"Raise benchmark.budget_seconds to {shell.seconds:.0f} s or more, or lower benchmark.sessions.",
            f"{shell.seconds:.1f} s for a {shell.budget_seconds:g} s budget, {shell.sessions} sessions × "
            f"{shell.rounds} rounds",
        ),
    )


def _other_cpu_share(results: Sequence[WorkerResult], seconds_run: float) -> float | None:
    """Other processes' CPU time over the rounds, as a share of the usable CPUs' time."""
    other = [r.other_cpu_seconds for r in results]
    if not results or any(value is None for value in other) or seconds_run <= 0:
        return None
    return sum(v for v in other if v is not None) / (seconds_run * max(results[0].usable_cpus, 1))


ProfileKey = tuple[str, int, str, tuple[ResolvedInput, ...], str | None]
ProfileCache = dict[ProfileKey, OpProfile]
"""Reference (FP32) profiles already made in this run, by (file, threads, opt level, inputs, samples)."""


def measure_models(
    fp32: Path,
    int8: Path,
    *,
    threads: Sequence[int],
    inputs: Sequence[ResolvedInput] = (),
    samples: Path | None = None,
    settings: BenchmarkSettings,
    threshold: float,
    requirement: FidelityRequirement | None,
    context: fid.FidelityContext = fid.FidelityContext(),  # noqa: B008 (frozen, shared safely)
    profile: bool = True,
    refused: str = "",
    clock: Clock = time.monotonic,
    env: Mapping[str, str] | None = None,
    worker_command: Sequence[str] | None = None,
    deadline: Deadline | None = None,
    progress: Callable[[int, int], None] | None = None,
    profiles: ProfileCache | None = None,
) -> PairMeasurement:
    """Every row of a pair, with fidelity (``requirement``; ``None``: not checked) and the profile
    (returned when ``profile``) done by the first row's first worker (module docstring)."""
    launch = _bounded_launch(_launcher(env, settings, worker_command), deadline)
    base = _request(fp32, int8, threads=threads[0] if threads else 1, settings=settings, inputs=inputs, samples=samples)
    key: ProfileKey = (str(fp32.resolve()), base.threads, base.optimization_level, base.inputs, base.samples)
    cache = profiles if profiles is not None else {}
    runs: list[BenchRun] = []
    fidelity: fid.FidelityResult | None = None
    comparison: ProfileComparison | None = None
    profile_error: str | None = None
    overhead: float | None = None
    with tempfile.TemporaryDirectory(prefix="int8gate-pair-") as tmp:
        for position, count in enumerate(threads):
            if progress is not None:  # row (1-based) and its thread count, before it starts
                progress(position + 1, count)
            extra = FirstWorker()
            if position == 0:  # the profile step also measures the harness overhead, so it always runs
                extra = FirstWorker(requirement is not None, (1,) if key in cache else (0, 1), tmp)
            run, first = measure_row(replace(base, threads=count), launch, settings=settings, threshold=threshold,
                                     clock=clock, refused=refused, deadline=deadline, first=extra,
                                     overhead_ms=overhead)  # fmt: skip
            runs.append(run)
            if position == 0:
                overhead = run.harness_overhead_ms if first is not None and first.overhead_ns else None
                if requirement is not None:
                    fidelity = _fidelity_from(first, replace(base, threads=count), run.error, requirement, context)
                if profile:
                    comparison, profile_error = _profile_from(Path(tmp), first, run.error, key, cache)
    return PairMeasurement(tuple(runs), fidelity, comparison, profile_error)


def _fidelity_from(
    first: WorkerResult | None,
    request: WorkerRequest,
    error: str | None,
    requirement: FidelityRequirement,
    context: fid.FidelityContext,
) -> fid.FidelityResult:
    """The pair's fidelity from the first worker's fidelity step, or why there is none."""
    if first is None or not first.samples:
        return fid.failed(error or "the models were not run", source="random" if request.samples is None else "samples")
    return judge_outputs(first, request, requirement, context)


def _profile_from(
    folder: Path, first: WorkerResult | None, error: str | None, key: ProfileKey, cache: ProfileCache
) -> tuple[ProfileComparison | None, str | None]:
    """The pair's profile comparison from the first worker's files, or why there is none."""
    if first is None:
        return None, f"not profiled: {error or 'the models were not run'}"
    if first.profile_note:
        return None, f"profile {first.profile_note}"
    if 1 not in first.profiled:
        return None, "not profiled"
    try:
        reference = cache.get(key) or parse_profile(profile_path(folder, 0).read_text(encoding="utf-8"), skip_runs=1)
        candidate = parse_profile(profile_path(folder, 1).read_text(encoding="utf-8"), skip_runs=1)
        fed = nodes_fed_by_dq(onnx.load(str(optimized_path(folder, 1)), load_external_data=False))
    except (OSError, ProfileFormatError, DecodeError) as err:
        return None, f"profile unreadable: {err}"
    cache[key] = reference
    return compare_profiles(reference, candidate, fed_by_dq=fed, threads=key[1]), None


def check_fidelity(
    fp32: Path,
    int8: Path,
    *,
    inputs: Sequence[ResolvedInput] = (),
    samples: Path | None = None,
    requirement: FidelityRequirement,
    settings: BenchmarkSettings,
    context: fid.FidelityContext = fid.FidelityContext(),  # noqa: B008 (frozen, shared safely)
    threads: int = 1,
    env: Mapping[str, str] | None = None,
    worker_command: Sequence[str] | None = None,
    deadline: Deadline | None = None,
) -> fid.FidelityResult:
    """Output agreement alone: a worker runs both models on the same inputs, no timing.

    Inputs are the samples' (up to ``settings.fidelity_samples``) or seeded random data; ``context``
    (from the census) says what each output holds and which input ranges the INT8 model was calibrated on.
    The worker's time limit is the smaller of ``timeout_seconds`` and the time ``deadline`` leaves.
    """
    launch = _bounded_launch(_launcher(env, settings, worker_command), deadline)
    request = _request(fp32, int8, threads=threads, settings=settings, inputs=inputs, samples=samples,
                       fidelity=True, max_rounds=0)  # fmt: skip
    result = launch(request)
    if isinstance(result, str):
        return fid.failed(result, source="random" if samples is None else "samples")
    return judge_outputs(result, request, requirement, context)


def judge_outputs(
    result: WorkerResult, request: WorkerRequest, requirement: FidelityRequirement, context: fid.FidelityContext
) -> fid.FidelityResult:
    """The verdict on a worker's fidelity step (its ``compared``), for the inputs its request named."""
    count = max((o.samples for o in result.compared), default=0)
    if request.samples is not None:
        used = f"{count} samples from {Path(request.samples).name}"
        return fid.evaluate(result.compared, requirement, source="samples", kinds=context.kinds,
                            synthetic=None, inputs_text=used)  # fmt: skip
    synthetic = fid.synthetic_check(request.inputs, context.input_ranges, count=count, seed=request.seed)
    return fid.evaluate(result.compared, requirement, source="random", kinds=context.kinds, synthetic=synthetic,
                        inputs_text=f"{count} seeded random samples (seed {request.seed})")  # fmt: skip


def profile_pair(
    fp32: Path,
    int8: Path,
    *,
    inputs: Sequence[ResolvedInput] = (),
    samples: Path | None = None,
    threads: int = 1,
    runs: int = PROFILE_RUNS,
    settings: BenchmarkSettings = BenchmarkSettings(),  # noqa: B008 (frozen, shared safely)
    env: Mapping[str, str] | None = None,
    worker_command: Sequence[str] | None = None,
) -> ProfileComparison | str:
    """Where the time goes alone: a worker profiles both models, no timing; the comparison or why not."""
    launcher = _launcher(env, settings, worker_command)
    with tempfile.TemporaryDirectory(prefix="int8gate-profile-") as tmp:
        request = _request(fp32, int8, threads=threads, settings=settings, inputs=inputs, samples=samples,
                           max_rounds=0, profile_models=(0, 1), profile_runs=runs, outputs_dir=tmp)  # fmt: skip
        result = launcher.run(request)
        if isinstance(result, str):
            return result
        comparison, error = _profile_from(Path(tmp), result, None, ("", threads, "", (), None), {})
    return comparison if comparison is not None else str(error)

