"""The model worker process: one session per model, used for fidelity, timing and the profile alike.

Run as ``python -m int8gate.runtime.worker``: it reads one JSON ``WorkerRequest`` on stdin and writes
one JSON line on stdout, a ``WorkerResult`` (exit 0) or ``child.error_line`` (exit
``child.REPORTED_EXIT``). ``bench`` starts it through ``child.run_child``, with an allow-listed
environment and a time limit; a crash or hang kills only this process.

The steps, each only when the request asks for it, on the same sessions (nothing is loaded twice):
1. create the sessions (in the request's rotated order) on ONNX Runtime's global pool;
2. fidelity: every model runs the same feeds; outputs go to ``outputs_dir`` (these runs also warm
   the sessions, and their outputs shape the IO bindings);
3. warm-up up to ``warmup_runs`` runs per model, counting the runs already made (fidelity, binding);
4. timed rounds (``rounds``);
5. the profile (``profiler``), which also measures the harness overhead.
With ``limit_seconds`` the worker keeps its wall time, the fidelity step left out (it must finish;
the row's budget pays for it), within the limit: warm-up stops early once it has used a quarter of
the time left, rounds end early (down to ``rounds.MIN_ROUNDS_FLOOR``) to leave time for the profile,
and the profile runs fewer times or is skipped, with a note.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from int8gate.measure.agreement import OutputAccumulator, OutputFidelity
from int8gate.runtime.profiler import Profiled, planned_seconds, profile_models, runs_that_fit
from int8gate.runtime.protocol import REPORTED_EXIT, WorkerRequest, WorkerResult, error_line, setup_description
from int8gate.runtime.rounds import block_size, clock_tick_ns, load_average, time_rounds, usable_cpus
from int8gate.runtime.session import (
    Bound,
    ModelRunError,
    feeds_for,
    memory_limit_note,
    one_line,
    open_session,
    run_session,
    session_options,
    set_global_pool,
)

EXIT_MODEL_ERROR = REPORTED_EXIT
WARMUP_SHARE = 0.25
"""Warm-up stops early once it has used this share of the time left."""
REWARM_BELOW_MS = 50.0
"""The untimed re-warm run before each model's timed runs is made only when the faster model runs in
less than this. Measured at one thread (benchmarks/README.md, ``benchmarks/rewarm.py``): on the
bundled example (6.8/2.5 ms) it moves the speedup by +0.75%, more than the 0.5% spread between
sessions; on the PP-OCR detector pairs (38–70 ms per run) by +0.6% and −0.05%, within their 1–2%
spread, while it halves the rounds a session gets."""


class _Limit:
    """The worker's wall-time limit, counted from its start."""

    def __init__(self, seconds: float) -> None:
        self.began = time.perf_counter()
        self.seconds = seconds if seconds > 0 else math.inf

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.began)

    def extend(self, seconds: float) -> None:
        """Leave ``seconds`` out of the limit (the fidelity step: it must finish, and the row pays for it)."""
        self.seconds += seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.began


def run(request: WorkerRequest) -> WorkerResult:
    """Do the steps the request asks for (module docstring) and say what was done."""
    limit = _Limit(request.limit_seconds)
    if not request.models:
        raise ModelRunError("no models to run")
    if request.profile_models and request.outputs_dir is None:
        raise ModelRunError("the profile needs an outputs_dir")
    set_global_pool(request.threads)
    options = session_options(request)
    count = len(request.models)
    order = [(request.rotate + j) % count for j in range(count)]
    sessions: list[Any] = [None] * count
    created = [0.0] * count
    for k in order:
        t0 = time.perf_counter()
        sessions[k] = open_session(request.models[k], options)
        created[k] = time.perf_counter() - t0
    feeds = feeds_for(request, request.fidelity_samples if request.fidelity or request.samples else 1)
    timing_feeds = feeds if request.samples is not None else feeds[:1]
    extra = 0.0
    first: dict[tuple[int, int], list[Any]] = {}
    names: tuple[str, ...] = ()
    compared: tuple[OutputFidelity, ...] = ()
    ran: list[list[float]] = [[] for _ in range(count)]  # seconds of every untimed run so far, per model
    if request.fidelity:
        t0 = time.perf_counter()
        names, first, compared = _fidelity(sessions, order, feeds, ran, keep=len(timing_feeds))
        extra += time.perf_counter() - t0
        limit.extend(extra)
    result = WorkerResult(
        setup=setup_description(request.threads),
        source="random" if request.samples is None else "samples",
        outputs=names,
        samples=max((o.samples for o in compared), default=0),
        compared=compared,
        usable_cpus=usable_cpus(),
    )
    wanted = tuple(k for k in request.profile_models if 0 <= k < count)
    latency = [float(np.median(r)) if r else 0.0 for r in ran]
    if request.max_rounds > 0:
        calls = [[_bind(sessions[k], feed, first.get((k, i)), ran[k]) for i, feed in enumerate(timing_feeds)]
                 for k in range(count)]  # fmt: skip
        latency = _warm_up(calls, order, request.warmup_runs - len(ran[0]), limit, ran)
        tail = planned_seconds(wanted, created, latency, 1) if wanted else 0.0
        now = time.perf_counter_ns()
        hard = now + int(max(limit.left() - tail, 0.0) * 1e9) if math.isfinite(limit.left()) else now + 10**18
        timed = time_rounds(
            calls,
            order_seed=request.order_seed,
            block=block_size(int(min(latency) * 1e9), request.block_ms),
            rewarm_runs=request.rewarm_runs if min(latency) * 1e3 < REWARM_BELOW_MS else 0,
            min_rounds=request.min_rounds,
            max_rounds=request.max_rounds,
            max_samples=request.max_samples,
            soft_end_ns=now + int(request.max_seconds * 1e9),
            hard_end_ns=hard,
        )
        del calls
        result = replace(
            result, latencies_ns=timed.latencies_ns, rounds=timed.rounds, block=timed.block,
            first_counts=timed.first_counts, rounds_seconds=timed.seconds, clock_tick_ns=clock_tick_ns(),
            involuntary_switches=timed.involuntary_switches, other_cpu_seconds=timed.other_cpu_seconds,
            load_average=load_average(),
        )  # fmt: skip
    if wanted:
        t0 = time.perf_counter()
        profiled = _profile(request, wanted, timing_feeds[0], created=created, latency=latency, limit=limit)
        extra += time.perf_counter() - t0
        result = replace(result, overhead_ns=profiled.overhead_ns, profiled=profiled.models, profile_note=profiled.note)
    return _done(result, limit, extra)


def _done(result: WorkerResult, limit: _Limit, extra: float) -> WorkerResult:
    return replace(result, elapsed_seconds=limit.elapsed(), extra_seconds=extra)


def _fidelity(
    sessions: list[Any], order: list[int], feeds: list[dict[str, Any]], ran: list[list[float]], *, keep: int
) -> tuple[tuple[str, ...], dict[tuple[int, int], list[Any]], tuple[OutputFidelity, ...]]:
    """Run every model on each feed in turn and fold ``models[1]``'s outputs against the reference's
    (``models[0]``) into running accumulators (``measure.agreement``):
    memory holds one feed's outputs, never all of them.

    Returns the reference's output names, the raw outputs of the first ``keep`` feeds keyed by
    (model, feed) to bind from, and each output's agreement; each run's seconds are added to ``ran``.
    """
    names = tuple(o.name for o in sessions[0].get_outputs())
    accumulators = {name: OutputAccumulator(name) for name in names}
    other = [o.name for o in sessions[1].get_outputs()] if len(sessions) > 1 else []
    for name in names:
        if name not in other:
            accumulators[name].problem = "the INT8 model has no output of this name"
    raw: dict[tuple[int, int], list[Any]] = {}
    for i, feed in enumerate(feeds):
        outputs: dict[int, list[Any]] = {}
        for k in order:
            t0 = time.perf_counter()
            outputs[k] = run_session(sessions[k], feed)
            ran[k].append(time.perf_counter() - t0)
        if len(sessions) > 1:
            reference = dict(zip(names, outputs[0], strict=True))
            candidate = dict(zip(other, outputs[1], strict=True))
            for name in names:
                if name in candidate:
                    accumulators[name].add(reference[name], candidate[name])
        if i < keep:
            raw.update({(k, i): value for k, value in outputs.items()})
        del outputs
    return names, raw, tuple(accumulators[name].result() for name in names)


def _bind(session: Any, feed: dict[str, Any], outputs: list[Any] | None, ran: list[float]) -> Bound:
    """Bind ``session`` to ``feed``; the run that shapes the outputs (when one is needed) counts in ``ran``."""
    t0 = time.perf_counter()
    bound = Bound(session, feed, outputs)
    if outputs is None:
        ran.append(time.perf_counter() - t0)
    return bound


def _warm_up(
    calls: list[list[Bound]], order: list[int], runs: int, limit: _Limit, ran: list[list[float]]
) -> list[float]:
    """Up to ``runs`` more bound runs per model; each model's typical seconds per run.

    Warm-up stops early once it has used ``WARMUP_SHARE`` of the time left: the runs already made
    (fidelity, binding) warmed the sessions too. The typical run is the median of the warm-up runs,
    or of the earlier runs when there were none.
    """
    seen: list[list[float]] = [[] for _ in calls]
    began, budget = time.perf_counter(), WARMUP_SHARE * max(limit.left(), 0.0)
    for w in range(max(runs, 0)):
        if time.perf_counter() - began > budget:
            break
        for k in order:
            t0 = time.perf_counter()
            calls[k][w % len(calls[k])].run()
            seen[k].append(time.perf_counter() - t0)
    return [float(np.median(seen[k] or ran[k] or [0.0])) for k in range(len(calls))]


def _profile(
    request: WorkerRequest, models: tuple[int, ...], feed: dict[str, Any], *, created: list[float],
    latency: list[float], limit: _Limit,
) -> Profiled:  # fmt: skip
    """The profile step within the time left, or a note saying why there is none."""
    left = limit.left()
    runs = runs_that_fit(models, created, latency, wanted=request.profile_runs, seconds_left=left)
    if runs == 0:
        need = planned_seconds(models, created, latency, 1)
        return Profiled((), 0.0, f"skipped: {max(left, 0.0):.1f} s were left of the row's budget, "
                                 f"one profiled run of each model needs about {need:.1f} s")  # fmt: skip
    try:
        return profile_models(request, models, feed, runs, Path(str(request.outputs_dir)))
    except (ModelRunError, OSError, ValueError, KeyError) as err:
        return Profiled((), 0.0, f"failed: {one_line(err)}")


def serve(request_text: str) -> tuple[int, str]:
    """Handle one request; the exit code and the JSON line to print."""
    try:
        result = run(WorkerRequest.from_json(request_text))
    except ModelRunError as err:
        return EXIT_MODEL_ERROR, error_line(str(err))
    except MemoryError:
        return EXIT_MODEL_ERROR, error_line(f"out of memory{memory_limit_note()}")
    return 0, result.to_json()


def main() -> int:
    """Entry point of ``python -m int8gate.runtime.worker``: one request on stdin, one line on stdout."""
    code, line = serve(sys.stdin.read())
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
