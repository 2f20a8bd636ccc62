"""The one shape every diagnosis takes: a coded finding with a severity, evidence and a fix.

Census pitfalls, measurement-quality checks and the explanation engine all produce ``Finding``s;
the verdict decides which of them fail the gate (the policy may raise or lower a code's severity),
and the Markdown renderer is the only place that turns them into text for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    """How much a finding matters; ``FAIL`` findings fail the model unless the policy lowers them."""

    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One diagnosis. ``code`` is stable (policies and scripts refer to it); the rest is for people.

    message: one plain sentence saying what is wrong or notable.
    fix: one sentence saying what to do about it ("" when nothing needs doing).
    evidence: the figures behind it, short ("12 of 53 Conv fed by DequantizeLinear").
    """

    code: str
    severity: Severity
    message: str
    fix: str = ""
    evidence: str = ""


def with_severity(finding: Finding, severity: Severity) -> Finding:
    """Return the finding with its severity replaced (policy overrides)."""
    return Finding(finding.code, severity, finding.message, finding.fix, finding.evidence)


def percent(value: float | None, unknown: str = "unknown") -> str:
    """A share as a whole percentage for a finding's text (``0.8`` → ``80%``), ``unknown`` when not known."""
    return unknown if value is None else f"{value:.0%}"
