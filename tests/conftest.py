"""Owns the session-scoped `zoo` fixture: every test model, built once per session by ONNX Runtime's quantizer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# examples/ is not an installed package; put the repository root on the path so tests can import the zoo builder.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from examples.modelzoo import Zoo, build_zoo  # noqa: E402  (needs the path entry above)


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """All zoo models under one session temp folder; each quantized model has been loaded and run once."""
    return build_zoo(tmp_path_factory.mktemp("zoo"))
