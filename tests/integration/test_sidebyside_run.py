"""Side by side with real ONNX Runtime: the base INT8 model timed in the same workers and rounds as the
head pair, its outputs checked by the same worker, and the ratio's direction when the PR really
changed the model."""

from __future__ import annotations

import os

from examples.modelzoo import Zoo
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.sidebyside import measure_against_base

SETTINGS = BenchmarkSettings(threads=(1,), budget_seconds=1.0, sessions=2, warmup_runs=2, confirm=False)


def test_a_quantized_head_against_a_float_base_takes_less_time_in_the_same_rounds(zoo: Zoo) -> None:
    side = measure_against_base(zoo.conv_fp32, zoo.conv_qdq, zoo.conv_fake, None, threads=(1,), settings=SETTINGS,
                                threshold=1.0, requirement=FidelityRequirement(), profile=False,
                                env=dict(os.environ))  # fmt: skip
    (run,), (vs,) = side.pair.runs, side.runs
    assert run.error is None and vs.error is None
    assert vs.int8_latency_ratio is not None and vs.base_speedup is not None
    assert vs.head_speedup == run.speedup
    assert vs.int8_latency_ratio.estimate < 0.95  # head INT8 (quantized) is faster than base's float "INT8"
    assert 0.8 < vs.base_speedup.estimate < 1.25  # base's "INT8" is the FP32 graph: about 1×
    assert run.sessions >= 2 and run.rounds >= 10
    assert "the base branch's INT8 model ran in the same rounds" in run.setup
    # the same worker ran the fidelity feeds through every model: base's float "INT8" matches FP32 exactly
    assert side.pair.fidelity is not None and side.pair.fidelity.passed
    assert side.base_fidelity is not None and side.base_fidelity.passed
    assert min(o.cosine for o in side.base_fidelity.outputs) > 0.99999
    assert min(o.cosine for o in side.pair.fidelity.outputs) < min(o.cosine for o in side.base_fidelity.outputs)


def test_a_broken_base_model_fails_the_row_with_its_cause(zoo: Zoo) -> None:
    side = measure_against_base(zoo.conv_fp32, zoo.conv_qdq, zoo.fails_at_run, None, threads=(1,),
                                settings=SETTINGS, threshold=1.0, env=dict(os.environ))  # fmt: skip
    (run,), (vs,) = side.pair.runs, side.runs
    assert run.error is not None
    assert vs.error == run.error and vs.int8_latency_ratio is None
