"""Policy text → ``Policy``: safe YAML, the published JSON Schema, and errors that say file:line: key.

Pure: the caller reads the file and passes its text; checking that the named files exist and stay
inside the workspace is ``workspace.check_policy_paths``'s job.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import jsonschema

from int8gate.errors import PolicyError
from int8gate.policy.spec import (
    AUTO,
    BenchmarkSettings,
    BenchmarkWhen,
    CommentMode,
    FidelityRequirement,
    FindingRules,
    InputSpec,
    Limits,
    ModelPair,
    OptLevel,
    Policy,
    QuantizedRequirement,
    ReportSettings,
    Requirements,
    VsBaseRequirement,
)
from int8gate.policy.yamlmap import LoadedYaml, join_path, load_yaml


@cache
def policy_schema() -> dict[str, Any]:
    """The published JSON Schema of policy version 1 (shipped inside the package)."""
    text = resources.files("int8gate.policy").joinpath("policy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def parse_policy(text: str, filename: str) -> Policy:
    """Validate ``text`` against the schema and build the ``Policy``; raise ``PolicyError`` otherwise."""
    loaded = load_yaml(text, filename)
    if loaded.data is None:
        raise PolicyError(filename, 1, "", "the policy is empty; it needs at least a `models:` list")
    if not isinstance(loaded.data, dict):
        raise PolicyError(filename, 1, "", "the policy must be a mapping of keys (models, require, ...)")
    _validate(loaded, filename)
    data: dict[str, Any] = loaded.data
    require = _requirements(data.get("require", {}), Requirements())
    models = tuple(_model_pair(index, raw, loaded, require) for index, raw in enumerate(data["models"]))
    _check_unique_names(models, filename)
    return Policy(
        models=models,
        require=require,
        benchmark=_benchmark(data.get("benchmark", {})),
        report=_report(data.get("report", {})),
        limits=_limits(data.get("limits", {})),
        version=int(data.get("version", 1)),
        source=filename,
        lines=tuple(sorted(loaded.lines.items())),
    )


def _is_integer(checker: Any, instance: Any) -> bool:
    """An integer is an ``int`` (JSON Schema would also take ``1.0``, which then breaks a shape)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker: Any, instance: Any) -> bool:
    """A number is finite (JSON Schema would take NaN and infinities, which no setting means)."""
    return isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}
    ),
)


def _validate(loaded: LoadedYaml, filename: str) -> None:
    validator = _Validator(policy_schema())
    errors = list(validator.iter_errors(loaded.data))
    if not errors:
        return
    located = [_locate(error, loaded) for error in errors]
    line, key, problem = min(located, key=lambda item: (item[0] or 0, item[1]))
    raise PolicyError(filename, line, key, problem)


def _path_text(parts: Iterable[Any]) -> str:
    path = ""
    for part in parts:
        path = join_path(path, part)
    return path


def _locate(error: jsonschema.ValidationError, loaded: LoadedYaml) -> tuple[int | None, str, str]:
    """Turn one schema error into (line, dotted key, plain problem)."""
    if error.context:  # oneOf/anyOf: explain with the branch that got furthest
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and best.validator not in {"type", "const"}:
            error = best
    path = _path_text(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        if allowed and unknown:
            key = join_path(path, unknown[0])
            return loaded.line_of(key), key, _unknown_key_problem(unknown[0], allowed)
    return loaded.line_of(path), path or "(top level)", _problem(error)


def _unknown_key_problem(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean `{close[0]}`?" if close else f"; allowed keys: {', '.join(sorted(allowed))}"
    return f"unknown key{hint}"


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(branch: Mapping[str, Any]) -> str:
    """A schema branch in words: ``{"type": "integer", "minimum": 1}`` → ``an integer >= 1``."""
    if "const" in branch:
        return _show(branch["const"])
    kind = branch.get("type", "value")
    text = {"integer": "an integer", "number": "a number", "string": "text"}.get(str(kind), f"a {kind}")
    if "minimum" in branch:
        text += f" >= {branch['minimum']}"
    if "exclusiveMinimum" in branch:
        text += f" > {branch['exclusiveMinimum']}"
    if "maximum" in branch:
        text += f" <= {branch['maximum']}"
    return text


def _problem(error: jsonschema.ValidationError) -> str:
    kind, value = error.validator, error.instance
    message = str(error.message)
    if kind == "required":
        missing = [name for name in error.validator_value if name not in value]
        return f"missing required key `{missing[0]}`" if missing else message
    if kind == "type":
        wanted = error.validator_value
        wanted_text = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
        return f"expected {wanted_text}, got {_show(value)}"
    if kind == "enum" and error.validator_value == policy_schema()["$defs"]["findingCode"]["enum"]:
        close = difflib.get_close_matches(str(value), [str(v) for v in error.validator_value], n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"unknown finding code {_show(value)}{hint} (`int8gate schema` lists them)"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}; got {_show(value)}"
    if kind in {"oneOf", "anyOf"}:
        options = " or ".join(_describe(branch) for branch in error.validator_value)
        return f"expected {options}, got {_show(value)}"
    if kind == "const":
        return f"must be {_show(error.validator_value)}; got {_show(value)}"
    if kind == "pattern" and error.validator_value.endswith("onnx$"):
        return f"expected a path to an .onnx file, got {_show(value)}"
    if kind == "pattern" and "npz" in error.validator_value:
        return f"expected a path to an .npy or .npz file, got {_show(value)}"
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "greater than",
            "exclusiveMaximum": "less than",
        }
        return f"must be {words[kind]} {error.validator_value}; got {_show(value)}"
    if kind == "minItems":
        return "must not be empty" if error.validator_value == 1 else message
    return message


def _model_pair(index: int, raw: Mapping[str, Any], loaded: LoadedYaml, base: Requirements) -> ModelPair:
    path = join_path("models", index)
    inputs = tuple(
        InputSpec(
            name=name,
            shape=tuple(spec["shape"]) if "shape" in spec else None,
            dtype=spec.get("dtype"),
        )
        for name, spec in raw.get("inputs", {}).items()
    )
    name = raw.get("name") or PurePosixPath(raw["int8"]).stem
    require = _requirements(raw["require"], base) if "require" in raw else None
    return ModelPair(
        name=name,
        fp32=raw["fp32"],
        int8=raw["int8"],
        inputs=inputs,
        samples=raw.get("samples"),
        require=require,
        line=loaded.line_of(path),
    )


def _check_unique_names(models: tuple[ModelPair, ...], filename: str) -> None:
    seen: dict[str, int] = {}
    for index, pair in enumerate(models):
        if pair.name in seen:
            raise PolicyError(
                filename,
                pair.line,
                f"models[{index}].name",
                f"name {pair.name!r} is already used by models[{seen[pair.name]}]; names must be unique",
            )
        seen[pair.name] = index


def _requirements(raw: Mapping[str, Any], defaults: Requirements) -> Requirements:
    """Build requirements; a model-level block overrides the policy-wide ones key by key."""
    quantized = raw.get("quantized", {})
    fidelity = raw.get("fidelity", {})
    findings = raw.get("findings", {})
    vs_base = raw.get("vs_base", {})
    dq, df, dr = defaults.quantized, defaults.fidelity, defaults.findings
    return Requirements(
        min_speedup=raw.get("speedup", defaults.min_speedup),
        quantized=QuantizedRequirement(
            min_mac_share=float(quantized.get("min_mac_share", dq.min_mac_share)),
            min_count_share=float(quantized.get("min_count_share", dq.min_count_share)),
            formats=tuple(quantized.get("formats", dq.formats)),
        ),
        fidelity=FidelityRequirement(
            min_cosine=fidelity.get("min_cosine", df.min_cosine),
            max_abs_error=fidelity.get("max_abs_error", df.max_abs_error),
            min_snr_db=fidelity.get("min_snr_db", df.min_snr_db),
            min_top1_agreement=fidelity.get("min_top1_agreement", df.min_top1_agreement),
            max_range_error=fidelity.get("max_range_error", df.max_range_error),
        ),
        findings=FindingRules(
            fail=tuple(findings.get("fail", dr.fail)),
            warn=tuple(findings.get("warn", dr.warn)),
            ignore=tuple(findings.get("ignore", dr.ignore)),
        ),
        vs_base=VsBaseRequirement(max_slowdown=vs_base.get("max_slowdown", defaults.vs_base.max_slowdown)),
    )


def _benchmark(raw: Mapping[str, Any]) -> BenchmarkSettings:
    d = BenchmarkSettings()
    threads = tuple(AUTO if item == AUTO else int(item) for item in raw.get("threads", d.threads))
    return BenchmarkSettings(
        threads=tuple(dict.fromkeys(threads)),  # a repeated setting is measured once
        warmup_runs=int(raw.get("warmup_runs", d.warmup_runs)),
        budget_seconds=float(raw.get("budget_seconds", d.budget_seconds)),
        target_halfwidth=float(raw.get("target_halfwidth", d.target_halfwidth)),
        sessions=int(raw.get("sessions", d.sessions)),
        optimization_level=OptLevel(raw.get("optimization_level", d.optimization_level.value)),
        timeout_seconds=float(raw.get("timeout_seconds", d.timeout_seconds)),
        confirm=bool(raw.get("confirm", d.confirm)),
        fidelity_samples=int(raw.get("fidelity_samples", d.fidelity_samples)),
        seed=int(raw.get("seed", d.seed)),
        when=BenchmarkWhen(raw.get("when", d.when.value)),
    )


def _limits(raw: Mapping[str, Any]) -> Limits:
    d = Limits()
    run_seconds = raw.get("max_run_seconds", d.max_run_seconds)
    return Limits(
        max_model_mb=float(raw.get("max_model_mb", d.max_model_mb)),
        max_rows=int(raw.get("max_rows", d.max_rows)),
        max_run_seconds=None if run_seconds is None else float(run_seconds),
    )


def _report(raw: Mapping[str, Any]) -> ReportSettings:
    d = ReportSettings()
    return ReportSettings(
        title=str(raw.get("title", d.title)),
        comment=CommentMode(raw.get("comment", d.comment.value)),
        details=bool(raw.get("details", d.details)),
        chart=bool(raw.get("chart", d.chart)),
        profile=bool(raw.get("profile", d.profile)),
    )
