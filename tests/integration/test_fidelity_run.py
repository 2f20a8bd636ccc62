"""Output agreement end to end: a broken INT8 model caught, sample data fed to both models, a model that cannot run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.bench import check_fidelity


def test_broken_scale_is_caught_and_correct_qdq_passes(zoo: Any) -> None:
    settings = BenchmarkSettings(fidelity_samples=4, timeout_seconds=60)
    good = check_fidelity(zoo.conv_fp32, zoo.conv_qdq, requirement=FidelityRequirement(), settings=settings)
    assert good.passed, good.findings
    assert good.outputs and all(o.cosine >= 0.99 for o in good.outputs)
    broken = check_fidelity(zoo.conv_fp32, zoo.conv_broken_scale, requirement=FidelityRequirement(), settings=settings)
    assert not broken.passed
    assert {f.code for f in broken.findings} & {"fidelity-cosine", "fidelity-not-finite"}


def test_sample_data_feeds_both_models(zoo: Any, tmp_path: Path) -> None:
    samples = tmp_path / "samples.npz"
    batch = np.random.default_rng(1).standard_normal((3, *zoo.conv_input.shape)).astype(np.float32)
    arrays: dict[str, Any] = {zoo.conv_input.name: batch}
    np.savez(samples, allow_pickle=False, **arrays)
    result = check_fidelity(
        zoo.conv_fp32,
        zoo.conv_qdq,
        samples=samples,
        requirement=FidelityRequirement(),
        settings=BenchmarkSettings(fidelity_samples=8, timeout_seconds=60),
    )
    assert result.passed and result.source == "samples" and result.samples == 3


def test_a_model_that_cannot_run_fails_fidelity_with_its_cause(zoo: Any) -> None:
    result = check_fidelity(
        zoo.fails_at_run, zoo.fails_at_run, requirement=FidelityRequirement(), settings=BenchmarkSettings()
    )
    assert not result.passed and result.error is not None and result.error.startswith("run: ")
    assert [f.code for f in result.findings] == ["fidelity-failed"]
