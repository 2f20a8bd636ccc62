"""Latency statistics: summaries, a speedup estimate with a hierarchical-bootstrap interval, the call.

Pure: numbers in, frozen dataclasses out. The measurement unit is a *session*: one FP32/INT8 pair of
ONNX Runtime sessions in one worker process, which ran paired rounds (both models once, in random
order). The speedup of a round is ``fp32 / int8``; a session's speedup is the median of its rounds'
ratios, and the row's estimate is the geometric mean of the sessions' speedups, so a noisy session
cannot outvote the others and the pairing cancels slow changes in machine speed.

The 95% interval comes from a hierarchical bootstrap — resample sessions, then rounds inside each
drawn session — so it carries the variation between sessions as well as within them. A bootstrap
over few clusters sees only ``(S-1)/S`` of the between-session variance, so the log-scale
half-widths are widened by ``sqrt(S/(S-1))`` (see ``small_sample_widening`` for why no more).
``quality_findings`` turns doubts about a run into findings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from int8gate.findings import Finding, Severity

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
OUTLIER_IQR_FACTOR = 3.0
"""Samples beyond Q1 - 3·IQR or Q3 + 3·IQR ("far out" in Tukey's sense) count as outliers."""



class Call(str, Enum):
    """The three-way call of a speedup interval against a threshold."""

    FASTER = "faster"
    SLOWER = "slower"
    WITHIN_NOISE = "within-noise"


@dataclass(frozen=True)
class LatencySummary:
    """One model's latencies over a row: order statistics in milliseconds and an outlier count.

    robust_cv: 1.4826·MAD / median, a dispersion measure that outliers do not inflate.
    outliers: samples outside the 3·IQR fences; they are counted, never dropped.
    """

    n: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    robust_cv: float
    outliers: int


@dataclass(frozen=True)
class Speedup:
    """FP32 latency / INT8 latency (above 1: INT8 is faster) with its 95% interval.

    halfwidth: the interval's half-width relative to the estimate, ``(high - low) / (2·estimate)``;
    it is what ``BenchmarkSettings.target_halfwidth`` is compared with.
    """

    estimate: float
    ci_low: float
    ci_high: float
    halfwidth: float


@dataclass(frozen=True)
class SessionSamples:
    """The paired rounds of one session: ``fp32_ns[i]`` and ``int8_ns[i]`` ran in the same round."""

    fp32_ns: tuple[int, ...]
    int8_ns: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.fp32_ns) != len(self.int8_ns):
            raise ValueError("a session needs as many FP32 as INT8 samples (one of each per round)")
        if not self.fp32_ns:
            raise ValueError("a session needs at least one round")
        if min(self.fp32_ns) <= 0 or min(self.int8_ns) <= 0:
            raise ValueError("latencies must be positive")


def summarize(latencies_ns: Sequence[int]) -> LatencySummary:
    """Median, p90, p99, mean, extremes, robust CV and outlier count of latencies in nanoseconds."""
    if not latencies_ns:
        raise ValueError("cannot summarize an empty sample")
    ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    q1, median, q3, p90, p99 = np.quantile(ms, [0.25, 0.5, 0.75, 0.9, 0.99])
    iqr = q3 - q1
    low, high = q1 - OUTLIER_IQR_FACTOR * iqr, q3 + OUTLIER_IQR_FACTOR * iqr
    mad = float(np.median(np.abs(ms - median)))
    return LatencySummary(
        n=len(ms),
        median_ms=float(median),
        p90_ms=float(p90),
        p99_ms=float(p99),
        mean_ms=float(ms.mean()),
        min_ms=float(ms.min()),
        max_ms=float(ms.max()),
        robust_cv=1.4826 * mad / float(median) if median > 0 else 0.0,
        outliers=int(np.count_nonzero((ms < low) | (ms > high))),
    )


def log_ratios(session: SessionSamples) -> npt.NDArray[np.float64]:
    """``log(fp32 / int8)`` per round of one session."""
    fp32 = np.asarray(session.fp32_ns, dtype=np.float64)
    int8 = np.asarray(session.int8_ns, dtype=np.float64)
    return np.asarray(np.log(fp32) - np.log(int8), dtype=np.float64)


def session_speedups(sessions: Sequence[SessionSamples]) -> tuple[float, ...]:
    """Each session's speedup: the median of its rounds' FP32/INT8 ratios."""
    return tuple(math.exp(float(np.median(log_ratios(s)))) for s in sessions)


def small_sample_widening(n_sessions: int) -> float:
    """How much wider the bootstrap interval must be over ``n_sessions`` clusters (1 for one).

    Resampling S sessions with replacement underestimates the between-session variance by
    (S-1)/S, so the interval is widened by sqrt(S/(S-1)). A Student-t factor on top was tried and
    measured too conservative: on this project's calibration (benchmarks/README.md, A/A, 20
    repetitions) it made the intervals 2-3x wider than the real spread between repetitions, while
    the interval below excluded 1.0 in 0-1 of 20 runs.
    """
    if n_sessions < 2:
        return 1.0
    return math.sqrt(n_sessions / (n_sessions - 1))


def bootstrap_medians(
    values: npt.NDArray[np.float64], resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """The medians of ``resamples`` bootstrap resamples of ``values``, drawn without building them.

    A resample draws ``n`` values with replacement; mapping ``n`` uniforms ``U`` to the sorted values
    (``sorted[ceil(n·U) - 1]``) is such a draw, and the map keeps order, so the resample's ``j``-th
    smallest value is ``sorted[ceil(n·U_(j)) - 1]`` with ``U_(j) ~ Beta(j, n - j + 1)``, the ``j``-th
    order statistic of ``n`` uniforms. For an even ``n`` the median averages ``j = n/2`` and the next
    one, ``U_(j+1) = U_(j) + (1 - U_(j))·Beta(1, n - j)``. This is the same distribution as
    ``np.median(values[rng.integers(0, n, (resamples, n))], axis=1)`` in O(n log n) time and O(n +
    resamples) memory instead of a resamples × n array (2,000 × 200,000 samples was 3 GiB).
    """
    ordered = np.sort(values)
    n = len(ordered)

    def at(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        index = np.clip(np.ceil(n * u).astype(np.int64) - 1, 0, n - 1)
        return np.asarray(ordered[index], dtype=np.float64)

    j = (n + 1) // 2 if n % 2 else n // 2
    low = rng.beta(j, n - j + 1, size=resamples)
    if n % 2:
        return at(low)
    high = low + (1.0 - low) * rng.beta(1, n - j, size=resamples)
    return np.asarray((at(low) + at(high)) / 2.0, dtype=np.float64)


def estimate_speedup(
    sessions: Sequence[SessionSamples],
    *,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> Speedup:
    """The speedup estimate and its widened 95% hierarchical-bootstrap interval.

    With one session the interval only covers the variation between its rounds (say so: the
    quality findings flag a single session). Memory: O(samples of one session + sessions ×
    resamples); ``bootstrap_medians`` never builds the resamples.
    """
    if not sessions:
        raise ValueError("no sessions to estimate a speedup from")
    rng = np.random.default_rng(seed)
    ratios = [log_ratios(s) for s in sessions]
    center = float(np.mean([np.median(r) for r in ratios]))
    # boot[s, b]: the median of the b-th resample of session s's rounds.
    boot = np.empty((len(ratios), resamples), dtype=np.float64)
    for i, r in enumerate(ratios):
        boot[i] = bootstrap_medians(r, resamples, rng)
    n = len(ratios)
    if n == 1:
        stats = boot[0]
    else:
        drawn = rng.integers(0, n, size=(resamples, n))
        columns = rng.integers(0, resamples, size=(resamples, n))
        stats = boot[drawn, columns].mean(axis=1)
    alpha = 1.0 - CONFIDENCE
    lo_q, hi_q = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    widen = small_sample_widening(n)
    lo = center - widen * max(center - float(lo_q), 0.0)
    hi = center + widen * max(float(hi_q) - center, 0.0)
    estimate = math.exp(center)
    ci_low, ci_high = math.exp(lo), math.exp(hi)
    return Speedup(
        estimate=estimate,
        ci_low=ci_low,
        ci_high=ci_high,
        halfwidth=(ci_high - ci_low) / (2 * estimate),
    )


def call(speedup: Speedup, threshold: float) -> Call:
    """Faster when the whole interval is above the threshold, slower when below, else noise."""
    if speedup.ci_low > threshold:
        return Call.FASTER
    if speedup.ci_high < threshold:
        return Call.SLOWER
    return Call.WITHIN_NOISE


@dataclass(frozen=True)
class Trend:
    """A linear trend of the per-round log speedup against the round number inside sessions.

    change: the fitted relative change of the speedup over a session of average length.
    t_stat: the slope over its standard error (0 when it cannot be estimated, infinite for an exact
    line).
    """

    change: float
    t_stat: float


def within_session_trend(sessions: Sequence[SessionSamples]) -> Trend:
    """Pooled least-squares slope of log ratio on round index, each session centred on its own mean."""
    xs: list[npt.NDArray[np.float64]] = []
    ys: list[npt.NDArray[np.float64]] = []
    for s in sessions:
        r = log_ratios(s)
        if len(r) < 3:
            continue
        x = np.arange(len(r), dtype=np.float64)
        xs.append(x - x.mean())
        ys.append(r - r.mean())
    if not xs:
        return Trend(change=0.0, t_stat=0.0)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    sxx = float(x @ x)
    slope = float(x @ y) / sxx
    dof = len(x) - 1 - len(xs)
    if dof < 1:
        return Trend(change=0.0, t_stat=0.0)
    resid = y - slope * x
    se = math.sqrt(float(resid @ resid) / dof / sxx)
    mean_len = float(np.mean([len(v) for v in xs]))
    change = math.expm1(slope * (mean_len - 1))
    if se == 0.0:  # an exact line: certain unless flat
        return Trend(change=change, t_stat=0.0 if slope == 0.0 else math.copysign(math.inf, slope))
    return Trend(change=change, t_stat=slope / se)


class StopReason(str, Enum):
    """Which rule stopped a row (``measure.stopping`` states them): the interval cleared the
    threshold's near zone, reached the target width, or the budget ran out; or the run's deadline
    came first."""

    CLEAR = "clear"
    TARGET = "target"
    BUDGET = "budget"
    DEADLINE = "deadline"


@dataclass(frozen=True)
class MachineLoad:
    """What the workers saw of other work on the machine while they measured.

    involuntary_switches_per_s: how often the kernel preempted a worker's threads, per second (shown,
    not judged: ONNX Runtime's own spinning pool is preempted ~70 times/s/thread on an idle 2-CPU VM).
    load_average: the highest 1-minute load average seen when a worker started (shown, not judged:
    it lags and counts the earlier workers of the same row).
    other_cpu_share: the CPU time the rest of the machine used while the workers measured, as a share
    of the usable CPUs' time (steal included); ``None`` when it could not be read.
    """

    involuntary_switches_per_s: float
    load_average: float
    usable_cpus: int
    threads: int
    other_cpu_share: float | None = None


HIGH_DISPERSION_CV = 0.10
DRIFT_T_STAT = 3.0
CLOCK_TICKS_PER_SAMPLE = 1000
# benchmarks/other_load.py on the 2-vCPU dev machine: 0.0-0.6% idle, 34-51% with one busy process beside.
OTHER_CPU_SHARE = 0.15
"""Idle 2-CPU runner: ~18/s per pool thread; one busy process beside it: ~100/s."""
OVERHEAD_SHARE = 0.01
OUTLIER_SHARE = 0.05


def quality_findings(
    sessions: Sequence[SessionSamples],
    *,
    fp32: LatencySummary,
    int8: LatencySummary,
    speedup: Speedup,
    stopped_by: StopReason,
    target_halfwidth: float,
    clock_tick_ns: float,
    harness_overhead_ms: float,
    load: MachineLoad,
) -> tuple[Finding, ...]:
    """Every reason to doubt this row's figures, each with what to do about it."""
    found: list[Finding] = []
    worst = max((fp32, int8), key=lambda s: s.robust_cv)
    if worst.robust_cv > HIGH_DISPERSION_CV:
        found.append(
            Finding(
                "high-dispersion",
                Severity.WARN,
                "Latencies varied widely from run to run, so the speedup is less certain.",
                "Run on a quieter or dedicated runner, or raise benchmark.budget_seconds.",
                f"robust CV {worst.robust_cv:.0%} (FP32 {fp32.robust_cv:.0%}, INT8 {int8.robust_cv:.0%})",
            )
        )
    trend = within_session_trend(sessions)
    if abs(trend.t_stat) > DRIFT_T_STAT and abs(trend.change) > target_halfwidth:
        found.append(
            Finding(
                "drift",
                Severity.WARN,
                "The speedup drifted during the sessions (e.g. CPU clock or thermal changes).",
                "Pin the CPU frequency or raise benchmark.warmup_runs; check for background jobs.",
                f"{trend.change:+.1%} over a session, t = {trend.t_stat:.1f}",
            )
        )
    shortest_ns = min(fp32.median_ms, int8.median_ms) * 1e6
    if shortest_ns < CLOCK_TICKS_PER_SAMPLE * clock_tick_ns:
        found.append(
            Finding(
                "latency-too-short",
                Severity.WARN,
                "A run is too short for the clock to time it precisely.",
                "Benchmark a larger input (batch or sequence length) so a run lasts longer.",
                f"median {shortest_ns / 1e3:.1f} µs, clock tick {clock_tick_ns:.0f} ns",
            )
        )
    if stopped_by is StopReason.DEADLINE and speedup.halfwidth > target_halfwidth:
        found.append(
            Finding(
                "deadline-cut",
                Severity.WARN,
                "The run's deadline stopped this row before the interval was as narrow as the target.",
                "Raise limits.max_run_seconds, or gate fewer models or thread settings per run.",
                f"±{speedup.halfwidth:.1%} reached, ±{target_halfwidth:.1%} wanted",
            )
        )
    if stopped_by is StopReason.BUDGET and speedup.halfwidth > target_halfwidth:
        found.append(
            Finding(
                "budget-cut",
                Severity.WARN,
                "The time budget ran out before the interval was as narrow as the target.",
                "Raise benchmark.budget_seconds or widen benchmark.target_halfwidth.",
                f"±{speedup.halfwidth:.1%} reached, ±{target_halfwidth:.1%} wanted",
            )
        )
    if load.other_cpu_share is not None and load.other_cpu_share > OTHER_CPU_SHARE:
        found.append(
            Finding(
                "other-load",
                Severity.WARN,
                "Other work was running on the machine while measuring.",
                "Run the gate in a job of its own on a runner that is not shared.",
                f"other processes used {load.other_cpu_share:.0%} of {load.usable_cpus} CPUs; "
                f"{load.involuntary_switches_per_s:.0f} preemptions/s, load average {load.load_average:.2f}",
            )
        )
    share = harness_overhead_ms / int8.median_ms if int8.median_ms > 0 else 0.0
    if share > OVERHEAD_SHARE:
        bare = _without_overhead(fp32.median_ms, int8.median_ms, harness_overhead_ms)
        found.append(
            Finding(
                "harness-overhead",
                Severity.INFO,
                "The cost of calling the model from Python is a visible part of an INT8 run; "
                "it pulls the measured speedup toward 1.",
                "Benchmark a larger input so a run lasts longer, if the deployment does.",
                f"{harness_overhead_ms * 1e3:.0f} µs per call = {share:.1%} of INT8; "
                f"without it the medians' ratio would be {bare}",
            )
        )
    outliers = (fp32.outliers + int8.outliers) / max(fp32.n + int8.n, 1)
    if outliers > OUTLIER_SHARE:
        found.append(
            Finding(
                "outliers",
                Severity.INFO,
                "Many runs took far longer or shorter than usual (counted, not dropped).",
                "Look for periodic background work on the runner.",
                f"{fp32.outliers} FP32 and {int8.outliers} INT8 of {fp32.n + int8.n} runs",
            )
        )
    if len(sessions) < 2:
        found.append(
            Finding(
                "single-session",
                Severity.WARN,
                "Only one session ran, so the interval misses the variation between sessions.",
                "Set benchmark.sessions to 3 or more.",
                "1 session",
            )
        )
    return tuple(found)


def _without_overhead(fp32_ms: float, int8_ms: float, overhead_ms: float) -> str:
    """The ratio of medians with the harness overhead taken off both, as text."""
    if int8_ms - overhead_ms <= 0:
        return "undefined (overhead exceeds the INT8 median)"
    return f"{(fp32_ms - overhead_ms) / (int8_ms - overhead_ms):.3f}×"
