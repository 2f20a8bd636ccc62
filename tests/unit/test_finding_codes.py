"""One registry of finding codes: every finding the code can make is registered, with its default severity."""

from __future__ import annotations

import ast

from support.paths import REPO

from int8gate.findings import CODES, Severity


def _literal_findings() -> list[tuple[str, str, str | None]]:
    """(file, code, severity name or None) for every ``Finding("code", Severity.X, ...)`` in the package."""
    found = []
    for path in sorted((REPO / "int8gate").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Finding"):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            severity = node.args[1] if len(node.args) > 1 else None
            name = severity.attr if isinstance(severity, ast.Attribute) else None
            found.append((path.name, str(node.args[0].value), name))
    return found


def test_every_code_the_package_emits_is_registered_with_its_default_severity() -> None:
    emitted = _literal_findings()
    assert len(emitted) > 30  # the scan sees the findings
    for file, code, severity in emitted:
        assert code in CODES, f"{file}: finding code {code!r} is not in findings.CODES"
        if severity is not None and code != "weight-only-4bit":  # fail alone, info beside INT8 compute
            assert CODES[code].severity is Severity[severity], f"{file}: {code} is {severity}"


def test_every_registered_code_is_emitted_somewhere() -> None:
    emitted = {code for _, code, _ in _literal_findings()}
    dynamic = {f"expected-range-{where}" for where in ("above", "inside", "below")}  # f"expected-range-{pos}"
    assert set(CODES) - emitted - dynamic == set()
