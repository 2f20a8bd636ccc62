"""Output agreement end to end with real ONNX Runtime: honest about synthetic inputs, strict with samples.

The zoo's models are calibrated on N(0,1) data, the same kind as int8gate's random inputs, so random
inputs grade their drift. A copy calibrated on narrow data (like a real model calibrated on real
images) meets random inputs outside its calibrated range: its drift is reported, not graded, until
samples are given.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from examples.modelzoo import Zoo, break_weight_scale, quantizer_workdir
from int8gate.cli import main
from int8gate.gate.examine import inspect_model
from int8gate.measure.fidelity import FidelityContext, FidelityResult
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.bench import check_fidelity

SETTINGS = BenchmarkSettings(fidelity_samples=4, timeout_seconds=60)


def context(fp32: Path, int8: Path) -> FidelityContext:
    """What the gate hands the fidelity check: the FP32 outputs' kinds, the INT8 model's calibrated ranges."""
    a, b = inspect_model(fp32, runtime_layer=False), inspect_model(int8, runtime_layer=False)
    return FidelityContext(a.output_kinds, b.input_ranges)


def fidelity(fp32: Path, int8: Path, *, samples: Path | None = None) -> FidelityResult:
    return check_fidelity(fp32, int8, samples=samples, requirement=FidelityRequirement(), settings=SETTINGS,
                          context=context(fp32, int8))  # fmt: skip


def codes(result: FidelityResult) -> list[str]:
    return [f.code for f in result.findings]


def test_broken_scale_is_caught_and_correct_qdq_passes(zoo: Zoo) -> None:
    good = fidelity(zoo.conv_fp32, zoo.conv_qdq)
    assert good.passed and good.graded, good.findings
    assert good.outputs and all(o.cosine >= 0.99 for o in good.outputs)
    assert "inside the INT8 model's calibrated ranges" in good.basis
    broken = fidelity(zoo.conv_fp32, zoo.conv_broken_scale)
    assert not broken.passed and codes(broken) == ["fidelity-drift"]


class _Uniform(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information
    def __init__(self, name: str, shape: tuple[int, ...], bound: float) -> None:
        rng = np.random.default_rng(11)
        self._batches = iter([{name: rng.uniform(-bound, bound, shape).astype(np.float32)} for _ in range(8)])

    def get_next(self) -> dict[str, Any] | None:
        return next(self._batches, None)


@dataclass(frozen=True)
class Narrow:
    """The zoo's convnet calibrated on U(-0.25, 0.25) inputs, a broken-scale copy, and samples like the data."""

    int8: Path
    broken: Path
    samples: Path


@pytest.fixture(scope="module")
def narrow(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Narrow:
    folder = tmp_path_factory.mktemp("narrow")
    int8, broken = folder / "narrow_int8.onnx", folder / "narrow_broken.onnx"
    source = (zoo.directory / "prep" / "conv.onnx").resolve()
    with quantizer_workdir():
        quantize_static(str(source), str(int8), _Uniform(zoo.conv_input.name, zoo.conv_input.shape, 0.25),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)  # fmt: skip
    break_weight_scale(int8, broken)
    samples = folder / "samples"
    samples.mkdir()
    rng = np.random.default_rng(12)
    for k in range(2):  # a folder of .npz files, each holding two samples on the model's batch axis
        batch = rng.uniform(-0.25, 0.25, (2, *zoo.conv_input.shape[1:])).astype(np.float32)
        arrays: dict[str, Any] = {zoo.conv_input.name: batch}
        np.savez(samples / f"part{k}.npz", allow_pickle=False, **arrays)
    return Narrow(int8, broken, samples)


def test_drift_on_random_inputs_outside_the_calibrated_range_is_not_graded(zoo: Zoo, narrow: Narrow) -> None:
    result = fidelity(zoo.conv_fp32, narrow.int8)
    assert result.passed and not result.graded and codes(result) == ["fidelity-synthetic"]
    assert "fall outside" in result.basis and "the range the INT8 model was calibrated on" in result.basis
    assert result.outputs[0].cosine < 0.99  # it drifts on inputs it was never calibrated for


def test_with_samples_the_working_model_passes_and_the_drifting_one_fails(zoo: Zoo, narrow: Narrow) -> None:
    good = fidelity(zoo.conv_fp32, narrow.int8, samples=narrow.samples)
    assert good.passed and good.graded and good.source == "samples" and good.samples == 4, good.findings
    assert good.basis == "4 samples from samples"
    drifting = fidelity(zoo.conv_fp32, narrow.broken, samples=narrow.samples)
    assert not drifting.passed and codes(drifting) == ["fidelity-drift"]


def test_the_gate_grades_a_pair_on_a_samples_folder(zoo: Zoo, narrow: Narrow, tmp_path: Path) -> None:
    shutil.copy(zoo.conv_fp32, tmp_path / "fp32.onnx")
    shutil.copy(narrow.int8, tmp_path / "int8.onnx")
    shutil.copytree(narrow.samples, tmp_path / "samples")  # README: `samples: data/calibration/`
    (tmp_path / ".int8gate.yml").write_text(
        "models:\n  - {name: net, fp32: fp32.onnx, int8: int8.onnx, samples: samples/}\n"
        "benchmark: {threads: [1], budget_seconds: 0.6, sessions: 2, warmup_runs: 1, confirm: false}\n"
        "report: {profile: false}\n")  # fmt: skip
    code = main(["check", "--policy", str(tmp_path / ".int8gate.yml"), "--workspace", str(tmp_path),
                 "--json", str(tmp_path / "r.json"), "--fail-on", "never"], environ={})  # fmt: skip
    fid = json.loads((tmp_path / "r.json").read_text())["models"][0]["fidelity"]
    assert code == 0 and (fid["source"], fid["samples"], fid["passed"]) == ("samples", 4, True)


def test_a_model_that_cannot_run_fails_fidelity_with_its_cause(zoo: Zoo) -> None:
    result = check_fidelity(zoo.fails_at_run, zoo.fails_at_run, requirement=FidelityRequirement(),
                            settings=BenchmarkSettings())  # fmt: skip
    assert not result.passed and result.error is not None and result.error.startswith("run: ")
    assert codes(result) == ["fidelity-failed"]
