"""The worker process run for real on small models: paired rounds, fidelity outputs, model errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

from int8gate.inputs.resolved import ResolvedInput
from int8gate.runtime.protocol import WorkerRequest, WorkerResult
from int8gate.runtime.worker import EXIT_MODEL_ERROR


def run_worker(request: WorkerRequest) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "int8gate.runtime.worker"],
        input=request.to_json(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])
















def test_measure_pairs_rounds_and_reports_setup(zoo: Any) -> None:
    request = WorkerRequest(
        "measure",
        str(zoo.conv_fp32),
        str(zoo.conv_qdq),
        1,
        inputs=(ResolvedInput(zoo.conv_input.name, tuple(zoo.conv_input.shape), "float32"),),
        warmup_runs=2,
        min_rounds=7,
        max_seconds=0.0,
        overhead_runs=3,
        fp32_first=False,
    )
    code, raw = run_worker(request)
    assert code == 0, raw
    result = WorkerResult.from_json(json.dumps(raw))
    assert result.rounds == 7 and 1 <= result.block <= 32
    assert len(result.fp32_ns) == len(result.int8_ns) == 7 * result.block
    assert min(result.fp32_ns) > 0 and min(result.int8_ns) > 0
    assert result.fp32_first_rounds in (3, 4)
    assert result.overhead_ns > 0 and result.clock_tick_ns >= 1
    assert "global intra-op pool of 1 thread" in result.setup
    assert result.usable_cpus >= 1


def test_a_model_against_itself_runs_two_sessions(zoo: Any) -> None:
    request = WorkerRequest("measure", str(zoo.conv_fp32), str(zoo.conv_fp32), 1, min_rounds=3, max_seconds=0.0)
    code, raw = run_worker(request)
    assert code == 0 and raw["rounds"] == 3 and len(raw["fp32_ns"]) == 3 * raw["block"]


def test_a_session_ends_at_its_sample_cap_not_its_time_slice(zoo: Any) -> None:
    request = WorkerRequest("measure", str(zoo.conv_fp32), str(zoo.conv_fp32), 1, min_rounds=4, max_seconds=60.0,
                            max_samples=1, overhead_runs=0)  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "int8gate.runtime.worker"], input=request.to_json(),
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and raw["rounds"] == 4  # the minimum rounds, then the cap ends it
    assert raw["rounds_seconds"] < 10


def test_fidelity_mode_answers_with_the_metrics_not_the_outputs(zoo: Any) -> None:
    request = WorkerRequest("fidelity", str(zoo.conv_fp32), str(zoo.conv_qdq), 1, fidelity_samples=3)
    code, raw = run_worker(request)
    assert code == 0 and raw["samples"] == 3 and raw["source"] == "random"
    (logits,) = WorkerResult.from_json(json.dumps(raw)).compared
    assert logits.name == "logits" and logits.samples == 3 and logits.shape == (1, 10)
    assert logits.cosine > 0.99 and logits.problem is None


def test_a_kernel_failing_at_run_is_a_model_error(zoo: Any) -> None:
    code, raw = run_worker(WorkerRequest("measure", str(zoo.fails_at_run), str(zoo.fails_at_run), 1))
    assert code == EXIT_MODEL_ERROR
    assert raw["error"].startswith("run: ") and "onnxruntime_src" not in raw["error"]


def test_an_unknown_custom_op_is_a_load_error(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    node = helper.make_node("Mystery", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph([node], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    code, raw = run_worker(WorkerRequest("measure", str(path), str(path), 1))
    assert code == EXIT_MODEL_ERROR and raw["error"].startswith("load custom.onnx: ")




def test_an_output_declared_with_another_rank_is_measured(tmp_path: Path) -> None:
    """ONNX Runtime runs a model whose output is declared [1, n] but comes out [1, 2, 4] (a PyTorch 1.9
    export, the ddddocr captcha reader), yet refuses a preallocated output of that rank: the worker
    lets ONNX Runtime allocate it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "n"])
    nodes = [  # a reshape target whose length shape inference cannot know
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["one"], value=helper.make_tensor("one", TensorProto.INT64, [1], [1])),
        helper.make_node("Concat", ["one", "s"], ["c"], axis=0),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.INT64, [], [0])),
        helper.make_node("Greater", ["c", "zero"], ["keep"]),
        helper.make_node("Compress", ["c", "keep"], ["target"]),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "declared_rank.onnx"
    onnx.save(model, path)
    code, raw = run_worker(WorkerRequest("measure", str(path), str(path), 1, min_rounds=3, max_seconds=0.0))
    assert code == 0, raw
    assert raw["rounds"] == 3
