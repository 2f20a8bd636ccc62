"""A pull request's pair measured beside its base versions: the head INT8 time over the base INT8 time,
and both speedups, from the same rounds.

Pure. A session here timed head FP32, head INT8, base INT8 (and base FP32 when the FP32 model changed
too) in the same rounds, so every ratio is paired round by round like the speedup: per round
``log(a / b)``, per session the median, over sessions the mean, and the same widened hierarchical
bootstrap interval (``stats.estimate_speedup``). An A/A run (the same INT8 file as base and head)
calibrates the ratio's interval (benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from int8gate.measure import stats
from int8gate.measure.benchrun import PairMeasurement
from int8gate.measure.fidelity import FidelityResult
from int8gate.measure.stats import Speedup


@dataclass(frozen=True)
class SideBySideSession:
    """One session's timed runs of each model; index ``i`` of every tuple ran in the same round."""

    fp32_ns: tuple[int, ...]
    int8_ns: tuple[int, ...]
    base_int8_ns: tuple[int, ...]
    base_fp32_ns: tuple[int, ...] | None = None


@dataclass(frozen=True)
class VsBaseRun:
    """One thread setting measured side by side: head INT8 time / base INT8 time, and both speedups
    (base: base FP32 — or the head's when it did not change — over base INT8)."""

    intra_op_threads: int
    int8_latency_ratio: Speedup | None
    base_speedup: Speedup | None
    head_speedup: Speedup | None
    error: str | None = None


@dataclass(frozen=True)
class SideBySide:
    """A changed pair measured beside its base: the head pair's rows, fidelity and profile as ``bench``
    gives them, a side-by-side row per thread setting, and the base INT8 model's output agreement with
    its FP32 reference (from the same worker's fidelity runs; ``None`` when not asked for)."""

    pair: PairMeasurement
    runs: tuple[VsBaseRun, ...]
    base_fidelity: FidelityResult | None = None


def latency_ratio(sessions: Sequence[SideBySideSession], *, seed: int) -> Speedup:
    """Head INT8 time / base INT8 time (below 1: the head is faster) with its 95% interval."""
    return stats.estimate_speedup([stats.SessionSamples(s.int8_ns, s.base_int8_ns) for s in sessions], seed=seed)


def base_speedup(sessions: Sequence[SideBySideSession], *, seed: int) -> Speedup:
    """The base pair's speedup, measured in the same rounds as the head's."""
    pairs = [stats.SessionSamples(s.base_fp32_ns or s.fp32_ns, s.base_int8_ns) for s in sessions]
    return stats.estimate_speedup(pairs, seed=seed)


def compare(threads: int, sessions: Sequence[SideBySideSession], head: Speedup, *, seed: int) -> VsBaseRun:
    """The side-by-side row for ``threads`` (``head`` is the row's own speedup, already estimated)."""
    return VsBaseRun(threads, latency_ratio(sessions, seed=seed), base_speedup(sessions, seed=seed), head)
