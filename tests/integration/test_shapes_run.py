"""MACs where ONNX shape inference stops: one ONNX Runtime run records the shapes, and the report says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from support.onnxbuild import GraphBuilder, floats, weights

from int8gate.gate.examine import inspect_model
from int8gate.model.census import SHAPES_ONNX, SHAPES_ONNX_AND_RUN


def _flattened_by_data(*, fails: bool = False) -> onnx.ModelProto:
    """x [2, 3, 4] → Reshape to a target computed from data → QDQ MatMul with a 12x5 weight.

    The target is [2, 12] + round(sum(|x|)·0): it depends on the input's values, as Paddle's and
    PyTorch's exported flattens often do, so ONNX inference cannot know the MatMul's input shape.
    With ``fails`` the target holds one element too many and the run raises.
    """
    g = GraphBuilder()
    zero = g.node("Cast", [g.node("Mul", [g.node("ReduceSum", [g.node("Abs", ["x"])], keepdims=0),
                                          g.const("zero", np.array(0.0, np.float32))])], to=TensorProto.INT64)
    target = g.node("Add", [zero, g.const("target", np.array([2, 13 if fails else 12], np.int64))])
    flat = g.node("Reshape", ["x", target])
    y = g.node("MatMul", [g.qdq(flat), g.dq_weight(weights(12, 5))])
    return g.model([("x", [2, 3, 4])], [(y, None)])


def test_a_shape_computed_from_data_is_recorded_by_one_run(tmp_path: Path) -> None:
    onnx.save(_flattened_by_data(), tmp_path / "m.onnx")
    inspected = inspect_model(tmp_path / "m.onnx", runtime_layer=False)
    assert inspected.compute_ops.macs_unknown == 0
    assert inspected.macs_total == 2 * 12 * 5
    assert inspected.shapes_from == SHAPES_ONNX_AND_RUN
    assert "macs-unknown" not in {f.code for f in inspected.findings}


def test_a_model_inference_can_follow_makes_no_run(tmp_path: Path) -> None:
    g = GraphBuilder()
    y = g.node("MatMul", [g.qdq("x"), g.dq_weight(weights(12, 5))])
    onnx.save(g.model([("x", [2, 12])], [(y, None)]), tmp_path / "m.onnx")
    assert inspect_model(tmp_path / "m.onnx", runtime_layer=False).shapes_from == SHAPES_ONNX


def test_when_the_run_fails_macs_unknown_names_that_cause_and_its_fix(tmp_path: Path) -> None:
    onnx.save(_flattened_by_data(fails=True), tmp_path / "m.onnx")
    inspected = inspect_model(tmp_path / "m.onnx", runtime_layer=False)
    assert inspected.compute_ops.macs_unknown == 1 and inspected.mac_share_quantized is None
    assert inspected.macs_unknown_reason is not None
    assert inspected.macs_unknown_reason.startswith("ONNX Runtime could not run it on the planned inputs: ")
    (finding,) = [f for f in inspected.findings if f.code == "macs-unknown"]
    assert "so ONNX Runtime can run the model once" in finding.fix
    assert "Give fixed input shapes" not in finding.fix  # the shapes were fixed; that advice would be wrong


def test_the_run_reads_external_data_from_the_models_folder(tmp_path: Path) -> None:
    model = _flattened_by_data()
    for tensor in model.graph.initializer:
        if tensor.name.startswith("w_"):
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name))
    onnx.save(model, tmp_path / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.onnx.data", size_threshold=0)  # fmt: skip
    assert (tmp_path / "m.onnx.data").is_file()
    inspected = inspect_model(tmp_path / "m.onnx", runtime_layer=False)
    assert inspected.shapes_from == SHAPES_ONNX_AND_RUN and inspected.macs_total == 2 * 12 * 5


def test_shapes_inside_an_if_branch_are_reached_from_the_recorded_outer_values(tmp_path: Path) -> None:
    """silero-vad's export keeps its LSTMs inside If branches; a recorded outer value lets inference in."""
    outer = _flattened_by_data()
    flat = next(node.output[0] for node in outer.graph.node if node.op_type == "Reshape")
    weight = numpy_helper.from_array(floats(12, 5), "w_branch")
    branch = helper.make_graph([helper.make_node("MatMul", [flat, "w_branch"], ["y_branch"])], "then", [],
                               [helper.make_tensor_value_info("y_branch", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("MatMul", [flat, "w_branch"], ["y_other"])], "else", [],
                              [helper.make_tensor_value_info("y_other", TensorProto.FLOAT, None)])
    outer.graph.initializer.extend([numpy_helper.from_array(np.array(True), "cond"), weight])
    outer.graph.node.append(helper.make_node("If", ["cond"], ["z"], then_branch=branch, else_branch=other))
    outer.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    onnx.save(outer, tmp_path / "m.onnx")
    inspected = inspect_model(tmp_path / "m.onnx", runtime_layer=False)
    assert inspected.compute_ops.total == 3 and inspected.compute_ops.macs_unknown == 0
    assert inspected.macs_total == 3 * 2 * 12 * 5
