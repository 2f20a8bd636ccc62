"""The fleet view: several runners' JSON reports (matrix legs) read back into one comparison, and its Markdown.

Pure: the caller loads each file's JSON and passes it with its name. Only the fields the comparison
needs are read, each checked, so a report from another tool or another schema version is refused
with a one-line error naming the file and the key instead of a ``KeyError`` later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from int8gate.errors import UsageError
from int8gate.judge.verdict import Verdict, overall
from int8gate.report.data import SCHEMA_VERSION
from int8gate.report.limits import FLEET_FOLDED, FLEET_TOO_LARGE
from int8gate.report.markdown import VERDICT_ICON, RenderOptions
from int8gate.report.syntax import code, escape, table

# The flags worth a column, in the order people read them (x86 first, then Arm).
FEATURES = (
    ("avx2", "AVX2"),
    ("avx512f", "AVX-512"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("amx_int8", "AMX"),
    ("asimddp", "dot-product"),
    ("i8mm", "i8mm"),
)


@dataclass(frozen=True)
class FleetSpeed:
    """One thread setting's speedup on one runner (``error`` set when the row failed)."""

    threads: int
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    error: str | None


@dataclass(frozen=True)
class FleetModel:
    """One model's outcome on one runner."""

    name: str
    verdict: Verdict
    format: str | None
    speeds: tuple[FleetSpeed, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FleetRunner:
    """One runner's report, reduced to what the comparison shows."""

    source: str
    brand: str
    arch: str
    cpu_class: str
    features: tuple[str, ...]
    effective_cpus: int
    logical_cpus: int
    onnxruntime: str
    verdict: Verdict
    models: tuple[FleetModel, ...]


@dataclass(frozen=True)
class Fleet:
    """Every runner, the union of model names in first-seen order, and the worst verdict."""

    runners: tuple[FleetRunner, ...]
    model_names: tuple[str, ...]
    verdict: Verdict


def _get(data: Any, key: str, kind: type | tuple[type, ...], source: str, where: str) -> Any:
    if not isinstance(data, Mapping) or key not in data:
        raise UsageError(f"{source}: not an int8gate report: missing {where}{key}")
    value = data[key]
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        raise UsageError(f"{source}: not an int8gate report: {where}{key} has the wrong type")
    return value


def _opt_float(data: Mapping[str, Any] | None, key: str) -> float | None:
    if not isinstance(data, Mapping):
        return None
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _verdict(text: Any, source: str, where: str) -> Verdict:
    try:
        return Verdict(text)
    except ValueError:
        raise UsageError(f"{source}: {where}verdict {text!r} is not pass, fail or inconclusive") from None


def parse_runner(data: Any, source: str) -> FleetRunner:
    """One report's JSON as a ``FleetRunner``; ``UsageError`` naming ``source`` if it is not one."""
    version = _get(data, "schema_version", int, source, "")
    if version != SCHEMA_VERSION:
        raise UsageError(
            f"{source}: report schema version {version} is not {SCHEMA_VERSION}; merge reports of one release"
        )
    runner = _get(data, "runner", Mapping, source, "")
    cpu = _get(runner, "cpu", Mapping, source, "runner.")
    cpus = _get(runner, "cpus", Mapping, source, "runner.")
    flags = _get(cpu, "flags", Mapping, source, "runner.cpu.")
    ort = _get(runner, "onnxruntime", Mapping, source, "runner.")
    models = []
    for index, model in enumerate(_get(data, "models", list, source, "")):
        where = f"models[{index}]."
        bench = model.get("benchmark") if isinstance(model, Mapping) else None
        runs = bench.get("runs", []) if isinstance(bench, Mapping) else []
        quant = model.get("quantization") if isinstance(model, Mapping) else None
        models.append(
            FleetModel(
                name=_get(model, "name", str, source, where),
                verdict=_verdict(_get(model, "verdict", str, source, where), source, where),
                format=quant.get("format") if isinstance(quant, Mapping) else None,
                speeds=tuple(_speed(run, source, f"{where}benchmark.runs[{i}].") for i, run in enumerate(runs)),
                reasons=tuple(str(r) for r in model.get("reasons", []) if isinstance(r, str)),
            )
        )
    return FleetRunner(
        source=source,
        brand=_get(cpu, "brand", str, source, "runner.cpu."),
        arch=_get(cpu, "arch", str, source, "runner.cpu."),
        cpu_class=_get(cpu, "class", str, source, "runner.cpu."),
        features=tuple(label for key, label in FEATURES if flags.get(key) is True),
        effective_cpus=_get(cpus, "effective", int, source, "runner.cpus."),
        logical_cpus=_get(cpus, "logical", int, source, "runner.cpus."),
        onnxruntime=_get(ort, "version", str, source, "runner.onnxruntime."),
        verdict=_verdict(_get(data, "verdict", str, source, ""), source, ""),
        models=tuple(models),
    )


def _speed(run: Any, source: str, where: str) -> FleetSpeed:
    speedup = run.get("speedup") if isinstance(run, Mapping) else None
    error = run.get("error") if isinstance(run, Mapping) else None
    return FleetSpeed(
        threads=_get(run, "intra_op_threads", int, source, where),
        estimate=_opt_float(speedup, "estimate"),
        ci_low=_opt_float(speedup, "ci_low"),
        ci_high=_opt_float(speedup, "ci_high"),
        error=str(error) if error else None,
    )


def merge(runners: Sequence[FleetRunner]) -> Fleet:
    """One comparison; the overall verdict is the worst of the runners'."""
    if not runners:
        raise UsageError("merge: give at least one report")
    names: dict[str, None] = {}
    for runner in runners:
        for model in runner.models:
            names.setdefault(model.name, None)
    return Fleet(tuple(runners), tuple(names), overall(r.verdict for r in runners))


def render_fleet(fleet: Fleet, options: RenderOptions) -> str:
    """One comparison of several runners: a row per runner, a column per model."""
    parts = [options.marker] if options.marker else []
    parts.append(
        f"## {VERDICT_ICON[fleet.verdict]} int8gate: {fleet.verdict.value} across {len(fleet.runners)} "
        f"runner{'s' if len(fleet.runners) != 1 else ''}"
    )
    header = ("runner", "class", "INT8 features", "CPUs", *(escape(name) for name in fleet.model_names))
    rows = []
    for runner in fleet.runners:
        by_name = {model.name: model for model in runner.models}
        cells = [_fleet_cell(by_name.get(name)) for name in fleet.model_names]
        rows.append(
            (
                f"{VERDICT_ICON[runner.verdict]} {escape(runner.brand)} ({escape(runner.arch)})",
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
    for candidate in ([*parts, why, footer], [*parts, FLEET_FOLDED], [*parts[:-1], FLEET_TOO_LARGE]):
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
    return f"{VERDICT_ICON[model.verdict]} " + ("<br>".join(speeds) or model.verdict.value)
