"""Plain-text facts that both renderers show: the runner line's parts and the measured inputs.

Neutral text (no Markdown, no terminal styling): ``markdown`` escapes it, ``terminal`` prints it.
"""

from __future__ import annotations

import re

from int8gate.machine.facts import Arch, RunnerProfile
from int8gate.measure.fidelity import FidelityResult, OutputFidelity, OutputKind
from int8gate.model.inspection import ModelInspection
from int8gate.report.data import BenchmarkSection

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Repository text safe to print on a terminal: control characters (escape sequences, newlines,
    bidirectional overrides) shown as ``?``, so a model name cannot move the cursor or recolour a log."""
    return _CONTROL.sub("?", str(text))


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


def census_text(q: ModelInspection) -> str:
    """``Census: format qdq; MACs known for 51 of 51 compute ops (shapes from …)``, plain text."""
    ops = q.compute_ops
    known = ops.total - ops.macs_unknown
    share = f", {q.mac_share_quantized:.0%} of them in integer" if q.mac_share_quantized is not None else ""
    why = f"; unknown: {q.macs_unknown_reason}" if q.macs_unknown_reason else ""
    return (f"Census: format {q.format.value}; {ops.quantized} of {ops.total} compute ops quantized; MACs known for "
            f"{known} of {ops.total}{share} (shapes from {q.shapes_from}){why}.")


def inputs_text(bench: BenchmarkSection) -> str:
    """``input 1x3x224x224 float32 (policy), ...``: each measured input and where its shape came from."""
    return ", ".join(f"{i.name} {'x'.join(map(str, i.shape))} {i.dtype} ({i.source})" for i in bench.inputs)


def output_short(out: OutputFidelity) -> str:
    """One output's agreement in a few characters, by the metric its kind is judged by."""
    if out.problem is not None:
        return "not comparable"
    if out.kind == OutputKind.CLASS_SCORES.value and out.top1_agreement is not None:
        return f"top-1 {out.top1_agreement:.0%}"
    if out.kind == OutputKind.PROBABILITIES.value and out.range_error is not None:
        return f"err {out.range_error:.1%} of range"
    if out.kind == OutputKind.INTEGERS.value and out.exact_agreement is not None:
        return f"exact {out.exact_agreement:.0%}"
    if out.kind == OutputKind.STATE.value:
        return f"state cos {out.cosine:.4f}"
    return f"cos {out.cosine:.4f}"


def fidelity_short(f: FidelityResult, *, ok: str, failed: str, sep: str = ", ", why: bool = True) -> str:
    """``ok, top-1 100%``; ``ok, not graded (random inputs)``: the verdict word, then what it rests on
    (``why=False`` leaves out why drift was not graded, for a narrow column)."""
    word = ok if f.passed else failed
    if f.error or not f.outputs:
        return word
    if not f.graded:
        return f"{word}{sep}not graded" + (" (random inputs)" if why else "")
    return word + sep + ", ".join(dict.fromkeys(output_short(o) for o in f.outputs))
