"""One benchmark row as pure data: what ``runtime.bench`` measured for a (model pair, threads) setting.

Pure: the report, the verdict and the renderers read it without importing the driver that starts
worker processes. Field names are the ``bench`` JSON contract (``runs[]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from int8gate.findings import Finding
from int8gate.measure import stats
from int8gate.measure.fidelity import FidelityResult
from int8gate.measure.opprofile import ProfileComparison
from int8gate.measure.stats import Call, LatencySummary, Speedup, StopReason


@dataclass(frozen=True)
class BenchRun:
    """One (model pair, threads) row of the benchmark. Field names are the JSON contract.

    fp32, int8, speedup, call and stopped_by are ``None`` only when the row failed (``error`` set) or
    was not measured (``not_measured`` says why: the run's deadline had passed; not a failure).
    rounds: paired rounds over all sessions; a round holds one or more timed runs of each model
    (``fp32.n`` counts the runs).
    session_speedups: each session's own speedup, in the order they ran.
    seconds: the time the row took by the injected clock, everything included (worker start-up,
    sessions, warm-up, rounds, confirmation, and for a pair's first row its fidelity runs and
    profile); budget_seconds: what the row was given.
    stopped_by: the rule that ended the row (``measure.stopping``); confirmed: a second phase of
    sessions was measured and pooled; confirmation: why it was or was not (empty when the row
    failed before the rule could be applied).
    """

    intra_op_threads: int
    threshold: float
    fp32: stats.LatencySummary | None
    int8: stats.LatencySummary | None
    speedup: stats.Speedup | None
    call: stats.Call | None
    stopped_by: stats.StopReason | None
    confirmed: bool
    sessions: int
    rounds: int
    seconds: float
    setup: str
    harness_overhead_ms: float
    session_speedups: tuple[float, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    not_measured: str | None = None
    budget_seconds: float = 0.0
    confirmation: str = ""


@dataclass(frozen=True)
class PairMeasurement:
    """Everything the workers established for one model pair: a row per thread setting, output
    agreement (``None`` when not asked for) and where the time goes (or why that is missing)."""

    runs: tuple[BenchRun, ...]
    fidelity: FidelityResult | None = None
    profile: ProfileComparison | None = None
    profile_error: str | None = None


@dataclass(frozen=True)
class CompletedRun:
    """The measured parts of a row that did not fail, with nothing left ``None``."""

    fp32: LatencySummary
    int8: LatencySummary
    speedup: Speedup
    call: Call
    stopped_by: StopReason


def row_status(run: BenchRun) -> str:
    """Why a row has no figures, as a renderer shows it: ``failed: …`` or ``not measured: …``."""
    if run.error:
        return f"failed: {run.error}"
    if run.not_measured:
        return f"not measured: {run.not_measured}"
    return "measured"


def completed(run: BenchRun) -> CompletedRun | None:
    """The measured parts of a row, or ``None`` when the row failed."""
    if run.error or run.not_measured or run.fp32 is None or run.int8 is None or run.speedup is None:
        return None
    if run.call is None or run.stopped_by is None:
        return None
    return CompletedRun(run.fp32, run.int8, run.speedup, run.call, run.stopped_by)
