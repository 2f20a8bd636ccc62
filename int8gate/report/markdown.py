"""Compose reports as GitHub Markdown: the PR comment, the job summary, and the fleet comparison.

Every piece of text that comes from the repository (model names, paths, op names, messages that
quote them) goes through ``escape`` or ``code``; nothing else in int8gate writes Markdown. The
comment must fit GitHub's 65,536-character limit: ``render_report`` renders the full report and
then folds detail away, level by level, until it fits, and says so in the comment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from int8gate.findings import Finding, Severity
from int8gate.judge.verdict import Verdict
from int8gate.machine.facts import Arch, RunnerProfile
from int8gate.measure.stats import Call, LatencySummary, Speedup, StopReason
from int8gate.report.data import BenchmarkSection, ModelResult, Report
from int8gate.report.fleet import Fleet, FleetModel
from int8gate.report.syntax import COMMENT_LIMIT, code, details, escape, table

if TYPE_CHECKING:
    from int8gate.measure.benchrun import BenchRun

_ICON = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.INCONCLUSIVE: "⚠️"}
_SEVERITY_ICON = {Severity.FAIL: "❌", Severity.WARN: "⚠️", Severity.INFO: "ℹ️"}


@dataclass(frozen=True)
class RenderOptions:
    """How much to show; ``fold`` is raised by ``render_report`` until the text fits ``limit``."""

    marker: str | None = None
    limit: int = COMMENT_LIMIT
    details: bool = True
    chart: bool = True
    fold: int = 0


FOLD_LEVELS = 4
FOLD_NOTES = {
    1: "the environment and the per-model measurement tables",
    2: "the environment, the measurement tables, the chart and all but the first finding of each model",
    3: "every per-model section (the table and each model's reasons remain)",
    4: "every per-model section and all but the first reason of each model",
}


def render_report(report: Report, options: RenderOptions) -> str:
    """The report as Markdown under ``options.limit`` characters, folding detail if it must."""
    for fold in range(FOLD_LEVELS + 1):
        text = _render(report, RenderOptions(options.marker, options.limit, options.details, options.chart, fold))
        if len(text) <= options.limit:
            return text
    # Last resort, always well-formed: the verdict line alone (no half-open table, code block or details).
    head = [options.marker] if options.marker else []
    head += [_headline(report), "The full report is too large for a comment; the JSON report has everything."]
    return "\n\n".join(head)[: options.limit - 1] + "\n"


def render_stopped(problem: str, title: str = "int8gate") -> str:
    """The summary when the gate could not run at all (bad policy, unusable model)."""
    return f"## ❌ {escape(title)}: error\n\nThe gate could not run: {escape(problem)}\n"


def _render(report: Report, options: RenderOptions) -> str:
    parts: list[str] = []
    if options.marker:
        parts.append(options.marker)
    parts.append(_headline(report))
    parts.append(_summary_table(report.models))
    parts.append(runner_line(report.runner))
    if options.fold < 3:
        parts.extend(_model_section(model, options) for model in report.models)
    else:
        parts.extend(_short_reasons(model, options) for model in report.models if model.reasons)
    if options.chart and options.fold < 2:
        chart = _chart(report.models)
        if chart:
            parts.append(chart)
    if options.details and options.fold < 1:
        parts.append(details("Environment", _environment(report)))
    if options.fold:
        parts.append(
            f"_Folded to fit GitHub's {options.limit:,}-character limit: {FOLD_NOTES[options.fold]} "
            "are left out here; the JSON report has everything._"
        )
    parts.append(
        f"<sub>{escape(report.tool.name)} {escape(report.tool.version)} · policy {code(report.tool.policy)} · "
        f"{report.tool.duration_s:.0f} s · report schema v{report.schema_version}</sub>"
    )
    return "\n\n".join(part for part in parts if part) + "\n"


def _headline(report: Report) -> str:
    counts = {verdict: sum(1 for m in report.models if m.verdict is verdict) for verdict in Verdict}
    tally = ", ".join(f"{n} {verdict.value}" for verdict, n in counts.items() if n)
    return f"## {_ICON[report.verdict]} {escape(report.title)}: {report.verdict.value} ({tally})"


def _speed_cells(model: ModelResult) -> str:
    if model.benchmark is None or not model.benchmark.runs:
        return "—"
    cells = []
    for run in model.benchmark.runs:
        done = _completed(run)
        if done is None:
            cells.append(f"{run.intra_op_threads}t: failed")
        else:
            s = done.speedup
            cells.append(f"{run.intra_op_threads}t: **{s.estimate:.2f}×** ({s.ci_low:.2f}–{s.ci_high:.2f})")
    return "<br>".join(cells)


@dataclass(frozen=True)
class _Completed:
    fp32: LatencySummary
    int8: LatencySummary
    speedup: Speedup
    call: Call
    stopped_by: StopReason


def _completed(run: BenchRun) -> _Completed | None:
    """The measured parts of a row, or ``None`` when the row failed."""
    if run.error or run.fp32 is None or run.int8 is None or run.speedup is None:
        return None
    if run.call is None or run.stopped_by is None:
        return None
    return _Completed(run.fp32, run.int8, run.speedup, run.call, run.stopped_by)


def _quant_cell(model: ModelResult) -> str:
    q = model.quantization
    if q is None:
        return "—"
    share = f"{q.mac_share_quantized:.0%} of MACs" if q.mac_share_quantized is not None else "MACs unknown"
    flag = "" if q.is_quantized else " ✘"
    return f"{escape(q.format.value)}, {share}{flag}"


def _fidelity_cell(model: ModelResult) -> str:
    f = model.fidelity
    if f is None:
        return "—"
    mark = "✔" if f.passed else "✘"
    if f.error or not f.outputs:
        return mark
    return f"{mark} cos {min(o.cosine for o in f.outputs):.4f}"


def _summary_table(models: Sequence[ModelResult]) -> str:
    rows = [
        (
            escape(m.name),
            f"{_ICON[m.verdict]} {m.verdict.value}",
            _speed_cells(m),
            _quant_cell(m),
            _fidelity_cell(m),
        )
        for m in models
    ]
    return table(("model", "verdict", "INT8 speedup (95% CI)", "quantized", "fidelity"), rows)


def runner_facts(runner: RunnerProfile) -> tuple[str, str, str]:
    """Plain text: CPU brand, usable CPUs, and the INT8 features line (``AVX2 ✔ … AMX ✘``)."""
    cpu, cpus, flags = runner.cpu, runner.cpus, runner.cpu.flags

    def mark(ok: bool) -> str:
        return "✔" if ok else "✘"

    if cpu.arch is Arch.AARCH64:
        feats = f"NEON {mark(flags.neon)} dot-product {mark(flags.asimddp)} i8mm {mark(flags.i8mm)}"
    else:
        vnni = flags.avx512_vnni or flags.avx_vnni
        feats = f"AVX2 {mark(flags.avx2)} AVX-512 {mark(flags.avx512f)} VNNI {mark(vnni)} AMX {mark(flags.amx_int8)}"
    quota = f" (quota {cpus.quota:g})" if cpus.quota is not None else ""
    return cpu.brand, f"{cpus.effective} vCPUs usable of {cpus.logical}{quota}", feats


def runner_line(runner: RunnerProfile) -> str:
    """``**Runner:** Intel Xeon …, 4 vCPUs usable of 8, AVX2 ✔ AVX-512 ✔ VNNI ✔ AMX ✘ · …``."""
    brand, usable, feats = runner_facts(runner)
    return (
        f"**Runner:** {escape(brand)}, {usable}, {feats} · class {code(runner.cpu.cpu_class.value)} · "
        f"ONNX Runtime {escape(runner.onnxruntime.version)}"
    )


def _model_section(model: ModelResult, options: RenderOptions) -> str:
    lines = [f"### {_ICON[model.verdict]} {escape(model.name)} — {model.verdict.value}"]
    lines.append(f"{code(model.int8)} vs {code(model.fp32)}")
    if model.expected is not None:
        e = model.expected
        lines.append(f"Expected here: {e.low:.1f}×–{e.high:.1f}× ({escape(e.label)}).")
    if model.reasons:
        lines.append("\n".join(f"- {escape(reason)}" for reason in model.reasons))
    findings = model.findings if options.fold < 2 else model.findings[:1]
    if findings:
        lines.append("**Why**\n\n" + "\n".join(_finding_line(f) for f in findings))
    if options.fold < 1:
        lines.extend(part for part in (_measurement_details(model), _time_by_op(model)) if part)
    return "\n\n".join(lines)


PROFILE_ROWS = 10


def _time_by_op(model: ModelResult) -> str:
    """ONNX Runtime's per-node profile, per op type, FP32 and INT8 side by side (kernel time per run)."""
    if model.profile is None:
        return details("Where the time went", escape(model.profile_error)) if model.profile_error else ""
    p = model.profile
    rows = sorted(p.rows, key=lambda r: max(r.fp32_ms, r.int8_ms), reverse=True)
    shown = [
        (escape(r.op_type), f"{r.fp32_ms:.3f}", f"{r.int8_ms:.3f}", f"{r.delta_ms:+.3f}") for r in rows[:PROFILE_ROWS]
    ]
    if len(rows) > PROFILE_ROWS:
        rest = rows[PROFILE_ROWS:]
        shown.append((f"{len(rest)} more op types", f"{sum(r.fp32_ms for r in rest):.3f}",
                      f"{sum(r.int8_ms for r in rest):.3f}", f"{sum(r.delta_ms for r in rest):+.3f}"))  # fmt: skip
    shown.append(("**total**", f"{p.fp32_total_ms:.3f}", f"{p.int8_total_ms:.3f}",
                  f"{p.int8_total_ms - p.fp32_total_ms:+.3f}"))  # fmt: skip
    fed = ", ".join(p.fed_by_dq_op_types) or "none"
    note = (
        f"Quantize/DequantizeLinear take {p.qdq_share:.0%} of INT8 kernel time; float ops fed by "
        f"DequantizeLinear take {p.fed_by_dq_share:.0%} ({escape(fed)}). Kernel time per run from ONNX Runtime's "
        "profiler at 1 thread; it explains, the benchmark above grades."
    )
    return details("Where the time went", table(("op type", "FP32 ms", "INT8 ms", "Δ ms"), shown) + "\n\n" + note)


def _short_reasons(model: ModelResult, options: RenderOptions) -> str:
    reasons = model.reasons[:1] if options.fold >= 4 else model.reasons
    return f"**{escape(model.name)}**: " + "; ".join(escape(r) for r in reasons)


def _finding_line(finding: Finding) -> str:
    text = f"- {_SEVERITY_ICON[finding.severity]} {escape(finding.message)}"
    if finding.evidence:
        text += f" <sub>{escape(finding.evidence)}</sub>"
    if finding.fix:
        text += f"<br>**Fix:** {escape(finding.fix)}"
    return text + f" <sub>{code(finding.code)}</sub>"


def _measurement_details(model: ModelResult) -> str:
    bench = model.benchmark
    if bench is None or not bench.runs:
        return ""
    rows = []
    for run in bench.runs:
        done = _completed(run)
        if done is None:
            rows.append((str(run.intra_op_threads), "—", "—", "—", escape(f"failed: {run.error}"), "—"))
            continue
        rows.append(
            (
                str(run.intra_op_threads),
                f"{done.fp32.median_ms:.2f} / {done.fp32.p90_ms:.2f}",
                f"{done.int8.median_ms:.2f} / {done.int8.p90_ms:.2f}",
                f"{done.speedup.estimate:.2f}× ({done.speedup.ci_low:.2f}–{done.speedup.ci_high:.2f})",
                escape(f"{done.call.value}; stopped by {done.stopped_by.value}; "
                       f"{'confirmed; ' if run.confirmed else ''}{run.sessions} sessions × {run.rounds} rounds"),
                f"{run.harness_overhead_ms:.3f}",
            )
        )
    body = table(
        ("threads", "FP32 median / p90 ms", "INT8 median / p90 ms", "speedup (95% CI)", "measurement", "harness ms"),
        rows,
    )
    first = bench.runs[0]
    notes = [f"Setup at {first.intra_op_threads} thread(s): {escape(first.setup)}."] if first.setup else []
    if bench.defaulted_dims:
        dims = ", ".join(f"{escape(d.input)}[{d.axis}] ({escape(d.symbol)}) = {d.value}" for d in bench.defaulted_dims)
        notes.append(f"Dynamic dimensions set by default: {dims}; fix them with `inputs:` in the policy.")
    if bench.inputs:
        notes.append(f"Inputs: {escape(inputs_text(bench))}.")
    return details("Measurements", body + ("\n\n" + "\n".join(notes) if notes else ""))


def _chart(models: Sequence[ModelResult]) -> str:
    labels: list[str] = []
    values: list[float] = []
    for model in models:
        for run in model.benchmark.runs if model.benchmark else ():
            done = _completed(run)
            if done is not None:
                labels.append(_chart_label(f"{model.name} {run.intra_op_threads}t"))
                values.append(round(done.speedup.estimate, 3))
    if not values:
        return ""
    top = max(2.0, max(values) * 1.1)
    quoted = ", ".join(f'"{label}"' for label in labels)
    return (
        "```mermaid\nxychart-beta\n"
        '    title "INT8 speedup over FP32 (×; above 1 is faster)"\n'
        f"    x-axis [{quoted}]\n"
        f'    y-axis "speedup" 0 --> {top:.1f}\n'
        f"    bar [{', '.join(f'{v:g}' for v in values)}]\n"
        "```"
    )


def _chart_label(text: str) -> str:
    """Mermaid labels sit inside a code block and quotes: keep only harmless characters."""
    return re.sub(r"[^A-Za-z0-9 _.+-]", "_", text)[:40]


def _environment(report: Report) -> str:
    r = report.runner
    flags = r.cpu.flags
    on = [name for name, value in vars(flags).items() if value is True]
    cpu_text = f"{r.cpu.brand} ({r.cpu.vendor}, {r.cpu.arch.value}, family {r.cpu.family} model {r.cpu.model})"
    rows = [
        ("CPU", escape(cpu_text)),
        ("INT8 features", escape(", ".join(on) or "none")),
        ("class", code(r.cpu.cpu_class.value)),
        (
            "CPUs",
            escape(
                f"{r.cpus.logical} logical, {r.cpus.usable} usable by affinity, quota "
                f"{r.cpus.quota if r.cpus.quota is not None else 'none'}, effective {r.cpus.effective}, "
                f"SMT {r.cpus.smt}"
            ),
        ),
        ("memory", escape(f"{r.memory_bytes / 2**30:.1f} GiB" if r.memory_bytes else "unknown")),
        ("container", "yes" if r.container else "no"),
        ("ONNX Runtime", escape(f"{r.onnxruntime.version}; providers {', '.join(r.onnxruntime.providers)}")),
    ]
    for model in report.models:
        q, f = model.quantization, model.fp32_model
        if q is not None and f is not None:
            rows.append(
                (
                    escape(model.name),
                    escape(
                        f"INT8 {q.size_bytes / 1e6:.2f} MB sha256 {q.sha256[:12]}, "
                        f"FP32 {f.size_bytes / 1e6:.2f} MB sha256 {f.sha256[:12]}"
                    ),
                )
            )
    return table(("", ""), rows)


def inputs_text(bench: BenchmarkSection) -> str:
    return ", ".join(f"{i.name} {'x'.join(map(str, i.shape))} {i.dtype} ({i.source})" for i in bench.inputs)


def render_fleet(fleet: Fleet, options: RenderOptions) -> str:
    """One comparison of several runners: a row per runner, a column per model."""
    parts = [options.marker] if options.marker else []
    parts.append(
        f"## {_ICON[fleet.verdict]} int8gate: {fleet.verdict.value} across {len(fleet.runners)} "
        f"runner{'s' if len(fleet.runners) != 1 else ''}"
    )
    header = ("runner", "class", "INT8 features", "CPUs", *(escape(name) for name in fleet.model_names))
    rows = []
    for runner in fleet.runners:
        by_name = {model.name: model for model in runner.models}
        cells = [_fleet_cell(by_name.get(name)) for name in fleet.model_names]
        rows.append(
            (
                f"{_ICON[runner.verdict]} {escape(runner.brand)} ({escape(runner.arch)})",
                escape(runner.cpu_class),
                escape(", ".join(runner.features) or "none"),
                f"{runner.effective_cpus} of {runner.logical_cpus}",
                *cells,
            )
        )
    parts.append(table(header, rows))
    problems = [
        f"- **{escape(model.name)}** on {escape(runner.brand)}: {escape(model.reasons[0])}"
        for runner in fleet.runners
        for model in runner.models
        if model.verdict is not Verdict.PASS and model.reasons
    ]
    why = "**Why not pass**\n\n" + "\n".join(problems) if problems else ""
    sources = ", ".join(code(runner.source) for runner in fleet.runners)
    footer = f"<sub>merged from {sources}; each runner's JSON report has the details</sub>"
    folded = "_Reasons left out to fit GitHub's size limit; each runner's report has them._"
    too_large = "The comparison is too large for a comment; each runner's report has it."
    for candidate in ([*parts, why, footer], [*parts, folded], [*parts[:-1], too_large]):
        text = "\n\n".join(part for part in candidate if part) + "\n"
        if len(text) <= options.limit:
            return text
    return text[: options.limit - 1] + "\n"


def _fleet_cell(model: FleetModel | None) -> str:
    if model is None:
        return "—"
    speeds = []
    for speed in model.speeds:
        if speed.error or speed.estimate is None:
            speeds.append(f"{speed.threads}t: failed")
        elif speed.ci_low is not None and speed.ci_high is not None:
            speeds.append(f"{speed.threads}t: {speed.estimate:.2f}× ({speed.ci_low:.2f}–{speed.ci_high:.2f})")
        else:
            speeds.append(f"{speed.threads}t: {speed.estimate:.2f}×")
    return f"{_ICON[model.verdict]} " + ("<br>".join(speeds) or model.verdict.value)
