"""Profile a model pair with ONNX Runtime's per-node profiler and compare where the time goes.

Edge: builds sessions with ``enable_profiling`` and an ``optimized_model_filepath`` in a work folder
the caller owns, runs the given feeds, and hands the profile text and the optimized graph to the pure
``opprofile`` functions. Profiling slows every kernel a little; its numbers explain, they never grade.
The gate calls ``profile_in_child``: the models run in a child process (``python -m
int8gate.runtime.profiler``, started by ``child.run_child``), so a crash costs the table, not the report.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime

from int8gate.inputs.feeds import random_feeds
from int8gate.inputs.resolved import ResolvedInput
from int8gate.inputs.samples import load_samples
from int8gate.measure.opprofile import (
    QDQ_OPS,
    OpProfile,
    ProfileComparison,
    ProfileFormatError,
    compare_profiles,
    comparison_from_json,
    parse_profile,
)
from int8gate.runtime.child import ChildError, module_command, run_child
from int8gate.runtime.protocol import ProfileRequest


@dataclass(frozen=True)
class ProfiledModel:
    """One model's profile and the names of its optimized graph's non-Q/DQ nodes fed by DequantizeLinear."""

    profile: OpProfile
    fed_by_dq: frozenset[str]
    profile_path: Path
    optimized_path: Path


def nodes_fed_by_dq(model: onnx.ModelProto) -> frozenset[str]:
    """Names of nodes (other than Q/DQ) with an input produced by a DequantizeLinear node."""
    dq_outputs = {out for n in model.graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    return frozenset(
        n.name for n in model.graph.node
        if n.op_type not in QDQ_OPS and any(i in dq_outputs for i in n.input)
    )


def profile_model(
    path: Path,
    feeds: Mapping[str, npt.NDArray[np.generic]],
    *,
    workdir: Path,
    label: str,
    threads: int,
    runs: int,
    warmup: int = 1,
) -> ProfiledModel:
    """Run ``warmup + runs`` inferences with profiling on; the warm-up runs are left out of the times."""
    workdir.mkdir(parents=True, exist_ok=True)
    opts = onnxruntime.SessionOptions()
    opts.enable_profiling = True
    opts.profile_file_prefix = str(workdir / f"profile-{label}")
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    optimized = workdir / f"optimized-{label}.onnx"
    opts.optimized_model_filepath = str(optimized)
    session = onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    for _ in range(warmup + runs):
        session.run(None, dict(feeds))
    profile_path = Path(session.end_profiling())
    profile = parse_profile(profile_path.read_text(encoding="utf-8"), skip_runs=warmup)
    graph = onnx.load(str(optimized), load_external_data=False)
    return ProfiledModel(profile, nodes_fed_by_dq(graph), profile_path, optimized)


def profile_pair(
    fp32: Path,
    int8: Path,
    feeds: Mapping[str, npt.NDArray[np.generic]],
    *,
    workdir: Path,
    threads: int = 1,
    runs: int = 20,
) -> ProfileComparison:
    """Profile both models on the same feeds and compare them per op type."""
    a = profile_model(fp32, feeds, workdir=workdir, label="fp32", threads=threads, runs=runs)
    b = profile_model(int8, feeds, workdir=workdir, label="int8", threads=threads, runs=runs)
    return compare_profiles(a.profile, b.profile, fed_by_dq=b.fed_by_dq)


def profile_in_child(
    fp32: Path,
    int8: Path,
    inputs: Sequence[ResolvedInput],
    *,
    samples: Path | None = None,
    threads: int = 1,
    runs: int = 20,
    seed: int = 0,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> ProfileComparison | str:
    """Profile the pair in a child process; the comparison, or a one-line cause when it failed."""
    # Absolute paths: the child starts in its own private folder, not in the caller's.
    request = ProfileRequest(str(fp32.absolute()), str(int8.absolute()), tuple(inputs),
                             None if samples is None else str(samples.absolute()), threads, runs, seed)  # fmt: skip
    try:
        command = module_command("int8gate.runtime.profiler")
        text = run_child(command, request.to_json(), env=env or {}, timeout=timeout)
        return comparison_from_json(text)
    except ChildError as exc:
        return exc.cause("profiling")
    except ProfileFormatError as exc:
        return f"profiling returned no table: {exc}"


def _child_main(request: ProfileRequest) -> None:
    if request.samples:
        feeds = load_samples(Path(request.samples), request.inputs, 1)[0]
    else:
        feeds = random_feeds(request.inputs, 1, request.seed)[0]
    with tempfile.TemporaryDirectory(prefix="int8gate-profile-") as work:
        comparison = profile_pair(Path(request.fp32), Path(request.int8), feeds, workdir=Path(work),
                                  threads=request.threads, runs=request.runs)  # fmt: skip
    sys.stdout.write(json.dumps(asdict(comparison)))


if __name__ == "__main__":
    _child_main(ProfileRequest.from_json(sys.stdin.read()))
