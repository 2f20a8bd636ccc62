"""Every model ONNX Runtime runs is checked, not refused: real exporters' habits through `int8gate check`.

One policy holds a pair per habit (``support.habits``), built from the zoo's models or by hand, and
one `check` measures them all; the tests read its JSON report. Before issue 10 the -1 dims refused
the whole policy, the wrongly declared output rank and the FP16 source failed pairing unmeasured,
and the ZipMap output crashed the fidelity check.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import onnx
import pytest
from support import habits
from support.onnxbuild import conv_pair

from examples.modelzoo import Zoo
from int8gate.cli import main
from int8gate.gate.examine import inspect_model
from int8gate.model.census import QuantFormat

FAST = ("benchmark:\n  threads: [1]\n  budget_seconds: 0.3\n  sessions: 2\n  warmup_runs: 1\n  confirm: false\n"
        "  fidelity_samples: 3\nreport:\n  profile: false\n")  # fmt: skip
CONV = "{input: {shape: [1, 3, 32, 32]}}"


@pytest.fixture(scope="module")
def checked(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON report of one `check` over a pair per habit, by pair name."""
    root = tmp_path_factory.mktemp("habits")
    fp32, qdq = zoo.conv_fp32, zoo.conv_qdq
    pairs = {
        "paddle_negative_dims": habits.edited_pair(fp32, qdq, root, "neg", habits.negative_batch),
        "initializers_as_inputs": habits.edited_pair(fp32, qdq, root, "init", habits.initializers_as_inputs),
        "input_with_default": habits.edited_pair(fp32, qdq, root, "default", habits.input_with_default),
        "zipmap": habits.edited_pair(fp32, qdq, root, "zipmap", habits.zipmap_output),
        "sequence_output": habits.edited_pair(fp32, qdq, root, "seq", habits.sequence_output),
        "wrong_output_rank": habits.edited_pair(fp32, qdq, root, "rank", habits.wrong_output_rank, int8_too=False),
        "transformer_fusions": habits.transformer_fused_pair(root),
        "matmul_nbits": habits.matmul_nbits_pair(root),
    }
    habits.to_fp16(fp32, root / "fp16_fp32.onnx")
    shutil.copy(qdq, root / "fp16_int8.onnx")
    pairs["fp16_source"] = ("fp16_fp32.onnx", "fp16_int8.onnx")
    shapes = {"transformer_fusions": "{x: {shape: [1, 8, 32]}}", "matmul_nbits": "{x: {shape: [1, 4, 64]}}"}
    lines = ["models:"] + [
        f"  - {{name: {name}, fp32: {a}, int8: {b}, inputs: {shapes.get(name, CONV)}}}" for name, (a, b) in pairs.items()
    ]
    (root / ".int8gate.yml").write_text("\n".join(lines) + "\nrequire:\n  speedup: 0.01\n" + FAST)
    code = main(["check", "--policy", str(root / ".int8gate.yml"), "--workspace", str(root),
                 "--json", str(root / "r.json")], environ={})  # fmt: skip
    assert code in (0, 1)  # measured and judged, never refused (2)
    report = json.loads((root / "r.json").read_text())
    return {model["name"]: model for model in report["models"]}


def _codes(model: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in model["findings"]}


def test_every_pair_onnx_runtime_runs_is_measured(checked: dict[str, Any]) -> None:
    for name, model in checked.items():
        assert model["error"] is None, name
        (run,) = model["benchmark"]["runs"]
        assert run["error"] is None and run["speedup"]["estimate"] > 0, name
        assert model["fidelity"]["error"] is None, name
        assert "io-mismatch" not in _codes(model), name


@pytest.mark.parametrize("name", ["paddle_negative_dims", "initializers_as_inputs", "input_with_default",
                                  "zipmap", "sequence_output", "wrong_output_rank", "fp16_source"])  # fmt: skip
def test_a_habit_of_the_exporter_does_not_change_the_verdict_of_a_good_model(
    checked: dict[str, Any], name: str
) -> None:
    model = checked[name]
    assert model["verdict"] == "pass", model["reasons"]
    assert model["fidelity"]["passed"] and model["quantization"]["mac_share_quantized"] == 1.0


def test_inputs_with_defaults_are_not_fed_and_not_listed(checked: dict[str, Any]) -> None:
    assert [i["name"] for i in checked["initializers_as_inputs"]["benchmark"]["inputs"]] == ["input"]
    assert [i["name"] for i in checked["input_with_default"]["benchmark"]["inputs"]] == ["input"]


def test_non_tensor_outputs_are_compared_by_their_values(checked: dict[str, Any]) -> None:
    (probabilities,) = checked["zipmap"]["fidelity"]["outputs"]
    assert probabilities["kind"] == "class-scores" and probabilities["shape"] == [1, 10]
    assert probabilities["top1_agreement"] == 1.0
    assert checked["zipmap"]["quantization"]["outputs"][0]["dtype"] == "seq(map(int64,tensor(float)))"
    (scores,) = checked["sequence_output"]["fidelity"]["outputs"]
    assert scores["shape"] == [1, 1, 10] and scores["cosine"] > 0.99


def test_an_fp16_source_is_measured_and_named(checked: dict[str, Any]) -> None:
    assert "fp16-reference" in _codes(checked["fp16_source"])
    assert checked["fp16_source"]["fp32_model"]["inputs"][0]["dtype"] == "float16"


def test_transformer_fusions_are_counted_with_their_macs(checked: dict[str, Any]) -> None:
    q = checked["transformer_fusions"]["quantization"]
    assert q["compute_ops"]["total"] == 2 and q["compute_ops"]["macs_unknown"] == 0
    assert {s["op"] for s in q["compute_ops"]["by_op"]} == {"QAttention", "DynamicQuantizeMatMul"}
    assert q["format"] in ("dynamic", "mixed", "qoperator") and q["is_quantized"]
    fp32 = checked["transformer_fusions"]["fp32_model"]
    assert {s["op"] for s in fp32["compute_ops"]["by_op"]} == {"Attention", "FusedMatMul"}
    assert fp32["macs_total"] == q["macs_total"] > 0
    assert fp32["shapes_from"] == "onnx shape inference and one ONNX Runtime run"


def test_matmul_nbits_is_named_weight_only_and_fails_only_for_that(checked: dict[str, Any]) -> None:
    model = checked["matmul_nbits"]
    assert model["quantization"]["format"] == QuantFormat.WEIGHT_ONLY.value
    assert "weight-only-4bit" in _codes(model) and "invalid-scale" not in _codes(model)
    assert model["verdict"] == "fail" and model["reasons"][0].startswith("not really quantized")
    assert model["fidelity"]["passed"]


def test_a_git_lfs_pointer_is_bad_input_named_with_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    habits.lfs_pointer(tmp_path / "model_int8.onnx")
    assert main(["inspect", str(tmp_path / "model_int8.onnx")], environ={}) == 2
    err = capsys.readouterr().err
    assert "is a Git LFS pointer, not the model" in err and "lfs: true" in err and err.count("\n") == 1


@pytest.mark.parametrize("opset", range(11, 22))
def test_opsets_11_to_21_inspect_and_load(opset: int, tmp_path: Path) -> None:
    model = conv_pair(quantize_big=True, quantize_small=True)
    model.opset_import[0].version = opset
    model.ir_version = 7 if opset < 15 else (8 if opset < 19 else 10)
    onnx.save(model, tmp_path / "m.onnx")
    inspected = inspect_model(tmp_path / "m.onnx")  # ONNX Runtime loads it and writes its optimized graph
    assert inspected.format is QuantFormat.QDQ and inspected.opset == opset
    assert inspected.compute_ops.macs_unknown == 0 and inspected.after_optimization is not None
