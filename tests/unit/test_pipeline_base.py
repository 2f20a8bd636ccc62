"""The pipeline against a base commit, with fake edges: an unchanged pair is not benchmarked again (its
verdict stands on the cached result when there is one), a changed pair's base is inspected and checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from support import reportdata

from int8gate.baseline.changes import PairBase, PairDigests, Provenance
from int8gate.deadline import Deadline
from int8gate.gate.pipeline import Edges, run_gate
from int8gate.inputs.resolved import ResolvedInput
from int8gate.judge.verdict import FailOn, Verdict
from int8gate.measure.benchrun import PairMeasurement
from int8gate.measure.fidelity import FidelityContext
from int8gate.measure.sidebyside import SideBySide, VsBaseRun
from int8gate.measure.stats import Call, Speedup
from int8gate.model.inspection import ModelInspection
from int8gate.model.values import TensorSpec
from int8gate.policy.spec import (
    BenchmarkSettings,
    BenchmarkWhen,
    FidelityRequirement,
    ModelPair,
    OptLevel,
    Policy,
    QuantizedRequirement,
    Requirements,
    VsBaseRequirement,
)
from int8gate.report.data import ModelResult, Report, ToolInfo
from int8gate.report.progress import Stage, Step
from int8gate.report.vsbase import BaseStatus, CachedResult
from int8gate.workspace import PairPaths

BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
DIGESTS = PairDigests("i" * 64, "f" * 64)
PAIR = PairPaths(ModelPair("net", "net_fp32.onnx", "net_int8.onnx"), Path("net_fp32.onnx"), Path("net_int8.onnx"), None)


@dataclass
class Store:
    entries: dict[str, CachedResult] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def get(self, key: str) -> CachedResult | None:
        self.asked.append(key)
        return self.entries.get(key)

    def put(self, result: CachedResult) -> None:
        self.entries[result.key] = result


FASTER_THAN_BASE = Speedup(0.42, 0.41, 0.43, 0.012)


@dataclass
class Fake:
    """Edges answering from canned data; base copies live under ``base/``; every call and step is recorded.

    ``ratio``: what the side-by-side edge measures as head INT8 time / base INT8 time.
    """

    calls: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    store: Store = field(default_factory=Store)
    ratio: Speedup = FASTER_THAN_BASE

    def inspect(self, path: Path, *, input_shapes: Mapping[str, tuple[int, ...]], opt_level: OptLevel,
                requirement: QuantizedRequirement, max_bytes: int | None, runtime_layer: bool,
                vnni: bool | None, timeout: float) -> ModelInspection:  # fmt: skip
        self.calls.append(f"inspect {path}")
        if path.parts[0] == "base":  # base's INT8 model quantized only half of the MACs
            half = reportdata.inspection(str(path), quantized=True, size=900_000)
            return replace(half, mac_share_quantized=0.5, sha256="ba" * 32)
        return reportdata.inspection(str(path), quantized="int8" in path.name, size=360_000)

    def measure(self, fp32: Path, int8: Path, *, threads: Sequence[int], inputs: Sequence[ResolvedInput],
                samples: Path | None, settings: BenchmarkSettings, threshold: float,
                requirement: FidelityRequirement, profile: bool, refused: str,
                progress: Callable[[int, int], None] | None, deadline: Deadline,
                context: FidelityContext) -> PairMeasurement:  # fmt: skip
        self.calls.append(f"measure {int8} threads={list(threads)}")
        runs = tuple(reportdata.row(t, 9.2, 3.9, 2.28, 2.38, Call.FASTER) for t in threads)
        return PairMeasurement(runs, reportdata.fidelity(0.9999, True))

    def compare(self, fp32: Path, int8: Path, base_int8: Path, base_fp32: Path | None, *, threads: Sequence[int],
                inputs: Sequence[ResolvedInput], samples: Path | None, settings: BenchmarkSettings, threshold: float,
                requirement: FidelityRequirement, profile: bool, refused: str,
                progress: Callable[[int, int], None] | None, deadline: Deadline,
                context: FidelityContext) -> SideBySide:  # fmt: skip
        self.calls.append(f"compare {int8} with {base_int8} and {base_fp32} threads={list(threads)}")
        for row, count in enumerate(threads, 1):
            if progress is not None:
                progress(row, count)
        runs = tuple(reportdata.row(t, 9.2, 3.9, 2.28, 2.38, Call.FASTER) for t in threads)
        vs = tuple(VsBaseRun(run.intra_op_threads, self.ratio, Speedup(1.1, 1.0, 1.2, 0.09), run.speedup)
                   for run in runs)  # fmt: skip
        pair = PairMeasurement(runs, reportdata.fidelity(0.9999, True))
        return SideBySide(pair, vs, reportdata.fidelity(0.97, True))

    def edges(self) -> Edges:
        return Edges(
            inspect=self.inspect, measure=self.measure,
            load_declared_inputs=lambda path: (TensorSpec("input", "float32", (1, 3, 112, 112)),),
            sample_shapes=lambda path: {}, clock=lambda: 0.0, progress=self.steps.append,
            cache=self.store, stamp=lambda: "2026-11-30T12:00:00+00:00", compare=self.compare,
        )  # fmt: skip


def run(fake: Fake, base: PairBase | None, *, when: BenchmarkWhen = BenchmarkWhen.CHANGED,
        max_slowdown: float | None = None) -> ModelResult:  # fmt: skip
    require = Requirements(vs_base=VsBaseRequirement(max_slowdown))
    policy = Policy(models=(PAIR.pair,), require=require, benchmark=BenchmarkSettings(threads=(1,), when=when))
    provenance = Provenance({"net": DIGESTS}, None if base is None else {"net": base}, commit="c0ffee" * 6 + "abcd")
    report: Report = run_gate(policy, [PAIR], reportdata.runner(), fake.edges(), fail_on=FailOn.FAIL,
                              tool=lambda s: ToolInfo("int8gate", "0", ".int8gate.yml", "t", s),
                              provenance=provenance)  # fmt: skip
    return report.models[0]


UNCHANGED = PairBase(BASE, BaseStatus.UNCHANGED, "the same files as base f95f852bd8fc")


def test_an_unchanged_pair_is_inspected_not_benchmarked_and_says_why() -> None:
    fake = Fake()
    model = run(fake, UNCHANGED)
    assert fake.calls == ["inspect net_int8.onnx", "inspect net_fp32.onnx"]  # the census still runs
    assert model.verdict is Verdict.PASS
    assert model.reasons[0] == (
        "not benchmarked again: neither the pair's files nor its policy changed against base f95f852bd8fc; "
        "no cached result for the same files on this kind of runner"
    )
    assert model.benchmark is not None and model.benchmark.runs == ()  # nothing measured in this run
    assert model.vs_base is not None and model.vs_base.status is BaseStatus.UNCHANGED
    assert model.vs_base.benchmark.skipped and model.vs_base.cached is None
    assert fake.store.entries == {}


def test_an_unchanged_pair_is_judged_on_the_cached_result_for_the_same_content() -> None:
    fake = Fake()
    run(fake, None)  # a run on main: measured in full and cached
    (key,) = fake.store.entries
    slower = (reportdata.row(1, 4.0, 4.4, 0.88, 0.93, Call.SLOWER),)
    fake.store.entries[key] = replace(fake.store.entries[key], runs=slower)
    fake.calls.clear()
    model = run(fake, UNCHANGED)
    assert not any(call.startswith(("measure", "fidelity")) for call in fake.calls)
    assert fake.store.asked == [key]  # the same key: same digests, settings, runner, ONNX Runtime
    assert model.verdict is Verdict.FAIL  # the verdict is still a verdict
    assert model.reasons == (
        "slower than required at 1 thread: 0.91× (95% CI 0.88–0.93), required ≥ 1.20×, auto: lower edge of the "
        "expected range for modern CPU with VNNI (cached: measured 2026-11-30T12:00:00+00:00 at commit c0ffeec0ffee)",
    )
    assert model.vs_base is not None and model.vs_base.cached is not None
    assert model.vs_base.cached.runs == slower and model.vs_base.cached.commit == "c0ffee" * 6 + "abcd"


def test_when_always_an_unchanged_pair_is_benchmarked_as_before() -> None:
    fake = Fake()
    model = run(fake, UNCHANGED, when=BenchmarkWhen.ALWAYS)
    assert "measure net_int8.onnx threads=[1]" in fake.calls
    assert model.vs_base is not None and not model.vs_base.benchmark.skipped
    assert model.vs_base.benchmark.why == "benchmark.when: always"


def test_a_changed_pair_inspects_and_checks_its_base_for_before_and_after() -> None:
    fake = Fake()
    base = PairBase(BASE, BaseStatus.CHANGED, "the INT8 model changed against base f95f852bd8fc", ("int8",),
                    int8=Path("base/net_int8.onnx"), fp32=Path("base/net_fp32.onnx"))  # fmt: skip
    model = run(fake, base)
    assert fake.calls == [
        "inspect net_int8.onnx", "inspect net_fp32.onnx", "inspect base/net_int8.onnx",
        "compare net_int8.onnx with base/net_int8.onnx and None threads=[1]",
    ]  # fmt: skip
    vs = model.vs_base
    assert vs is not None and vs.status is BaseStatus.CHANGED and vs.changed == ("int8",)
    assert vs.census_delta is not None
    assert (vs.census_delta.before.mac_share_quantized, vs.census_delta.after.mac_share_quantized) == (0.5, 1.0)
    assert (vs.census_delta.before.size_bytes, vs.census_delta.after.size_bytes) == (900_000, 360_000)
    assert vs.fidelity_delta is not None
    assert (vs.fidelity_delta.before.worst_cosine, vs.fidelity_delta.after.worst_cosine) == (0.97, 0.9999)
    assert model.verdict is Verdict.PASS
    # one inspect step per pair (in Actions it opens the pair's log group); it names the base version
    inspects = [step.detail for step in fake.steps if step.stage is Stage.INSPECT]
    assert inspects == ["net_int8.onnx and net_fp32.onnx (and the base version of net_int8.onnx)"]
    assert [(step.stage, step.row) for step in fake.steps] == [(Stage.INSPECT, 0), (Stage.MEASURE, 1)]


def test_a_new_model_is_measured_and_has_no_before() -> None:
    fake = Fake()
    model = run(fake, PairBase(BASE, BaseStatus.NEW, "the INT8 model is new", ("int8",)))
    assert "measure net_int8.onnx threads=[1]" in fake.calls
    assert model.vs_base is not None and model.vs_base.census_delta is None
    assert len(fake.store.entries) == 1  # a full measurement is kept for the next run


CHANGED = PairBase(BASE, BaseStatus.CHANGED, "the INT8 model changed against base f95f852bd8fc", ("int8",),
                   int8=Path("base/net_int8.onnx"), fp32=Path("base/net_fp32.onnx"))  # fmt: skip


def test_a_changed_pair_is_measured_beside_its_base_int8_model() -> None:
    fake = Fake(ratio=Speedup(0.42, 0.41, 0.43, 0.012))
    model = run(fake, CHANGED)
    assert "compare net_int8.onnx with base/net_int8.onnx and None threads=[1]" in fake.calls  # the FP32 did not change
    assert not any(call.startswith("measure") for call in fake.calls)
    vs = model.vs_base
    assert vs is not None and vs.int8_latency_ratio == Speedup(0.42, 0.41, 0.43, 0.012)
    assert vs.base_speedup == Speedup(1.1, 1.0, 1.2, 0.09) and vs.head_speedup == model.benchmark.runs[0].speedup  # type: ignore[union-attr]
    assert model.verdict is Verdict.PASS  # reported always, judged only when the policy asks


def test_max_slowdown_fails_a_pr_slower_than_base_beyond_noise_and_tolerance() -> None:
    slower = run(Fake(ratio=Speedup(1.12, 1.08, 1.16, 0.036)), CHANGED, max_slowdown=0.05)
    assert slower.verdict is Verdict.FAIL
    assert slower.reasons == ("slower than base at 1 thread: head INT8 takes 1.12× (95% CI 1.08–1.16) of base's "
                              "time, allowed ≤ 1.05× by require.vs_base.max_slowdown",)  # fmt: skip
    close = run(Fake(ratio=Speedup(1.05, 1.03, 1.07, 0.02)), CHANGED, max_slowdown=0.05)
    assert close.verdict is Verdict.INCONCLUSIVE
    faster = run(Fake(ratio=Speedup(0.42, 0.41, 0.43, 0.012)), CHANGED, max_slowdown=0.05)
    assert faster.verdict is Verdict.PASS
    assert "not slower than base at 1 thread: head INT8 takes 0.42× (95% CI 0.41–0.43) of base's time, " \
           "allowed ≤ 1.05×" in faster.reasons


def test_the_expected_total_counts_no_rows_for_a_pair_not_benchmarked_again() -> None:
    policy = Policy(models=(PAIR.pair,), benchmark=BenchmarkSettings(threads=(1, 2), budget_seconds=6))
    expected = {}
    for label, base in (("unchanged", UNCHANGED), ("changed", CHANGED)):
        provenance = Provenance({"net": DIGESTS}, {"net": base})
        report = run_gate(policy, [PAIR], reportdata.runner(), Fake().edges(), provenance=provenance,
                          tool=lambda s: ToolInfo("int8gate", "0", ".int8gate.yml", "t", s))  # fmt: skip
        expected[label] = report.tool.expected_s
    assert expected == {"unchanged": 1.5, "changed": 1.5 + 2 * 6}
