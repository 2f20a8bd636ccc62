"""Does the untimed re-warm run before each model's timed runs matter? Session speedups, rewarm 0 vs 1.

Runs ``--reps`` pairs of workers on one model pair at one thread, alternating ``rewarm_runs`` 0 and 1
(and which goes first), each timing ``--seconds`` of rounds, and prints per setting the geometric
mean of the session speedups, each session's speedup and the medians (ms) and rounds behind it.
The gate's worker makes the re-warm run only when the faster model runs below
``worker.REWARM_BELOW_MS``; this script's workers have that rule lifted, so ``rewarm_runs`` decides.

    python benchmarks/rewarm.py FP32 INT8 --input x:1,3,640,640 [--seconds 1.5] [--reps 6]

Timing figures go into benchmarks/README.md only from ``/work/bin/cpu exclusive -- ...`` runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from int8gate.inputs.resolved import ResolvedInput  # noqa: E402
from int8gate.measure import stats  # noqa: E402
from int8gate.policy.spec import BenchmarkSettings  # noqa: E402
from int8gate.runtime import bench  # noqa: E402

WORKER_WITHOUT_RULE = (
    sys.executable, "-c",
    "import int8gate.runtime.worker as w; w.REWARM_BELOW_MS = float('inf'); raise SystemExit(w.main())",
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32", type=Path)
    parser.add_argument("int8", type=Path)
    parser.add_argument("--input", required=True, metavar="NAME:D,D,...", help="the float32 input and its shape")
    parser.add_argument("--seconds", type=float, default=1.5, help="rounds per worker")
    parser.add_argument("--reps", type=int, default=6, help="workers per setting")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    name, dims = args.input.split(":")
    spec = ResolvedInput(name, tuple(int(d) for d in dims.split(",")), "float32")
    settings = BenchmarkSettings()
    launcher = bench.WorkerLauncher(dict(os.environ), settings.timeout_seconds, WORKER_WITHOUT_RULE)
    base = bench._request(args.fp32, args.int8, threads=args.threads, settings=settings, inputs=(spec,), samples=None)
    speedups: dict[int, list[float]] = {0: [], 1: []}
    medians: dict[int, list[tuple[float, float, int]]] = {0: [], 1: []}
    for i in range(args.reps):
        for rewarm in (0, 1) if i % 2 == 0 else (1, 0):
            request = replace(base, rewarm_runs=rewarm, max_seconds=args.seconds, rotate=i % 2, order_seed=i)
            result = launcher.run(request)
            if isinstance(result, str):
                raise SystemExit(f"worker failed: {result}")
            session = stats.SessionSamples(result.latencies_ns[0], result.latencies_ns[1])
            speedups[rewarm].append(stats.session_speedups([session])[0])
            medians[rewarm].append((float(np.median(session.fp32_ns)) / 1e6, float(np.median(session.int8_ns)) / 1e6,
                                    result.rounds))  # fmt: skip
    for rewarm in (0, 1):
        mean = math.exp(float(np.mean(np.log(speedups[rewarm]))))
        shown = ", ".join(f"{s:.4f} ({a:.2f}/{b:.2f} ms, {n} rounds)"
                          for s, (a, b, n) in zip(speedups[rewarm], medians[rewarm], strict=True))  # fmt: skip
        print(f"rewarm_runs {rewarm}: speedup geo-mean {mean:.4f}; sessions {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
