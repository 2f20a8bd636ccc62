"""Output agreement: metrics exact on built arrays, accumulated as outputs stream, judged honestly about the inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure import agreement, fidelity
from int8gate.measure.agreement import OutputAccumulator, as_array, compare_output
from int8gate.measure.fidelity import OutputKind, SyntheticCheck, evaluate, synthetic_check
from int8gate.model.values import InputRange
from int8gate.policy.spec import FidelityRequirement

STRICT = FidelityRequirement(min_cosine=0.99, max_abs_error=0.1, min_snr_db=20.0, min_top1_agreement=0.9)
DEFAULT = FidelityRequirement()
GRADED = SyntheticCheck(True, "inside the calibrated ranges")
NOT_GRADED = SyntheticCheck(False, "input x: 31.7% of the random values fall outside [-1, 1]")


def judged(outputs: list[agreement.OutputFidelity], *, kinds: dict[str, OutputKind] | None = None,
           synthetic: SyntheticCheck | None = GRADED, source: str = "random",
           requirement: FidelityRequirement = DEFAULT) -> fidelity.FidelityResult:  # fmt: skip
    return evaluate(outputs, requirement, source=source, kinds=kinds or {}, synthetic=synthetic,
                    inputs_text="8 seeded random samples")  # fmt: skip


def codes(result: fidelity.FidelityResult) -> list[str]:
    return [f.code for f in result.findings]


def test_identical_outputs_agree_perfectly() -> None:
    ref = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    out = compare_output("y", ref, ref.copy())
    assert out.cosine == 1.0 and out.snr_db == agreement.SNR_CAP_DB
    assert out.max_abs_error == 0.0 and out.mean_abs_error == 0.0 and out.range_error == 0.0
    assert out.top1_agreement == 1.0 and out.top5_agreement is None  # 4 classes: no top-5
    assert out.finite and out.shape == (3, 4) and out.samples == 1 and out.rms_ratio == 1.0


def test_scaled_output_keeps_direction_but_loses_snr() -> None:
    ref = np.array([[[1.0, -2.0, 3.0, 0.5, 0.0, 4.0]]], dtype=np.float32)
    out = compare_output("y", ref, ref * 0.5)
    assert out.cosine == pytest.approx(1.0) and out.rms_ratio == pytest.approx(0.5)
    assert out.max_abs_error == pytest.approx(2.0)
    assert out.mean_abs_error == pytest.approx(np.abs(ref * 0.5).mean())
    assert out.range_error == pytest.approx(np.abs(ref * 0.5).mean() / 6.0)
    assert out.snr_db == pytest.approx(10 * math.log10(4.0))


def test_streaming_in_chunks_gives_the_metrics_of_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((3, 7, 50)).astype(np.float32)
    cand = (ref + rng.standard_normal(ref.shape) * 0.1).astype(np.float32)
    whole = compare_output("y", ref, cand)
    monkeypatch.setattr(agreement, "CHUNK", 64)  # several chunks per sample, rows split across them
    chunked = compare_output("y", ref, cand)
    for field in ("cosine", "snr_db", "mean_abs_error", "max_abs_error", "range_error", "top1_agreement",
                  "top5_agreement", "rms_ratio"):  # fmt: skip
        assert getattr(chunked, field) == pytest.approx(getattr(whole, field)), field
    r, c = ref.astype(np.float64).ravel(), cand.astype(np.float64).ravel()
    assert whole.cosine == pytest.approx(r @ c / np.linalg.norm(r) / np.linalg.norm(c))
    assert whole.top1_agreement == np.mean(ref.reshape(-1, 50).argmax(1) == cand.reshape(-1, 50).argmax(1))


def test_top_k_counts_rows() -> None:
    ref = np.array([[[0, 9, 1, 2, 3, 4], [9, 0, 1, 2, 3, 4]]], dtype=np.float32)
    cand = np.array([[[0, 9, 1, 2, 3, 4], [0, 9, 1, 2, 3, 8]]], dtype=np.float32)
    out = compare_output("logits", ref, cand)
    assert out.top1_agreement == 0.5
    assert out.top5_agreement == 0.5  # row 2: class 0 is INT8's lowest score, outside its top five


def test_a_zipmap_sequence_of_maps_is_compared_as_rows_of_class_scores() -> None:
    """ai.onnx.ml ZipMap outputs seq(map(int64, float)): each map becomes a row of scores in key order."""
    fp32 = [{0: 0.9, 1: 0.1}, {0: 0.2, 1: 0.8}]
    int8 = [{1: 0.15, 0: 0.85}, {0: 0.6, 1: 0.4}]
    assert as_array(fp32).tolist() == [[0.9, 0.1], [0.2, 0.8]]
    out = compare_output("output_probability", [fp32], [int8])
    assert out.shape == (2, 2) and out.top1_agreement == 0.5 and out.problem is None
    other_keys = compare_output("p", [fp32], [[{0: 0.9, 2: 0.1}, {0: 0.2, 2: 0.8}]])
    assert other_keys.problem == "the INT8 model's maps hold other keys (class labels) than FP32's"


def test_nan_shape_and_dtype_problems_are_broken_on_any_input() -> None:
    ref = np.ones((2, 1, 4), dtype=np.float32)
    nan = ref.copy()
    nan[0, 0, 1] = np.nan
    out = compare_output("y", ref, nan)
    assert not out.finite and math.isinf(out.max_abs_error)
    assert compare_output("y", np.ones((1, 2, 2)), np.ones((1, 4))).problem == "INT8 shape 4 differs from FP32 2x2"
    ids = compare_output("ids", np.ones((1, 3), np.int64), np.ones((1, 3), np.float32))
    assert ids.problem == "INT8 dtype float32 differs from FP32 int64"
    for broken in (out, ids):
        result = judged([broken], synthetic=NOT_GRADED)
        assert not result.passed and codes(result)[0] == "fidelity-broken"


def test_a_stuck_output_is_broken_a_varying_one_is_not() -> None:
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((4, 1, 8)).astype(np.float32)
    stuck = compare_output("y", ref, np.broadcast_to(ref[0], ref.shape).copy())
    assert stuck.stuck and "the same for all 4 samples" in judged([stuck], synthetic=NOT_GRADED).findings[0].message
    constant = np.zeros((4, 1, 8), np.float32)
    assert not compare_output("y", constant, constant.copy()).stuck  # FP32 does not vary either


def test_an_output_ten_times_too_large_is_broken_even_on_random_inputs() -> None:
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((2, 1, 16)).astype(np.float32)
    result = judged([compare_output("y", ref, ref * 12)], synthetic=NOT_GRADED)
    assert codes(result) == ["fidelity-broken"] and "12× FP32's magnitude" in result.findings[0].evidence
    assert judged([compare_output("y", ref, ref * 4)], synthetic=NOT_GRADED).passed  # drift, not graded


def test_drift_on_random_inputs_outside_the_calibrated_range_is_reported_not_graded() -> None:
    ref = np.array([[[1.0, 0.0, 0.0, 0.0]]], dtype=np.float32)
    out = compare_output("y", ref, np.array([[[0.0, 1.0, 0.0, 0.0]]], dtype=np.float32))
    quiet = judged([out], synthetic=NOT_GRADED)
    assert quiet.passed and not quiet.graded and codes(quiet) == ["fidelity-synthetic"]
    assert "31.7% of the random values" in quiet.basis and "samples:" in quiet.findings[0].fix
    graded = judged([out], synthetic=GRADED, requirement=STRICT)
    assert not graded.passed and codes(graded) == ["fidelity-drift"]  # one finding for every missed metric
    assert "y cosine 0 (≥ 0.99 wanted)" in graded.findings[0].evidence
    assert "y SNR dB" in graded.findings[0].evidence and "y max abs error 1" in graded.findings[0].evidence
    with_samples = judged([out], source="samples", synthetic=None)
    assert not with_samples.passed and with_samples.graded
    agreeing = judged([compare_output("y", ref, ref.copy())], synthetic=NOT_GRADED)
    assert agreeing.passed and agreeing.findings == () and "drift not graded" in agreeing.basis  # nothing to say


def test_each_kind_is_graded_by_the_metric_it_supports() -> None:
    softmax = np.array([[[0.5, 0.3, 0.2], [0.3, 0.45, 0.25]]], dtype=np.float32)
    saturated = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=np.float32)  # same classes, low cosine/SNR
    scores = compare_output("scores", softmax, saturated)
    assert judged([scores], kinds={"scores": OutputKind.CLASS_SCORES}).passed
    assert not judged([scores], kinds={"scores": OutputKind.VALUES}).passed
    probability_map = np.zeros((1, 1, 20, 20), np.float32)
    probability_map[0, 0, 5:8, 5:8] = 0.9
    blurred = probability_map.copy()
    blurred[0, 0, 4, 5] = 0.5  # one edge pixel: cosine and SNR move, the error is 0.125% of the range
    maps = compare_output("map", probability_map, blurred)
    assert maps.range_error == pytest.approx(0.5 / 400 / 0.9)
    assert judged([maps], kinds={"map": OutputKind.PROBABILITIES}).passed
    assert not judged([maps], kinds={"map": OutputKind.VALUES}).passed
    labels = compare_output("label", np.array([[1, 2, 3, 4]]), np.array([[1, 2, 3, 0]]))
    assert labels.exact_agreement == 0.75 and labels.top1_agreement is None
    assert not judged([labels], kinds={"label": OutputKind.INTEGERS}).passed  # 0.75 < 0.85
    drifting_state = compare_output("hn", softmax, saturated)
    assert judged([drifting_state], kinds={"hn": OutputKind.STATE}).passed  # shows in the outputs made from it


def test_synthetic_inputs_grade_only_inside_the_calibrated_range() -> None:
    image = ResolvedInput("x", (1, 3, 32, 32), "float32")
    wide = synthetic_check([image], [InputRange("x", -3.84, 3.93)], count=8, seed=0)
    assert wide.graded and "x [-3.84, 3.93]" in wide.reason
    narrow = synthetic_check([image], [InputRange("x", -1.0, 1.0)], count=8, seed=0)
    assert not narrow.graded and narrow.reason.startswith("input x: 31.")
    imagenet = synthetic_check([image], [InputRange("x", -2.12, 2.62)], count=8, seed=0)
    assert not imagenet.graded  # 2.1% of N(0,1) falls outside: the activations are out of calibration
    assert not synthetic_check([image], [], count=8, seed=0).graded  # dynamic quantization: no range
    ids = synthetic_check([ResolvedInput("ids", (1, 8), "int64")], [], count=8, seed=0)
    assert not ids.graded and ids.reason == "input ids is int64: random values are not its data"


def test_streaming_keeps_no_sample() -> None:
    acc = OutputAccumulator("y")
    rng = np.random.default_rng(3)
    for _ in range(5):
        ref: Any = rng.standard_normal((1, 64)).astype(np.float32)
        acc.add(ref, ref + 0.01)
    assert acc.result().samples == 5
    assert not any(isinstance(v, np.ndarray) for v in vars(acc).values())


def test_an_empty_output_is_compared_not_crashed_on() -> None:
    acc = OutputAccumulator("boxes")  # a detector that finds nothing on random inputs: (0, 4) on both sides
    for _ in range(3):
        acc.add(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32))
    result = acc.result()
    assert result.problem is None and result.samples == 3 and result.shape == (0, 4)


def test_failed_comparison_names_its_cause() -> None:
    result = fidelity.failed("run: kernel exploded", source="random")
    assert not result.passed and result.error == "run: kernel exploded" and codes(result) == ["fidelity-failed"]
