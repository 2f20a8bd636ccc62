"""Why the worker shares ORT's global thread pool: interleaved FP32/INT8 latency under each session setup.

Each setup runs in a fresh process (the global pool can only be set before the first session):
  solo      each model alone in its own process (what a deployment serving one model sees)
  per       two sessions with their own pools, interleaved (ORT's default)
  global    both sessions on one global pool (set_global_thread_pool_sizes), interleaved  <- chosen
  nospin    own pools with session.intra_op.allow_spinning = 0, interleaved
  stopspin  own pools with session.force_spinning_stop = 1, interleaved
It also times the per-call overhead of three call paths against ORT's profiled model_run.

    python benchmarks/thread_setups.py FP32.onnx INT8.onnx [--threads 2] [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

SETUPS = ("solo", "per", "global", "nospin", "stopspin")


def _feed(session: Any) -> dict[str, Any]:
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    return {inp.name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}


def _sessions(setup: str, paths: list[str], threads: int) -> list[Any]:
    if setup == "global":
        ort.set_global_thread_pool_sizes(threads, 1)
    out = []
    for path in paths:
        so = ort.SessionOptions()
        if setup == "global":
            so.use_per_session_threads = False
        else:
            so.intra_op_num_threads = threads
        if setup == "nospin":
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if setup == "stopspin":
            so.add_session_config_entry("session.force_spinning_stop", "1")
        out.append(ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]))
    return out


def child(setup: str, paths: list[str], threads: int, rounds: int) -> dict[str, float]:
    """Median ms per model under one setup (runs inside the fresh process)."""
    sessions = _sessions(setup, paths, threads)
    feeds = [_feed(s) for s in sessions]
    for s, f in zip(sessions, feeds, strict=True):
        for _ in range(5):
            s.run(None, f)
    times: list[list[int]] = [[] for _ in sessions]
    for i in range(rounds):
        order = range(len(sessions)) if i % 2 == 0 else reversed(range(len(sessions)))
        for k in order:
            t0 = time.perf_counter_ns()
            sessions[k].run(None, feeds[k])
            times[k].append(time.perf_counter_ns() - t0)
    return {Path(p).name: float(np.median(t)) / 1e6 for p, t in zip(paths, times, strict=True)}


def call_paths(path: str, threads: int, rounds: int) -> dict[str, float]:
    """Median µs of (wall − profiled model_run) for run(), IO binding and run_with_ort_values."""
    ort.set_global_thread_pool_sizes(threads, 1)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("run", "iobinding", "ortvalues"):
            so = ort.SessionOptions()
            so.use_per_session_threads = False
            so.enable_profiling = True
            so.profile_file_prefix = str(Path(tmp) / kind)
            s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            feed = _feed(s)
            name = next(iter(feed))
            call: Callable[[], object]
            if kind == "run":
                call = partial(s.run, None, feed)
            elif kind == "iobinding":
                binding = s.io_binding()
                binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(feed[name]))
                for o, arr in zip(s.get_outputs(), s.run(None, feed), strict=True):
                    binding.bind_ortvalue_output(o.name, ort.OrtValue.ortvalue_from_numpy(np.empty_like(arr)))
                call = partial(s.run_with_iobinding, binding)
            else:
                values = {name: ort.OrtValue.ortvalue_from_numpy(feed[name])}
                call = partial(s.run_with_ort_values, [o.name for o in s.get_outputs()], values)
            walls = []
            for _ in range(rounds + 5):
                t0 = time.perf_counter_ns()
                call()
                walls.append(time.perf_counter_ns() - t0)
            events = json.loads(Path(s.end_profiling()).read_text(encoding="utf-8"))
            runs = [e["dur"] for e in events if e.get("name") == "model_run"][-rounds:]
            out[kind] = float(np.median(np.array(walls[-rounds:]) / 1e3 - np.array(runs)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32")
    parser.add_argument("int8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--child", choices=(*SETUPS, "calls"))
    args = parser.parse_args()
    if args.child == "calls":
        print(json.dumps(call_paths(args.int8, args.threads, args.rounds)))
        return 0
    if args.child:
        paths = [args.fp32] if args.child == "solo" and args.int8 == "-" else [args.fp32, args.int8]
        print(json.dumps(child(args.child, paths, args.threads, args.rounds)))
        return 0

    def spawn(setup: str, a: str, b: str) -> dict[str, float]:
        cmd = [sys.executable, __file__, a, b, "--threads", str(args.threads), "--rounds", str(args.rounds)]
        done = subprocess.run([*cmd, "--child", setup], capture_output=True, text=True, check=True)
        return dict(json.loads(done.stdout))

    print(f"threads {args.threads}, {args.rounds} rounds, median ms per run")
    solo = {**spawn("solo", args.fp32, "-"), **spawn("solo", args.int8, "-")}
    print(f"  {'solo':9s} " + "  ".join(f"{k} {v:.3f}" for k, v in solo.items()))
    for setup in SETUPS[1:]:
        got = spawn(setup, args.fp32, args.int8)
        print(f"  {setup:9s} " + "  ".join(f"{k} {v:.3f}" for k, v in got.items()))
    calls = spawn("calls", args.fp32, args.int8)
    print("per-call overhead (wall − profiled model_run), µs: " + ", ".join(f"{k} {v:.1f}" for k, v in calls.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
