"""The runtime layer: counts over an optimized graph, checked by hand and against the file ONNX Runtime really wrote."""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto
from support.onnxbuild import GraphBuilder, conv_pair, floats
from support.ortwritten import FLOAT_COMPUTE, INTEGER_KERNELS, written_by_ort

from int8gate.errors import ModelFileError
from int8gate.model.optimized import analyze_optimized
from int8gate.policy.spec import OptLevel
from int8gate.runtime.optimizer import optimized_model


@pytest.mark.parametrize("level", [OptLevel.BASIC, OptLevel.ALL])
def test_counts_match_the_file_ort_wrote(tmp_path: Path, level: OptLevel) -> None:
    path = tmp_path / "qdq.onnx"
    onnx.save(conv_pair(quantize_big=True, quantize_small=True), str(path))
    after = analyze_optimized(optimized_model(path, level), level)
    written = written_by_ort(path, tmp_path / "written.onnx", level)
    assert after.nodes == sum(written.values())
    assert after.quantize_linear == written["QuantizeLinear"]
    assert after.dequantize_linear == written["DequantizeLinear"]
    assert after.integer_kernels == sum(written[op] for op in INTEGER_KERNELS)
    assert after.float_compute == sum(written[op] for op in FLOAT_COMPUTE)
    if level is OptLevel.BASIC:  # QDQ fusion is not a basic-level optimization
        assert after.integer_kernels == 0 and after.float_compute_fed_by_dq == 2


def test_ort_refusal_is_a_model_file_error_and_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = GraphBuilder()
    y = g.node("NoSuchKernel", ["x"], domain="com.microsoft")
    path = tmp_path / "bad.onnx"
    onnx.save(g.model([("x", [1])], [(y, None)], extra_opsets=[("com.microsoft", 1)]), str(path))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the optimized copy would be written
    with pytest.raises(ModelFileError, match=r"bad\.onnx: ONNX Runtime cannot load it: .*NoSuchKernel"):
        optimized_model(path, OptLevel.ALL)
    assert list(scratch.iterdir()) == []


def test_optimized_tensors_come_back_without_their_data(tmp_path: Path) -> None:
    g = GraphBuilder()
    y = g.node("MatMul", ["x", g.const("w", floats(64, 64))])  # 16 KiB: written as external data, not loaded
    path = tmp_path / "m.onnx"
    onnx.save(g.model([("x", [1, 64])], [(y, None)]), str(path))
    optimized = optimized_model(path, OptLevel.ALL)
    [weight] = [t for t in optimized.graph.initializer if list(t.dims) == [64, 64]]
    assert weight.data_location == TensorProto.EXTERNAL and not weight.raw_data
    assert analyze_optimized(optimized, OptLevel.ALL).float_compute == 1  # usable after the temporary folder is gone
