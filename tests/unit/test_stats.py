"""Latency statistics, the bootstrap speedup interval, the call and quality findings, exact on built data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from int8gate.findings import Severity
from int8gate.measure import stats
from int8gate.measure.stats import Call, MachineLoad, SessionSamples, Speedup, StopReason


def session(fp32: list[int], int8: list[int]) -> SessionSamples:
    return SessionSamples(tuple(fp32), tuple(int8))


def constant(ratio: float, rounds: int = 20, int8_ns: int = 1_000_000) -> SessionSamples:
    return session([round(int8_ns * ratio)] * rounds, [int8_ns] * rounds)


QUIET = MachineLoad(involuntary_switches_per_s=10.0, load_average=1.0, usable_cpus=2, threads=2)


def test_summary_order_statistics_and_far_outliers() -> None:
    latencies = [1_000_000 * k for k in range(1, 11)] + [1_000_000_000]
    s = stats.summarize(latencies)
    assert s.n == 11
    assert s.median_ms == 6.0
    assert s.p90_ms == pytest.approx(10.0)
    assert s.p99_ms == pytest.approx(10.0 + 0.9 * 990.0)
    assert s.min_ms == 1.0 and s.max_ms == 1000.0
    assert s.outliers == 1  # 1000 ms is beyond Q3 + 3·IQR = 8.5 + 3·5 ms; nothing below Q1 - 3·IQR
    assert s.robust_cv == pytest.approx(1.4826 * 3.0 / 6.0)


def test_summary_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        stats.summarize([])


def test_session_needs_paired_positive_rounds() -> None:
    with pytest.raises(ValueError, match="as many"):
        session([1, 2], [1])
    with pytest.raises(ValueError, match="at least one"):
        session([], [])
    with pytest.raises(ValueError, match="positive"):
        session([0], [1])


def test_identical_constant_ratio_gives_a_point_interval() -> None:
    sp = stats.estimate_speedup([constant(2.0), constant(2.0), constant(2.0)], seed=1)
    assert sp.estimate == pytest.approx(2.0)
    assert sp.ci_low == pytest.approx(2.0) and sp.ci_high == pytest.approx(2.0)
    assert sp.halfwidth == pytest.approx(0.0)


def test_estimate_is_geometric_mean_of_session_medians() -> None:
    sessions = [constant(1.5), constant(2.0), constant(3.0)]
    sp = stats.estimate_speedup(sessions, seed=0)
    assert sp.estimate == pytest.approx((1.5 * 2.0 * 3.0) ** (1 / 3))
    assert stats.session_speedups(sessions) == pytest.approx((1.5, 2.0, 3.0))
    assert sp.ci_low < sp.estimate < sp.ci_high
    assert sp.halfwidth == pytest.approx((sp.ci_high - sp.ci_low) / (2 * sp.estimate))


def test_between_session_spread_widens_the_interval_beyond_the_bootstrap() -> None:
    # Within sessions nothing varies, so the plain bootstrap interval is that of a mean of three
    # cluster values; the widening by sqrt(3/2) must then show up exactly.
    sessions = [constant(1.9), constant(2.0), constant(2.1)]
    sp = stats.estimate_speedup(sessions, seed=3)
    rng = np.random.default_rng(3)
    logs = np.log([1.9, 2.0, 2.1])
    for _ in range(3):  # the within-session draws the estimator makes first (20 rounds: two Beta draws)
        stats.bootstrap_medians(np.zeros(20), stats.BOOTSTRAP_RESAMPLES, rng)
    drawn = rng.integers(0, 3, size=(stats.BOOTSTRAP_RESAMPLES, 3))
    boot = logs[drawn].mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    center = logs.mean()
    widen = stats.small_sample_widening(3)
    assert math.log(sp.ci_low) == pytest.approx(center - widen * (center - lo))
    assert math.log(sp.ci_high) == pytest.approx(center + widen * (hi - center))


@pytest.mark.parametrize("n", [1, 2, 3, 8, 31, 200])
def test_bootstrap_medians_follow_the_resampling_they_replace(n: int) -> None:
    # Same distribution as taking the median of n values drawn with replacement, without the
    # resamples x n array: compare quantiles and spread over many resamples.
    values = np.random.default_rng(n).normal(0.7, 0.1, n)
    direct = np.median(values[np.random.default_rng(1).integers(0, n, size=(40_000, n))], axis=1)
    drawn = stats.bootstrap_medians(values, 40_000, np.random.default_rng(2))
    possible = set(values.tolist()) | set(((values[:, None] + values) / 2).ravel().tolist())  # a value, or a midpoint
    assert set(drawn.tolist()) <= possible
    assert np.quantile(drawn, [0.025, 0.5, 0.975]) == pytest.approx(np.quantile(direct, [0.025, 0.5, 0.975]), abs=0.01)
    assert drawn.std() == pytest.approx(direct.std(), rel=0.05, abs=1e-9)


def test_bootstrap_memory_does_not_grow_with_resamples_times_samples() -> None:
    # 2,000 resamples of 2,000,000 samples: the old resampling asked for 32 GB; this needs the sort.
    import tracemalloc

    values = np.random.default_rng(0).normal(0.0, 1.0, 2_000_000)
    tracemalloc.start()
    stats.bootstrap_medians(values, stats.BOOTSTRAP_RESAMPLES, np.random.default_rng(0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * values.nbytes  # the sorted copy and its index arithmetic, nothing resamples-sized


def test_widening_factor_corrects_the_cluster_bootstrap_bias() -> None:
    assert stats.small_sample_widening(1) == 1.0
    assert stats.small_sample_widening(3) == pytest.approx(math.sqrt(1.5))
    assert stats.small_sample_widening(100) == pytest.approx(math.sqrt(100 / 99))


def test_estimate_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(7)
    sessions = [
        session(
            [int(x) for x in rng.normal(2e7, 4e5, 30)],
            [int(x) for x in rng.normal(1e7, 2e5, 30)],
        )
        for _ in range(4)
    ]
    assert stats.estimate_speedup(sessions, seed=5) == stats.estimate_speedup(sessions, seed=5)
    assert stats.estimate_speedup(sessions, seed=5).estimate == pytest.approx(
        stats.estimate_speedup(sessions, seed=6).estimate
    )


def test_single_session_uses_the_rounds_only() -> None:
    sp = stats.estimate_speedup([session([2, 2, 2, 4], [1, 1, 1, 1])], seed=0)
    assert sp.estimate == pytest.approx(2.0)
    assert sp.ci_low == pytest.approx(2.0)
    assert sp.ci_high <= 4.0


def test_call_is_three_way_and_strict() -> None:
    def sp(lo: float, hi: float) -> Speedup:
        return Speedup(estimate=(lo + hi) / 2, ci_low=lo, ci_high=hi, halfwidth=0.0)

    assert stats.call(sp(1.21, 1.4), 1.2) is Call.FASTER
    assert stats.call(sp(1.0, 1.19), 1.2) is Call.SLOWER
    assert stats.call(sp(1.1, 1.3), 1.2) is Call.WITHIN_NOISE
    assert stats.call(sp(1.2, 1.3), 1.2) is Call.WITHIN_NOISE  # touching the threshold is not above it
    assert Call.WITHIN_NOISE.value == "within-noise"


def test_trend_of_an_exact_drift() -> None:
    # The ratio grows by a factor e^0.001 per round: an exact line in log space.
    rounds = 50
    fp32 = [round(1e6 * math.exp(0.001 * i)) * 2 for i in range(rounds)]
    trend = stats.within_session_trend([session(fp32, [2_000_000] * rounds)])
    assert trend.change == pytest.approx(math.expm1(0.001 * (rounds - 1)), rel=1e-3)
    assert abs(trend.t_stat) > 1e3


def test_trend_of_flat_sessions_is_zero() -> None:
    trend = stats.within_session_trend([constant(2.0), constant(1.5)])
    assert trend == stats.Trend(change=0.0, t_stat=0.0)
    assert stats.within_session_trend([constant(2.0, rounds=2)]) == stats.Trend(0.0, 0.0)


def findings_for(
    sessions: list[SessionSamples],
    *,
    stopped_by: StopReason = StopReason.TARGET,
    halfwidth: float = 0.01,
    tick_ns: float = 40.0,
    overhead_ms: float = 0.0,
    load: MachineLoad = QUIET,
) -> set[str]:
    fp32 = stats.summarize([n for s in sessions for n in s.fp32_ns])
    int8 = stats.summarize([n for s in sessions for n in s.int8_ns])
    speedup = Speedup(2.0, 2.0 * (1 - halfwidth), 2.0 * (1 + halfwidth), halfwidth)
    found = stats.quality_findings(
        sessions,
        fp32=fp32,
        int8=int8,
        speedup=speedup,
        stopped_by=stopped_by,
        target_halfwidth=0.02,
        clock_tick_ns=tick_ns,
        harness_overhead_ms=overhead_ms,
        load=load,
    )
    assert all(f.message and f.fix and f.evidence for f in found)
    return {f.code for f in found}


def test_clean_run_has_no_findings() -> None:
    assert findings_for([constant(2.0), constant(2.0)]) == set()


def test_each_quality_problem_becomes_its_finding() -> None:
    clean = [constant(2.0), constant(2.0)]
    assert findings_for(clean, stopped_by=StopReason.BUDGET, halfwidth=0.05) == {"budget-cut"}
    assert findings_for(clean, stopped_by=StopReason.BUDGET, halfwidth=0.01) == set()
    assert findings_for(clean, tick_ns=2000.0) == {"latency-too-short"}
    assert findings_for(clean, overhead_ms=0.05) == {"harness-overhead"}
    busy = MachineLoad(involuntary_switches_per_s=10.0, load_average=1.0, usable_cpus=2, threads=2,
                       other_cpu_share=0.5)
    assert findings_for(clean, load=busy) == {"other-load"}
    # ONNX Runtime's own spinning pool is preempted often on a 2-CPU VM; that alone is not other load.
    spinning = MachineLoad(involuntary_switches_per_s=300.0, load_average=2.5, usable_cpus=2, threads=2,
                           other_cpu_share=0.02)
    assert findings_for(clean, load=spinning) == set()
    assert findings_for([constant(2.0)]) == {"single-session"}


def test_dispersion_drift_and_outliers() -> None:
    rng = np.random.default_rng(0)
    noisy = [
        session([int(x) for x in rng.uniform(1e6, 3e6, 40)], [int(x) for x in rng.uniform(1e6, 3e6, 40)])
        for _ in range(2)
    ]
    assert "high-dispersion" in findings_for(noisy)
    drifting = [session([round(2e6 * math.exp(0.002 * i)) for i in range(60)], [1_000_000] * 60) for _ in range(2)]
    assert "drift" in findings_for(drifting)
    spike, base = [90_000_000], [2_000_000]
    spiky = [session(spike + base * 9 + spike + base * 8 + spike, [1_000_000] * 20) for _ in range(2)]
    assert "outliers" in findings_for(spiky)


def test_quality_findings_are_warnings_or_info() -> None:
    sessions = [constant(2.0)]
    fp32 = stats.summarize(sessions[0].fp32_ns)
    found = stats.quality_findings(
        sessions,
        fp32=fp32,
        int8=stats.summarize(sessions[0].int8_ns),
        speedup=Speedup(2.0, 1.5, 2.5, 0.25),
        stopped_by=StopReason.BUDGET,
        target_halfwidth=0.02,
        clock_tick_ns=1e4,
        harness_overhead_ms=0.5,
        load=QUIET,
    )
    assert {f.severity for f in found} <= {Severity.WARN, Severity.INFO}
    overhead = next(f for f in found if f.code == "harness-overhead")
    assert "would be 3.000×" in overhead.evidence  # (2 - 0.5) / (1 - 0.5) ms
