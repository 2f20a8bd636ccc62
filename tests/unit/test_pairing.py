"""Pairing an INT8 model with its FP32 source: what must match (inputs, output names and dtypes) and what may not."""

from __future__ import annotations

from dataclasses import replace

from support.reportdata import inspection

from int8gate.model.inspection import pair_models
from int8gate.model.quantfacts import WeightBytes
from int8gate.model.values import TensorSpec

FP32 = inspection("fp32.onnx", quantized=False, size=1_320_000)
INT8 = inspection("int8.onnx", quantized=True, size=360_000)


def codes(fp32: object, int8: object) -> set[str]:
    return {f.code for f in pair_models(fp32, int8).findings}  # type: ignore[arg-type]


def test_a_wrongly_declared_output_rank_is_not_a_mismatch() -> None:
    """ddddocr declares its output [1, seqlen]; the quantizer's copy declares what ONNX Runtime produces, rank 3."""
    fp32 = replace(FP32, outputs=(TensorSpec("387", "float32", (1, "seqlen")),))
    int8 = replace(INT8, outputs=(TensorSpec("387", "float32", (32, 1, 8210)),))
    pairing = pair_models(fp32, int8)
    assert pairing.io_match and pairing.mismatches == ()


def test_inputs_still_need_the_same_rank_names_and_integer_dtypes() -> None:
    int8 = replace(INT8, inputs=(TensorSpec("input", "float32", (1, 3, 112)),))
    assert pair_models(FP32, int8).mismatches == ("input 'input': rank 4 in FP32, 3 in INT8",)
    ids = replace(FP32, inputs=(TensorSpec("ids", "int64", (1, 8)),))
    assert pair_models(ids, replace(INT8, inputs=(TensorSpec("ids", "int32", (1, 8)),))).mismatches == (
        "input 'ids': int64 in FP32, int32 in INT8",
    )
    renamed = replace(INT8, outputs=(TensorSpec("scores", "float32", (1, 10)),))
    assert "io-mismatch" in codes(FP32, renamed)


def test_an_fp16_source_pairs_and_is_named_as_the_reference() -> None:
    half_weights = WeightBytes(int8=0, uint8=0, int4=0, float32=2_000, float16=650_000, other=100, total=652_100,
                               quantized_share=0.0)  # fmt: skip
    fp16 = replace(FP32, size_bytes=660_000, weight_bytes=half_weights,
                   inputs=(TensorSpec("input", "float16", (1, 3, 112, 112)),),
                   outputs=(TensorSpec("logits", "float16", (1, 10)),))  # fmt: skip
    int8 = replace(INT8, size_bytes=360_000)
    pairing = pair_models(fp16, int8)
    assert pairing.io_match
    found = {f.code: f for f in pairing.findings}
    assert "fp16-reference" in found and "2 float16 input(s)/output(s)" in found["fp16-reference"].evidence
    assert "size-not-reduced" not in found  # 360 kB is 27% of the 1.3 MB the source would weigh in float32
    assert "size-not-reduced" in codes(fp16, replace(INT8, size_bytes=900_000))
