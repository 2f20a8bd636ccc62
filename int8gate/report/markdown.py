"""Compose reports as GitHub Markdown: the PR comment and the job summary (the fleet view: ``fleet``).

Every piece of text that comes from the repository (model names, paths, op names, messages that
quote them) goes through ``escape`` or ``code``; nothing else in int8gate writes Markdown.

Each model's section opens with its verdict and main cause in one sentence, then what it was
compared on, then at most three findings (failing ones first); the rest (more findings, the
verdict's reasons, the measurements, the profile) is folded into one ``<details>``. A comment aims
at ``COMMENT_TARGET`` bytes of UTF-8 and must fit GitHub's 65,536 characters: ``render_report``
renders the full report and folds detail away, level by level, until it does, and says so. The job
summary (1 MiB) keeps everything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from int8gate.findings import Finding, Severity
from int8gate.judge.verdict import Verdict
from int8gate.machine.facts import RunnerProfile
from int8gate.measure.benchrun import completed, row_status
from int8gate.report import againstbase
from int8gate.report.data import ModelResult, Report
from int8gate.report.facts import census_text, fidelity_short, inputs_text, runner_facts
from int8gate.report.limits import COMMENT_LIMIT, COMMENT_TARGET, FOLD_LEVELS, REPORT_TOO_LARGE, folded_note
from int8gate.report.syntax import code, details, escape, table

if TYPE_CHECKING:
    pass

VERDICT_ICON = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.INCONCLUSIVE: "⚠️"}
_SEVERITYVERDICT_ICON = {Severity.FAIL: "❌", Severity.WARN: "⚠️", Severity.INFO: "ℹ️"}


@dataclass(frozen=True)
class RenderOptions:
    """How much to show; ``fold`` is raised by ``render_report`` until the text fits.

    ``target`` is the length a comment aims at (it applies when ``limit`` is a comment's, not a job
    summary's): detail is folded until the text is that short, or as short as folding makes it.
    """

    marker: str | None = None
    limit: int = COMMENT_LIMIT
    details: bool = True
    chart: bool = True
    fold: int = 0
    target: int | None = COMMENT_TARGET


def options_for(report: Report, *, marker: str | None = None, limit: int = COMMENT_LIMIT) -> RenderOptions:
    """What the report's policy asked to show (``report.details``, ``report.chart``), with a marker and a limit."""
    return RenderOptions(marker, limit, report.presentation.details, report.presentation.chart)


def render_report(report: Report, options: RenderOptions) -> str:
    """The report as Markdown under ``options.limit`` characters, folding detail to reach the target."""
    aimed = bool(options.target) and options.limit <= COMMENT_LIMIT
    aim = min(options.target or options.limit, options.limit) if aimed else options.limit
    fitting: str | None = None
    for fold in range(FOLD_LEVELS + 1):
        text = _render(report, replace(options, fold=fold), aim)
        if len(text) <= aim and (not aimed or len(text.encode("utf-8")) <= aim):
            return text
        if fitting is None and len(text) <= options.limit:
            fitting = text
    if fitting is not None:
        return fitting
    # Last resort, always well-formed: the verdict line alone (no half-open table, code block or details).
    head = [options.marker] if options.marker else []
    head += [_headline(report), REPORT_TOO_LARGE]
    return "\n\n".join(head)[: options.limit - 1] + "\n"


def render_stopped(problem: str, title: str = "int8gate") -> str:
    """The summary when the gate could not run at all (bad policy, unusable model)."""
    return f"## ❌ {escape(title)}: error\n\nThe gate could not run: {escape(problem)}\n"


def _render(report: Report, options: RenderOptions, aim: int) -> str:
    parts: list[str] = []
    if options.marker:
        parts.append(options.marker)
    parts.append(_headline(report))
    shown = [model for model in report.models if not againstbase.collapsible(model)]
    if shown:
        parts.append(_summary_table(shown, vs_base=againstbase.has_base(report.models)))
    parts.append(againstbase.collapsed_line(report.models))
    parts.append(runner_line(report.runner))
    if options.fold < 4:
        parts.extend(_model_section(model, options) for model in shown)
    else:
        parts.extend(_short_reasons(model) for model in shown if model.reasons)
    if options.chart and options.fold < 2:
        chart = _chart(report.models)
        if chart:
            parts.append(chart)
    if options.details and options.fold < 1:
        parts.append(details("Environment", _environment(report)))
    if options.fold:
        parts.append(folded_note(aim, options.fold))
    parts.append(
        f"<sub>{escape(report.tool.name)} {escape(report.tool.version)} · policy {code(report.tool.policy)} · "
        f"{_duration(report)} · report schema v{report.schema_version}</sub>"
    )
    return "\n\n".join(part for part in parts if part) + "\n"


def _duration(report: Report) -> str:
    tool = report.tool
    expected = f" (expected ≤ {tool.expected_s:.0f} s)" if tool.expected_s is not None else ""
    return f"{tool.duration_s:.0f} s{expected}"


def _headline(report: Report) -> str:
    counts = {verdict: sum(1 for m in report.models if m.verdict is verdict) for verdict in Verdict}
    tally = ", ".join(f"{n} {verdict.value}" for verdict, n in counts.items() if n)
    return f"## {VERDICT_ICON[report.verdict]} {escape(report.title)}: {report.verdict.value} ({tally})"


def _speed_cells(model: ModelResult) -> str:
    cached = againstbase.cached_speed_cells(model)
    if cached is not None:
        return cached
    if model.benchmark is None or not model.benchmark.runs:
        return "—"
    cells = []
    for run in model.benchmark.runs:
        done = completed(run)
        if done is None:
            cells.append(f"{run.intra_op_threads}t: {'not measured' if run.not_measured else 'failed'}")
        else:
            s = done.speedup
            cells.append(f"{run.intra_op_threads}t: **{s.estimate:.2f}×** ({s.ci_low:.2f}–{s.ci_high:.2f})")
    return "<br>".join(cells)


def _quant_cell(model: ModelResult) -> str:
    q = model.quantization
    if q is None:
        return "—"
    share = f"{q.mac_share_quantized:.0%} of MACs" if q.mac_share_quantized is not None else "MACs unknown"
    flag = "" if q.is_quantized else " ✘"
    return f"{escape(q.format.value)}, {share}{flag}"


def _fidelity_cell(model: ModelResult) -> str:
    return "—" if model.fidelity is None else fidelity_short(model.fidelity, ok="✔", failed="✘", sep=" ")


def _summary_table(models: Sequence[ModelResult], *, vs_base: bool = False) -> str:
    rows = [
        (
            escape(m.name),
            f"{VERDICT_ICON[m.verdict]} {m.verdict.value}",
            _speed_cells(m),
            *((againstbase.vs_base_cell(m),) if vs_base else ()),
            _quant_cell(m),
            _fidelity_cell(m),
        )
        for m in models
    ]
    against = ("vs base",) if vs_base else ()
    return table(("model", "verdict", "INT8 speedup (95% CI)", *against, "quantized", "fidelity"), rows)


def runner_line(runner: RunnerProfile) -> str:
    """``**Runner:** Intel Xeon …, 4 vCPUs usable of 8, AVX2 ✔ AVX-512 ✔ VNNI ✔ AMX ✘ · …``."""
    brand, usable, feats = runner_facts(runner)
    return (
        f"**Runner:** {escape(brand)}, {usable}, {feats} · class {code(runner.cpu.cpu_class.value)} · "
        f"ONNX Runtime {escape(runner.onnxruntime.version)}"
    )


def _model_section(model: ModelResult, options: RenderOptions) -> str:
    """Verdict and main cause in one sentence (with its fix), what it was compared on, three more
    findings, the rest folded."""
    lines = [f"### {VERDICT_ICON[model.verdict]} {escape(model.name)} — {model.verdict.value}"]
    cause = main_cause(model)
    brief = options.fold >= 2
    lines.append(_opening(model, cause, brief=brief))
    if options.fold >= 3:
        return "\n\n".join(lines)
    lines.append(_context(model, brief=brief))
    lines.append(againstbase.before_after(model))
    ranked = sorted((f for f in model.findings if f is not cause), key=_rank)
    # Brief: only the model's own warnings and failures stay visible; the measurement's quality and
    # where the speedup sits in the expected range are named under "Also".
    eligible = [f for f in ranked if not (brief and (_rank(f)[1] or f.severity is Severity.INFO))]
    shown = eligible[:SHOWN_FINDINGS]
    rest = [f for f in ranked if f not in shown]
    if shown:
        lines.append("\n".join(_finding_line(f, brief=options.fold >= 2) for f in shown))
    folded = _folded(model, rest, options)
    if folded:
        lines.append(folded)
    return "\n\n".join(line for line in lines if line)


SHOWN_FINDINGS = 3
_SEVERITY_RANK = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}
_QUALITY = frozenset({"high-dispersion", "drift", "latency-too-short", "budget-cut", "other-load",
                      "harness-overhead", "outliers", "single-session"})  # fmt: skip
"""Codes about the measurement, not the model: shown after the model's own findings of the same severity."""
_REASON_TAILS = (", auto: ", ", set by the policy", " (policy: ", "; ")


def _rank(finding: Finding) -> tuple[int, bool]:
    """Severity first; within it the model's own findings before the measurement's quality and the
    expected range (a symptom the opening's figures already show)."""
    return _SEVERITY_RANK[finding.severity], finding.code in _QUALITY or finding.code.startswith("expected-range")


def main_cause(model: ModelResult) -> Finding | None:
    """The finding the opening sentence names: the first that is not informational or a range position."""
    if model.error or model.verdict is Verdict.PASS:
        return None
    return next((f for f in model.findings if f.severity is not Severity.INFO
                 and not f.code.startswith("expected-range")), None)  # fmt: skip


def _opening(model: ModelResult, cause: Finding | None, *, brief: bool) -> str:
    """One sentence: the verdict and its main cause, with the cause's fix (or, for a pass, what was met)."""
    if model.error:
        return f"**Could not be checked:** {escape(model.error)}"
    if model.verdict is Verdict.PASS:
        return f"**Passes:** {escape(_speeds(model))}."
    label = "Fails" if model.verdict is Verdict.FAIL else "Inconclusive"
    labelled = cause is not None
    what = _short_reason(model.reasons[0], labelled=labelled, figures=not brief) if model.reasons else "no reason"
    if cause is None:
        return f"**{label}:** {escape(what)}."
    message = cause.message if cause.message[1:2].isupper() else cause.message[:1].lower() + cause.message[1:]
    text = f"**{label}:** {escape(what)} — {escape(message.rstrip('.'))}."
    if cause.evidence and not brief:
        text += f" <sub>{escape(cause.evidence)}</sub>"
    text += f" <sub>{code(cause.code)}</sub>"
    return text + (f"<br>**Fix:** {escape(cause.fix)}" if cause.fix else "")


_FIGURES = ("slower than required", "speedup at", "benchmark failed")


def _short_reason(reason: str, *, labelled: bool, figures: bool = True) -> str:
    """A verdict reason cut short: its figures for speed (unless not ``figures``: the table has them),
    else its label when a finding says the rest."""
    if labelled and (not figures or not reason.startswith(_FIGURES)) and ": " in reason:
        return reason.split(": ", 1)[0]
    cut = min((reason.find(tail) for tail in _REASON_TAILS if tail in reason), default=len(reason))
    return reason[:cut]


def _speeds(model: ModelResult) -> str:
    """``2.16× at 1 thread, 1.95× at 2 (≥ 1.20× required)``."""
    bench = model.benchmark
    done = [(run.intra_op_threads, c.speedup.estimate) for run in (bench.runs if bench else ())
            if (c := completed(run)) is not None]  # fmt: skip
    if not done or bench is None:
        return "every check met"
    parts = [f"{x:.2f}× at {t} thread{'s' if t != 1 else ''}" if i == 0 else f"{x:.2f}× at {t}"
             for i, (t, x) in enumerate(done)]  # fmt: skip
    need = f" (≥ {bench.threshold:.2f}× required)" if bench.threshold is not None else ""
    return ", ".join(parts) + need


def _context(model: ModelResult, *, brief: bool = False) -> str:
    """The files, the speedup expected here (not when ``brief``), and what the outputs were compared on."""
    parts = [f"{code(model.int8)} vs {code(model.fp32)}"]
    if model.expected is not None and not brief:
        parts.append(f"expected {model.expected.low:.1f}×–{model.expected.high:.1f}× here")
    if model.fidelity is not None and not model.fidelity.error and model.fidelity.outputs:
        f = model.fidelity
        if f.source == "samples":
            used = f"outputs compared on {f.samples} samples"
        else:
            used = f"outputs compared on {f.samples} random inputs" + ("" if f.graded else ", drift not graded")
        parts.append(used)
    return " · ".join(parts)


def _folded(model: ModelResult, rest: Sequence[Finding], options: RenderOptions) -> str:
    """Everything past the first findings, in one collapsed block (less of it as folding deepens)."""
    if options.fold >= 2:
        return ("Also: " + ", ".join(code(f.code) for f in rest)) if rest else ""
    body: list[str] = []
    if rest:
        body.append("\n".join(_finding_line(f, brief=options.fold >= 1) for f in rest))
    if model.quantization is not None:
        body.append(escape(census_text(model.quantization)))
    if model.reasons:
        body.append("**Verdict reasons**\n\n" + "\n".join(f"- {escape(reason)}" for reason in model.reasons))
    if options.fold < 1:
        body.extend(part for part in (_measurements(model), _time_by_op(model)) if part)
    if not body:
        return ""
    what = [f"{len(rest)} more finding{'s' if len(rest) != 1 else ''}"] if rest else []
    what += ["census"] if model.quantization is not None else []
    what += ["reasons"] if model.reasons else []
    what += ["measurements"] if options.fold < 1 and model.benchmark and model.benchmark.runs else []
    what += ["profile"] if options.fold < 1 and (model.profile or model.profile_error) else []
    return details("More: " + ", ".join(what), "\n\n".join(body))


PROFILE_ROWS = 10


def _time_by_op(model: ModelResult) -> str:
    """ONNX Runtime's per-node profile, per op type, FP32 and INT8 side by side (kernel time per run)."""
    if model.profile is None:
        return f"**Where the time went:** {escape(model.profile_error)}" if model.profile_error else ""
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
    return "**Where the time went**\n\n" + table(("op type", "FP32 ms", "INT8 ms", "Δ ms"), shown) + "\n\n" + note


def _short_reasons(model: ModelResult) -> str:
    return f"**{escape(model.name)}**: {escape(model.reasons[0])}"


def _finding_line(finding: Finding, *, brief: bool = False) -> str:
    text = f"- {_SEVERITYVERDICT_ICON[finding.severity]} {escape(finding.message)}"
    if brief:
        return text + f" <sub>{code(finding.code)}</sub>"
    if finding.evidence:
        text += f" <sub>{escape(finding.evidence)}</sub>"
    if finding.fix:
        text += f"<br>**Fix:** {escape(finding.fix)}"
    return text + f" <sub>{code(finding.code)}</sub>"


STOP_RULES = (
    "Stopped by: clear = the interval is over 10% (25% when in doubt) from the threshold; target = narrow "
    "enough; budget = out of time. Nearer results are confirmed within the same budget."
)


def _measurements(model: ModelResult) -> str:
    bench = model.benchmark
    if bench is None or not bench.runs:
        return ""
    rows = []
    for run in bench.runs:
        done = completed(run)
        if done is None:
            rows.append((str(run.intra_op_threads), "—", "—", "—", escape(row_status(run)), "—"))
            continue
        rows.append(
            (
                str(run.intra_op_threads),
                f"{done.fp32.median_ms:.2f} / {done.fp32.p90_ms:.2f}",
                f"{done.int8.median_ms:.2f} / {done.int8.p90_ms:.2f}",
                f"{done.speedup.estimate:.2f}× ({done.speedup.ci_low:.2f}–{done.speedup.ci_high:.2f})",
                escape(f"{done.call.value}; stopped by {done.stopped_by.value} after {run.seconds:.1f} of "
                       f"{run.budget_seconds:g} s; {'confirmed; ' if run.confirmed else ''}"
                       f"{run.sessions} sessions × {run.rounds} rounds"),
                f"{run.harness_overhead_ms:.3f}",
            )
        )
    body = table(
        ("threads", "FP32 median / p90 ms", "INT8 median / p90 ms", "speedup (95% CI)", "measurement", "harness ms"),
        rows,
    )
    first = bench.runs[0]
    notes = [f"Setup at {first.intra_op_threads} thread(s): {escape(first.setup)}."] if first.setup else []
    notes.append(STOP_RULES)
    notes.extend(
        f"At {run.intra_op_threads} thread(s), {escape(run.confirmation)}."
        for run in bench.runs if run.confirmation and not run.confirmation.startswith("confirmation not needed")
    )  # fmt: skip
    if bench.defaulted_dims:
        dims = ", ".join(f"{escape(d.input)}[{d.axis}] ({escape(d.symbol)}) = {d.value}" for d in bench.defaulted_dims)
        notes.append(f"Dynamic dimensions set by default: {dims}; fix them with `inputs:` in the policy.")
    if bench.inputs:
        notes.append(f"Inputs: {escape(inputs_text(bench))}.")
    return "**Measurements**\n\n" + body + ("\n\n" + "\n".join(notes) if notes else "")


CHART_COLORS = {"bar": "#4e79a7", "low": "#2ca02c", "high": "#2ca02c", "threshold": "#d62728"}
"""Bars blue; the expected range's edges green; the threshold red, drawn last so it shows where it meets the
range's lower edge (``speedup: auto``). xychart-beta draws no legend: the line under the chart says it."""


def _chart(models: Sequence[ModelResult]) -> str:
    """Measured speedups as bars against the threshold and the expected range (lines), on an axis that
    starts near the data, not at zero, so 0.98x and 1.01x are told apart."""
    labels: list[str] = []
    values: list[float] = []
    needs: list[float | None] = []
    lows: list[float | None] = []
    highs: list[float | None] = []
    for model in models:
        bench = model.benchmark
        for run in bench.runs if bench else ():
            done = completed(run)
            if done is not None:
                labels.append(_chart_label(f"{model.name} {run.intra_op_threads}t"))
                values.append(round(done.speedup.estimate, 3))
                needs.append(bench.threshold if bench else None)
                lows.append(model.expected.low if model.expected else None)
                highs.append(model.expected.high if model.expected else None)
    if not values:
        return ""
    lines = [(name, series) for name, series in (("low", lows), ("high", highs), ("threshold", needs))
             if all(v is not None for v in series)]  # fmt: skip
    palette = ", ".join(CHART_COLORS[name] for name in ("bar", *(name for name, _ in lines)))
    shown = values + [v for _, series in lines for v in series if v is not None]
    bottom = max(0.0, math.floor((min(shown) - 0.1) * 10) / 10)
    top = math.ceil((max(shown) + 0.1) * 10) / 10
    quoted = ", ".join(f'"{label}"' for label in labels)
    body = [
        f'%%{{init: {{"themeVariables": {{"xyChart": {{"plotColorPalette": "{palette}"}}}}}}}}%%',
        "xychart-beta",
        f'    title "{_chart_title(needs, lows, highs)}"',
        f"    x-axis [{quoted}]",
        f'    y-axis "speedup (x)" {bottom:.1f} --> {top:.1f}',
        f"    bar [{', '.join(f'{v:g}' for v in values)}]",
    ]
    body += [f"    line [{', '.join(f'{v:g}' for v in series if v is not None)}]" for _, series in lines]
    legend = "Bars: INT8 speedup over FP32 (above 1 is faster)"
    if any(name == "threshold" for name, _ in lines):
        legend += "; red line: the required speedup"
    if any(name == "low" for name, _ in lines):
        legend += "; green lines: the range expected on this runner"
    return "```mermaid\n" + "\n".join(body) + "\n```\n\n<sub>" + legend + ".</sub>"


def _chart_title(needs: Sequence[float | None], lows: Sequence[float | None], highs: Sequence[float | None]) -> str:
    title = "INT8 speedup (x)"
    if len(set(needs)) == 1 and needs[0] is not None:
        title += f"; required {needs[0]:.2f}"
    if len(set(lows)) == 1 and len(set(highs)) == 1 and lows[0] is not None and highs[0] is not None:
        title += f"; expected {lows[0]:.1f}-{highs[0]:.1f}"
    return title


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
