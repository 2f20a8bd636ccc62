"""Finding codes: one registry in code (``int8gate.findings.CODES``), the policy schema's enum generated from it,
and a typo in a policy is an error with "did you mean". Regenerate the schema with ``UPDATE_GOLDEN=1``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.golden import UPDATE

from int8gate.errors import PolicyError
from int8gate.findings import CODES, Finding, Severity
from int8gate.policy.load import parse_policy

SCHEMA = Path(__file__).resolve().parents[2] / "int8gate" / "policy" / "policy.schema.json"
POLICY = "models:\n  - {fp32: a.onnx, int8: b.onnx}\nrequire:\n  findings:\n    ignore: [%s]\n"


def finding_code_schema() -> dict[str, object]:
    return {
        "description": "A finding code (int8gate.findings.CODES); int8gate's reports show each finding's code.",
        "type": "string",
        "enum": sorted(CODES),
    }


def test_the_schema_enum_is_the_registry() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    wanted = finding_code_schema()
    if UPDATE:
        schema["$defs"]["findingCode"] = wanted
        findings = schema["$defs"]["requirements"]["properties"]["findings"]["properties"]
        for key in ("fail", "warn", "ignore"):
            findings[key]["items"] = {"$ref": "#/$defs/findingCode"}
        SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert schema["$defs"].get("findingCode") == wanted, (
        "policy.schema.json's findingCode differs from int8gate.findings.CODES: regenerate with "
        "UPDATE_GOLDEN=1 python -m pytest tests/unit/test_codes.py and review the diff"
    )
    findings = schema["$defs"]["requirements"]["properties"]["findings"]["properties"]
    assert all(findings[key]["items"] == {"$ref": "#/$defs/findingCode"} for key in ("fail", "warn", "ignore"))


def test_a_typo_in_a_policy_is_an_error_with_did_you_mean() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(POLICY % "not-preprocesed", ".int8gate.yml")
    assert str(caught.value) == (
        ".int8gate.yml:5: require.findings.ignore[0]: unknown finding code 'not-preprocesed'; "
        "did you mean `not-preprocessed`? (`int8gate schema` lists them)"
    )


def test_every_registered_code_is_accepted() -> None:
    policy = parse_policy(POLICY % ", ".join(CODES), ".int8gate.yml")
    assert policy.require.findings.ignore == tuple(CODES)


def test_a_finding_cannot_carry_an_unregistered_code() -> None:
    with pytest.raises(ValueError, match="not registered"):
        Finding("made-up", Severity.WARN, "x")
