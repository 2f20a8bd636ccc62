"""Untrusted model files: every bad or unsafe file is one ModelFileError line, and external data stays in its folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from support.corpus.artifacts import nested_functions, relu
from support.onnxbuild import GraphBuilder, conv_pair, floats

from int8gate.errors import EXIT_BAD_INPUT, ModelFileError
from int8gate.model.file import MAX_DIM, load_model_proto, read_model
from int8gate.model.graph import graph_io

WEIGHT = floats(4, 4)


def _external_model(folder: Path, location: str, *, offset: int | None = None, length: int | None = None) -> Path:
    """m.onnx in ``folder``: MatMul(x, w) with w's 64 bytes declared at ``location`` (the caller writes the data)."""
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4])
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    if offset is not None:
        tensor.external_data.add(key="offset", value=str(offset))
    if length is not None:
        tensor.external_data.add(key="length", value=str(length))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [tensor],
    )
    path = folder / "m.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def _problem(path: Path, **kwargs: int | None) -> str:
    with pytest.raises(ModelFileError) as caught:
        read_model(path, **kwargs)
    error = caught.value
    assert error.exit_code == EXIT_BAD_INPUT
    assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
    return error.problem


def test_external_data_inside_the_folder_is_located_not_loaded(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.bin").write_bytes(b"\0" * 16 + WEIGHT.tobytes())
    path = _external_model(tmp_path, "weights/w.bin", offset=16, length=64)
    loaded = read_model(path)
    assert loaded.info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.info.external_files == ("weights/w.bin",)
    assert loaded.info.size_bytes == path.stat().st_size + 16 + 64
    assert not loaded.model.graph.initializer[0].raw_data  # located and sized, never read


def test_external_data_may_not_leave_the_folder(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(WEIGHT.tobytes())
    assert "outside the model's folder" in _problem(_external_model(model_dir, "../secret.bin"))
    assert "absolute path" in _problem(_external_model(model_dir, str(secret)))
    (model_dir / "link.bin").symlink_to(secret)
    assert "outside the model's folder" in _problem(_external_model(model_dir, "link.bin"))


def test_a_symlink_that_stays_inside_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(WEIGHT.tobytes())
    (tmp_path / "alias.bin").symlink_to(tmp_path / "real.bin")
    assert read_model(_external_model(tmp_path, "alias.bin")).info.external_files == ("real.bin",)


@pytest.mark.parametrize(
    ("data", "offset", "length", "problem"),
    [
        (None, None, None, "is missing"),
        (WEIGHT.tobytes(), 32, 64, "reads bytes 32..96"),
        (WEIGHT.tobytes(), None, 60, "declares 64 bytes but its external data holds 60"),
        (WEIGHT.tobytes()[:32], None, None, "declares 64 bytes but its external data holds 32"),
    ],
)
def test_external_data_must_fit(
    tmp_path: Path, data: bytes | None, offset: int | None, length: int | None, problem: str
) -> None:
    if data is not None:
        (tmp_path / "w.bin").write_bytes(data)
    assert problem in _problem(_external_model(tmp_path, "w.bin", offset=offset, length=length))


def test_unusable_files(tmp_path: Path) -> None:
    assert _problem(tmp_path / "none.onnx") == "no such file"
    assert "is a folder" in _problem(tmp_path)
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert _problem(tmp_path / "empty.onnx") == "is empty"
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    assert _problem(fifo) == "is not a regular file"  # never opened, so never blocks


def test_foreign_and_truncated_files(tmp_path: Path) -> None:
    good = conv_pair(quantize_big=True, quantize_small=True).SerializeToString()
    for name, data in (
        ("text.onnx", b"def main():\n    return 0\n"),
        ("png.onnx", b"\x89PNG\r\n\x1a\n" + bytes(range(64))),
        ("half.onnx", good[: len(good) // 2]),
    ):
        (tmp_path / name).write_bytes(data)
        assert "is not an ONNX model, or is truncated" in _problem(tmp_path / name)


def test_a_git_lfs_pointer_is_named_with_the_fix(tmp_path: Path) -> None:
    pointer = tmp_path / "model_int8.onnx"
    pointer.write_text(
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
    )
    problem = _problem(pointer)
    assert problem.startswith("is a Git LFS pointer, not the model") and "lfs: true" in problem


def test_truncation_at_a_field_boundary_is_caught(tmp_path: Path) -> None:
    model = conv_pair(quantize_big=True, quantize_small=True)
    del model.graph.node[-1]  # the last node and what it produces are gone; the graph output is now dangling
    (tmp_path / "cut.onnx").write_bytes(model.SerializeToString())
    assert "graph output 'y' is never produced" in _problem(tmp_path / "cut.onnx")
    del model.graph.node[0]  # now a node reads a value nothing defines
    (tmp_path / "cut.onnx").write_bytes(model.SerializeToString())
    assert "which nothing defines" in _problem(tmp_path / "cut.onnx")


def test_node_order_is_left_to_onnx_runtime(tmp_path: Path) -> None:
    model = conv_pair(quantize_big=True, quantize_small=True)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))  # every value is still defined, just later in the list
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert len(read_model(tmp_path / "m.onnx").model.graph.node) == len(nodes)


def test_size_cap_counts_external_data(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(WEIGHT.tobytes())
    path = _external_model(tmp_path, "w.bin")
    size = path.stat().st_size
    assert "over the" in _problem(path, max_bytes=size - 1)
    assert "with its external data is" in _problem(path, max_bytes=size + 10)
    assert read_model(path, max_bytes=size + 64).info.size_bytes == size + 64


def test_absurd_dims_and_corrupt_tensors(tmp_path: Path) -> None:
    g = GraphBuilder()
    g.node("Relu", ["x"])
    model = g.model([("x", [1, 4])], [(g.nodes[-1].output[0], None)])
    huge = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[MAX_DIM + 1])
    model.graph.initializer.append(huge)
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert "absurd dimension" in _problem(tmp_path / "m.onnx")
    model.graph.initializer[0].CopyFrom(TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[2**20, 2**20]))
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert "absurd size" in _problem(tmp_path / "m.onnx")
    short = TensorProto(name="short", data_type=TensorProto.FLOAT, dims=[4], raw_data=b"\0" * 8)
    model.graph.initializer[0].CopyFrom(short)
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert "declares 16 bytes but holds 8" in _problem(tmp_path / "m.onnx")
    model.graph.initializer[0].CopyFrom(helper.make_tensor("typed", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0]))
    del model.graph.initializer[0].float_data[-1]
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert "declares 4 elements but holds 3 values" in _problem(tmp_path / "m.onnx")
    del model.graph.initializer[:]
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 2**40
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert "declares an absurd dimension" in _problem(tmp_path / "m.onnx")


def test_a_negative_dim_means_dynamic_as_paddle2onnx_writes_it(tmp_path: Path) -> None:
    model = conv_pair(quantize_big=False, quantize_small=False)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -1
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_value = -1
    onnx.save(model, tmp_path / "m.onnx")
    inputs, outputs = graph_io(read_model(tmp_path / "m.onnx").model)
    assert inputs[0].shape == (None, 3, 16, 16) and outputs[0].shape == (None, 4, 16, 16)


def test_unknown_custom_domains_are_refused_but_local_functions_are_not(tmp_path: Path) -> None:
    g = GraphBuilder()
    y = g.node("Mystery", ["x"], domain="evil.ops")
    (tmp_path / "m.onnx").write_bytes(
        g.model([("x", [1])], [(y, None)], extra_opsets=[("evil.ops", 1)]).SerializeToString()
    )
    assert "unknown custom domain 'evil.ops'" in _problem(tmp_path / "m.onnx")
    body = [helper.make_node("Relu", ["a"], ["b"])]
    function = helper.make_function("evil.ops", "Mystery", ["a"], ["b"], body, [helper.make_opsetid("", 17)])
    model = g.model([("x", [1])], [(y, None)], extra_opsets=[("evil.ops", 1)], functions=[function])
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert load_model_proto(tmp_path / "m.onnx").functions[0].name == "Mystery"


def test_recursive_functions_are_refused(tmp_path: Path) -> None:
    g = GraphBuilder()
    y = g.node("Again", ["x"], domain="local")
    body = [helper.make_node("Again", ["a"], ["b"], domain="local")]
    function = helper.make_function(
        "local", "Again", ["a"], ["b"], body, [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    )
    model = g.model([("x", [1])], [(y, None)], extra_opsets=[("local", 1)], functions=[function])
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert "recursive model-local functions: Again -> Again" in _problem(tmp_path / "m.onnx")


def test_a_good_model_round_trips(tmp_path: Path) -> None:
    model = conv_pair(quantize_big=True, quantize_small=False)
    onnx.save(model, str(tmp_path / "m.onnx"))
    loaded = read_model(tmp_path / "m.onnx")
    assert loaded.model == model
    assert loaded.info.external_data_bytes == 0 and loaded.info.size_bytes == loaded.info.file_bytes
    assert np.array_equal(
        onnx.numpy_helper.to_array(loaded.model.graph.initializer[-1]),
        onnx.numpy_helper.to_array(model.graph.initializer[-1]),
    )


def test_functions_that_would_inline_to_billions_of_nodes_are_refused_before_inlining(tmp_path: Path) -> None:
    # 40 levels of functions that each call the one below twice: 3 KB on disk, 2^40 nodes inlined
    # (onnx's inliner reached 5.3 GB on it). Counting is memoised, so refusing it is instant.
    (tmp_path / "m.onnx").write_bytes(nested_functions(40).SerializeToString())
    assert _problem(tmp_path / "m.onnx").startswith(
        "its model-local functions expand to more than 250,000 nodes when inlined"
    )
    (tmp_path / "ok.onnx").write_bytes(nested_functions(10).SerializeToString())  # 1,024 nodes: fine
    assert read_model(tmp_path / "ok.onnx").model.functions


def test_an_element_type_onnx_does_not_define_is_named(tmp_path: Path) -> None:
    model = relu()
    model.graph.input[0].type.tensor_type.elem_type = 99
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert _problem(tmp_path / "m.onnx") == "value 'x' has element type 99, which ONNX does not define"


def test_ir_version_0_is_read_as_onnx_runtime_reads_it(tmp_path: Path) -> None:
    model = relu()
    model.ir_version = 0
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    assert read_model(tmp_path / "m.onnx").model.ir_version == 0
