"""The worker process: feeds, round order, its JSON protocol, and real runs of small models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from int8gate.inputs.feeds import random_feed
from int8gate.inputs.plan import ResolvedInput
from int8gate.inputs.samples import FeedError, load_samples
from int8gate.runtime.protocol import WorkerRequest, WorkerResult
from int8gate.runtime.rounds import block_size, round_orders
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


def test_random_feeds_suit_each_dtype() -> None:
    rng = np.random.default_rng(0)
    floats = random_feed(ResolvedInput("pixel_values", (2, 3), "float32"), rng)
    assert floats.dtype == np.float32 and floats.shape == (2, 3) and floats.std() > 0
    assert (random_feed(ResolvedInput("attention_mask", (1, 8), "int64"), rng) == 1).all()
    assert (random_feed(ResolvedInput("token_type_ids", (1, 8), "int64"), rng) == 0).all()
    ids = random_feed(ResolvedInput("input_ids", (1, 500), "int64"), rng)
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 100
    image = random_feed(ResolvedInput("image", (4096,), "uint8"), rng)
    assert image.min() == 0 and image.max() == 255
    signed = random_feed(ResolvedInput("q", (4096,), "int8"), rng)
    assert signed.min() >= 0 and signed.max() == 127
    assert random_feed(ResolvedInput("flag", (3,), "bool"), rng).dtype == np.bool_


def test_random_feeds_repeat_for_a_seed() -> None:
    spec = ResolvedInput("x", (4,), "float32")
    a = random_feed(spec, np.random.default_rng(3))
    assert np.array_equal(a, random_feed(spec, np.random.default_rng(3)))


def test_block_fills_the_block_time() -> None:
    assert block_size(0, 10.0) == 1  # no warm-up timing: one run per block
    assert block_size(20_000_000, 10.0) == 1  # a 20 ms model: one timed run
    assert block_size(1_000_000, 10.0) == 10
    assert block_size(1_000, 10.0) == 32  # capped


def test_round_orders_balance_every_pair() -> None:
    orders = round_orders(101, np.random.default_rng(1))
    assert len(orders) == 101
    assert all(orders[i] != orders[i + 1] for i in range(0, 100, 2))
    assert orders == round_orders(101, np.random.default_rng(1))
    assert orders != round_orders(101, np.random.default_rng(2))


def test_samples_from_npz_with_a_sample_axis(tmp_path: Path) -> None:
    specs = (ResolvedInput("x", (1, 3), "float32"), ResolvedInput("ids", (1, 2), "int64"))
    path = tmp_path / "samples.npz"
    np.savez(path, x=np.arange(12).reshape(4, 1, 3), ids=np.zeros((1, 2)))
    feeds = load_samples(path, specs)
    assert len(feeds) == 1  # ids holds a single sample, so only one complete feed exists
    assert feeds[0]["x"].dtype == np.float32 and feeds[0]["x"].tolist() == [[0, 1, 2]]
    np.savez(path, x=np.arange(12).reshape(4, 1, 3), ids=np.zeros((4, 1, 2)))
    assert len(load_samples(path, specs)) == 4


def test_samples_errors_name_the_problem(tmp_path: Path) -> None:
    spec = ResolvedInput("x", (1, 3), "float32")
    npz = tmp_path / "s.npz"
    np.savez(npz, y=np.zeros((1, 3)))
    with pytest.raises(FeedError, match="no array for input"):
        load_samples(npz, (spec,))
    np.savez(npz, x=np.zeros((2, 2)))
    with pytest.raises(FeedError, match="wants"):
        load_samples(npz, (spec,))
    npy = tmp_path / "s.npy"
    np.save(npy, np.zeros((1, 3)))
    assert len(load_samples(npy, (spec,))) == 1
    with pytest.raises(FeedError, match="one input"):
        load_samples(npy, (spec, ResolvedInput("z", (1,), "float32")))


def test_request_and_result_round_trip_as_json() -> None:
    request = WorkerRequest("measure", "a.onnx", "b.onnx", 2, inputs=(ResolvedInput("x", (1, 3), "float32"),))
    assert WorkerRequest.from_json(request.to_json()) == request
    result = WorkerResult(fp32_ns=(1, 2), int8_ns=(3, 4), outputs=("y",), setup="s")
    assert WorkerResult.from_json(result.to_json()) == result


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


def test_fidelity_mode_writes_both_outputs(zoo: Any, tmp_path: Path) -> None:
    request = WorkerRequest(
        "fidelity", str(zoo.conv_fp32), str(zoo.conv_qdq), 1, fidelity_samples=3, outputs_dir=str(tmp_path)
    )
    code, raw = run_worker(request)
    assert code == 0 and raw["samples"] == 3 and raw["source"] == "random"
    with np.load(tmp_path / "fp32.npz") as fp32, np.load(tmp_path / "int8.npz") as int8:
        assert fp32["o0"].shape[0] == 3 and fp32["o0"].shape == int8["o0"].shape


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


def test_machine_busy_seconds_reads_proc_stat(tmp_path: Path) -> None:
    from int8gate.runtime.rounds import machine_busy_seconds

    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal: busy = 100+2+30+0+1+7 = 140 ticks (idle/iowait excluded)
    stat.write_text("cpu  100 2 30 5000 40 0 1 7 0 0\ncpu0 50 1 15 2500 20 0 0 3 0 0\n")
    assert machine_busy_seconds(str(stat)) == pytest.approx(140 / tick)
    stat.write_text("intr 1 2 3\n")
    assert machine_busy_seconds(str(stat)) is None
    assert machine_busy_seconds(str(tmp_path / "missing")) is None
