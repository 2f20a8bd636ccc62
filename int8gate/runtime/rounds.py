"""Paired timing rounds in the worker: warm-up, blocks of timed runs in random order, the harness overhead.

Also what the worker reads of the machine while it measures (preemptions, other processes' CPU
time from ``/proc/stat``) and of its clock (the smallest step of ``perf_counter_ns``).
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from int8gate.inputs.feeds import Feeds
from int8gate.runtime.protocol import WorkerRequest, WorkerResult, setup_description
from int8gate.runtime.session import (
    Bound,
    ModelRunError,
    feeds_for,
    one_line,
    open_session,
    run_session,
    session_options,
    set_global_pool,
)

MAX_BLOCK = 32


def machine_busy_seconds(stat_path: str = "/proc/stat") -> float | None:
    """CPU seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open(stat_path, encoding="ascii") as stream:  # noqa: PTH123 - hot path, no Path object
            fields = stream.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def involuntary_switches() -> int:
    """The kernel's count of this process's preemptions so far; 0 where the OS keeps none (Windows has no
    ``resource`` module)."""
    try:
        resource = importlib.import_module("resource")
    except ImportError:
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw)


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity on Linux, else every CPU (macOS and Windows have no
    ``sched_getaffinity``)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average; 0.0 where the OS has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system



def clock_tick_ns() -> float:
    """The smallest step of ``perf_counter_ns`` seen between back-to-back reads (at least 1 ns)."""
    steps = []
    for _ in range(200):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        while b == a:
            b = time.perf_counter_ns()
        steps.append(b - a)
    resolution_ns = time.get_clock_info("perf_counter").resolution * 1e9
    return float(max(min(steps), resolution_ns, 1.0))


def block_size(latency_ns: int, block_ms: float) -> int:
    """Timed runs per model per round: enough to fill ``block_ms``, 1 to ``MAX_BLOCK``."""
    if latency_ns <= 0:
        return 1
    return max(1, min(MAX_BLOCK, int(block_ms * 1e6 // latency_ns)))


def round_orders(rounds: int, rng: np.random.Generator) -> list[bool]:
    """Whether FP32 runs first in each round: every two rounds hold one of each, in random order."""
    orders: list[bool] = []
    while len(orders) < rounds:
        orders.extend([True, False] if rng.random() < 0.5 else [False, True])
    return orders[:rounds]


def measure(request: WorkerRequest) -> WorkerResult:
    """Create the pair (in the requested order), warm up, time paired rounds, measure overhead."""
    set_global_pool(request.threads)
    options = session_options(request)
    order = [("fp32", request.fp32), ("int8", request.int8)]
    if not request.fp32_first:
        order.reverse()
    created = {label: open_session(path, options) for label, path in order}  # in this order
    fp32, int8 = created["fp32"], created["int8"]
    feeds = feeds_for(request, 1 if request.samples is None else request.fidelity_samples)
    ordered = (fp32, int8) if request.fp32_first else (int8, fp32)
    clock = time.perf_counter_ns
    warm: dict[int, list[int]] = {id(fp32): [], id(int8): []}
    for i in range(request.warmup_runs):
        for session in ordered:
            t0 = clock()
            run_session(session, feeds[i % len(feeds)])
            warm[id(session)].append(clock() - t0)
    block = block_size(min(int(np.median(v)) if v else 0 for v in warm.values()), request.block_ms)
    orders = round_orders(min(request.max_rounds, 1_000_000), np.random.default_rng(request.order_seed))
    fp32_ns: list[int] = []
    int8_ns: list[int] = []
    rounds = 0
    switches = involuntary_switches()
    busy_before, own_before = machine_busy_seconds(), _own_cpu_seconds()
    start = clock()
    deadline = start + int(request.max_seconds * 1e9)
    try:
        bound = {id(s): [Bound(s, feed) for feed in feeds] for s in ordered}
        for i, fp32_first in enumerate(orders):
            for is_fp32 in (fp32_first, not fp32_first):
                session, times = (fp32, fp32_ns) if is_fp32 else (int8, int8_ns)
                call = bound[id(session)][i % len(feeds)]
                for _ in range(request.rewarm_runs):  # untimed: bring this model's weights back into cache
                    call.run()
                for _ in range(block):
                    t0 = clock()
                    call.run()
                    times.append(clock() - t0)
            rounds = i + 1
            if rounds >= request.min_rounds and (clock() >= deadline or len(fp32_ns) >= request.max_samples):
                break
    except Exception as err:  # a kernel failing mid-run becomes the row's cause
        raise ModelRunError(f"run: {one_line(err)}") from err
    rounds_seconds = (clock() - start) / 1e9
    switches = involuntary_switches() - switches
    busy_after, own_after = machine_busy_seconds(), _own_cpu_seconds()
    other = None
    if busy_before is not None and busy_after is not None:
        other = max(0.0, (busy_after - busy_before) - (own_after - own_before))
    try:
        overhead = _overhead_ns(request, feeds[0]) if request.overhead_runs > 0 else 0.0
    except (OSError, ValueError, KeyError) as err:  # a profile we cannot read leaves overhead unknown
        raise ModelRunError(f"overhead: could not read ORT's profile ({one_line(err)})") from err
    return WorkerResult(
        fp32_ns=tuple(fp32_ns),
        int8_ns=tuple(int8_ns),
        rounds=rounds,
        block=block,
        fp32_first_rounds=sum(orders[:rounds]),
        rounds_seconds=rounds_seconds,
        clock_tick_ns=clock_tick_ns(),
        overhead_ns=overhead,
        involuntary_switches=switches,
        other_cpu_seconds=other,
        load_average=load_average(),
        usable_cpus=usable_cpus(),
        setup=setup_description(request.threads),
    )


def _overhead_ns(request: WorkerRequest, feed: Feeds) -> float:
    """Median over both models of (wall time of a call − ORT's profiled ``model_run``)."""
    gaps: list[float] = []
    with tempfile.TemporaryDirectory(prefix="int8gate-profile-") as tmp:
        for path in (request.fp32, request.int8):
            session = open_session(path, session_options(request, profile_dir=tmp))
            call = Bound(session, feed)
            walls = []
            for _ in range(request.overhead_runs):
                t0 = time.perf_counter_ns()
                call.run()
                walls.append(time.perf_counter_ns() - t0)
            events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
            runs_us = [e["dur"] for e in events if e.get("name") == "model_run"][-len(walls) :]
            gaps.extend(w - r * 1e3 for w, r in zip(walls, runs_us, strict=True))
    return float(max(np.median(gaps), 0.0))


