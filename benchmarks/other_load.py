"""Measure what the worker's other-load signal reads: other processes' CPU share while ONNX Runtime runs.

    python benchmarks/other_load.py [--threads 2] [--busy]

Runs the bundled FP32 example for 4 s at ``--threads`` and reports the CPU time the rest of the
machine used meanwhile (``/proc/stat`` busy time minus this process's own), as a share of the
usable CPUs, the way ``int8gate.runtime.worker`` does; ``--busy`` starts one spinning Python process beside it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from int8gate.runtime.rounds import machine_busy_seconds

MODEL = Path(__file__).resolve().parents[1] / "int8gate" / "demo" / "models" / "convnet_fp32.onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="run one spinning process beside the model")
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    feed = {"input": np.random.default_rng(0).random((1, 3, 112, 112), dtype=np.float32)}
    for _ in range(10):
        session.run(None, feed)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        time.sleep(0.5 if spinner else 0.0)
        busy0, own0, start = machine_busy_seconds(), sum(os.times()[:2]), time.monotonic()
        while time.monotonic() - start < 4.0:
            session.run(None, feed)
        busy1, own1, wall = machine_busy_seconds(), sum(os.times()[:2]), time.monotonic() - start
    finally:
        if spinner is not None:
            spinner.kill()
    if busy0 is None or busy1 is None:
        print("no /proc/stat here")
        return 1
    share = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall * len(os.sched_getaffinity(0)))
    print(f"threads {args.threads}, busy neighbour {'yes' if args.busy else 'no'}: other CPU share {share:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
