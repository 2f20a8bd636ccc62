"""Where the time went: ONNX Runtime's per-node profile JSON grouped by op type, FP32 and INT8 side by side.

Pure: profile text in, frozen dataclasses out. ORT writes a JSON array of trace events; the ones
with ``cat == "Node"`` and a name ending in ``_kernel_time`` time one node's kernel, with the op
type in ``args.op_name``; ``cat == "Session"`` events named ``model_run`` count the runs. Times are
averaged per run so profiles with different run counts compare. The QDQ share is the INT8 time in
QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear; the fed-by-DQ share is the time in float
nodes whose inputs come from a DequantizeLinear (the caller names those nodes from the optimized graph).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
_KERNEL_SUFFIX = "_kernel_time"


class ProfileFormatError(ValueError):
    """The text is not an ONNX Runtime profile (not a JSON array of trace events)."""


@dataclass(frozen=True)
class NodeTime:
    """One node's kernel time per run, in milliseconds."""

    node: str
    op_type: str
    ms: float


@dataclass(frozen=True)
class OpProfile:
    """One model's profile: runs seen and every node's mean kernel time per run."""

    runs: int
    nodes: tuple[NodeTime, ...]

    @property
    def total_ms(self) -> float:
        """Kernel time per run summed over nodes (excludes framework overhead between kernels)."""
        return sum(n.ms for n in self.nodes)

    def by_op_type(self) -> dict[str, float]:
        """Per-run kernel milliseconds per op type."""
        out: dict[str, float] = {}
        for n in self.nodes:
            out[n.op_type] = out.get(n.op_type, 0.0) + n.ms
        return out


@dataclass(frozen=True)
class OpTypeRow:
    """One op type's time per run in each model and the difference (INT8 minus FP32)."""

    op_type: str
    fp32_ms: float
    int8_ms: float
    delta_ms: float


@dataclass(frozen=True)
class ProfileComparison:
    """FP32 vs INT8 per op type, largest INT8 time first, with the shares behind "Q/DQ overhead"."""

    rows: tuple[OpTypeRow, ...]
    fp32_total_ms: float
    int8_total_ms: float
    qdq_ms: float
    qdq_share: float
    fed_by_dq_ms: float
    fed_by_dq_share: float
    fed_by_dq_op_types: tuple[str, ...]
    threads: int = 1
    runs: int = 0


def _events(text: str) -> list[dict[str, object]]:
    try:
        events = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileFormatError(f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(events, list):
        raise ProfileFormatError("an ONNX Runtime profile is a JSON array of events")
    return [ev for ev in events if isinstance(ev, dict)]


def _num(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def parse_profile(text: str, *, skip_runs: int = 0) -> OpProfile:
    """Parse ORT profile JSON into per-node mean kernel times per run.

    ``skip_runs`` leaves out the first runs (warm-up): a node event belongs to the ``model_run``
    whose time window contains it.
    """
    events = _events(text)
    windows = sorted(
        (_num(ev.get("ts")), _num(ev.get("ts")) + _num(ev.get("dur")))
        for ev in events
        if ev.get("cat") == "Session" and ev.get("name") == "model_run"
    )
    kept = windows[skip_runs:]
    start = kept[0][0] if kept else float("inf")
    totals: dict[str, tuple[str, float]] = {}
    for ev in events:
        name = str(ev.get("name", ""))
        if ev.get("cat") != "Node" or not name.endswith(_KERNEL_SUFFIX):
            continue
        if windows and _num(ev.get("ts")) < start:
            continue
        args = ev.get("args")
        op = str(args.get("op_name", "?")) if isinstance(args, dict) else "?"
        node = name[: -len(_KERNEL_SUFFIX)]
        prev = totals.get(node, (op, 0.0))
        totals[node] = (op, prev[1] + _num(ev.get("dur")))
    per_run = max(len(kept), 1)
    nodes = tuple(NodeTime(node, op, us / 1000.0 / per_run) for node, (op, us) in totals.items())
    return OpProfile(len(kept), nodes)


def compare_profiles(
    fp32: OpProfile, int8: OpProfile, *, fed_by_dq: Iterable[str] = (), threads: int = 1
) -> ProfileComparison:
    """Side-by-side per-op-type times; ``fed_by_dq`` names the INT8 graph's float nodes fed by DQ;
    ``threads`` is the intra-op pool size the profiles ran with."""
    a, b = fp32.by_op_type(), int8.by_op_type()
    rows = sorted(
        (OpTypeRow(op, a.get(op, 0.0), b.get(op, 0.0), b.get(op, 0.0) - a.get(op, 0.0))
         for op in set(a) | set(b)),
        key=lambda r: (-r.int8_ms, -r.fp32_ms, r.op_type),
    )
    fed = set(fed_by_dq)
    int8_total = int8.total_ms
    qdq = sum(n.ms for n in int8.nodes if n.op_type in QDQ_OPS)
    fed_nodes = [n for n in int8.nodes if n.node in fed and n.op_type not in QDQ_OPS]
    fed_ms = sum(n.ms for n in fed_nodes)
    return ProfileComparison(
        rows=tuple(rows),
        fp32_total_ms=fp32.total_ms,
        int8_total_ms=int8_total,
        qdq_ms=qdq,
        qdq_share=qdq / int8_total if int8_total > 0 else 0.0,
        fed_by_dq_ms=fed_ms,
        fed_by_dq_share=fed_ms / int8_total if int8_total > 0 else 0.0,
        fed_by_dq_op_types=tuple(sorted({n.op_type for n in fed_nodes})),
        threads=threads,
        runs=min(fp32.runs, int8.runs),
    )
