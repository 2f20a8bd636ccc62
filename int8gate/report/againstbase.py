"""The comment's view of each pair against the base branch: the "vs base" cell, before → after, one line
for the unchanged pairs.

``markdown`` asks: which pairs keep their own row and section (``collapsible`` says which may fold
into the single "unchanged" line: unchanged, not benchmarked again, passing), what goes in the
"vs base" column, and the before → after table of a changed pair. Repository text is escaped here
as everywhere (``syntax``).
"""

from __future__ import annotations

from collections.abc import Sequence

from int8gate.judge.verdict import Verdict
from int8gate.measure.benchrun import BenchRun, completed
from int8gate.measure.stats import Speedup
from int8gate.report.data import ModelResult
from int8gate.report.syntax import code, escape, table
from int8gate.report.vsbase import BaseStatus, CensusSide, FidelitySide, VsBase


def has_base(models: Sequence[ModelResult]) -> bool:
    """Whether the run compared with a base commit (then the summary table gets a "vs base" column)."""
    return any(model.vs_base is not None for model in models)


def collapsible(model: ModelResult) -> bool:
    """An unchanged pair that was not benchmarked again and passes: one line says all there is."""
    vs = model.vs_base
    return vs is not None and vs.benchmark.skipped and model.verdict is Verdict.PASS


def _change(ratio: Speedup) -> str:
    """Head INT8 time / base INT8 time as a signed change of time: 0.52 → ``−48%``."""
    return f"{(ratio.estimate - 1) * 100:+.1f}%".replace("-", "−")


def _interval(ratio: Speedup) -> str:
    low, high = ((value - 1) * 100 for value in (ratio.ci_low, ratio.ci_high))
    return f"{low:+.1f}…{high:+.1f}%".replace("-", "−")


def vs_base_cell(model: ModelResult) -> str:
    """The summary table's "vs base" cell: the INT8 time change per thread setting, or the status."""
    vs = model.vs_base
    if vs is None:
        return "—"
    if vs.status is BaseStatus.CHANGED:
        cells = [
            f"{run.intra_op_threads}t: INT8 time **{_change(ratio)}** ({_interval(ratio)})"
            for run in vs.runs
            if (ratio := run.int8_latency_ratio) is not None
        ]
        return "<br>".join(cells) if cells else "changed"
    if vs.status is BaseStatus.UNCHANGED:
        return "unchanged" + ("" if vs.benchmark.skipped else " files, re-measured")
    return str(vs.status.value)


def cached_speed_cells(model: ModelResult) -> str | None:
    """The speedup cell of a pair not benchmarked again: the cached figures, or "not measured"."""
    vs = model.vs_base
    if vs is None or not vs.benchmark.skipped:
        return None
    if vs.cached is None:
        return "not measured (unchanged)"
    cells = []
    for run in vs.cached.runs:
        done = completed(run)
        if done is not None:
            s = done.speedup
            cells.append(f"{run.intra_op_threads}t: {s.estimate:.2f}× ({s.ci_low:.2f}–{s.ci_high:.2f}) cached")
    return "<br>".join(cells) or "not measured (unchanged)"


def collapsed_line(models: Sequence[ModelResult]) -> str:
    """One line for every unchanged pair that was not benchmarked again and passes."""
    folded = [model for model in models if collapsible(model)]
    if not folded:
        return ""
    refs = {model.vs_base.base_ref[:12] for model in folded if model.vs_base is not None}
    names = ", ".join(escape(model.name) + (" (cached)" if model.vs_base and model.vs_base.cached else "")
                      for model in folded)  # fmt: skip
    base = code(sorted(refs)[0]) if len(refs) == 1 else "base"
    count = f"{len(folded)} pair{'s' if len(folded) != 1 else ''}"
    return f"**Unchanged against {base}, not benchmarked again ({count}, ✅ pass):** {names}"


def before_after(model: ModelResult) -> str:
    """A changed pair's before → after: speedups, the INT8 time change, census, size, fidelity, findings."""
    vs = model.vs_base
    if vs is None:
        return ""
    heading = f"**Against base {code(vs.base_ref[:12])}:** {escape(vs.why)}"
    if vs.status is not BaseStatus.CHANGED:
        return "" if vs.status is BaseStatus.UNCHANGED else heading
    rows = _speed_rows(vs, model.benchmark.runs if model.benchmark else ())
    if vs.census_delta is not None:
        rows.extend(_census_rows(vs.census_delta.before, vs.census_delta.after))
    if vs.fidelity_delta is not None:
        rows.append(("fidelity: worst cosine, SNR", _fidelity(vs.fidelity_delta.before),
                     _fidelity(vs.fidelity_delta.after)))  # fmt: skip
    parts = [heading]
    if rows:
        parts.append(table(("", "base", "head"), rows))
    delta = vs.census_delta
    if delta is not None and (delta.findings_appeared or delta.findings_gone):
        came = ", ".join(code(c) for c in delta.findings_appeared) or "none"
        went = ", ".join(code(c) for c in delta.findings_gone) or "none"
        parts.append(f"Census findings that appeared: {came}; went away: {went}.")
    return "\n\n".join(parts)


def _speed(s: Speedup | None) -> str:
    return f"{s.estimate:.2f}× ({s.ci_low:.2f}–{s.ci_high:.2f})" if s is not None else "—"


def _speed_rows(vs: VsBase, head_runs: Sequence[BenchRun]) -> list[tuple[str, str, str]]:
    rows = []
    for run in vs.runs:
        t = f"{run.intra_op_threads}t"
        if run.error:
            rows.append((f"side by side, {t}", "—", escape(f"failed: {run.error}")))
            continue
        rows.append((f"INT8 speedup over FP32, {t}", _speed(run.base_speedup), _speed(run.head_speedup)))
        if run.int8_latency_ratio is not None:
            r = run.int8_latency_ratio
            shown = f"**{r.estimate:.3f}×** ({r.ci_low:.3f}–{r.ci_high:.3f})"
            rows.append((f"INT8 time, head / base, {t}", "1×", shown))
    if not vs.runs:  # not measured side by side: the head's own figures only
        rows.extend(
            (f"INT8 speedup over FP32, {run.intra_op_threads}t", "not measured", _speed(run.speedup))
            for run in head_runs
        )
    return rows


def _census_rows(before: CensusSide, after: CensusSide) -> list[tuple[str, str, str]]:
    def share(side: CensusSide) -> str:
        return f"{side.mac_share_quantized:.0%}" if side.mac_share_quantized is not None else "unknown"

    def qdq(side: CensusSide) -> str:
        if side.quantize_linear_after_optimization is None or side.dequantize_linear_after_optimization is None:
            return "—"
        return f"{side.quantize_linear_after_optimization} / {side.dequantize_linear_after_optimization}"

    def fed(side: CensusSide) -> str:
        return str(side.float_compute_fed_by_dq) if side.float_compute_fed_by_dq is not None else "—"

    return [
        ("format", escape(before.format), escape(after.format)),
        ("compute ops quantized", f"{before.compute_ops_quantized} of {before.compute_ops_total}",
         f"{after.compute_ops_quantized} of {after.compute_ops_total}"),
        ("MACs in integer", share(before), share(after)),
        ("Q / DQ left after optimization", qdq(before), qdq(after)),
        ("float compute fed by DQ", fed(before), fed(after)),
        ("size", f"{before.size_bytes / 1e6:.2f} MB", f"{after.size_bytes / 1e6:.2f} MB"),
    ]  # fmt: skip


def _fidelity(side: FidelitySide) -> str:
    cosine = f"{side.worst_cosine:.4f}" if side.worst_cosine is not None else "—"
    snr = f"{side.worst_snr_db:.1f} dB" if side.worst_snr_db is not None else "—"
    return f"{cosine}, {snr} {'✔' if side.passed else '✘'}"
