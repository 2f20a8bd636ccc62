"""Timing rounds in the worker: every model once per round, in a balanced random order, blocks of timed runs.

Also what the worker reads of the machine while it measures (preemptions, other processes' CPU
time from ``/proc/stat``) and of its clock (the smallest step of ``perf_counter_ns``).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from int8gate.runtime.protocol import MAX_SAMPLES_PER_SESSION
from int8gate.runtime.session import Bound, ModelRunError, one_line

MAX_BLOCK = 32
MIN_ROUNDS_FLOOR = 3
"""Rounds a session always runs, even past its time limit: fewer leave no spread to resample."""


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


def round_orders(models: int, rng: np.random.Generator) -> Iterator[tuple[int, ...]]:
    """The order the models run in, round after round, balanced in blocks of ``models`` rounds.

    Each block takes a random permutation and runs all its rotations in random order, so within a
    block every model runs in every position once (two models: one round of each order per pair
    of rounds). Drawn as needed: a worker never pays for rounds it does not run.
    """
    while True:
        perm = [int(k) for k in rng.permutation(models)]
        rotations = [tuple(perm[j:] + perm[:j]) for j in range(models)]
        for j in rng.permutation(models):
            yield rotations[j]


@dataclass(frozen=True)
class Timed:
    """What the rounds measured: per model its timed runs, and what the machine did meanwhile."""

    latencies_ns: tuple[tuple[int, ...], ...]
    rounds: int
    block: int
    first_counts: tuple[int, ...]
    seconds: float
    involuntary_switches: int
    other_cpu_seconds: float | None


def time_rounds(
    calls: Sequence[Sequence[Bound]],
    *,
    order_seed: int,
    block: int,
    rewarm_runs: int,
    min_rounds: int,
    max_rounds: int,
    max_samples: int = MAX_SAMPLES_PER_SESSION,
    soft_end_ns: int,
    hard_end_ns: int,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> Timed:
    """Run rounds until ``min_rounds`` ran and ``soft_end_ns`` passed or each model has ``max_samples``
    timed runs, or ``max_rounds`` ran.

    ``calls[k]`` are model ``k``'s bound calls, one per feed (round ``i`` uses feed ``i % feeds``).
    The hard end overrides the minimum: once ``MIN_ROUNDS_FLOOR`` rounds ran, no round starts that
    the last one's length says would end after it.
    """
    models = len(calls)
    orders = round_orders(models, np.random.default_rng(order_seed))
    times: list[list[int]] = [[] for _ in range(models)]
    firsts = [0] * models
    rounds = 0
    switches = involuntary_switches()
    busy_before, own_before = machine_busy_seconds(), _own_cpu_seconds()
    start = previous = clock()
    try:
        for i, order in enumerate(orders):
            if i >= max_rounds:
                break
            firsts[order[0]] += 1
            for k in order:
                call = calls[k][i % len(calls[k])]
                for _ in range(rewarm_runs):  # untimed: bring this model's weights back into cache
                    call.run()
                for _ in range(block):
                    t0 = clock()
                    call.run()
                    times[k].append(clock() - t0)
            rounds = i + 1
            now = clock()
            length, previous = now - previous, now
            if rounds >= min_rounds and (now >= soft_end_ns or len(times[0]) >= max_samples):
                break
            if rounds >= MIN_ROUNDS_FLOOR and now + length > hard_end_ns:
                break
    except Exception as err:  # a kernel failing mid-run becomes the row's cause
        raise ModelRunError(f"run: {one_line(err)}") from err
    seconds = (clock() - start) / 1e9
    switches = involuntary_switches() - switches
    busy_after, own_after = machine_busy_seconds(), _own_cpu_seconds()
    other = None
    if busy_before is not None and busy_after is not None:
        other = max(0.0, (busy_after - busy_before) - (own_after - own_before))
    return Timed(
        latencies_ns=tuple(tuple(t) for t in times),
        rounds=rounds,
        block=block,
        first_counts=tuple(firsts),
        seconds=seconds,
        involuntary_switches=switches,
        other_cpu_seconds=other,
    )
