"""Drive worker processes to measure one (model pair, threads) row within a budget, and check fidelity.

A row runs one worker process per session pair, one at a time, each timing paired FP32/INT8
rounds for a slice of the budget. After ``settings.sessions`` sessions it stops as soon as the
speedup interval is as narrow as ``target_halfwidth``, or when the next worker would overrun the
budget; the row says which. A call of "slower" is confirmed before it stands: the row is measured
again with twice the budget and decided on the pooled sessions. A worker that crashes, is killed by
a signal, runs out of memory or hangs past ``timeout_seconds`` turns its row into a failed row with
the cause; it never raises. Time is read from an injected ``clock`` (seconds), so tests are exact.
The run's ``Deadline`` bounds a row too: no session starts once it has passed, a worker's time
limit is the smaller of ``timeout_seconds`` and the time left, and a row it cuts short keeps the
sessions it has (``stopped_by: deadline``) or, with none, is reported as not measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no types-protobuf in dev deps

from int8gate.deadline import Deadline
from int8gate.inputs.declared import inputs_of
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure import fidelity as fid
from int8gate.measure import stats
from int8gate.measure.benchrun import BenchRun
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.child import ChildError, module_command, run_child
from int8gate.runtime.protocol import WorkerRequest, WorkerResult, setup_description

Clock = Callable[[], float]


SLICES_PER_SESSION = 3
"""A worker gets ``budget / (3 · sessions)`` seconds of rounds, so about 3× the minimum sessions run."""
MIN_SLICE_SECONDS = 0.2
MIN_ROUNDS = 5
MAX_SESSIONS = 200
"""At most this many sessions per row, confirmation included (with ``MAX_SAMPLES_PER_SESSION``, the
row's latencies stay within a few hundred MB whatever the budget)."""
CONFIRM_BUDGET_FACTOR = 2.0


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


def _request(
    mode: str,
    fp32: Path,
    int8: Path,
    *,
    threads: int,
    settings: BenchmarkSettings,
    inputs: Sequence[ResolvedInput],
    samples: Path | None,
    **extra: Any,
) -> WorkerRequest:
    """A worker request with the fields every mode shares, plus the mode's own.

    With no ``inputs`` given, the FP32 model's declared inputs are read here, once per row, so no
    worker has to load the model with onnx; a file onnx cannot read is left for the worker to report.
    """
    if not inputs:
        try:
            inputs = inputs_of(fp32)
        except (OSError, DecodeError):
            inputs = ()
    return WorkerRequest(
        mode=mode,
        fp32=str(Path(fp32).absolute()),  # the worker starts in its own folder
        int8=str(Path(int8).absolute()),
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


@dataclass
class _Row:
    """The sessions gathered so far for one row (mutable while measuring, never returned)."""

    results: list[WorkerResult] = field(default_factory=list)

    def samples(self) -> list[stats.SessionSamples]:
        return [stats.SessionSamples(r.fp32_ns, r.int8_ns) for r in self.results]


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
    deadline: Deadline | None = None,
) -> BenchRun:
    """Measure the speedup of ``int8`` over ``fp32`` at ``threads`` intra-op threads.

    ``inputs`` are resolved input specs (empty: read from the FP32 model, free dims = 1);
    ``env`` is the parent environment the worker's allow-listed one is built from; ``deadline``
    is the run's (default: none).
    """
    deadline = deadline or Deadline.never(clock)
    launcher = _launcher(env, settings, worker_command)
    base = _request("measure", fp32, int8, threads=threads, settings=settings, inputs=inputs, samples=samples,
                    warmup_runs=settings.warmup_runs, min_rounds=MIN_ROUNDS, overhead_runs=0)  # fmt: skip
    start = clock()
    row = _Row()
    phase = partial(_phase, row, base, launcher=launcher, settings=settings, clock=clock, deadline=deadline)
    stop, error = phase(budget=settings.budget_seconds)
    confirmed = False
    if error is None and row.results and settings.confirm and not deadline.expired():
        first = stats.estimate_speedup(row.samples(), seed=settings.seed)
        if stats.call(first, threshold) is stats.Call.SLOWER:
            stop, error = phase(budget=CONFIRM_BUDGET_FACTOR * settings.budget_seconds)
            confirmed = True
    shell = BenchRun(
        intra_op_threads=threads,
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
        setup=row.results[0].setup if row.results else setup_description(threads),
        harness_overhead_ms=row.results[0].overhead_ns / 1e6 if row.results else 0.0,
    )
    if error is None and not row.results and stop is stats.StopReason.DEADLINE:
        return replace(shell, not_measured=deadline.reason())
    if error is not None or not row.results:
        return replace(shell, error=error or "no session finished")
    return _finish(shell, row, settings, stop)


def _phase(
    row: _Row,
    base: WorkerRequest,
    *,
    launcher: WorkerLauncher,
    settings: BenchmarkSettings,
    budget: float,
    clock: Clock,
    deadline: Deadline,
) -> tuple[stats.StopReason, str | None]:
    """Add sessions to ``row`` until the target is met, ``budget`` seconds are spent or the deadline
    passes (a worker the deadline stopped is not an error: the row keeps what it has)."""
    minimum = max(settings.sessions, 1)
    slice_seconds = max(budget / (SLICES_PER_SESSION * minimum), MIN_SLICE_SECONDS)
    began = clock()
    costs: list[float] = []
    while len(row.results) < MAX_SESSIONS:
        if deadline.expired():
            return stats.StopReason.DEADLINE, None
        if len(costs) >= minimum:
            speedup = stats.estimate_speedup(row.samples(), seed=settings.seed)
            if speedup.halfwidth <= settings.target_halfwidth:
                return stats.StopReason.TARGET, None
            expected = float(np.mean(costs))
            if deadline.remaining() < expected:
                return stats.StopReason.DEADLINE, None
            if clock() - began + expected > budget:
                return stats.StopReason.BUDGET, None
        index = len(row.results)
        request = _for_session(base, index, slice_seconds)
        t0 = clock()
        result = launcher.run(request, timeout=deadline.limit(settings.timeout_seconds))
        costs.append(clock() - t0)
        if isinstance(result, str):
            if deadline.expired():
                return stats.StopReason.DEADLINE, None
            return stats.StopReason.BUDGET, result
        row.results.append(result)
    return stats.StopReason.BUDGET, None


def _for_session(base: WorkerRequest, index: int, slice_seconds: float) -> WorkerRequest:
    """The ``index``-th session's request: alternate creation order, its own round order.

    Only the first session also measures the harness overhead (it costs a profiled run of each).
    """
    return replace(
        base,
        fp32_first=index % 2 == 0,
        order_seed=base.seed * 1_000_003 + index,
        overhead_runs=5 if index == 0 else 0,
        max_seconds=slice_seconds,
    )


def _finish(shell: BenchRun, row: _Row, settings: BenchmarkSettings, stop: stats.StopReason) -> BenchRun:
    """Fill ``shell`` with the summaries, estimate, call and quality findings of the sessions."""
    threads = shell.intra_op_threads
    sessions = row.samples()
    fp32 = stats.summarize([ns for s in sessions for ns in s.fp32_ns])
    int8 = stats.summarize([ns for s in sessions for ns in s.int8_ns])
    speedup = stats.estimate_speedup(sessions, seed=settings.seed)
    seconds_run = sum(r.rounds_seconds for r in row.results)
    load = stats.MachineLoad(
        involuntary_switches_per_s=sum(r.involuntary_switches for r in row.results) / max(seconds_run, 1e-9),
        load_average=max(r.load_average for r in row.results),
        usable_cpus=row.results[0].usable_cpus,
        threads=threads,
        other_cpu_share=_other_cpu_share(row.results, seconds_run),
    )
    findings = stats.quality_findings(
        sessions,
        fp32=fp32,
        int8=int8,
        speedup=speedup,
        stopped_by=stop,
        target_halfwidth=settings.target_halfwidth,
        clock_tick_ns=max(r.clock_tick_ns for r in row.results),
        harness_overhead_ms=shell.harness_overhead_ms,
        load=load,
    )
    return replace(
        shell,
        fp32=fp32,
        int8=int8,
        speedup=speedup,
        call=stats.call(speedup, shell.threshold),
        stopped_by=stop,
        session_speedups=stats.session_speedups(sessions),
        findings=findings,
    )


def _other_cpu_share(results: Sequence[WorkerResult], seconds_run: float) -> float | None:
    """Other processes' CPU time over the rounds, as a share of the usable CPUs' time."""
    other = [r.other_cpu_seconds for r in results]
    if not results or any(value is None for value in other) or seconds_run <= 0:
        return None
    return sum(v for v in other if v is not None) / (seconds_run * max(results[0].usable_cpus, 1))


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
    """Run both models on the same inputs in a worker and judge their outputs' agreement.

    Inputs are the samples' (up to ``settings.fidelity_samples``) or seeded random data; ``context``
    (from the census) says what each output holds and which input ranges the INT8 model was calibrated on.
    The worker's time limit is the smaller of ``timeout_seconds`` and the time ``deadline`` leaves.
    """
    launcher = _launcher(env, settings, worker_command)
    if deadline is not None:
        launcher = replace(launcher, timeout_seconds=deadline.limit(settings.timeout_seconds))
    source = "random" if samples is None else "samples"
    request = _request("fidelity", fp32, int8, threads=threads, settings=settings, inputs=inputs, samples=samples)
    result = launcher.run(request)
    if isinstance(result, str):
        return fid.failed(result, source=source)
    return judge_outputs(result, request, requirement, context)


def judge_outputs(
    result: WorkerResult, request: WorkerRequest, requirement: FidelityRequirement, context: fid.FidelityContext
) -> fid.FidelityResult:
    """The verdict on a fidelity worker's answer (``runtime.compare``), for the inputs its request named."""
    count = max((o.samples for o in result.compared), default=0)
    if request.samples is not None:
        used = f"{count} samples from {Path(request.samples).name}"
        return fid.evaluate(result.compared, requirement, source="samples", kinds=context.kinds,
                            synthetic=None, inputs_text=used)  # fmt: skip
    synthetic = fid.synthetic_check(request.inputs, context.input_ranges, count=count, seed=request.seed)
    return fid.evaluate(result.compared, requirement, source="random", kinds=context.kinds, synthetic=synthetic,
                        inputs_text=f"{count} seeded random samples (seed {request.seed})")  # fmt: skip
