"""Where the tests' data lives: the repository, the golden files, the runner fixtures, GitHub's REST contract."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
GOLDEN = TESTS / "golden"
DEMO = REPO / "int8gate" / "demo"
"""The bundled example `int8gate demo` runs (package data): its policy and models."""
RUNNER_FIXTURES = TESTS / "fixtures" / "runner"
GITHUB_CONTRACT = TESTS / "fixtures" / "github"
"""GitHub's REST contract subset, real event payloads and error bodies, vendored with their sources (SOURCES.md)."""
