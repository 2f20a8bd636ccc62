"""Plain text for a terminal: the short report of ``check`` and ``demo``, and ``env``, ``inspect``, ``bench``.

The same facts as the comment, for a person reading one screen: no Markdown here (``markdown``
renders what GitHub shows; the facts both show come from ``facts``), colour only when the caller
says the stream is a terminal that wants it.
The lines of ``inspect`` and ``bench`` are put through ``errors.log_safe``, and names in the short
report through ``facts.printable``: a path or a model's own names (inputs, ops) cannot break a line,
and a line that would start like a workflow command (``::``, ``##[``) gets ``> `` in front
(``errors.command_safe``), so nothing from a policy or a model can start one in a CI log.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from int8gate.errors import command_safe, log_safe
from int8gate.findings import Finding, Severity
from int8gate.judge.verdict import Verdict
from int8gate.machine.facts import RunnerProfile
from int8gate.measure.benchrun import completed, row_status
from int8gate.measure.fidelity import summary
from int8gate.report.data import BenchmarkSection, ModelResult, Report
from int8gate.report.facts import fidelity_short, inputs_text, printable, runner_facts

if TYPE_CHECKING:
    from int8gate.measure.fidelity import FidelityResult
    from int8gate.model.inspection import ModelInspection


def render_runner_text(runner: RunnerProfile) -> str:
    """The runner line for a terminal (``int8gate env``)."""
    brand, usable, feats = runner_facts(runner)
    return (
        f"Runner: {brand}, {usable}, {feats} · class {runner.cpu.cpu_class.value} · "
        f"ONNX Runtime {runner.onnxruntime.version}"
    )


def render_inspection_text(q: ModelInspection) -> str:
    """A few plain lines summarising one model's census."""
    share = f"{q.mac_share_quantized:.1%}" if q.mac_share_quantized is not None else "unknown"
    lines = [
        f"{q.path}: format {q.format.value}; quantized: {'yes' if q.is_quantized else 'NO'}",
        f"  compute ops: {q.compute_ops.quantized} of {q.compute_ops.total} quantized; MACs in integer: {share}; "
        f"MACs known for {q.compute_ops.total - q.compute_ops.macs_unknown} (shapes from {q.shapes_from})",
        f"  weights: {q.weight_bytes.quantized_share or 0:.0%} of {q.weight_bytes.total:,} bytes in 8/4-bit; "
        f"activations {q.activation_type or '-'}, weights {q.weight_type or '-'}, opset {q.opset}",
    ]
    after = q.after_optimization
    if after is not None:
        lines.append(
            f"  after ONNX Runtime optimization ({after.opt_level.value}): {after.integer_kernels} integer kernels, "
            f"{after.float_compute} float compute ops ({after.float_compute_fed_by_dq} fed by DequantizeLinear), "
            f"{after.quantize_linear} QuantizeLinear, {after.dequantize_linear} DequantizeLinear left"
        )
    lines += [f"  [{f.severity.value}] {f.code}: {f.message}" + (f" Fix: {f.fix}" if f.fix else "") for f in q.findings]
    return "\n".join(command_safe(log_safe(line)) for line in lines)


def render_bench_text(
    bench: BenchmarkSection,
    fidelity: FidelityResult | None,
    verdict: tuple[Verdict, Sequence[str]] | None = None,
) -> str:
    """One plain line per thread setting, the fidelity line, then the verdict and its reasons."""
    lines = []
    for run in bench.runs:
        done = completed(run)
        if done is None:
            lines.append(f"{run.intra_op_threads} thread(s): {row_status(run)}")
            continue
        s = done.speedup
        lines.append(
            f"{run.intra_op_threads} thread(s): FP32 {done.fp32.median_ms:.3f} ms, INT8 {done.int8.median_ms:.3f} ms "
            f"(medians); speedup {s.estimate:.3f}x, 95% CI {s.ci_low:.3f}-{s.ci_high:.3f} "
            f"[{done.call.value}; {run.sessions} sessions, {run.rounds} rounds, stopped by {done.stopped_by.value} "
            f"after {run.seconds:.1f} of {run.budget_seconds:g} s{', confirmed' if run.confirmed else ''}]"
        )
    if bench.defaulted_dims:
        lines.append("defaulted dims: " + ", ".join(f"{d.input}[{d.axis}]={d.value}" for d in bench.defaulted_dims))
    if bench.inputs:
        lines.append("inputs: " + inputs_text(bench))
    if fidelity is not None:
        shown = fidelity.error or "; ".join(summary(o) for o in fidelity.outputs[:3]) or "no outputs compared"
        failing = [f.evidence for f in fidelity.findings if f.severity.value == "fail"]
        lines.append(f"fidelity: {'ok' if fidelity.passed else 'FAILED'}; {'; '.join(failing) or shown}")
        if fidelity.basis:
            lines.append(f"fidelity inputs: {fidelity.basis}")
    if verdict is not None:
        lines.append(f"verdict: {verdict[0].value}")
        lines.extend(f"  - {reason}" for reason in verdict[1])
    return "\n".join(command_safe(log_safe(line)) for line in lines)


WIDTH = 100
"""The terminal report is laid out for this many columns (and a demo fits 40 lines)."""
MAX_REASONS = 3
_COLORS = {Verdict.PASS: "32", Verdict.FAIL: "1;31", Verdict.INCONCLUSIVE: "33"}  # green, bold red, yellow


@dataclass(frozen=True)
class Written:
    """One place the full report went: ``what`` (Markdown, JSON, the job summary) and ``where``."""

    what: str
    where: str


def render_report_text(
    report: Report, written: Sequence[Written] = (), *, color: bool = False, width: int = WIDTH
) -> str:
    """``check`` and ``demo`` for a person at a terminal: verdict per model, speedup with its interval,
    the main cause, and where the full report was written; one screen for a few models."""

    def paint(verdict: Verdict, text: str) -> str:
        return f"\033[{_COLORS[verdict]}m{text}\033[0m" if color else text

    tally = ", ".join(f"{n} {v.value}" for v in Verdict if (n := sum(m.verdict is v for m in report.models)))
    brand, usable, feats = runner_facts(report.runner)
    lines = [
        *_wrapped(f"{printable(report.title)}: {paint(report.verdict, _verdict_word(report.verdict))} ({tally}) · "
                  f"policy {printable(report.tool.policy)} · {report.tool.duration_s:.0f} s", width, "  "),
        *_wrapped(f"runner: {printable(brand)}, {usable}", width, "  "),
        f"  class {report.runner.cpu.cpu_class.value} ({feats}), "
        f"ONNX Runtime {printable(report.runner.onnxruntime.version)}",
        "",
        *_summary_table(report.models, paint),
    ]
    for model in report.models:
        lines.append("")
        lines.extend(_model_text(model, paint, width))
    lines.append("")
    lines.extend(_wrapped(_written_text(written), width, "  "))
    return "\n".join(command_safe(line) for line in lines)  # a title or model name may start a line


def _verdict_word(verdict: Verdict) -> str:
    return "FAIL" if verdict is Verdict.FAIL else verdict.value


def _summary_table(models: Sequence[ModelResult], paint: Callable[[Verdict, str], str]) -> list[str]:
    name_width = min(28, max([5, *(len(m.name) for m in models)]))
    rows: list[tuple[str, Verdict | None, str, str, str, str]] = []
    for m in models:
        speeds = _speed_texts(m) or [("", "not measured")]
        for index, (threads, speed) in enumerate(speeds):
            first = index == 0
            rows.append((
                _cut(printable(m.name), name_width) if first else "", m.verdict if first else None, threads, speed,
                _quantized_text(m) if first else "", _fidelity_text(m) if first else "",
            ))  # fmt: skip
    speed_width = max([21, *(len(r[3]) for r in rows)])
    quant_width = max([9, *(len(r[4]) for r in rows)])
    head = (f"  {'model':<{name_width}}  {'verdict':<12}  {'threads':>7}  {'INT8 speedup (95% CI)':<{speed_width}}"
            f"  {'quantized':<{quant_width}}  fidelity")  # fmt: skip
    out = [head]
    for name, verdict, threads, speed, quant, fid in rows:
        word = f"{_verdict_word(verdict):<12}" if verdict is not None else " " * 12
        shown = paint(verdict, word) if verdict is not None else word
        out.append(f"  {name:<{name_width}}  {shown}  {threads:>7}  {speed:<{speed_width}}  "
                   f"{quant:<{quant_width}}  {fid}".rstrip())  # fmt: skip
    return out


def _speed_texts(model: ModelResult) -> list[tuple[str, str]]:
    if model.benchmark is None:
        return []
    out = []
    for run in model.benchmark.runs:
        done = completed(run)
        if done is None:
            out.append((str(run.intra_op_threads), "not measured" if run.not_measured else "failed (see below)"))
        else:
            s = done.speedup
            out.append((str(run.intra_op_threads), f"{s.estimate:.2f}x ({s.ci_low:.2f}-{s.ci_high:.2f})"))
    return out


def _quantized_text(model: ModelResult) -> str:
    q = model.quantization
    if q is None:
        return "-"
    share = f"{q.mac_share_quantized:.0%} of MACs" if q.mac_share_quantized is not None else "MACs unknown"
    return f"{q.format.value}, {share}" + ("" if q.is_quantized else " (NO)")


def _fidelity_text(model: ModelResult) -> str:
    return "-" if model.fidelity is None else fidelity_short(model.fidelity, ok="ok", failed="FAILED", why=False)


def _model_text(model: ModelResult, paint: Callable[[Verdict, str], str], width: int) -> list[str]:
    head = f"{printable(model.name)}: {paint(model.verdict, _verdict_word(model.verdict))}"
    bench = model.benchmark
    need = []
    if bench is not None and bench.threshold is not None:
        need.append(f"required {bench.threshold:.2f}x")
    if model.expected is not None:
        need.append(f"expected here {model.expected.low:.1f}x-{model.expected.high:.1f}x ({model.expected.label})")
    lines = [head + (" - " + "; ".join(need) if need else "")]
    if model.verdict is not Verdict.PASS:
        shown = model.reasons[:MAX_REASONS]
        for reason in shown:
            lines.extend(_wrapped(f"- {printable(reason)}", width, "    ", first="  "))
        if len(model.reasons) > len(shown):
            lines.append(f"  - and {len(model.reasons) - len(shown)} more in the full report")
    cause = main_cause(model.findings)
    if cause is not None:
        label = "note" if model.verdict is Verdict.PASS else "main cause"
        lines.extend(_wrapped(f"{label}: {printable(cause.message)} [{cause.code}]", width, "    ", first="  "))
        if cause.fix:
            lines.extend(_wrapped(f"fix: {printable(cause.fix)}", width, "      ", first="    "))
    return lines


def main_cause(findings: Sequence[Finding]) -> Finding | None:
    """The finding that best explains a result: the first of the most severe (explanations come first)."""
    rank = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}
    return min(findings, key=lambda f: rank[f.severity], default=None)


def _written_text(written: Sequence[Written]) -> str:
    if not written:
        return "full report: not written; add --markdown FILE or --json FILE"
    return "full report: " + ", ".join(
        f"{printable(item.where)} ({item.what})" if item.where else item.what for item in written
    )


def _wrapped(text: str, width: int, indent: str, *, first: str = "") -> list[str]:
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False) or [""]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
