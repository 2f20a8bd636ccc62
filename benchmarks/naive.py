"""A naive benchmark worker for calibration only: all FP32 runs, then all INT8 runs, in one process.

What most hand-written scripts do: two sessions with ORT's default per-session pools, each model
warmed up and then run back to back for half of ``max_seconds``. Speaks the worker's protocol (a
``WorkerRequest`` on stdin, a ``WorkerResult`` line on stdout) so ``calibrate.py`` can launch it
with the same allow-listed environment; the samples are not paired.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from int8gate.inputs.declared import inputs_of  # noqa: E402
from int8gate.inputs.feeds import random_feeds  # noqa: E402
from int8gate.runtime.protocol import WorkerRequest, WorkerResult  # noqa: E402


def naive(request: WorkerRequest) -> WorkerResult:
    options = ort.SessionOptions()
    options.intra_op_num_threads = request.threads
    fp32 = ort.InferenceSession(request.models[0], options, providers=["CPUExecutionProvider"])
    int8 = ort.InferenceSession(request.models[1], options, providers=["CPUExecutionProvider"])
    specs = request.inputs or inputs_of(request.models[0])
    feed = random_feeds(specs, 1, request.seed)[0]
    timings: list[list[int]] = []
    for session in (fp32, int8):
        for _ in range(request.warmup_runs):
            session.run(None, feed)
        times: list[int] = []
        deadline = time.perf_counter_ns() + int(request.max_seconds / 2 * 1e9)
        while len(times) < request.min_rounds or time.perf_counter_ns() < deadline:
            t0 = time.perf_counter_ns()
            session.run(None, feed)
            times.append(time.perf_counter_ns() - t0)
        timings.append(times)
    return WorkerResult(
        latencies_ns=(tuple(timings[0]), tuple(timings[1])),
        setup=f"naive: all FP32 runs then all INT8 runs, per-session pools of {request.threads} thread(s)",
    )


if __name__ == "__main__":
    print(naive(WorkerRequest.from_json(sys.stdin.read())).to_json())
