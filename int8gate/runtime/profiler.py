"""Profile models inside the worker with ONNX Runtime's per-node profiler; the same runs give the harness overhead.

Worker side (ONNX Runtime only, no onnx): for each model asked for, a session with profiling on is
created on the worker's global pool and bound once (that run is the warm-up), then timed ``runs``
times. Each profile is saved as ``profile-m{k}.json`` in the worker's output folder, and for every
model but the reference the graph ONNX Runtime optimized (``optimized-m{k}.onnx``, tensors as
external data beside it) so the parent can name the nodes fed by DequantizeLinear; the pure
``measure.opprofile`` reads both. Profiling slows every kernel a little: its numbers explain, they
never grade. The wall time of each timed call minus ORT's ``model_run`` time is the harness overhead.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from int8gate.inputs.feeds import Feeds
from int8gate.runtime.protocol import WorkerRequest
from int8gate.runtime.session import Bound, open_session, session_options

PROFILE_SLOWDOWN = 1.2
"""How much slower a profiled run is planned to be than a timed one (the profiler writes an event per node)."""


def profile_path(folder: Path, model: int) -> Path:
    """Where the worker saves model ``model``'s profile."""
    return folder / f"profile-m{model}.json"


def optimized_path(folder: Path, model: int) -> Path:
    """Where the worker saves the graph ONNX Runtime ran for model ``model`` (not for the reference)."""
    return folder / f"optimized-m{model}.onnx"


@dataclass(frozen=True)
class Profiled:
    """What the profile step did: the models profiled, the harness overhead, and why not, if skipped."""

    models: tuple[int, ...]
    overhead_ns: float
    note: str = ""


def planned_seconds(models: Sequence[int], created: Sequence[float], latency: Sequence[float], runs: int) -> float:
    """The time ``runs`` timed runs (after the binding run) of each model take, sessions included."""
    return sum(created[k] + (1 + runs) * latency[k] * PROFILE_SLOWDOWN for k in models)


def runs_that_fit(
    models: Sequence[int], created: Sequence[float], latency: Sequence[float], *, wanted: int, seconds_left: float
) -> int:
    """Timed runs per model that fit in ``seconds_left`` (at most ``wanted``; 0 when not even one fits)."""
    for runs in range(wanted, 0, -1):
        if planned_seconds(models, created, latency, runs) <= seconds_left:
            return runs
    return 0


def profile_models(request: WorkerRequest, models: Sequence[int], feed: Feeds, runs: int, folder: Path) -> Profiled:
    """Profile ``models`` (indices into ``request.models``) on ``feed``, ``runs`` timed runs each."""
    gaps: list[float] = []
    for k in models:
        with_graph = str(optimized_path(folder, k)) if k > 0 else None
        prefix = str(folder / f"ort-m{k}")
        session = open_session(request.models[k], session_options(request, profile_prefix=prefix,
                                                                  optimized_path=with_graph))  # fmt: skip
        call = Bound(session, feed)
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            call.run()
            walls.append(time.perf_counter_ns() - t0)
        written = Path(session.end_profiling())
        target = profile_path(folder, k)
        shutil.move(written, target)
        events = json.loads(target.read_text(encoding="utf-8"))
        runs_us = [e["dur"] for e in events if e.get("name") == "model_run"][-len(walls) :]
        gaps.extend(w - r * 1e3 for w, r in zip(walls, runs_us, strict=True))
    return Profiled(tuple(models), float(max(np.median(gaps), 0.0)) if gaps else 0.0)
