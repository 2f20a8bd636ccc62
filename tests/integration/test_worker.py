"""The worker process run for real on small models: rounds of N models, fidelity, profile, its limit, model errors."""

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
from int8gate.runtime.rounds import MIN_ROUNDS_FLOOR
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


def conv(zoo: Any) -> tuple[ResolvedInput, ...]:
    return (ResolvedInput(zoo.conv_input.name, tuple(zoo.conv_input.shape), "float32"),)


def test_measure_pairs_rounds_and_reports_setup(zoo: Any) -> None:
    request = WorkerRequest(
        (str(zoo.conv_fp32), str(zoo.conv_qdq)), 1, inputs=conv(zoo), warmup_runs=2, min_rounds=7, max_seconds=0.0,
        rotate=1,
    )  # fmt: skip
    code, raw = run_worker(request)
    assert code == 0, raw
    result = WorkerResult.from_json(json.dumps(raw))
    assert result.rounds == 7 and 1 <= result.block <= 32
    fp32, int8 = result.latencies_ns
    assert len(fp32) == len(int8) == 7 * result.block
    assert min(fp32) > 0 and min(int8) > 0
    assert sorted(result.first_counts) == [3, 4]  # balanced in pairs of rounds
    assert result.overhead_ns == 0 and result.profiled == () and result.extra_seconds == 0  # nothing asked
    assert result.clock_tick_ns >= 1 and "global intra-op pool of 1 thread" in result.setup
    assert result.usable_cpus >= 1 and 0 < result.rounds_seconds < result.elapsed_seconds


def test_one_worker_times_any_number_of_models_in_balanced_rounds(zoo: Any) -> None:
    models = (str(zoo.conv_fp32), str(zoo.conv_qdq), str(zoo.conv_qoperator))
    code, raw = run_worker(WorkerRequest(models, 1, inputs=conv(zoo), min_rounds=6, max_seconds=0.0))
    assert code == 0, raw
    result = WorkerResult.from_json(json.dumps(raw))
    assert result.rounds == 6 and result.first_counts == (2, 2, 2)
    assert len(result.latencies_ns) == 3 and len({len(v) for v in result.latencies_ns}) == 1


def test_a_model_against_itself_runs_two_sessions(zoo: Any) -> None:
    request = WorkerRequest((str(zoo.conv_fp32), str(zoo.conv_fp32)), 1, min_rounds=3, max_seconds=0.0)
    code, raw = run_worker(request)
    assert code == 0 and raw["rounds"] == 3 and len(raw["latencies_ns"][0]) == 3 * raw["block"]


def test_a_session_ends_at_its_sample_cap_not_its_time_slice(zoo: Any) -> None:
    request = WorkerRequest((str(zoo.conv_fp32), str(zoo.conv_fp32)), 1, min_rounds=4, max_seconds=60.0,
                            max_samples=1)  # fmt: skip
    code, raw = run_worker(request)
    assert code == 0 and raw["rounds"] == 4  # the minimum rounds, then the cap ends it
    assert raw["rounds_seconds"] < 10


def test_fidelity_timing_and_profile_in_one_worker_on_the_same_sessions(zoo: Any, tmp_path: Path) -> None:
    request = WorkerRequest(
        (str(zoo.conv_fp32), str(zoo.conv_qdq)), 1, inputs=conv(zoo), fidelity=True, fidelity_samples=3,
        min_rounds=4, max_seconds=0.0, profile_models=(0, 1), profile_runs=2, outputs_dir=str(tmp_path),
    )  # fmt: skip
    code, raw = run_worker(request)
    assert code == 0, raw
    result = WorkerResult.from_json(json.dumps(raw))
    assert result.samples == 3 and result.source == "random" and result.rounds == 4
    (logits,) = result.compared  # the metrics, not the outputs
    assert logits.name == "logits" and logits.samples == 3 and logits.shape == (1, 10)
    assert logits.cosine > 0.99 and logits.problem is None
    assert result.profiled == (0, 1) and result.overhead_ns > 0
    assert (tmp_path / "profile-m0.json").is_file() and (tmp_path / "optimized-m1.onnx").is_file()
    assert 0 < result.extra_seconds < result.elapsed_seconds


def test_fidelity_alone_runs_no_rounds(zoo: Any, tmp_path: Path) -> None:
    request = WorkerRequest((str(zoo.conv_fp32), str(zoo.conv_qdq)), 1, fidelity=True, fidelity_samples=2,
                            max_rounds=0, outputs_dir=str(tmp_path))  # fmt: skip
    code, raw = run_worker(request)
    assert code == 0 and raw["samples"] == 2 and raw["rounds"] == 0 and raw["latencies_ns"] == []


def test_a_worker_past_its_limit_runs_the_floor_of_rounds_and_skips_the_profile_with_a_note(
    zoo: Any, tmp_path: Path
) -> None:
    request = WorkerRequest(
        (str(zoo.conv_fp32), str(zoo.conv_qdq)), 1, inputs=conv(zoo), min_rounds=50, max_seconds=10.0,
        limit_seconds=0.001, profile_models=(0, 1), outputs_dir=str(tmp_path),
    )  # fmt: skip
    code, raw = run_worker(request)
    assert code == 0, raw
    result = WorkerResult.from_json(json.dumps(raw))
    assert result.rounds == MIN_ROUNDS_FLOOR  # not the 50 asked for: the limit comes first
    assert result.profiled == () and result.profile_note.startswith("skipped: 0.0 s were left of the row's budget")



def test_a_kernel_failing_at_run_is_a_model_error(zoo: Any) -> None:
    code, raw = run_worker(WorkerRequest((str(zoo.fails_at_run), str(zoo.fails_at_run)), 1))
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
    code, raw = run_worker(WorkerRequest((str(path), str(path)), 1))
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
    code, raw = run_worker(WorkerRequest((str(path), str(path)), 1, min_rounds=3, max_seconds=0.0))
    assert code == 0, raw
    assert raw["rounds"] == 3
