"""Output-agreement metrics, exact on built arrays."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from int8gate.measure import fidelity
from int8gate.policy.spec import FidelityRequirement

STRICT = FidelityRequirement(min_cosine=0.99, max_abs_error=0.1, min_snr_db=20.0, min_top1_agreement=0.9)


def test_identical_outputs_agree_perfectly() -> None:
    ref = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = fidelity.compare_output("y", ref, ref.copy())
    assert out.cosine == 1.0
    assert out.max_abs_error == 0.0 and out.mean_abs_error == 0.0
    assert out.snr_db == fidelity.SNR_CAP_DB
    assert out.top1_agreement == 1.0 and out.top5_agreement is None  # 4 classes: no top-5
    assert out.finite and out.shape == (3, 4)


def test_scaled_output_keeps_direction_but_loses_snr() -> None:
    ref = np.array([[1.0, -2.0, 3.0, 0.5, 0.0, 4.0]], dtype=np.float32)
    out = fidelity.compare_output("y", ref, ref * 0.5)
    assert out.cosine == pytest.approx(1.0)
    assert out.max_abs_error == pytest.approx(2.0)
    assert out.mean_abs_error == pytest.approx(np.abs(ref * 0.5).mean())
    assert out.snr_db == pytest.approx(10 * math.log10(4.0))
    assert out.top1_agreement == 1.0 and out.top5_agreement == 1.0


def test_top_k_counts_rows() -> None:
    ref = np.array([[0, 9, 1, 2, 3, 4], [9, 0, 1, 2, 3, 4]], dtype=np.float32)
    cand = np.array([[0, 9, 1, 2, 3, 4], [0, 9, 1, 2, 3, 8]], dtype=np.float32)
    out = fidelity.compare_output("logits", ref, cand)
    assert out.top1_agreement == 0.5
    assert out.top5_agreement == 0.5  # row 2: class 0 is INT8's lowest score, outside its top five


def test_top_k_only_for_class_scores() -> None:
    feature_map = np.ones((1, 3, 4, 4), dtype=np.float32)
    assert fidelity.compare_output("f", feature_map, feature_map).top1_agreement is None
    ids = np.array([[1, 2, 3]], dtype=np.int64)
    assert fidelity.compare_output("ids", ids, ids).top1_agreement is None
    stacked = np.ones((8, 1, 10), dtype=np.float32)
    assert fidelity.compare_output("y", stacked, stacked, sample_shape=(1, 10)).top1_agreement == 1.0


def test_zero_vectors_and_opposites() -> None:
    zero = np.zeros(4, dtype=np.float32)
    assert fidelity.compare_output("z", zero, zero).cosine == 1.0
    assert fidelity.compare_output("z", zero, zero + 1).cosine == 0.0
    one = np.ones(4, dtype=np.float32)
    assert fidelity.compare_output("o", one, -one).cosine == -1.0


def test_nan_in_int8_is_not_finite_and_fails() -> None:
    ref = np.ones((1, 4), dtype=np.float32)
    cand = ref.copy()
    cand[0, 1] = np.nan
    out = fidelity.compare_output("y", ref, cand)
    assert not out.finite and math.isinf(out.max_abs_error)
    assert [f.code for f in fidelity.judge([out], STRICT)] == ["fidelity-not-finite"]


def test_matching_infinities_are_agreement() -> None:
    ref = np.array([1.0, np.inf, 2.0], dtype=np.float32)
    out = fidelity.compare_output("y", ref, ref.copy())
    assert out.finite and out.max_abs_error == 0.0 and out.cosine == pytest.approx(1.0)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differs"):
        fidelity.compare_output("y", np.ones((2, 2)), np.ones((4,)))


def test_judge_names_each_missed_threshold() -> None:
    ref = np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    cand = np.array([[0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    out = fidelity.compare_output("y", ref, cand)
    codes = [f.code for f in fidelity.judge([out], STRICT)]
    assert codes == ["fidelity-cosine", "fidelity-snr", "fidelity-max-abs-error", "fidelity-top1"]
    assert fidelity.judge([out], FidelityRequirement(None, None, None, None)) == ()


def test_compare_over_samples_and_sources() -> None:
    rng = np.random.default_rng(0)
    refs: list[Any] = [rng.standard_normal((1, 10)).astype(np.float32) for _ in range(4)]
    cands = [r + 0.001 for r in refs]
    result = fidelity.compare({"y": refs}, {"y": cands}, FidelityRequirement(), source="random")
    assert result.passed and result.samples == 4 and result.source == "random"
    assert result.outputs[0].shape == (1, 10) and result.outputs[0].top1_agreement == 1.0
    missing = fidelity.compare({"y": refs, "z": refs}, {"y": cands}, FidelityRequirement(), source="samples")
    assert not missing.passed and missing.error is not None and "z" in missing.error
    assert [f.code for f in missing.findings] == ["fidelity-failed"]
