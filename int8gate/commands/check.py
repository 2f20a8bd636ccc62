"""``check`` and ``demo``: load the policy, wire the real edges to the gate pipeline, write the report.

The edges (files, ONNX Runtime workers, the machine probe) are built here and handed to
``gate.pipeline.run_gate``; reports are written atomically, only after the whole run succeeded, so
a bad input never leaves a partial report behind. ``gate`` is also what the Action runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from int8gate import __version__
from int8gate.baseline.cache import ResultCache
from int8gate.baseline.changes import Provenance
from int8gate.commands.against import BaseRequest, head_commit, head_digests, read_bases
from int8gate.commands.output import STDOUT, Outputs, deliver, json_text, use_color
from int8gate.commands.progress import ProgressPrinter
from int8gate.deadline import Clock, Deadline
from int8gate.errors import PolicyError, UsageError
from int8gate.gate.examine import inspect_model
from int8gate.gate.pipeline import Edges, run_gate, run_plan, skipped_pairs
from int8gate.github.publish import append_summary
from int8gate.inputs.plan import plan_inputs
from int8gate.inputs.samples import sample_shapes
from int8gate.judge.verdict import FailOn
from int8gate.machine.probe import probe_runner
from int8gate.measure.benchrun import PairMeasurement
from int8gate.measure.sidebyside import SideBySide
from int8gate.model.file import ModelFileInfo, read_model
from int8gate.model.graph import graph_io
from int8gate.model.values import TensorSpec
from int8gate.policy.load import parse_policy
from int8gate.policy.spec import Policy, default_run_seconds
from int8gate.report.data import Report, ToolInfo
from int8gate.report.dryrun import DryRun, PlannedPair, render_dry_run_text
from int8gate.report.limits import SUMMARY_LIMIT
from int8gate.report.markdown import options_for, render_report
from int8gate.report.progress import Step
from int8gate.report.terminal import Written, render_report_text
from int8gate.runtime.bench import ProfileCache, measure_models
from int8gate.runtime.ortinfo import ort_info
from int8gate.runtime.sidebyside import measure_against_base
from int8gate.workspace import (
    PairPaths,
    Workspace,
    output_path,
    read_policy_text,
    resolve_pair_paths,
)

DEMO = Path(__file__).resolve().parents[1] / "demo"
"""The bundled example (package data): ``.int8gate.yml`` and ``models/``; read only, never written."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def real_edges(
    env: Mapping[str, str],
    declared: Mapping[Path, tuple[TensorSpec, ...]],
    progress: Callable[[Step], None],
    cache: ResultCache | None = None,
) -> Edges:
    """The collaborators that touch this machine; ``declared`` holds each model's inputs, read once.

    One ``ProfileCache`` lives as long as the edges, so an FP32 model shared by pairs is profiled once.
    """
    profiles: ProfileCache = {}

    def inspect(path: Path, **kw: Any) -> Any:
        return inspect_model(path, env=env, **kw)

    def measure(fp32: Path, int8: Path, **kw: Any) -> PairMeasurement:
        return measure_models(fp32, int8, env=env, profiles=profiles, **kw)

    def compare(fp32: Path, int8: Path, base_int8: Path, base_fp32: Path | None, **kw: Any) -> SideBySide:
        return measure_against_base(fp32, int8, base_int8, base_fp32, env=env, profiles=profiles, **kw)

    return Edges(
        inspect=inspect,
        measure=measure,
        load_declared_inputs=declared.__getitem__,
        sample_shapes=sample_shapes,
        clock=time.monotonic,
        progress=progress,
        cache=cache,
        stamp=_now,
        compare=compare,
    )


def _tool_info(policy_name: str, started: str, duration: float) -> ToolInfo:
    return ToolInfo("int8gate", __version__, policy_name, started, round(duration, 1))


@dataclass(frozen=True)
class Prepared:
    """A policy read and checked, with every model file it names read once (nothing run yet)."""

    policy: Policy
    shown: str
    pairs: tuple[PairPaths, ...]
    declared: dict[Path, tuple[TensorSpec, ...]]
    infos: dict[Path, ModelFileInfo]


def prepare(policy_path: Path, workspace_root: Path, *, budget: float | None = None) -> Prepared:
    """Load and check the policy and every model file it names; bad input raises here, before anything runs.

    ``budget`` overrides the policy's seconds per row (the demo's ``--budget``). ``base_ref``: compare
    every pair with that commit; given by a pull request's event (``base_from_event``) it is fetched
    when the clone lacks it and any problem only makes the comparison unavailable, while a ``--base``
    that names no commit is a usage error. ``cache_dir``: the results cache; ``commit``: the commit
    under test, recorded with what is cached.
    """
    workspace = Workspace.at(workspace_root)
    shown = workspace.display(policy_path)
    policy = parse_policy(read_policy_text(policy_path, workspace), shown)
    if budget is not None:
        if budget <= 0:
            raise UsageError(f"--budget: {budget:g} must be a positive number of seconds")
        policy = replace(policy, benchmark=replace(policy.benchmark, budget_seconds=budget))
    pairs = resolve_pair_paths(policy, policy_path.parent, workspace)
    cap = policy.limits.max_model_bytes
    declared: dict[Path, tuple[TensorSpec, ...]] = {}
    infos: dict[Path, ModelFileInfo] = {}
    for path in dict.fromkeys(p for paths in pairs for p in (paths.fp32, paths.int8)):
        # Unsafe, unreadable or oversized models are bad input: refused before anything is measured.
        loaded = read_model(path, max_bytes=cap)
        declared[path], infos[path] = graph_io(loaded.model, with_defaults=True)[0], loaded.info
        del loaded
    return Prepared(policy, shown, pairs, declared, infos)


def _say(message: str) -> None:
    print(f"int8gate: {message}", file=sys.stderr, flush=True)


def gate(
    policy_path: Path,
    workspace_root: Path,
    env: Mapping[str, str],
    fail_on: FailOn,
    *,
    budget: float | None = None,
    base_ref: str | None = None,
    base_from_event: bool = False,
    cache_dir: Path | None = None,
    commit: str | None = None,
) -> Report:
    """Load and check the policy, then run the gate; bad input raises before anything is measured.

    The run's deadline starts now: ``limits.max_run_seconds``, else ``default_run_seconds`` of the
    policy's budgets. ``base_ref``: compare every pair with that commit; given by a pull request's
    event (``base_from_event``) it is fetched when the clone lacks it and any problem only makes the
    comparison unavailable, while a ``--base`` that names no commit is a usage error. ``cache_dir``:
    the results cache; ``commit``: the commit under test, recorded with what is cached.
    """
    clock = time.monotonic
    started_at = clock()
    ready = prepare(policy_path, workspace_root, budget=budget)
    policy, pairs = ready.policy, ready.pairs
    workspace = Workspace.at(workspace_root)
    runner = probe_runner(ort_info())
    started = _now()
    cache = ResultCache(output_path(str(cache_dir), workspace, folder=True)) if cache_dir is not None else None
    with tempfile.TemporaryDirectory(prefix="int8gate-base-") as scratch:
        digests = head_digests(pairs, ready.infos)
        bases = None
        if base_ref:
            base = BaseRequest(base_ref, fetch=base_from_event, strict=not base_from_event)
            bases = read_bases(base, policy=policy, policy_path=policy_path, pairs=pairs, digests=digests,
                               env=env, scratch=Path(scratch), progress=_say)  # fmt: skip
        skipped = skipped_pairs(pairs, policy, Provenance(digests, bases))
        plan = run_plan(policy, len(pairs), runner.cpus.effective, skipped=skipped)
        deadline = run_deadline(policy, pairs=len(pairs), rows=len(pairs) * plan.rows_per_pair,
                                started_at=started_at, clock=clock)  # fmt: skip
        printer = ProgressPrinter(plan, sys.stderr, time.monotonic, actions=env.get("GITHUB_ACTIONS") == "true")
        printer.start()
        try:
            return run_gate(
                policy, pairs, runner, real_edges(env, ready.declared, printer, cache=cache),
                tool=partial(_tool_info, ready.shown, started), fail_on=fail_on, deadline=deadline,
                provenance=Provenance(digests, bases, commit or (head_commit(policy_path, env) if cache else None)),
            )
        finally:
            printer.close()


def run_deadline(policy: Policy, *, pairs: int, rows: int, started_at: float, clock: Clock) -> Deadline:
    """The run's deadline, counted from ``started_at``; more rows than ``limits.max_rows`` are refused.

    Raises ``PolicyError`` (naming ``limits.max_rows``, or ``models`` when the cap is the default) before
    anything is measured.
    """
    limits = policy.limits
    if rows > limits.max_rows:
        key = "limits.max_rows" if policy.line_of("limits.max_rows") is not None else "models"
        raise PolicyError(
            policy.source, policy.line_of(key), key,
            f"{pairs} model pair(s) × {rows // max(pairs, 1)} thread setting(s) = {rows} rows, over the limit of "
            f"{limits.max_rows} (limits.max_rows); raise it or split the policy",
        )  # fmt: skip
    if limits.max_run_seconds is not None:
        seconds, source = limits.max_run_seconds, "limits.max_run_seconds"
    else:
        seconds = default_run_seconds(policy.benchmark, pairs=pairs, rows=rows)
        source = "default from the budgets; set limits.max_run_seconds"
    return Deadline(started_at + seconds, clock, seconds, source)


def check_outputs(outputs: Outputs, workspace_root: Path) -> None:
    """Check the ``--json``/``--markdown`` destinations before anything is measured (``WorkspaceError``)."""
    workspace = Workspace.at(workspace_root)
    for value in (outputs.json, outputs.markdown):
        if value is not None and value != STDOUT:
            output_path(value, workspace)


def dry_run(policy_path: Path, workspace_root: Path) -> DryRun:
    """Everything ``check`` checks before measuring (policy, paths, model files, inputs and samples); no model runs."""
    ready = prepare(policy_path, workspace_root)
    planned = []
    for paths in ready.pairs:
        samples = sample_shapes(paths.samples) if paths.samples else None
        plan = plan_inputs(ready.declared[paths.fp32], paths.pair.inputs, samples=samples,
                           where=f"{paths.pair.name}: inputs")  # fmt: skip
        planned.append(PlannedPair(paths.pair.name, paths.pair.fp32, paths.pair.int8, paths.pair.samples,
                                   plan.inputs, plan.defaulted))  # fmt: skip
    bench = ready.policy.benchmark
    return DryRun(ready.shown, True, tuple(planned), bench.threads, bench.budget_seconds)


def publish(report: Report, outputs: Outputs, workspace_root: Path, env: Mapping[str, str], *, out: TextIO,
            err: TextIO) -> None:  # fmt: skip
    """Write the documents asked for (files atomically, ``-`` to stdout), add the Markdown to the job
    summary in GitHub Actions, then print the short report: on stdout, or on stderr when a document has it."""
    workspace = Workspace.at(workspace_root)
    place = partial(output_path, workspace=workspace)
    written: list[Written] = []
    if outputs.json is not None:
        path = deliver(outputs.json, json_text(report), out, place, write=workspace.write_text)
        written.append(Written("JSON", workspace.display(path) if path else "stdout"))
    if outputs.markdown is not None:
        markdown = render_report(report, options_for(report))
        path = deliver(outputs.markdown, markdown, out, place, write=workspace.write_text)
        written.append(Written("Markdown", workspace.display(path) if path else "stdout"))
    summary = env.get("GITHUB_STEP_SUMMARY") if env.get("GITHUB_ACTIONS") == "true" else None
    if summary:
        append_summary(Path(summary), render_report(report, options_for(report, limit=SUMMARY_LIMIT)))
        written.append(Written("the job summary", ""))
    stream = out if outputs.text_to_stdout else err
    stream.write(render_report_text(report, written, color=use_color(stream, env)) + "\n")
    stream.flush()


def run_check(
    policy_path: Path, workspace_root: Path, args: argparse.Namespace, env: Mapping[str, str], out: TextIO
) -> int:
    """``int8gate check``: the gate, the documents asked for, and the short report (or only the checks)."""
    outputs = Outputs.from_args(args)
    check_outputs(outputs, workspace_root)
    if args.dry_run:
        checked = dry_run(policy_path, workspace_root)
        workspace = Workspace.at(workspace_root)
        deliver(outputs.json, json_text(checked), out, partial(output_path, workspace=workspace),
                write=workspace.write_text)  # fmt: skip
        if outputs.text_to_stdout:
            out.write(render_dry_run_text(checked) + "\n")
        return 0
    cache = Path(args.cache) if args.cache else None
    report = gate(policy_path, workspace_root, env, FailOn(args.fail_on), base_ref=args.base, cache_dir=cache)
    publish(report, outputs, workspace_root, env, out=out, err=sys.stderr)
    return report.exit_code


class DemoError(Exception):
    """The bundled example did not give its known answer: a bug in int8gate (exit 3), not bad input."""


def run_demo(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """``int8gate demo``: the bundled example; the fake must be caught and the real model recognised.

    The exit code follows ``--fail-on`` (default ``never``: the example fails on purpose); a wrong
    known answer raises ``DemoError``, which the CLI reports as an internal error.
    """
    outputs = Outputs.from_args(args)
    policy_path = DEMO / ".int8gate.yml"
    if not policy_path.is_file():
        raise DemoError(f"{policy_path}: the bundled example is missing from this installation of int8gate")
    check_outputs(outputs, Path.cwd())
    fail_on = FailOn(args.fail_on)
    report = gate(policy_path, DEMO, env, fail_on, budget=args.budget)
    publish(report, outputs, Path.cwd(), env, out=out, err=sys.stderr)
    caught = [m.name for m in report.models if m.quantization is not None and not m.quantization.is_quantized]
    real_ok = [m.name for m in report.models if m.quantization is not None and m.quantization.is_quantized]
    if not (caught and real_ok):
        raise DemoError(f"the bundled example's known answer was not reproduced (caught: {caught}, "
                        f"quantized: {real_ok})")
    return report.exit_code
