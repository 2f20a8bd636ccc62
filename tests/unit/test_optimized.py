"""Counts over an optimized graph, on one built by hand (the file ONNX Runtime writes: integration/test_optgraph.py)."""

from __future__ import annotations

import numpy as np
import onnx
from support.onnxbuild import GraphBuilder, weights

from int8gate.model.census import QuantFormat
from int8gate.model.optimized import analyze_optimized
from int8gate.model.pitfalls import runtime_findings
from int8gate.policy.spec import OptLevel


def _hand_optimized() -> onnx.ModelProto:
    """What an optimized graph can look like: integer kernels, a stray Q/DQ pair around Add, an unfused Conv."""
    g = GraphBuilder()
    s, z = g.const("s", np.array(0.1, np.float32)), g.const("z", np.array(128, np.uint8))
    ws, wz = g.const("ws", np.array(0.02, np.float32)), g.const("wz", np.array(0, np.int8))
    q0 = g.node("QuantizeLinear", ["x", s, z])  # fed by the graph input: expected
    c1 = g.node("QLinearConv", [q0, s, z, g.const("w", weights(3, 3, 1, 1)), ws, wz, s, z])
    add = g.node("Add", [g.node("DequantizeLinear", [c1, s, z])] * 2)  # DQ → Add → Q: a stray pair
    c2 = g.node(
        "QLinearConv",
        [g.node("QuantizeLinear", [add, s, z]), s, z, g.const("w", weights(3, 3, 1, 1)), ws, wz, s, z],
        domain="com.microsoft",
    )
    sum_q = g.node("QLinearAdd", [c2, s, z, c2, s, z, s, z], domain="com.microsoft")
    out = g.node("DequantizeLinear", [sum_q, s, z])  # feeds the graph output: expected
    conv = g.node("Conv", [g.node("DequantizeLinear", [c2, s, z]), g.dq_weight(weights(2, 3, 1, 1))])  # unfused
    return g.model([("x", [1, 3, 4, 4])], [(out, None), (conv, None)], extra_opsets=[("com.microsoft", 1)])


def test_counts_on_a_hand_built_optimized_graph() -> None:
    after = analyze_optimized(_hand_optimized(), OptLevel.ALL)
    assert (after.integer_kernels, after.integer_other) == (2, 1)
    assert (after.float_compute, after.float_compute_fed_by_dq) == (1, 1)
    assert (after.quantize_linear, after.dequantize_linear) == (2, 4)
    assert after.unfused_qdq == 2
    assert [(c.op, c.count) for c in after.qdq_neighbors] == [("Add", 1)]
    assert after.unfused_op_types == ("Conv",)
    (unfused,) = runtime_findings(after)  # one cause, one finding: the stray pair is in its evidence
    assert unfused.code == "float-compute-fed-by-dq" and "2 Q/DQ node(s) next to float ops" in unfused.evidence
    (islands,) = runtime_findings(after, QuantFormat.QOPERATOR)
    assert islands.code == "float-islands" and "(Conv, Add)" in islands.message and "Q/DQ pairs" not in islands.message
