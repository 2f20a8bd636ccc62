"""One model pair against the base branch, as report data: the ``vs_base`` object of every model.

``status`` says what the base commit holds: ``changed`` (a file of the pair differs), ``unchanged``
(the same bytes), ``new`` (no INT8 model on base) or ``unavailable`` (base could not be read, with
the reason). ``benchmark`` says whether this run measured the pair and why. A changed pair carries
the side-by-side figures (head INT8 time / base INT8 time, the base and head speedups, each with its
95% interval) and the census, size and fidelity differences; an unchanged pair that was not measured
carries ``cached``, the earlier result for the same content, runner class and ONNX Runtime, when
the results cache had one. Field names are JSON names (``jsonable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from int8gate.measure.benchrun import BenchRun
from int8gate.measure.fidelity import FidelityResult
from int8gate.measure.sidebyside import VsBaseRun
from int8gate.measure.stats import Speedup


class BaseStatus(str, Enum):
    """What the base commit holds for a pair."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NEW = "new"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class BenchmarkDecision:
    """Whether this run benchmarked the pair, and why (``skipped``: the earlier result stands)."""

    skipped: bool
    why: str


@dataclass(frozen=True)
class CensusSide:
    """The facts of one INT8 model that a reviewer compares before → after."""

    format: str
    compute_ops_total: int
    compute_ops_quantized: int
    mac_share_quantized: float | None
    quantize_linear_after_optimization: int | None
    dequantize_linear_after_optimization: int | None
    float_compute_fed_by_dq: int | None
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class CensusDelta:
    """Base INT8 (``before``) against head INT8 (``after``), and the census findings that came or went."""

    before: CensusSide
    after: CensusSide
    findings_appeared: tuple[str, ...]
    findings_gone: tuple[str, ...]


@dataclass(frozen=True)
class FidelitySide:
    """Output agreement of one INT8 model with its FP32 source, in two numbers and the verdict."""

    passed: bool
    worst_cosine: float | None
    worst_snr_db: float | None


@dataclass(frozen=True)
class FidelityDelta:
    """Base pair's output agreement (``before``) against the head pair's (``after``)."""

    before: FidelitySide
    after: FidelitySide


@dataclass(frozen=True)
class CachedResult:
    """A measurement kept in the results cache: what was measured, when, at which commit, by which version."""

    key: str
    measured_at: str
    commit: str | None
    tool_version: str
    runs: tuple[BenchRun, ...]
    fidelity: FidelityResult | None = None


@dataclass(frozen=True)
class VsBase:
    """One pair against base. The side-by-side fields are for the first thread setting (as the Action's
    ``speedup`` output), every setting's are in ``runs``."""

    status: BaseStatus
    base_ref: str
    benchmark: BenchmarkDecision
    why: str
    changed: tuple[str, ...] = ()
    int8_latency_ratio: Speedup | None = None
    base_speedup: Speedup | None = None
    head_speedup: Speedup | None = None
    runs: tuple[VsBaseRun, ...] = ()
    census_delta: CensusDelta | None = None
    fidelity_delta: FidelityDelta | None = None
    cached: CachedResult | None = None
