"""Checks that the model zoo is what it claims: each variant's quantization format, and how each one runs."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnx
import pytest
from support.paths import DEMO

from examples import modelzoo
from examples.modelzoo import Zoo

EXAMPLE_DIR = DEMO / "models"
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}
INTEGER_OPS = {"QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}


def ops(path: Path) -> collections.Counter[str]:
    return collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def weight_fed_compute_nodes(path: Path) -> list[str]:
    """Conv/MatMul/Gemm nodes whose second input is a DequantizeLinear of an initializer: QDQ-quantized weights."""
    graph = onnx.load(str(path)).graph
    initializers = {init.name for init in graph.initializer}
    dq_outputs = {node.output[0] for node in graph.node
                  if node.op_type == "DequantizeLinear" and node.input[0] in initializers}
    return [node.name for node in graph.node
            if node.op_type in {"Conv", "MatMul", "Gemm"} and len(node.input) > 1 and node.input[1] in dq_outputs]


def output_error(zoo: Zoo, path: Path) -> float:
    reference = modelzoo.run_once(zoo.conv_fp32, zoo.conv_input)[0]
    return float(np.abs(modelzoo.run_once(path, zoo.conv_input)[0] - reference).max())


def test_every_model_is_a_distinct_file_in_the_zoo_folder(zoo: Zoo) -> None:
    paths = [getattr(zoo, name) for name in modelzoo.MODEL_FIELDS]
    assert all(path.parent == zoo.directory and path.is_file() for path in paths)
    assert len({path.read_bytes() for path in paths}) == len(paths)


def test_quantizer_helpers_accept_relative_paths_and_leave_cwd_clean(
        zoo: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fp32.onnx").write_bytes(zoo.conv_fp32.read_bytes())
    modelzoo.preprocess(Path("fp32.onnx"), Path("prep.onnx"))
    modelzoo.quantize_weights_only(Path("prep.onnx"), Path("dynamic.onnx"))
    assert Path.cwd() == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamic.onnx", "fp32.onnx", "prep.onnx"]


def test_float_models_have_no_quantization(zoo: Zoo) -> None:
    for path in (zoo.conv_fp32, zoo.conv_fake, zoo.tfm_fp32):
        assert not set(ops(path)) & (QDQ_OPS | INTEGER_OPS), path.name


def test_fake_is_the_fp32_graph_under_another_name(zoo: Zoo) -> None:
    fp32, fake = onnx.load(str(zoo.conv_fp32)), onnx.load(str(zoo.conv_fake))
    assert fake.doc_string == modelzoo.FAKE_DOC
    assert [n.op_type for n in fake.graph.node] == [n.op_type for n in fp32.graph.node]
    assert zoo.conv_fake.read_bytes() != zoo.conv_fp32.read_bytes()


@pytest.mark.parametrize("family", ["conv", "tfm"])
def test_qdq_quantizes_every_weighted_compute_node(zoo: Zoo, family: str) -> None:
    path = getattr(zoo, f"{family}_qdq")
    histogram = ops(path)
    assert histogram["QuantizeLinear"] > 0 and histogram["DequantizeLinear"] > 0
    compute = sum(histogram[op] for op in ("Conv", "MatMul", "Gemm"))
    # Attention's activation x activation MatMuls carry no weight, so count only the weighted ones.
    weighted = compute - (2 if family == "tfm" else 0)
    assert len(weight_fed_compute_nodes(path)) == weighted


def test_qoperator_uses_integer_kernels(zoo: Zoo) -> None:
    assert ops(zoo.conv_qoperator)["QLinearConv"] == ops(zoo.conv_fp32)["Conv"]
    assert {"QLinearMatMul", "QGemm"} & set(ops(zoo.tfm_qoperator))
    assert not {"Conv", "MatMul", "Gemm"} & set(ops(zoo.conv_qoperator))


def test_dynamic_uses_runtime_quantized_integer_ops(zoo: Zoo) -> None:
    conv, tfm = ops(zoo.conv_dynamic), ops(zoo.tfm_dynamic)
    assert conv["ConvInteger"] == ops(zoo.conv_fp32)["Conv"] and conv["DynamicQuantizeLinear"] > 0
    assert tfm["MatMulInteger"] > 0 and tfm["DynamicQuantizeLinear"] > 0
    assert not QDQ_OPS & (set(conv) | set(tfm))


def test_half_fake_quantizes_exactly_one_compute_node(zoo: Zoo) -> None:
    assert weight_fed_compute_nodes(zoo.conv_half_fake) == [zoo.half_fake_node]
    assert ops(zoo.conv_half_fake)["Conv"] == ops(zoo.conv_qdq)["Conv"] > 1


def test_noprep_has_no_value_info_and_keeps_batchnorm(zoo: Zoo) -> None:
    noprep, prepped = onnx.load(str(zoo.conv_qdq_noprep)), onnx.load(str(zoo.conv_qdq))
    assert len(noprep.graph.value_info) == 0 and len(prepped.graph.value_info) > 0
    assert "BatchNormalization" in ops(zoo.conv_qdq_noprep)
    assert "BatchNormalization" not in ops(zoo.conv_qdq)


def test_broken_scale_drifts_far_more_than_good_qdq(zoo: Zoo) -> None:
    good, broken = output_error(zoo, zoo.conv_qdq), output_error(zoo, zoo.conv_broken_scale)
    assert broken > 10 * good
    assert zoo.broken_scale_node in weight_fed_compute_nodes(zoo.conv_broken_scale)


def test_every_quantized_model_runs_close_to_fp32(zoo: Zoo) -> None:
    for family, spec in (("conv", zoo.conv_input), ("tfm", zoo.tfm_input)):
        reference = modelzoo.run_once(getattr(zoo, f"{family}_fp32"), spec)[0]
        assert float(reference.std()) > 0.1  # outputs are not degenerate
        for kind in ("qdq", "qoperator", "dynamic"):
            output = modelzoo.run_once(getattr(zoo, f"{family}_{kind}"), spec)[0]
            assert output.shape == reference.shape
            assert float(np.abs(output - reference).max()) < 0.2 * float(np.abs(reference).max()), (family, kind)


def test_fails_at_run_loads_then_raises(zoo: Zoo) -> None:
    modelzoo.load_only(zoo.fails_at_run)
    with pytest.raises(Exception, match="Reshape"):
        modelzoo.run_once(zoo.fails_at_run, zoo.conv_input)


def test_hangs_has_a_huge_loop_and_shares_the_conv_input(zoo: Zoo) -> None:
    model = onnx.load(str(zoo.hangs))
    assert [n.op_type for n in model.graph.node] == ["ReduceMean", "Loop"]
    trips = next(i for i in model.graph.initializer if i.name == model.graph.node[1].input[0])
    assert int(onnx.numpy_helper.to_array(trips)) >= 2**60
    assert model.graph.input[0].name == zoo.conv_input.name


def test_example_fp32_is_reproducible_from_the_builder() -> None:
    committed = onnx.load(str(EXAMPLE_DIR / "convnet_fp32.onnx"))
    rebuilt = modelzoo.build_convnet(modelzoo.EXAMPLE_CONVNET)
    assert [n.op_type for n in rebuilt.graph.node] == [n.op_type for n in committed.graph.node]
    assert rebuilt.SerializeToString() == committed.SerializeToString()


def test_example_files_are_small_and_really_differ() -> None:
    files = {name: EXAMPLE_DIR / f"convnet_{name}.onnx" for name in ("fp32", "int8", "fake_int8")}
    assert sum(path.stat().st_size for path in files.values()) < 4 * 2**20
    assert set(ops(files["int8"])) >= QDQ_OPS
    assert not QDQ_OPS & set(ops(files["fake_int8"]))
    assert onnx.load(str(files["fake_int8"])).doc_string == modelzoo.FAKE_DOC
