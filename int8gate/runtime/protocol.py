"""What the parent asks its model children and what they answer: worker and profiler requests, worker results.

Plain data with a JSON form (one line each way), importable without ONNX Runtime or subprocess, so
``bench`` builds requests and reads results without loading ONNX Runtime and a worker answers
without loading the launcher. A child that knows why it failed prints ``error_line`` and exits
``REPORTED_EXIT``; ``child.describe_failure`` reads that line back as the cause.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.agreement import OutputFidelity

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

REPORTED_EXIT = 3
"""The exit code of a child that printed ``error_line`` (it knows why it failed)."""
MAX_SAMPLES_PER_SESSION = 10_000
"""Timed runs per model a worker keeps: it ends its session once it has this many (after its minimum
rounds). The parent holds every session's latencies, so this bounds the gate's memory whatever the
budget: a 3 µs model used to send ~50,000 per 0.2 s (10,000 paired ratios already give the median to
~1.3% of their spread; the calibration pairs take 40-300 per session and never reach it)."""


def error_line(message: str) -> str:
    """The line a child prints on stdout (then exits ``REPORTED_EXIT``) to say why it failed."""
    return json.dumps({"error": message})


class _JsonLine:
    """A dataclass that crosses to or from a child as one JSON line."""

    def to_json(self) -> str:
        """This object as one JSON line (field names are the keys)."""
        return json.dumps(asdict(cast("DataclassInstance", self)))


@dataclass(frozen=True)
class WorkerRequest(_JsonLine):
    """What one worker should do: ``mode`` is ``"measure"`` or ``"fidelity"``.

    inputs: the feeds to build; empty means "read them from the FP32 model, free dims = 1".
    samples: a .npy/.npz file of real inputs (an .npz by input name; an array may carry a leading
    sample axis); ``None`` means seeded random data in a range that suits each dtype.
    seed: seeds the random inputs (the same in every worker); order_seed: the order of the rounds.
    fp32_first: create and warm the FP32 session first (``bench`` alternates it between workers).
    rewarm_runs, block_ms: in each round a model first runs ``rewarm_runs`` times untimed (the other
    model has just evicted its weights from cache), then enough timed runs to fill ``block_ms``.
    """

    mode: str
    fp32: str
    int8: str
    threads: int
    optimization_level: str = "all"
    inputs: tuple[ResolvedInput, ...] = ()
    samples: str | None = None
    seed: int = 0
    order_seed: int = 0
    fp32_first: bool = True
    warmup_runs: int = 5
    min_rounds: int = 5
    max_rounds: int = 1_000_000
    max_seconds: float = 1.0
    max_samples: int = MAX_SAMPLES_PER_SESSION
    rewarm_runs: int = 1
    block_ms: float = 10.0
    overhead_runs: int = 5
    fidelity_samples: int = 8

    @staticmethod
    def from_json(text: str) -> WorkerRequest:
        """Parse a request written by ``to_json``."""
        raw = json.loads(text)
        raw["inputs"] = _inputs(raw.get("inputs", ()))
        return WorkerRequest(**raw)


@dataclass(frozen=True)
class WorkerResult(_JsonLine):
    """What a worker measured. Latencies are ns from ``time.perf_counter_ns`` (CLOCK_MONOTONIC).

    overhead_ns: median wall time of a call minus ORT's profiled ``model_run`` time (0: not measured).
    involuntary_switches: kernel preemptions of the worker while it ran the rounds.
    other_cpu_seconds: CPU time the rest of the machine used while the rounds ran (``/proc/stat``
    busy time, steal included, minus this process's own); ``None`` where ``/proc/stat`` is absent.
    rounds, block: rounds run and timed runs per model per round (samples = rounds · block, paired
    in order within a round).
    outputs: fidelity mode, the FP32 model's output names; compared: their agreement metrics, in that order.
    """

    fp32_ns: tuple[int, ...] = ()
    int8_ns: tuple[int, ...] = ()
    rounds: int = 0
    block: int = 1
    fp32_first_rounds: int = 0
    rounds_seconds: float = 0.0
    clock_tick_ns: float = 1.0
    overhead_ns: float = 0.0
    involuntary_switches: int = 0
    other_cpu_seconds: float | None = None
    load_average: float = 0.0
    usable_cpus: int = 1
    setup: str = ""
    source: str = "random"
    outputs: tuple[str, ...] = ()
    samples: int = 0
    compared: tuple[OutputFidelity, ...] = ()

    @staticmethod
    def from_json(text: str) -> WorkerResult:
        """Parse a result written by ``to_json``."""
        raw = json.loads(text)
        for key in ("fp32_ns", "int8_ns", "outputs"):
            raw[key] = tuple(raw.get(key, ()))
        raw["compared"] = tuple(OutputFidelity.from_dict(item) for item in raw.get("compared", ()))
        return WorkerResult(**raw)



def setup_description(threads: int) -> str:
    """The session setup in one line, for the report."""
    return (
        f"one worker process per session pair; FP32 and INT8 share ONNX Runtime's global intra-op "
        f"pool of {threads} thread(s), spinning on (ORT default), run one at a time in paired "
        f"rounds of random order, each model's timed runs after one untimed run that re-warms "
        f"its cache; creation order alternates between workers"
    )


@dataclass(frozen=True)
class ProfileRequest(_JsonLine):
    """What the profiling child (``profiler``) should do."""

    fp32: str
    int8: str
    inputs: tuple[ResolvedInput, ...]
    samples: str | None
    threads: int
    runs: int
    seed: int

    @staticmethod
    def from_json(text: str) -> ProfileRequest:
        """Parse a request written by ``to_json``."""
        raw = json.loads(text)
        raw["inputs"] = _inputs(raw["inputs"])
        return ProfileRequest(**raw)


def _inputs(raw: Iterable[Mapping[str, Any]]) -> tuple[ResolvedInput, ...]:
    return tuple(ResolvedInput(**{**item, "shape": tuple(item["shape"])}) for item in raw)
