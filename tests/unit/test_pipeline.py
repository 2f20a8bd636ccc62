"""The gate pipeline sequenced with fake edges: what is inspected, measured and profiled, and how it is judged."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from support import reportdata

from int8gate.deadline import Deadline
from int8gate.errors import ModelFileError
from int8gate.gate.pipeline import Edges, run_gate, run_plan
from int8gate.inputs.resolved import ResolvedInput
from int8gate.judge.verdict import FailOn, Verdict
from int8gate.measure.benchrun import PairMeasurement
from int8gate.measure.fidelity import FidelityContext
from int8gate.measure.stats import Call
from int8gate.model.inspection import ModelInspection
from int8gate.model.values import AssumedDim, TensorSpec
from int8gate.policy.spec import (
    BenchmarkSettings,
    FidelityRequirement,
    ModelPair,
    OptLevel,
    Policy,
    QuantizedRequirement,
)
from int8gate.report.data import Report, ToolInfo
from int8gate.report.progress import Stage, Step
from int8gate.runtime.bench import not_measured_row
from int8gate.workspace import PairPaths

DECLARED = (TensorSpec("input", "float32", ("batch", 3, 112, 112)),)


@dataclass
class FakeEdges:
    """Edges that answer from canned data and record every call in order."""

    broken: frozenset[str] = frozenset()
    declared: Mapping[str, tuple[TensorSpec, ...]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    progress: list[Step] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    now: float = 0.0
    row_seconds: float = 0.0

    def inspect(self, path: Path, *, input_shapes: Mapping[str, tuple[int, ...]], opt_level: OptLevel,
                requirement: QuantizedRequirement, max_bytes: int | None, runtime_layer: bool,
                vnni: bool | None, timeout: float) -> ModelInspection:  # fmt: skip
        self.timeouts.append(timeout)
        self.calls.append(f"inspect {path.name} shapes={dict(input_shapes)} runtime={runtime_layer} vnni={vnni}")
        if path.name in self.broken:
            raise ModelFileError(str(path), "ONNX Runtime crashed with SIGSEGV while loading it")
        quantized = path.name.endswith("_int8.onnx") and "fake" not in path.name
        return reportdata.inspection(str(path), quantized=quantized, size=360_000 if quantized else 1_320_000)

    def measure(self, fp32: Path, int8: Path, *, threads: Sequence[int], inputs: Sequence[ResolvedInput],
                samples: Path | None, settings: BenchmarkSettings, threshold: float,
                requirement: FidelityRequirement, profile: bool, refused: str,
                progress: Callable[[int, int], None] | None, deadline: Deadline,
                context: FidelityContext) -> PairMeasurement:  # fmt: skip
        self.calls.append(
            f"measure {int8.name} threads={list(threads)} threshold={threshold} inputs={list(inputs)} "
            f"profile={profile} refused={refused!r} kinds={dict(context.output_kinds)}"
        )
        runs = []
        for row, count in enumerate(threads, 1):  # as the real edge does: a row after the deadline is left out
            if deadline.expired():
                runs.append(not_measured_row(count, threshold, deadline))
                continue
            if progress is not None:
                progress(row, count)
            self.now += self.row_seconds
            if "fake" in int8.name:
                runs.append(reportdata.row(count, 9.4, 9.4, 0.98, 1.02, Call.WITHIN_NOISE))
            else:
                runs.append(reportdata.row(count, 9.2, 3.9, 2.28, 2.38, Call.FASTER))
        # the first row's worker compares the outputs and profiles
        measured = not runs[0].not_measured
        return PairMeasurement(tuple(runs), reportdata.fidelity(0.9999, True) if measured else None,
                               reportdata.PROFILE if profile and measured else None)  # fmt: skip

    def clock(self) -> float:
        self.now += 1.5
        return self.now

    def edges(self) -> Edges:
        return Edges(
            inspect=self.inspect, measure=self.measure,
            load_declared_inputs=lambda path: self.declared.get(path.name, DECLARED), sample_shapes=lambda path: {},
            clock=self.clock, progress=self.progress.append,
        )  # fmt: skip


def pair(name: str, fp32: str = "") -> PairPaths:
    fp32 = fp32 or f"{name}_fp32.onnx"
    return PairPaths(ModelPair(name, fp32, f"{name}_int8.onnx"), Path(fp32), Path(f"{name}_int8.onnx"), None)


def gate(fake: FakeEdges, *names: str, deadline: Deadline | None = None) -> Report:
    policy = Policy(models=tuple(pair(name).pair for name in names))
    return run_gate(policy, [pair(name) for name in names], reportdata.runner(), fake.edges(),
                    tool=lambda seconds: ToolInfo("int8gate", "0", ".int8gate.yml", "t", seconds),
                    fail_on=FailOn.FAIL, deadline=deadline)  # fmt: skip


def test_each_pair_is_inspected_then_measured_once_for_all_thread_settings() -> None:
    fake = FakeEdges()
    report = gate(fake, "resnet")
    shapes = "{'input': (1, 3, 112, 112)}"
    planned = [ResolvedInput("input", (1, 3, 112, 112), "float32", "default")]
    assert fake.calls == [
        f"inspect resnet_int8.onnx shapes={shapes} runtime=True vnni=True",  # the runner has AVX-512 VNNI
        f"inspect resnet_fp32.onnx shapes={shapes} runtime=False vnni=True",
        # auto threshold: the VNNI range's low edge; threads: 1 and auto = 4 effective CPUs; one call does
        # every row, fidelity and the profile (one worker per pair does all three)
        f"measure resnet_int8.onnx threads=[1, 4] threshold=1.2 inputs={planned} profile=True refused='' "
        "kinds={'logits': 'values'}",
    ]
    model = report.models[0]
    assert (report.verdict, report.exit_code, model.verdict) == (Verdict.PASS, 0, Verdict.PASS)
    assert model.benchmark is not None and model.benchmark.defaulted_dims == (AssumedDim("input", 0, "batch", 1),)
    assert model.benchmark.threshold_source == "auto: lower edge of the expected range for modern CPU with VNNI"
    assert model.reasons[0].startswith("quantized: format qdq, 100% of compute MACs run in integer")
    assert model.profile is reportdata.PROFILE and report.tool.duration_s == 1.5
    assert fake.progress[0] == Step(1, 1, "resnet", Stage.INSPECT, detail="resnet_int8.onnx and resnet_fp32.onnx")
    assert [(s.pair, s.pairs, s.stage, s.threads, s.row) for s in fake.progress] == [
        (1, 1, Stage.INSPECT, None, 0), (1, 1, Stage.MEASURE, 1, 1), (1, 1, Stage.MEASURE, 4, 2),
    ]  # fidelity and the profile are done by the first row's worker: no steps of their own
    assert report.tool.expected_s == 2 * 10 + 1.5  # every row's budget and the pair's allowance


def test_a_fake_is_judged_a_crash_is_a_failed_row_and_the_rest_still_runs() -> None:
    fake = FakeEdges(broken=frozenset({"crashy_int8.onnx"}))
    report = gate(fake, "fake", "crashy", "resnet")
    by_name = {m.name: m for m in report.models}
    assert report.verdict is Verdict.FAIL and report.exit_code == 1
    assert by_name["fake"].verdict is Verdict.FAIL
    assert by_name["fake"].reasons[0].startswith("not really quantized: format float")
    assert "speedup at 1 thread is within noise of the threshold" in " ".join(by_name["fake"].reasons)
    crashed = by_name["crashy"]
    assert crashed.verdict is Verdict.FAIL and crashed.benchmark is None
    assert crashed.reasons == ("could not be checked: crashy_int8.onnx: ONNX Runtime crashed with SIGSEGV while loading it",)
    assert by_name["resnet"].verdict is Verdict.PASS
    assert not any("crashy" in call for call in fake.calls if not call.startswith("inspect"))
    starts = [(s.pair, s.pairs, s.name) for s in fake.progress if s.stage is Stage.INSPECT]
    assert starts == [(1, 3, "fake"), (2, 3, "crashy"), (3, 3, "resnet")]  # "pair k/n" for every pair
    measured = {call.split()[1]: call for call in fake.calls if call.startswith("measure")}
    # the fake already failed on quantization: its speed is measured but never confirmed
    assert "refused='the pair already failed: the INT8 model is not really quantized'" in measured["fake_int8.onnx"]
    assert "refused='' " in measured["resnet_int8.onnx"]


def test_the_policys_report_settings_travel_with_the_report() -> None:
    from int8gate.policy.load import parse_policy
    from int8gate.policy.spec import CommentMode
    from int8gate.report.data import Presentation

    text = "models:\n  - {fp32: resnet_fp32.onnx, int8: resnet_int8.onnx}\nreport: {comment: 'off', chart: false}\n"
    policy = parse_policy(text, ".int8gate.yml")
    report = run_gate(policy, [pair("resnet")], reportdata.runner(), FakeEdges().edges(),
                      tool=lambda seconds: ToolInfo("int8gate", "0", ".int8gate.yml", "t", seconds))  # fmt: skip
    assert report.presentation == Presentation(CommentMode.OFF, details=True, chart=False)


def test_after_the_deadline_rows_fidelity_and_later_pairs_are_not_measured_and_the_report_is_written() -> None:
    # The clock moves 1.5 s per read and each row costs 15 s: the first row (threads 1) starts before
    # the 20 s deadline, the second (threads 4) after it; the second pair does not start at all. The
    # first row's worker compared the outputs and profiled, so those are kept.
    fake = FakeEdges(row_seconds=15.0)
    deadline = Deadline(20.0, fake.clock, 20.0, "limits.max_run_seconds")
    report = gate(fake, "resnet", "mobilenet", deadline=deadline)
    assert [call.split(" shapes")[0] for call in fake.calls] == [
        "inspect resnet_int8.onnx", "inspect resnet_fp32.onnx",
        "measure resnet_int8.onnx threads=[1, 4] threshold=1.2 inputs=[ResolvedInput(name='input', shape=(1, 3, 112, 112), dtype='float32', source='default')] profile=True refused='' kinds={'logits': 'values'}",
    ]  # fmt: skip
    resnet, mobilenet = report.models
    assert resnet.benchmark is not None
    first, second = resnet.benchmark.runs
    assert first.speedup is not None and second.speedup is None and second.error is None
    assert second.not_measured == "the run's deadline (20 s, limits.max_run_seconds) had passed"
    assert resnet.fidelity is not None and resnet.profile is not None
    assert resnet.verdict is Verdict.INCONCLUSIVE
    assert resnet.reasons == ("not measured at 4 threads: the run's deadline (20 s, limits.max_run_seconds) had passed",)
    cut = {f.code: f for f in resnet.findings}["run-deadline"]
    assert cut.evidence.startswith("not measured: the row at 4 thread(s);")
    assert mobilenet.verdict is Verdict.INCONCLUSIVE and mobilenet.quantization is None
    assert mobilenet.reasons[0].startswith("not checked: the run's deadline (20 s, limits.max_run_seconds) had passed")
    assert report.verdict is Verdict.INCONCLUSIVE and report.exit_code == 0


def test_the_inspection_child_gets_the_policy_timeout_within_the_deadline() -> None:
    fake = FakeEdges()
    gate(fake, "resnet")
    assert fake.timeouts == [BenchmarkSettings().timeout_seconds] * 2
    fake = FakeEdges()
    gate(fake, "resnet", deadline=Deadline(31.0, fake.clock, 31.0))
    assert fake.timeouts == [31.0 - 4.5, 31.0 - 6.0]  # reads at 4.5 and 6.0 s: the time left is shorter


def test_an_inspection_the_deadline_cut_short_is_not_checked_rather_than_failed() -> None:
    fake = FakeEdges(broken=frozenset({"resnet_int8.onnx"}))  # its child stopped at the time left: 0 s
    report = gate(fake, "resnet", deadline=Deadline(4.0, fake.clock, 4.0))
    model = report.models[0]
    assert model.verdict is Verdict.INCONCLUSIVE and model.error is None
    assert model.reasons[0].startswith("not checked: the run's deadline (4 s) had passed while this model pair")
    crashed = gate(FakeEdges(broken=frozenset({"resnet_int8.onnx"})), "resnet").models[0]
    assert crashed.verdict is Verdict.FAIL and crashed.error is not None  # no deadline: a crash is a failure


def test_an_int8_model_with_a_renamed_input_gets_no_shape_for_it_and_the_pairing_reports_it() -> None:
    # The FP32 plan's shapes go to the INT8 census only for inputs it declares; before, a renamed
    # input was a usage error ("input shape given for input") that stopped the whole run.
    renamed = (TensorSpec("input_q", "float32", ("batch", 3, 112, 112)),)
    fake = FakeEdges(declared={"resnet_int8.onnx": renamed})
    gate(fake, "resnet")
    assert fake.calls[0] == "inspect resnet_int8.onnx shapes={} runtime=True vnni=True"
    assert fake.calls[1].startswith("inspect resnet_fp32.onnx shapes={'input': (1, 3, 112, 112)}")


def test_a_model_file_shared_by_pairs_is_inspected_once() -> None:
    fake = FakeEdges()
    names = ("det_qdq", "det_qop", "det_dyn")
    policy = Policy(models=tuple(pair(name, "det_fp32.onnx").pair for name in names))
    run_gate(policy, [pair(name, "det_fp32.onnx") for name in names], reportdata.runner(), fake.edges(),
             tool=lambda seconds: ToolInfo("int8gate", "0", ".int8gate.yml", "t", seconds))  # fmt: skip
    inspected = [call.split()[1] for call in fake.calls if call.startswith("inspect")]
    assert inspected == ["det_qdq_int8.onnx", "det_fp32.onnx", "det_qop_int8.onnx", "det_dyn_int8.onnx"]
    assert sum(call.startswith("measure") for call in fake.calls) == 3


def test_the_expected_total_counts_every_row_budget_and_an_allowance_per_pair() -> None:
    policy = Policy(models=(), benchmark=BenchmarkSettings(threads=(1, "auto"), budget_seconds=8))
    assert run_plan(policy, pairs=14, usable_cpus=2).expected_seconds == 14 * 2 * 8 + 14 * 1.5
    assert run_plan(policy, pairs=14, usable_cpus=1).expected_seconds == 14 * 8 + 14 * 1.5  # auto = 1: one setting
