"""``check --dry-run``: what a run would measure, as data (its JSON document) and as plain text.

A dry run reads the policy and every model and sample file it names, and plans each model's
inputs, exactly as ``check`` does before measuring; no model is run, so it is quick enough for a
pre-commit hook.
"""

from __future__ import annotations

from dataclasses import dataclass

from int8gate.inputs.resolved import ResolvedInput
from int8gate.model.values import AssumedDim
from int8gate.report.facts import printable


@dataclass(frozen=True)
class PlannedPair:
    """One model pair as the dry run found it: the files, and what each input would be fed."""

    name: str
    fp32: str
    int8: str
    samples: str | None
    inputs: tuple[ResolvedInput, ...]
    defaulted_dims: tuple[AssumedDim, ...]


@dataclass(frozen=True)
class DryRun:
    """The dry run's JSON document: the policy is valid, and this is what a run would measure."""

    policy: str
    valid: bool
    models: tuple[PlannedPair, ...]
    threads: tuple[int | str, ...]
    budget_seconds: float


def render_dry_run_text(dry: DryRun) -> str:
    """A few lines: the policy is valid, each pair and its inputs, what a run would measure."""
    pairs = "pair" if len(dry.models) == 1 else "pairs"
    threads = ", ".join(str(t) for t in dry.threads)
    lines = [f"{printable(dry.policy)}: valid; {len(dry.models)} model {pairs}, threads {threads}, "
             f"budget {dry.budget_seconds:g} s per row (nothing was measured)"]  # fmt: skip
    for pair in dry.models:
        fed = ", ".join(f"{printable(i.name)} {'x'.join(map(str, i.shape))} {i.dtype} ({i.source})"
                        for i in pair.inputs)  # fmt: skip
        lines.append(f"  {printable(pair.name)}: {printable(pair.int8)} vs {printable(pair.fp32)}; inputs {fed}")
        if pair.defaulted_dims:
            dims = ", ".join(f"{printable(d.input)}[{d.axis}]={d.value}" for d in pair.defaulted_dims)
            lines.append(f"    dynamic dims set by default: {dims} (fix them with `inputs:` in the policy)")
    return "\n".join(lines)
