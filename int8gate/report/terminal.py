"""Plain text for a terminal (``int8gate env``, ``inspect``, ``bench``): the same facts as the comment.

No Markdown here; ``markdown`` renders what GitHub shows, and the facts both show come from ``facts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from int8gate.judge.verdict import Verdict
from int8gate.machine.facts import RunnerProfile
from int8gate.measure.benchrun import completed
from int8gate.report.data import BenchmarkSection
from int8gate.report.facts import inputs_text, runner_facts

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
        f"  compute ops: {q.compute_ops.quantized} of {q.compute_ops.total} quantized; MACs in integer: {share}",
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
    return "\n".join(lines)


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
            lines.append(f"{run.intra_op_threads} thread(s): failed: {run.error}")
            continue
        s = done.speedup
        lines.append(
            f"{run.intra_op_threads} thread(s): FP32 {done.fp32.median_ms:.3f} ms, INT8 {done.int8.median_ms:.3f} ms "
            f"(medians); speedup {s.estimate:.3f}x, 95% CI {s.ci_low:.3f}-{s.ci_high:.3f} "
            f"[{done.call.value}; {run.sessions} sessions, {run.rounds} rounds, stopped by {done.stopped_by.value}]"
        )
    if bench.defaulted_dims:
        lines.append("defaulted dims: " + ", ".join(f"{d.input}[{d.axis}]={d.value}" for d in bench.defaulted_dims))
    if bench.inputs:
        lines.append("inputs: " + inputs_text(bench))
    if fidelity is not None:
        worst = min((o.cosine for o in fidelity.outputs), default=float("nan"))
        lines.append(f"fidelity: {'ok' if fidelity.passed else 'FAILED'}; worst cosine {worst:.5f}"
                     + (f"; {fidelity.error}" if fidelity.error else ""))
    if verdict is not None:
        lines.append(f"verdict: {verdict[0].value}")
        lines.extend(f"  - {reason}" for reason in verdict[1])
    return "\n".join(lines)
