"""inspect_model and pair_models on the zoo's ORT-quantized models: formats, fakes caught, runtime counts as ORT wrote them."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.ortwritten import FLOAT_COMPUTE, INTEGER_KERNELS, written_by_ort

from examples.modelzoo import Zoo
from int8gate.errors import ModelFileError, UsageError
from int8gate.findings import Severity
from int8gate.gate.examine import inspect_model
from int8gate.model.census import QuantFormat
from int8gate.model.inspection import ModelInspection, pair_models
from int8gate.policy.spec import OptLevel
from int8gate.report.jsonable import to_jsonable

FORMATS = {
    "conv_fp32": QuantFormat.FLOAT,
    "conv_qdq": QuantFormat.QDQ,
    "conv_qoperator": QuantFormat.QOPERATOR,
    "conv_dynamic": QuantFormat.DYNAMIC,
    "conv_fake": QuantFormat.FLOAT,
    "conv_half_fake": QuantFormat.QDQ,
    "conv_qdq_noprep": QuantFormat.QDQ,
    "conv_broken_scale": QuantFormat.QDQ,
    "tfm_fp32": QuantFormat.FLOAT,
    "tfm_qdq": QuantFormat.QDQ,
    "tfm_qoperator": QuantFormat.QOPERATOR,
    "tfm_dynamic": QuantFormat.DYNAMIC,
}
REALLY_QUANTIZED = {
    "conv_qdq",
    "conv_qoperator",
    "conv_dynamic",
    "conv_qdq_noprep",
    "conv_broken_scale",
    "tfm_qdq",
    "tfm_qoperator",
    "tfm_dynamic",
}  # conv_broken_scale is fully quantized; its wrong scale is for the fidelity check to catch


@pytest.fixture(scope="module")
def inspected(zoo: Zoo) -> dict[str, ModelInspection]:
    """Every zoo model inspected once with the defaults (runtime layer at level all)."""
    return {name: inspect_model(getattr(zoo, name)) for name in FORMATS}


def _codes(inspection: ModelInspection) -> set[str]:
    return {finding.code for finding in inspection.findings}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_and_is_quantized(inspected: dict[str, ModelInspection], name: str) -> None:
    inspection = inspected[name]
    assert inspection.format is FORMATS[name]
    assert inspection.is_quantized is (name in REALLY_QUANTIZED)


def test_fake_and_half_fake_fail_with_their_reasons(inspected: dict[str, ModelInspection]) -> None:
    fake, half = inspected["conv_fake"], inspected["conv_half_fake"]
    assert (fake.compute_ops.quantized, fake.weight_bytes.quantized_share) == (0, 0.0)
    assert "not-quantized" in _codes(fake)
    assert half.compute_ops.quantized == 1 and half.mac_share_quantized is not None and half.mac_share_quantized < 0.8
    assert [f.severity for f in half.findings if f.code == "token-quantization"] == [Severity.FAIL]


def test_macs_survive_every_format(inspected: dict[str, ModelInspection]) -> None:
    for family in ("conv", "tfm"):
        totals = {name: i.macs_total for name, i in inspected.items() if name.startswith(family)}
        assert len(set(totals.values())) == 1 and None not in totals.values(), totals


def test_missing_preprocessing_is_flagged_only_where_it_is_missing(inspected: dict[str, ModelInspection]) -> None:
    noprep = inspected["conv_qdq_noprep"]
    assert noprep.preprocessed is False and "not-preprocessed" in _codes(noprep)
    assert "not-preprocessed" not in _codes(inspected["conv_qdq"])
    assert noprep.after_optimization is not None and noprep.after_optimization.unfused_qdq > 0  # Q/DQ around the BNs
    assert "qdq-unfused" in _codes(noprep)




@pytest.mark.parametrize("name", sorted(FORMATS))
def test_runtime_counts_match_what_ort_wrote(
    inspected: dict[str, ModelInspection], zoo: Zoo, tmp_path: Path, name: str
) -> None:
    after = inspected[name].after_optimization
    assert after is not None and after.opt_level is OptLevel.ALL
    written = written_by_ort(getattr(zoo, name), tmp_path / "written.onnx")
    assert after.nodes == sum(written.values())
    assert after.integer_kernels == sum(written[op] for op in INTEGER_KERNELS)
    assert after.float_compute == sum(written[op] for op in FLOAT_COMPUTE)
    assert after.quantize_linear == written["QuantizeLinear"]
    assert after.dequantize_linear == written["DequantizeLinear"]
    assert after.dynamic_quantize_linear == written["DynamicQuantizeLinear"]


def test_pairing(inspected: dict[str, ModelInspection]) -> None:
    good = pair_models(inspected["conv_fp32"], inspected["conv_qdq"])
    assert good.io_match and good.findings == ()
    assert good.size_ratio == inspected["conv_qdq"].size_bytes / inspected["conv_fp32"].size_bytes < 0.6
    fake = pair_models(inspected["conv_fp32"], inspected["conv_fake"])
    assert {f.code for f in fake.findings} == {"size-not-reduced"}
    same = pair_models(inspected["conv_fp32"], inspected["conv_fp32"])
    assert {f.code for f in same.findings} == {"same-file"}
    crossed = pair_models(inspected["conv_fp32"], inspected["tfm_qdq"])
    assert not crossed.io_match and "io-mismatch" in {f.code for f in crossed.findings}
    assert "input 'input' of the FP32 model is missing from the INT8 model" in crossed.mismatches


def test_json_carries_the_contract_names(inspected: dict[str, ModelInspection]) -> None:
    data = to_jsonable(inspected["conv_half_fake"])
    assert data["format"] == "qdq" and data["is_quantized"] is False
    assert {"total", "quantized"} <= data["compute_ops"].keys()
    assert {"int8", "uint8", "int4", "float32", "quantized_share"} <= data["weight_bytes"].keys()
    assert 0 < data["mac_share_quantized"] < 1
    after = data["after_optimization"]
    assert {
        "integer_kernels",
        "float_compute",
        "float_compute_fed_by_dq",
        "quantize_linear",
        "dequantize_linear",
    } <= after.keys()
    assert after["opt_level"] == "all"
    assert {"code", "severity", "message", "fix", "evidence"} == data["findings"][0].keys()


def test_options(zoo: Zoo) -> None:
    plain = inspect_model(zoo.conv_qdq, runtime_layer=False)
    assert plain.after_optimization is None
    basic = inspect_model(zoo.conv_qdq, opt_level=OptLevel.BASIC)
    assert basic.after_optimization is not None and basic.after_optimization.integer_kernels == 0
    assert "float-compute-fed-by-dq" in _codes(basic)
    assert "u8s8-no-vnni" in _codes(inspect_model(zoo.conv_qdq, runtime_layer=False, vnni=False))
    batch4 = inspect_model(zoo.conv_qdq, runtime_layer=False, input_shapes={"input": (4, 3, 32, 32)})
    assert batch4.macs_total == 4 * (plain.macs_total or 0)
    with pytest.raises(UsageError):
        inspect_model(zoo.conv_qdq, runtime_layer=False, input_shapes={"nope": (1,)})
    with pytest.raises(ModelFileError, match="over the"):
        inspect_model(zoo.conv_qdq, max_bytes=1024)


def test_models_that_fail_or_hang_at_run_still_inspect(zoo: Zoo) -> None:
    for path in (zoo.fails_at_run, zoo.hangs):  # only a session is built; nothing runs
        inspection = inspect_model(path)
        assert inspection.format is QuantFormat.FLOAT and "no-compute-ops" in _codes(inspection)
    assert inspect_model(zoo.hangs).subgraphs == 1
