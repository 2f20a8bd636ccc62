"""A pair against its base, for the pipeline: the results cache, census and fidelity before → after.

The pipeline hands in what it inspected and measured (head and base) and gets the ``VsBase`` the
report carries, the rows the verdict judges ``require.vs_base`` on, and the words for a pair that
was not benchmarked again. The cache is reached only through the ``ResultStore`` it is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from int8gate import __version__
from int8gate.baseline.cache import result_key
from int8gate.baseline.changes import PairBase, PairDigests, pair_settings
from int8gate.deadline import Deadline
from int8gate.inputs.resolved import ResolvedInput
from int8gate.judge.verdict import SlowdownRow
from int8gate.machine.facts import RunnerProfile
from int8gate.measure.benchrun import BenchRun
from int8gate.measure.fidelity import FidelityContext, FidelityResult
from int8gate.measure.sidebyside import SideBySide, VsBaseRun
from int8gate.model.inspection import ModelInspection
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement, ModelPair, Policy
from int8gate.report.vsbase import (
    BenchmarkDecision,
    CachedResult,
    CensusDelta,
    CensusSide,
    FidelityDelta,
    FidelitySide,
    VsBase,
)


class Compare(Protocol):
    """Every row of a changed pair beside its base models, with both pairs' fidelity and the head's
    profile (``runtime.sidebyside.measure_against_base``)."""

    def __call__(
        self,
        fp32: Path,
        int8: Path,
        base_int8: Path,
        base_fp32: Path | None,
        *,
        threads: Sequence[int],
        inputs: Sequence[ResolvedInput],
        samples: Path | None,
        settings: BenchmarkSettings,
        threshold: float,
        requirement: FidelityRequirement,
        profile: bool,
        refused: str,
        progress: Callable[[int, int], None] | None,
        deadline: Deadline,
        context: FidelityContext,
    ) -> SideBySide: ...


class ResultStore(Protocol):
    """The results cache (``baseline.cache.ResultCache``)."""

    def get(self, key: str) -> CachedResult | None: ...

    def put(self, result: CachedResult) -> None: ...


def cache_key(
    digests: PairDigests, policy: Policy, pair: ModelPair, runner: RunnerProfile, threads: tuple[int, ...]
) -> str:
    """The results-cache key of a pair measured on this runner at these thread counts."""
    return result_key(
        digests,
        settings=pair_settings(policy, pair),
        threads=threads,
        runner_class=runner.cpu.cpu_class.value,
        onnxruntime=runner.onnxruntime.version,
        tool_version=__version__,
    )


def look_up(store: ResultStore | None, key: str | None) -> CachedResult | None:
    """The earlier result for ``key``, when there is a cache and it has one."""
    return store.get(key) if store is not None and key is not None else None


def keep(
    store: ResultStore | None,
    key: str | None,
    runs: tuple[BenchRun, ...],
    fidelity: FidelityResult | None,
    *,
    commit: str | None,
    stamp: Callable[[], str],
) -> None:
    """Add a fresh result to the cache, only when every row and the fidelity check completed."""
    if store is None or key is None or not runs or any(run.error is not None or run.not_measured for run in runs):
        return
    if fidelity is None or fidelity.error is not None:
        return
    store.put(CachedResult(key, stamp(), commit, __version__, runs, fidelity))


def skip_text(decision: BenchmarkDecision, cached: CachedResult | None) -> str:
    """Why a pair was not benchmarked, and what its verdict stands on instead."""
    if cached is None:
        return f"{decision.why}; no cached result for the same files on this kind of runner"
    return f"{decision.why}; the cached result for the same files, runner class and ONNX Runtime stands"


def cached_note(cached: CachedResult | None) -> str:
    """Where a skipped pair's speed figures come from ("" when there are none)."""
    if cached is None:
        return ""
    commit = f"commit {cached.commit[:12]}" if cached.commit else "an unknown commit"
    return f"cached: measured {cached.measured_at or 'earlier'} at {commit}"


def census_side(model: ModelInspection) -> CensusSide:
    """The facts of one INT8 model a reviewer compares before → after."""
    after = model.after_optimization
    return CensusSide(
        format=model.format.value,
        compute_ops_total=model.compute_ops.total,
        compute_ops_quantized=model.compute_ops.quantized,
        mac_share_quantized=model.mac_share_quantized,
        quantize_linear_after_optimization=after.quantize_linear if after else None,
        dequantize_linear_after_optimization=after.dequantize_linear if after else None,
        float_compute_fed_by_dq=after.float_compute_fed_by_dq if after else None,
        size_bytes=model.size_bytes,
        sha256=model.sha256,
    )


def census_delta(before: ModelInspection, after: ModelInspection) -> CensusDelta:
    """Base INT8 against head INT8, and the census findings that appeared or went away (by code)."""
    old = dict.fromkeys(finding.code for finding in before.findings)
    new = dict.fromkeys(finding.code for finding in after.findings)
    return CensusDelta(
        before=census_side(before),
        after=census_side(after),
        findings_appeared=tuple(code for code in new if code not in old),
        findings_gone=tuple(code for code in old if code not in new),
    )


def fidelity_side(result: FidelityResult) -> FidelitySide:
    """Output agreement in two numbers: the worst output's cosine and SNR (``None`` when nothing was compared)."""
    cosines = [o.cosine for o in result.outputs if math.isfinite(o.cosine)]
    snrs = [o.snr_db for o in result.outputs if math.isfinite(o.snr_db)]
    return FidelitySide(result.passed, min(cosines) if cosines else None, min(snrs) if snrs else None)


def fidelity_delta(before: FidelityResult | None, after: FidelityResult | None) -> FidelityDelta | None:
    """Base pair's agreement against the head pair's, when both were checked."""
    if before is None or after is None:
        return None
    return FidelityDelta(fidelity_side(before), fidelity_side(after))


def assemble(
    base: PairBase,
    decision: BenchmarkDecision,
    *,
    runs: tuple[VsBaseRun, ...] = (),
    census: CensusDelta | None = None,
    fidelity: FidelityDelta | None = None,
    cached: CachedResult | None = None,
) -> VsBase:
    """The report's ``vs_base``; the top-level side-by-side figures are the first thread setting's."""
    first = runs[0] if runs else None
    return VsBase(
        status=base.status,
        base_ref=base.ref,
        benchmark=decision,
        why=base.why,
        changed=base.changed,
        int8_latency_ratio=first.int8_latency_ratio if first else None,
        base_speedup=first.base_speedup if first else None,
        head_speedup=first.head_speedup if first else None,
        runs=runs,
        census_delta=census,
        fidelity_delta=fidelity,
        cached=cached,
    )


def slowdown_rows(runs: tuple[VsBaseRun, ...]) -> tuple[SlowdownRow, ...]:
    """The side-by-side rows the verdict judges ``require.vs_base.max_slowdown`` on (measured ones only)."""
    return tuple(
        SlowdownRow(run.intra_op_threads, r.estimate, r.ci_low, r.ci_high)
        for run in runs
        if (r := run.int8_latency_ratio) is not None
    )
