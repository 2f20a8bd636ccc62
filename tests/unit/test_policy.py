"""Policy loading: defaults, overrides, and one file:line: key error line for each kind of bad policy."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest

from int8gate.errors import PolicyError
from int8gate.policy.load import parse_policy, policy_schema
from int8gate.policy.spec import AUTO, BenchmarkWhen, OptLevel, Policy

TWO_LINES = "models:\n  - {fp32: m/a.onnx, int8: m/a_int8.onnx}\n"


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, ".int8gate.yml")
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code == 2
    return message


def test_two_line_policy_gets_every_default() -> None:
    policy = parse_policy(TWO_LINES, ".int8gate.yml")
    assert [pair.name for pair in policy.models] == ["a_int8"]
    assert policy.require.min_speedup == AUTO
    assert policy.benchmark.threads == (1, AUTO)
    assert policy.benchmark.optimization_level is OptLevel.ALL
    assert policy.line_of("models[0].int8") == 2


def test_full_policy_round_trips_every_section() -> None:
    text = """\
version: 1
models:
  - name: resnet
    fp32: m/r.onnx
    int8: m/r_int8.onnx
    inputs:
      input: {shape: [1, 3, 224, 224], dtype: float32}
    samples: data/r.npz
    require:
      speedup: 1.5
require:
  speedup: 1.1
  quantized: {min_mac_share: 0.9, formats: [qdq]}
  fidelity: {min_cosine: 0.98, min_top1_agreement: 0.9}
  findings: {fail: [qdq-unfused], ignore: [not-preprocessed]}
benchmark:
  threads: [1, 2, auto, 2]
  budget_seconds: 30
  optimization_level: extended
report:
  comment: on-failure
"""
    policy = parse_policy(text, "p.yml")
    pair = policy.models[0]
    assert pair.inputs[0].shape == (1, 3, 224, 224)
    assert pair.samples == "data/r.npz"
    assert policy.require.min_speedup == 1.1
    model_req = policy.requirements_for(pair)
    assert model_req.min_speedup == 1.5
    # a model-level block inherits what it does not override from the policy-wide block
    assert model_req.quantized.min_mac_share == 0.9
    assert model_req.findings.fail == ("qdq-unfused",)
    assert policy.benchmark.threads == (1, 2, AUTO)
    assert policy.benchmark.optimization_level is OptLevel.EXTENDED
    assert policy.report.comment.value == "on-failure"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [\n", ".int8gate.yml:2: invalid YAML"),
        ("", ".int8gate.yml:1: the policy is empty"),
        (TWO_LINES + "benchmark:\n  thrads: [1]\n", ".int8gate.yml:4: benchmark.thrads: unknown key; did you mean `threads`?"),
        (TWO_LINES + "reprot: {}\n", ".int8gate.yml:3: reprot: unknown key; did you mean `report`?"),
        ("models:\n  - fp32: a.onnx\n    int8: 3\n", ".int8gate.yml:3: models[0].int8: expected string, got 3"),
        ("models:\n  - fp32: a.onnx\n", ".int8gate.yml:2: models[0]: missing required key `int8`"),
        (TWO_LINES + "require:\n  speedup: fast\n", ".int8gate.yml:4: require.speedup: expected a number > 0"),
        (TWO_LINES + "benchmark:\n  threads: [0]\n", ".int8gate.yml:4: benchmark.threads[0]: expected an integer >= 1"),
        (TWO_LINES + "benchmark:\n  optimization_level: max\n", ".int8gate.yml:4: benchmark.optimization_level: must be one of"),
        ("models:\n  - {fp32: a.txt, int8: b.onnx}\n", ".int8gate.yml:2: models[0].fp32: expected a path to an .onnx file"),
        ("models: []\n", ".int8gate.yml:1: models: must not be empty"),
        ("models:\n  - {fp32: a.onnx, int8: b.onnx}\n  - {fp32: c.onnx, int8: b.onnx}\n", ".int8gate.yml:3: models[1].name: name 'b' is already used"),
        ("models: 1\nmodels: 2\n", ".int8gate.yml:2: models: duplicate key"),
        ("- a\n", ".int8gate.yml:1: the policy must be a mapping"),
        ("models: !!python/object:os.system {}\n", ".int8gate.yml:1: models: invalid value"),
    ],
)
def test_bad_policy_gives_one_line_naming_file_line_and_key(text: str, expected: str) -> None:
    assert error_of(text).startswith(expected)


def test_earliest_error_by_line_is_reported() -> None:
    text = "report:\n  colour: red\nmodels:\n  - {fp32: a.onnx}\n"
    assert error_of(text).startswith(".int8gate.yml:2: report.colour: unknown key")


def test_published_schema_is_valid_and_describes_every_top_level_key() -> None:
    schema = policy_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    # every section of the Policy dataclass is published, and nothing else
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(Policy)} - {"source", "lines"}
    assert json.loads(json.dumps(schema)) == schema


def test_limits_on_rows_and_the_run_deadline() -> None:
    default = parse_policy(TWO_LINES, ".int8gate.yml").limits
    assert (default.max_rows, default.max_run_seconds) == (64, None)
    limits = parse_policy(TWO_LINES + "limits:\n  max_rows: 3\n  max_run_seconds: 90\n", "p.yml").limits
    assert (limits.max_rows, limits.max_run_seconds) == (3, 90.0)
    assert error_of(TWO_LINES + "limits:\n  max_rows: 0\n").startswith(".int8gate.yml:4: limits.max_rows: must be at least 1")
    assert error_of(TWO_LINES + "limits:\n  max_run_seconds: 0\n").startswith(
        ".int8gate.yml:4: limits.max_run_seconds: must be greater than 0"
    )


M = "models:\n  - fp32: m/a.onnx\n    int8: m/b.onnx\n"
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (M + "? !!python/name:os.system\n: 1\n", ".int8gate.yml:4: invalid value: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'"),
        (M + "benchmark:\n  <<: 5\n", ".int8gate.yml:5: benchmark: invalid merge key `<<`: expected a mapping or list of mappings"),
        (M + "benchmark:\n  <<: [5]\n", ".int8gate.yml:5: benchmark: invalid merge key `<<`: expected a mapping for merging"),
        (M + "    name: 2024-01-01\n", '.int8gate.yml:4: models[0].name: 2024-01-01 is read as a date; quote it ("...") if you mean text'),
        (M + "benchmark:\n  threads: [2024-01-01]\n", ".int8gate.yml:5: benchmark.threads[0]: 2024-01-01 is read as a date"),
        (M + "    name: !!binary aGVsbG8=\n", ".int8gate.yml:4: models[0].name: binary data (!!binary) is not allowed"),
        (M + "    name: !!timestamp 'x'\n", ".int8gate.yml:4: models[0].name: invalid value 'x' for !!timestamp"),
        (M + "benchmark:\n  budget_seconds: !!float 'abc'\n", ".int8gate.yml:5: benchmark.budget_seconds: invalid value 'abc' for !!float"),
        (M + "benchmark:\n  seed: !!int 'abc'\n", ".int8gate.yml:5: benchmark.seed: invalid value 'abc' for !!int"),
        (M + "benchmark:\n  seed: 1" + "0" * 5000 + "\n", ".int8gate.yml:5: benchmark.seed: a number with 5,001 digits is too long"),
        ("models: " + "[" * 3000 + "]" * 3000 + "\n", ".int8gate.yml:1: nested more than 64 levels deep"),
        ("models: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", ".int8gate.yml:1: nested more than 64 levels deep"),
        (M + LAUGHS, ".int8gate.yml:9: more than 100,000 values once its aliases (*name) are expanded"),
        (M + '    name: "m\\ud800"\n', ".int8gate.yml:4: models[0].name: text holds a lone UTF-16 surrogate"),
        ('models:\n  - fp32: "m/a\\0.onnx"\n    int8: m/b.onnx\n', ".int8gate.yml:2: models[0].fp32: text holds a NUL character"),
        (M + "benchmark:\n  budget_seconds: .nan\n", ".int8gate.yml:5: benchmark.budget_seconds: must be a finite number, not nan"),
        (M + "benchmark:\n  timeout_seconds: .inf\n", ".int8gate.yml:5: benchmark.timeout_seconds: must be a finite number, not inf"),
        (M + "require:\n  fidelity:\n    min_snr_db: -.inf\n", ".int8gate.yml:6: require.fidelity.min_snr_db: must be a finite number, not -inf"),
        (M + "require:\n  fidelity:\n    min_snr_db: -3\n", ".int8gate.yml:6: require.fidelity.min_snr_db: must be at least 0; got -3"),
        (M + "benchmark:\n  budget_seconds: 1e9\n", ".int8gate.yml:5: benchmark.budget_seconds: must be at most 3600; got 1000000000.0"),
        (M + "    inputs:\n      x: {shape: [1.0, 64]}\n", ".int8gate.yml:5: models[0].inputs.x.shape[0]: expected integer, got 1.0"),
        (M + "benchmark:\n  seed: 99999999999\n", ".int8gate.yml:5: benchmark.seed: must be at most 4294967295"),
    ],
    ids=["key-tag", "merge-scalar", "merge-list", "date", "date-in-list", "binary", "bad-timestamp", "bad-float",
         "bad-int", "5000-digits", "deep-list", "deep-map", "alias-bomb", "surrogate", "nul", "nan", "inf", "-inf",
         "negative-snr", "1e9", "float-dim", "huge-seed"],
)
def test_hostile_yaml_is_one_clear_line_before_anything_is_built(text: str, expected: str) -> None:
    assert error_of(text).startswith(expected)


def test_yaml_1_2_numbers_and_anchors_within_bounds_are_fine() -> None:
    text = "models:\n  - &m {fp32: m/a.onnx, int8: m/b.onnx, require: &r {speedup: 1.1}}\n  - {<<: *m, name: other}\n"
    policy = parse_policy(text + "benchmark:\n  budget_seconds: 1e1\n", ".int8gate.yml")
    assert policy.benchmark.budget_seconds == 10.0
    assert [m.name for m in policy.models] == ["b", "other"] and policy.models[1].require is not None
def test_against_base_defaults_to_benchmarking_only_changes_and_judging_nothing() -> None:
    policy = parse_policy(TWO_LINES, ".int8gate.yml")
    assert policy.benchmark.when is BenchmarkWhen.CHANGED
    assert policy.require.vs_base.max_slowdown is None


def test_against_base_settings_are_read_per_policy_and_per_model() -> None:
    text = TWO_LINES + "benchmark: {when: always}\nrequire: {vs_base: {max_slowdown: 0.05}}\n"
    text = text.replace("int8: m/a_int8.onnx}", "int8: m/a_int8.onnx, require: {vs_base: {max_slowdown: 0.1}}}")
    policy = parse_policy(text, ".int8gate.yml")
    assert policy.benchmark.when is BenchmarkWhen.ALWAYS
    assert policy.require.vs_base.max_slowdown == 0.05
    assert policy.requirements_for(policy.models[0]).vs_base.max_slowdown == 0.1


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("benchmark: {when: sometimes}\n", ".int8gate.yml:3: benchmark.when: must be one of changed, always; got 'sometimes'"),
        ("require: {vs_base: {max_slowdown: -1}}\n", ".int8gate.yml:3: require.vs_base.max_slowdown: must be at least 0; got -1"),
        ("require: {vs_base: {max_slowdow: 1}}\n", ".int8gate.yml:3: require.vs_base.max_slowdow: unknown key; did you mean `max_slowdown`?"),
    ],
)  # fmt: skip
def test_against_base_settings_are_checked(tail: str, message: str) -> None:
    assert error_of(TWO_LINES + tail) == message
