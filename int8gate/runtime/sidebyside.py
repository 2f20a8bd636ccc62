"""Measure a changed pair beside its base versions: head FP32, head INT8, base INT8 (and base FP32) timed
in the same rounds of the same workers, within each row's budget.

The rows are ``bench``'s (``measure_row``: the same workers, one session per model, slices, budget,
stop and confirmation rules), with the base's models added to every worker's ``models`` — the worker
times any number of models in balanced rounds, every model in every position once per block. A row
stops early only when the head/base time ratio's interval is as narrow as ``target_halfwidth`` too.
The first worker of the first row checks the head pair's outputs and profiles it as ``bench`` does;
the base INT8 model's output agreement takes one more fidelity worker after the rows.
A worker that fails turns the row and its side-by-side figures into failed rows with the cause.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from int8gate.deadline import Deadline
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure import fidelity as fid
from int8gate.measure import sidebyside
from int8gate.measure.benchrun import BenchRun, PairMeasurement
from int8gate.measure.opprofile import ProfileComparison
from int8gate.measure.sidebyside import SideBySide, SideBySideSession, VsBaseRun
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime import bench
from int8gate.runtime.protocol import WorkerRequest, WorkerResult

BASE_INT8, BASE_FP32 = 2, 3
"""Where the base's models sit in a side-by-side worker's ``models`` (after head FP32 and INT8)."""


def sessions_of(results: Sequence[WorkerResult], *, base_fp32: bool) -> list[SideBySideSession]:
    """The workers' latencies as side-by-side sessions."""
    out = []
    for r in results:
        times = r.latencies_ns
        out.append(SideBySideSession(times[0], times[1], times[BASE_INT8], times[BASE_FP32] if base_fp32 else None))
    return out


def measure_against_base(
    fp32: Path,
    int8: Path,
    base_int8: Path,
    base_fp32: Path | None = None,
    *,
    threads: Sequence[int],
    inputs: Sequence[ResolvedInput] = (),
    samples: Path | None = None,
    settings: BenchmarkSettings,
    threshold: float,
    requirement: FidelityRequirement | None = None,
    profile: bool = True,
    refused: str = "",
    clock: bench.Clock = time.monotonic,
    env: Mapping[str, str] | None = None,
    worker_command: Sequence[str] | None = None,
    deadline: Deadline | None = None,
    progress: Callable[[int, int], None] | None = None,
    profiles: bench.ProfileCache | None = None,
    context: fid.FidelityContext = fid.FidelityContext(),  # noqa: B008 (frozen, shared safely)
) -> SideBySide:
    """Every row of the head pair beside the base models (module docstring); ``bench.measure_models``'s
    arguments, plus ``base_fp32``: the base's FP32 model when it differs from the head's (else the
    head's serves both)."""
    launcher = bench._bounded_launch(bench._launcher(env, settings, worker_command), deadline)
    models = (fp32, int8, base_int8) + ((base_fp32,) if base_fp32 is not None else ())
    request = bench._request(fp32, int8, threads=threads[0] if threads else 1, settings=settings, inputs=inputs,
                             samples=samples)  # fmt: skip
    # absolute: the worker starts in its own folder
    request = replace(request, models=tuple(str(Path(path).absolute()) for path in models))
    key: bench.ProfileKey = (str(fp32.resolve()), request.threads, request.optimization_level, request.inputs,
                             request.samples)  # fmt: skip
    cache = profiles if profiles is not None else {}
    two = base_fp32 is not None

    def narrow(results: Sequence[WorkerResult]) -> bool:
        ratio = sidebyside.latency_ratio(sessions_of(results, base_fp32=two), seed=settings.seed)
        return ratio.halfwidth <= settings.target_halfwidth

    runs: list[BenchRun] = []
    vs_runs: list[VsBaseRun] = []
    fidelity: fid.FidelityResult | None = None
    base_fidelity: fid.FidelityResult | None = None
    comparison: ProfileComparison | None = None
    profile_error: str | None = None
    overhead: float | None = None
    beside = "INT8 and FP32 models" if two else "INT8 model"
    with tempfile.TemporaryDirectory(prefix="int8gate-sidebyside-") as tmp:
        for position, count in enumerate(threads):
            if progress is not None:
                progress(position + 1, count)
            extra = bench.FirstWorker()
            if position == 0:
                extra = bench.FirstWorker(requirement is not None, (1,) if key in cache else (0, 1), tmp)
            seen: list[WorkerResult] = []

            def launch(req: WorkerRequest, seen: list[WorkerResult] = seen) -> WorkerResult | str:
                result = launcher(req)
                if not isinstance(result, str):
                    seen.append(result)
                return result

            run, first = bench.measure_row(replace(request, threads=count), launch, settings=settings,
                                           threshold=threshold, clock=clock, refused=refused, deadline=deadline,
                                           first=extra, overhead_ms=overhead, narrow=narrow)  # fmt: skip
            head = run.speedup
            if run.error is None and len(seen) == run.sessions and head is not None:
                run = replace(run, setup=f"{run.setup}; the base branch's {beside} ran in the same rounds")
                vs_runs.append(sidebyside.compare(count, sessions_of(seen, base_fp32=two), head, seed=settings.seed))
            else:  # a failed row, or one the run's deadline left out
                cause = run.error or run.not_measured or "no session finished"
                vs_runs.append(VsBaseRun(count, None, None, None, error=cause))
            runs.append(run)
            if position == 0:
                overhead = run.harness_overhead_ms if first is not None and first.overhead_ns else None
                if requirement is not None:
                    fidelity = bench._fidelity_from(first, replace(request, threads=count), run.error, requirement,
                                                    context)  # fmt: skip
                if profile:
                    comparison, profile_error = bench._profile_from(Path(tmp), first, run.error, key, cache)
    if requirement is not None and not (runs and runs[0].not_measured):
        # The worker compares its second model with its first; the base INT8 model's agreement with its
        # reference (the base's FP32 when it changed too) takes a fidelity worker of its own.
        base_fidelity = bench.check_fidelity(
            base_fp32 or fp32, base_int8, inputs=inputs, samples=samples, requirement=requirement, settings=settings,
            context=context, threads=threads[0] if threads else 1, env=env, worker_command=worker_command,
            deadline=deadline,
        )  # fmt: skip
    return SideBySide(PairMeasurement(tuple(runs), fidelity, comparison, profile_error), tuple(vs_runs), base_fidelity)

