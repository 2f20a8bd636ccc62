"""Checks per-op-type profiling on real zoo models: the parsed ORT profile shows where INT8 time goes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from examples.modelzoo import Zoo
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.opprofile import ProfileComparison, compare_profiles, parse_profile
from int8gate.runtime.profiler import nodes_fed_by_dq, profile_in_child, profile_model, profile_pair

RUNS = 5


def feeds(zoo: Zoo, family: str) -> dict[str, np.ndarray]:
    spec = zoo.conv_input if family == "conv" else zoo.tfm_input
    return {spec.name: np.random.default_rng(3).standard_normal(spec.shape).astype(np.float32)}


def test_a_real_profile_parses_into_runs_and_op_types(zoo: Zoo, tmp_path: Path) -> None:
    model = profile_model(zoo.conv_qoperator, feeds(zoo, "conv"), workdir=tmp_path, label="int8",
                          threads=1, runs=RUNS, warmup=2)
    assert model.profile.runs == RUNS  # the two warm-up runs are left out
    by_op = model.profile.by_op_type()
    assert "QLinearConv" in by_op and "Conv" not in by_op
    assert all(ms > 0 for ms in by_op.values())
    assert model.fed_by_dq == frozenset()  # QOperator: nothing float sits behind a DequantizeLinear
    # The same text parsed again with no warm-up skipped sees every run and the same nodes.
    text = model.profile_path.read_text()
    everything = parse_profile(text)
    assert everything.runs == RUNS + 2
    assert {n.node for n in everything.nodes} == {n.node for n in model.profile.nodes}
    kernel_events = [e for e in json.loads(text) if e.get("cat") == "Node"
                     and e["name"].endswith("_kernel_time")]
    assert len(kernel_events) == (RUNS + 2) * len(everything.nodes)


def test_unprepared_qdq_shows_dequantize_time_and_float_batchnorm(zoo: Zoo, tmp_path: Path) -> None:
    cmp = profile_pair(zoo.conv_fp32, zoo.conv_qdq_noprep, feeds(zoo, "conv"), workdir=tmp_path,
                       runs=RUNS)
    rows = {r.op_type: r for r in cmp.rows}
    assert rows["DequantizeLinear"].fp32_ms == 0.0 and rows["DequantizeLinear"].int8_ms > 0
    assert rows["Conv"].int8_ms == 0.0 and rows["Conv"].delta_ms == -rows["Conv"].fp32_ms
    assert "BatchNormalization" in cmp.fed_by_dq_op_types  # left unfolded, so it runs in float
    assert cmp.qdq_ms > 0 and 0 < cmp.qdq_share < 1
    assert 0 < cmp.fed_by_dq_share < 1
    assert cmp.int8_total_ms == pytest.approx(sum(r.int8_ms for r in cmp.rows))


def test_dynamic_conv_time_goes_to_convinteger(zoo: Zoo, tmp_path: Path) -> None:
    cmp = profile_pair(zoo.conv_fp32, zoo.conv_dynamic, feeds(zoo, "conv"), workdir=tmp_path, runs=RUNS)
    assert cmp.rows[0].op_type == "ConvInteger"  # the largest INT8 op type
    assert "DynamicQuantizeLinear" in {r.op_type for r in cmp.rows}


def test_transformer_qdq_leaves_layernorm_behind_dequantize(zoo: Zoo, tmp_path: Path) -> None:
    model = profile_model(zoo.tfm_qdq, feeds(zoo, "tfm"), workdir=tmp_path, label="int8", threads=1,
                          runs=2)
    optimized = onnx.load(str(model.optimized_path))
    fed_types = {n.op_type for n in optimized.graph.node if n.name in model.fed_by_dq}
    assert "LayerNormalization" in fed_types
    assert nodes_fed_by_dq(optimized) == model.fed_by_dq


def test_compare_handles_missing_op_types_and_empty_profiles(zoo: Zoo, tmp_path: Path) -> None:
    real = profile_model(zoo.conv_fp32, feeds(zoo, "conv"), workdir=tmp_path, label="fp32", threads=1,
                         runs=2).profile
    empty = parse_profile("[]")
    cmp = compare_profiles(real, empty)
    assert cmp.int8_total_ms == 0 and cmp.qdq_share == 0 and cmp.fed_by_dq_share == 0
    assert all(r.int8_ms == 0 and r.delta_ms == -r.fp32_ms for r in cmp.rows)




def test_profile_in_child_returns_the_table_and_a_crash_returns_its_cause(zoo: Zoo) -> None:
    spec = ResolvedInput(zoo.conv_input.name, zoo.conv_input.shape, "float32")
    table = profile_in_child(zoo.conv_fp32, zoo.conv_qoperator, [spec], runs=3)
    assert isinstance(table, ProfileComparison)
    ops = {row.op_type: row for row in table.rows}
    assert ops["QLinearConv"].int8_ms > 0 and ops["QLinearConv"].fp32_ms == 0
    assert ops["Conv"].fp32_ms > 0
    assert table.int8_total_ms == pytest.approx(sum(row.int8_ms for row in table.rows))
    failed = profile_in_child(zoo.conv_fp32, zoo.fails_at_run, [spec], runs=1)
    assert isinstance(failed, str) and failed.startswith("profiling failed (exit 1): ")


