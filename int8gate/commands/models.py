"""``inspect`` and ``bench``: one model's census, and an ad-hoc FP32 vs INT8 comparison, as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from int8gate.errors import UsageError
from int8gate.gate.examine import inspect_model
from int8gate.gate.pipeline import resolve_threads, resolve_threshold
from int8gate.inputs.plan import parse_input_option, plan_inputs
from int8gate.machine.expected import expected_range
from int8gate.machine.facts import has_vnni
from int8gate.machine.probe import probe_runner
from int8gate.model.file import load_model_proto
from int8gate.model.graph import graph_io
from int8gate.model.inspection import ModelInspection
from int8gate.policy.spec import AUTO, BenchmarkSettings, FidelityRequirement, InputSpec, OptLevel
from int8gate.report.data import BenchmarkSection
from int8gate.report.jsonable import to_jsonable
from int8gate.report.terminal import render_bench_text, render_inspection_text
from int8gate.runtime.bench import check_fidelity, measure_pair
from int8gate.runtime.ortinfo import ort_info


def _progress(message: str) -> None:
    print(f"int8gate: {message}", file=sys.stderr, flush=True)


def _specs(options: Sequence[str]) -> tuple[InputSpec, ...]:
    return tuple(parse_input_option(text) for text in options)


def run_inspect(args: argparse.Namespace, out: TextIO) -> int:
    """``int8gate inspect MODEL``."""
    path = Path(args.model)
    specs = _specs(args.input)  # bad options are reported before any file is read
    plan = plan_inputs(graph_io(load_model_proto(path))[0], specs, where="--input")
    shapes = {item.name: item.shape for item in plan.inputs}
    inspection: ModelInspection = inspect_model(
        path, input_shapes=shapes, opt_level=OptLevel(args.optimization_level), vnni=has_vnni(probe_runner(ort_info())),
    )
    if args.json:
        out.write(json.dumps(to_jsonable(inspection), indent=2) + "\n")
    else:
        out.write(render_inspection_text(inspection) + "\n")
    return 0


def run_bench(args: argparse.Namespace, settings: BenchmarkSettings, env: Mapping[str, str], out: TextIO) -> int:
    """``int8gate bench FP32 INT8``: measure at each thread setting and print the rows."""
    fp32, int8 = Path(args.fp32), Path(args.int8)
    specs = _specs(args.input)  # bad options are reported before any file is read
    fp32_model = load_model_proto(fp32)
    load_model_proto(int8)
    plan = plan_inputs(graph_io(fp32_model)[0], specs, where="--input")
    runner = probe_runner(ort_info())
    wanted: float | str = args.min_speedup
    if wanted != AUTO:
        try:
            wanted = float(wanted)
        except ValueError:
            raise UsageError(f"--min-speedup: {args.min_speedup!r} is not a number or 'auto'") from None
    rng = expected_range(runner.cpu.cpu_class, model_macs=None, fp32_median_ms=None)
    threshold, threshold_source = resolve_threshold(wanted, rng)
    runs = []
    for threads in resolve_threads(settings.threads, runner.cpus.effective):
        _progress(f"measuring at {threads} thread(s), budget {settings.budget_seconds:g} s")
        runs.append(measure_pair(fp32, int8, inputs=plan.inputs, threads=threads,
                                 settings=settings, threshold=threshold, env=env))
    fidelity = check_fidelity(fp32, int8, inputs=plan.inputs, requirement=FidelityRequirement(),
                              settings=settings, env=env)
    section = BenchmarkSection(tuple(runs), plan.inputs, plan.defaulted, threshold, threshold_source)
    if args.json:
        payload = to_jsonable(section)
        payload["fidelity"] = to_jsonable(fidelity)
        out.write(json.dumps(payload, indent=2) + "\n")
    else:
        out.write(render_bench_text(section, fidelity) + "\n")
    failed = any(run.error for run in runs)
    return 1 if failed else 0
