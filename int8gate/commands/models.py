"""``inspect`` and ``bench``: models' census, and an ad-hoc FP32 vs INT8 comparison, as text or JSON, with a verdict.

``inspect`` fails a model that is not really quantized (or has a finding of severity ``fail``);
``bench`` fails a pair that is measurably slower than the threshold, whose row crashed, or whose
outputs drift. ``--fail-on`` decides which verdicts exit 1, as for ``check``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

from int8gate.commands.output import Outputs, deliver, json_text
from int8gate.commands.progress import ProgressPrinter
from int8gate.errors import UsageError
from int8gate.findings import Severity
from int8gate.gate.examine import inspect_model
from int8gate.gate.pipeline import resolve_threads, resolve_threshold
from int8gate.inputs.plan import parse_input_option, plan_inputs
from int8gate.judge.verdict import FailOn, GateFacts, census_verdict, decide, exit_code, overall, speed_row
from int8gate.machine.expected import expected_range
from int8gate.machine.facts import has_vnni
from int8gate.machine.probe import probe_runner
from int8gate.measure.fidelity import FidelityContext, FidelityResult, summary
from int8gate.measure.fidelity import failed as failed_fidelity
from int8gate.model.census import take_census
from int8gate.model.file import load_model_proto
from int8gate.model.graph import graph_io
from int8gate.model.inspection import ModelInspection
from int8gate.model.outputs import output_kinds
from int8gate.policy.spec import AUTO, BenchmarkSettings, FidelityRequirement, InputSpec, OptLevel
from int8gate.report.data import BenchmarkSection
from int8gate.report.jsonable import to_jsonable
from int8gate.report.progress import Plan, Stage, Step
from int8gate.report.terminal import render_bench_text, render_inspection_text
from int8gate.runtime.bench import measure_models
from int8gate.runtime.ortinfo import ort_info


def _specs(options: Sequence[str]) -> tuple[InputSpec, ...]:
    return tuple(parse_input_option(text) for text in options)


def run_inspect(args: argparse.Namespace, out: TextIO) -> int:
    """``int8gate inspect MODEL...``: one census per model; the exit code follows the worst verdict."""
    outputs = Outputs.from_args(args)
    specs = _specs(args.input)  # bad options are reported before any file is read
    paths = [Path(name) for name in args.models]
    for path in paths:  # every file is checked before ONNX Runtime starts on the first
        load_model_proto(path)
    vnni = has_vnni(probe_runner(ort_info()))
    inspections: list[ModelInspection] = []
    for path in paths:
        plan = plan_inputs(graph_io(load_model_proto(path), with_defaults=True)[0], specs, where="--input")
        shapes = {item.name: item.shape for item in plan.inputs}
        inspections.append(
            inspect_model(path, input_shapes=shapes, opt_level=OptLevel(args.optimization_level), vnni=vnni)
        )
    document: object = inspections[0] if len(inspections) == 1 else inspections
    deliver(outputs.json, json_text(document), out)
    if outputs.text_to_stdout:
        out.write("\n\n".join(render_inspection_text(q) for q in inspections) + "\n")
    verdicts = [census_verdict(q.is_quantized, q.findings)[0] for q in inspections]
    return exit_code(overall(verdicts), FailOn(args.fail_on))


def run_bench(args: argparse.Namespace, settings: BenchmarkSettings, env: Mapping[str, str], out: TextIO) -> int:
    """``int8gate bench FP32 INT8``: measure at each thread setting, compare outputs, give the verdict."""
    outputs = Outputs.from_args(args)
    fp32, int8 = Path(args.fp32), Path(args.int8)
    specs = _specs(args.input)  # bad options are reported before any file is read
    if settings.budget_seconds <= 0 or not math.isfinite(settings.budget_seconds):
        raise UsageError(f"--budget: {settings.budget_seconds:g} must be a positive number of seconds")
    wanted: float | str = args.min_speedup
    if wanted != AUTO:
        try:
            wanted = float(wanted)
        except ValueError:
            raise UsageError(f"--min-speedup: {args.min_speedup!r} is not a number or 'auto'") from None
    fp32_model = load_model_proto(fp32)
    int8_model = load_model_proto(int8)
    plan = plan_inputs(graph_io(fp32_model, with_defaults=True)[0], specs, where="--input")
    shapes = {item.name: item.shape for item in plan.inputs}
    context = FidelityContext(tuple(output_kinds(fp32_model).items()),
                              take_census(int8_model, input_shapes=shapes, source=str(int8)).input_ranges)  # fmt: skip
    del fp32_model, int8_model
    runner = probe_runner(ort_info())
    rng = expected_range(runner.cpu.cpu_class, model_macs=None, fp32_median_ms=None)
    threshold, threshold_source = resolve_threshold(wanted, rng)
    threads_list = resolve_threads(settings.threads, runner.cpus.effective)
    printer = ProgressPrinter(Plan(1, len(threads_list), settings.budget_seconds), sys.stderr, time.monotonic,
                              actions=env.get("GITHUB_ACTIONS") == "true")  # fmt: skip
    step = partial(Step, 1, 1, int8.name, Stage.MEASURE)
    try:  # one worker per row; the first also compares the outputs
        measured = measure_models(fp32, int8, threads=threads_list, inputs=plan.inputs, settings=settings,
                                  threshold=threshold, requirement=FidelityRequirement(), context=context,
                                  profile=False, env=env,
                                  progress=lambda row, threads: printer(step(threads=threads, row=row)))  # fmt: skip
    finally:
        printer.close()
    runs = list(measured.runs)
    fidelity = measured.fidelity or failed_fidelity("the outputs were not compared", source="random")
    section = BenchmarkSection(tuple(runs), plan.inputs, plan.defaulted, threshold, threshold_source)
    verdict, reasons = decide(GateFacts(
        fidelity_passed=fidelity.passed, fidelity_evidence=_fidelity_evidence(fidelity),
        threshold=threshold, threshold_source=threshold_source, speed=tuple(speed_row(run) for run in runs),
    ))  # fmt: skip
    if outputs.json is not None:
        payload = {**to_jsonable(section), "fidelity": fidelity, "verdict": verdict, "reasons": reasons}
        deliver(outputs.json, json_text(payload), out)
    if outputs.text_to_stdout:
        out.write(render_bench_text(section, fidelity, (verdict, reasons)) + "\n")
    return exit_code(verdict, FailOn(args.fail_on))


def _fidelity_evidence(fidelity: FidelityResult) -> str:
    if fidelity.error:
        return fidelity.error
    failing = [f.evidence for f in fidelity.findings if f.severity is Severity.FAIL and f.evidence]
    if failing:
        return "; ".join(failing)
    return "; ".join(summary(o) for o in fidelity.outputs[:3]) or "no outputs compared"
