"""The policy model: what `.int8gate.yml` asks for, as frozen dataclasses with defaults.

Loading (YAML text → ``Policy`` with file:line:key errors) lives in ``load``; this module is
only the shape of a policy and its defaults, so every other module can depend on it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

POLICY_VERSION = 1
DEFAULT_POLICY_FILE = ".int8gate.yml"


class OptLevel(str, Enum):
    """ONNX Runtime graph optimization level, as the policy spells it."""

    DISABLE = "disable"
    BASIC = "basic"
    EXTENDED = "extended"
    ALL = "all"


class CommentMode(str, Enum):
    """When the Action posts the PR comment."""

    UPDATE = "update"
    NEW = "new"
    OFF = "off"
    ON_FAILURE = "on-failure"


class BenchmarkWhen(str, Enum):
    """When a pair is benchmarked: only when it changed against the base branch, or on every run."""

    CHANGED = "changed"
    ALWAYS = "always"


AUTO = "auto"
"""The policy's word for "decide from this runner" (threads: usable CPUs; speedup: expected range)."""


@dataclass(frozen=True)
class InputSpec:
    """One model input's fixed shape and/or dtype; ``None`` leaves it to the model."""

    name: str
    shape: tuple[int, ...] | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class QuantizedRequirement:
    """What it takes for an INT8 model to count as really quantized."""

    min_mac_share: float = 0.8
    min_count_share: float = 0.5
    formats: tuple[str, ...] = ("qdq", "qoperator", "dynamic", "mixed")


@dataclass(frozen=True)
class FidelityRequirement:
    """How close INT8 outputs must stay to FP32 outputs on the same inputs (``None``: not checked).

    Each output is held to the thresholds its kind supports (``measure.fidelity``): cosine and SNR
    for values, top-1 agreement for class scores (and exact agreement for integer outputs), mean
    error over FP32's range for probabilities; ``max_abs_error`` for every float output.
    """

    min_cosine: float | None = 0.99
    max_abs_error: float | None = None
    # Cosine is blind to a wrong output scale; SNR is not. Correct INT8 zoo models measure 32-43 dB,
    # one layer with a x8 weight scale 7.9 dB (python benchmarks/fidelity_zoo.py).
    min_snr_db: float | None = 20.0
    # Class scores: a softmax saturates, so cosine says little; the class picked is what matters. Working
    # real classifiers on held-out samples: 0.875 (7 of 8) to 1.0; a broken recognizer 0.51.
    min_top1_agreement: float | None = 0.85
    # Probability maps: mostly near 0, so cosine and SNR swing on a few pixels. Working detector copies on
    # held-out pages: 0.54-0.77% of FP32's range; one calibrated on random images (finds no text): 6.7%.
    max_range_error: float | None = 0.02


@dataclass(frozen=True)
class FindingRules:
    """Policy overrides of finding severities by code: raise to fail, lower to warn, or ignore."""

    fail: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class VsBaseRequirement:
    """How much slower than the base branch's INT8 model the head's may be (``None``: reported, never judged).

    ``max_slowdown: 0.05`` fails a pair whose head INT8 time / base INT8 time is above 1.05 beyond noise.
    """

    max_slowdown: float | None = None


@dataclass(frozen=True)
class Requirements:
    """The thresholds a model must meet; ``min_speedup`` is a number or ``"auto"``."""

    min_speedup: float | str = AUTO
    quantized: QuantizedRequirement = field(default_factory=QuantizedRequirement)
    fidelity: FidelityRequirement = field(default_factory=FidelityRequirement)
    findings: FindingRules = field(default_factory=FindingRules)
    vs_base: VsBaseRequirement = field(default_factory=VsBaseRequirement)


@dataclass(frozen=True)
class BenchmarkSettings:
    """How to measure: thread settings, warm-up, budget per (model, threads) row, stopping rule."""

    threads: tuple[int | str, ...] = (1, AUTO)
    warmup_runs: int = 5
    budget_seconds: float = 10.0
    target_halfwidth: float = 0.02
    sessions: int = 3
    optimization_level: OptLevel = OptLevel.ALL
    timeout_seconds: float = 120.0
    confirm: bool = True
    fidelity_samples: int = 8
    seed: int = 0
    when: BenchmarkWhen = BenchmarkWhen.CHANGED


@dataclass(frozen=True)
class ReportSettings:
    """What the report shows and how the Action publishes it."""

    title: str = "int8gate"
    comment: CommentMode = CommentMode.UPDATE
    details: bool = True
    chart: bool = True
    profile: bool = True


@dataclass(frozen=True)
class Limits:
    """What the gate refuses to read or spend: models arrive in pull requests and are untrusted input.

    max_rows: model pairs × thread settings a run may measure; more is refused before anything runs.
    max_run_seconds: the run's deadline; ``None`` derives it from the budgets (``default_run_seconds``).
    After it, remaining rows are reported as not measured.
    """

    max_model_mb: float = 2048.0
    max_rows: int = 64
    max_run_seconds: float | None = None

    @property
    def max_model_bytes(self) -> int:
        """The cap in bytes (the ``.onnx`` file with its external data)."""
        return int(self.max_model_mb * 1024 * 1024)


PAIR_OVERHEAD_SECONDS = 60.0
"""What the default deadline allows per model pair for inspection, the fidelity check and profiling."""
ROW_MARGIN = 1.5
"""The default deadline allows each row this multiple of its budget (with its confirmation)."""


def default_run_seconds(benchmark: BenchmarkSettings, *, pairs: int, rows: int) -> float:
    """The run's deadline when the policy sets none, from the budgets.

    Each row may spend its budget, and three times that when a "slower" call is confirmed (the
    confirmation re-measures with twice the budget), with a 1.5x margin; each pair gets a minute for
    inspection, the fidelity check and profiling. The policy's ``limits.max_run_seconds`` replaces it.
    """
    per_row = benchmark.budget_seconds * (3.0 if benchmark.confirm else 1.0) * ROW_MARGIN
    return rows * per_row + pairs * PAIR_OVERHEAD_SECONDS


@dataclass(frozen=True)
class ModelPair:
    """One FP32 model and its INT8 version, with paths relative to the policy's folder."""

    name: str
    fp32: str
    int8: str
    inputs: tuple[InputSpec, ...] = ()
    samples: str | None = None
    require: Requirements | None = None
    line: int | None = None


@dataclass(frozen=True)
class Policy:
    """A whole validated policy; ``lines`` maps a dotted key (``models[0].int8``) to its line."""

    models: tuple[ModelPair, ...]
    require: Requirements = field(default_factory=Requirements)
    benchmark: BenchmarkSettings = field(default_factory=BenchmarkSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    limits: Limits = field(default_factory=Limits)
    version: int = POLICY_VERSION
    source: str = DEFAULT_POLICY_FILE
    lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, key: str) -> int | None:
        """The line where ``key`` was written, or ``None`` when it took its default."""
        return dict(self.lines).get(key)

    def requirements_for(self, pair: ModelPair) -> Requirements:
        """The pair's own requirements when it has them, else the policy-wide ones."""
        return pair.require if pair.require is not None else self.require
