"""Fixtures shared by every tier: the test model zoo (built once per session) and the GitHub stand-in.

Tiers: ``unit/`` is pure (no ONNX Runtime session; ``python -m pytest tests/unit`` runs it alone in
seconds), ``integration/`` runs real ONNX Runtime and child processes, ``container/`` builds and runs
the Action's image. Helpers live in ``support/`` (importable as ``support``: pyproject's pytest
``pythonpath``); no test module imports another.
"""

from __future__ import annotations

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before anything imports onnxruntime: no telemetry from the suite

from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import pytest
from support.container import Image, action_image
from support.ghstandin import StandIn, running_standin
from support.paths import TESTS

if TYPE_CHECKING:
    from examples.modelzoo import Zoo

UNIT = TESTS / "unit"


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """All zoo models under one session temp folder; each quantized model has been loaded and run once."""
    from examples.modelzoo import build_zoo  # ONNX Runtime's quantizer: only the tests that use the zoo load it

    return build_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    """The Action's image built from this checkout once per session (``INT8GATE_TEST_IMAGE``: test that one)."""
    yield from action_image(tmp_path_factory.mktemp("image"))


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A running GitHub stand-in on loopback; the test fails if any request or answer broke the contract."""
    yield from running_standin()


@pytest.fixture(autouse=True)
def _unit_tier_is_pure(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test under tests/unit that creates an ONNX Runtime session fails: that belongs in integration/."""
    if UNIT not in request.node.path.parents:
        return
    import onnxruntime  # only the unit tier needs the guard

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("a unit test created an ONNX Runtime session: move it to tests/integration")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
