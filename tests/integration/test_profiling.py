"""Checks per-op-type profiling on real zoo models, made by the worker: the parsed ORT profile shows where INT8 time goes."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from examples.modelzoo import Zoo
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.opprofile import compare_profiles, parse_profile
from int8gate.model.optimized import nodes_fed_by_dq
from int8gate.runtime.bench import WorkerLauncher, profile_pair
from int8gate.runtime.profiler import optimized_path, profile_path
from int8gate.runtime.protocol import WorkerRequest, WorkerResult

RUNS = 5


def conv(zoo: Zoo) -> tuple[ResolvedInput, ...]:
    return (ResolvedInput(zoo.conv_input.name, tuple(zoo.conv_input.shape), "float32"),)


def profiled(zoo: Zoo, int8: Path, folder: Path, *, inputs: tuple[ResolvedInput, ...] = (), runs: int = RUNS) -> WorkerResult:
    """A worker that only profiles the INT8 model of a pair (no timing), files left in ``folder``."""
    request = WorkerRequest((str(zoo.conv_fp32), str(int8)), 1, inputs=inputs, max_rounds=0, profile_models=(1,),
                            profile_runs=runs, outputs_dir=str(folder))  # fmt: skip
    result = WorkerLauncher({}, timeout_seconds=120).run(request)
    assert isinstance(result, WorkerResult), result
    return result


def test_a_real_profile_parses_into_runs_and_op_types(zoo: Zoo, tmp_path: Path) -> None:
    result = profiled(zoo, zoo.conv_qoperator, tmp_path, inputs=conv(zoo))
    assert result.profiled == (1,) and result.overhead_ns > 0 and not result.profile_note
    text = profile_path(tmp_path, 1).read_text()
    model = parse_profile(text, skip_runs=1)
    assert model.runs == RUNS  # the binding run (the warm-up) is left out
    by_op = model.by_op_type()
    assert "QLinearConv" in by_op and "Conv" not in by_op
    assert all(ms > 0 for ms in by_op.values())
    graph = onnx.load(str(optimized_path(tmp_path, 1)), load_external_data=False)
    assert nodes_fed_by_dq(graph) == frozenset()  # QOperator: nothing float sits behind a DequantizeLinear
    # The same text parsed again with no warm-up skipped sees every run and the same nodes.
    everything = parse_profile(text)
    assert everything.runs == RUNS + 1
    assert {n.node for n in everything.nodes} == {n.node for n in model.nodes}
    kernel_events = [e for e in json.loads(text) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    assert len(kernel_events) == (RUNS + 1) * len(everything.nodes)
    assert not profile_path(tmp_path, 0).exists()  # only the model asked for


def test_unprepared_qdq_shows_dequantize_time_and_float_batchnorm(zoo: Zoo) -> None:
    cmp = profile_pair(zoo.conv_fp32, zoo.conv_qdq_noprep, inputs=conv(zoo), runs=RUNS)
    assert not isinstance(cmp, str), cmp
    rows = {r.op_type: r for r in cmp.rows}
    assert rows["DequantizeLinear"].fp32_ms == 0.0 and rows["DequantizeLinear"].int8_ms > 0
    assert rows["Conv"].int8_ms == 0.0 and rows["Conv"].delta_ms == -rows["Conv"].fp32_ms
    assert "BatchNormalization" in cmp.fed_by_dq_op_types  # left unfolded, so it runs in float
    assert cmp.qdq_ms > 0 and 0 < cmp.qdq_share < 1
    assert 0 < cmp.fed_by_dq_share < 1
    assert cmp.int8_total_ms == pytest.approx(sum(r.int8_ms for r in cmp.rows))
    assert cmp.threads == 1 and cmp.runs == RUNS


def test_dynamic_conv_time_goes_to_convinteger(zoo: Zoo) -> None:
    cmp = profile_pair(zoo.conv_fp32, zoo.conv_dynamic, inputs=conv(zoo), runs=RUNS)
    assert not isinstance(cmp, str), cmp
    assert cmp.rows[0].op_type == "ConvInteger"  # the largest INT8 op type
    assert "DynamicQuantizeLinear" in {r.op_type for r in cmp.rows}


def test_transformer_qdq_leaves_layernorm_behind_dequantize(zoo: Zoo, tmp_path: Path) -> None:
    request = WorkerRequest((str(zoo.tfm_fp32), str(zoo.tfm_qdq)), 1, max_rounds=0, profile_models=(1,),
                            profile_runs=2, outputs_dir=str(tmp_path))  # fmt: skip
    assert isinstance(WorkerLauncher({}, timeout_seconds=120).run(request), WorkerResult)
    optimized = onnx.load(str(optimized_path(tmp_path, 1)), load_external_data=False)
    fed = nodes_fed_by_dq(optimized)
    fed_types = {n.op_type for n in optimized.graph.node if n.name in fed}
    assert "LayerNormalization" in fed_types
    profiled_nodes = {n.node for n in parse_profile(profile_path(tmp_path, 1).read_text(), skip_runs=1).nodes}
    assert fed <= profiled_nodes  # the profile names the nodes of the graph that was written


def test_compare_handles_missing_op_types_and_empty_profiles(zoo: Zoo, tmp_path: Path) -> None:
    profiled(zoo, zoo.conv_fp32, tmp_path, inputs=conv(zoo), runs=2)
    real = parse_profile(profile_path(tmp_path, 1).read_text(), skip_runs=1)
    empty = parse_profile("[]")
    cmp = compare_profiles(real, empty)
    assert cmp.int8_total_ms == 0 and cmp.qdq_share == 0 and cmp.fed_by_dq_share == 0
    assert all(r.int8_ms == 0 and r.delta_ms == -r.fp32_ms for r in cmp.rows)


def test_a_profile_that_cannot_run_returns_its_cause(zoo: Zoo) -> None:
    failed = profile_pair(zoo.conv_fp32, zoo.fails_at_run, inputs=conv(zoo), runs=1)
    assert isinstance(failed, str) and failed.startswith("profile failed: run: ")
