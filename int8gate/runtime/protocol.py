"""What the parent asks its model workers and what they answer: worker requests and results.

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
    """What one worker should do with its models; ``models[0]`` is the reference (FP32).

    One worker holds one session per model (any number, usually FP32 and INT8) and does, in order,
    the steps its request asks for: the fidelity runs (``fidelity``: every model on the same feeds,
    outputs saved to ``outputs_dir`` as ``m{k}.npz``), warm-up, timed rounds, and the profile
    (``profile_models``: per-node profiles saved to ``outputs_dir``, which also give the harness
    overhead). See ``runtime.worker``.

    inputs: the feeds to build; empty means "read them from the reference model, free dims = 1".
    samples: a .npy/.npz file of real inputs (an .npz by input name; an array may carry a leading
    sample axis); ``None`` means seeded random data in a range that suits each dtype.
    seed: seeds the random inputs (the same in every worker); order_seed: the order of the rounds.
    rotate: sessions are created and warmed in the order ``models[rotate:] + models[:rotate]``
    (``bench`` rotates it between workers).
    rewarm_runs, block_ms: in each round a model first runs ``rewarm_runs`` times untimed (the other
    models have just evicted its weights from cache), then enough timed runs to fill ``block_ms``.
    max_seconds: the rounds' time, once ``min_rounds`` rounds ran.
    limit_seconds: the worker's whole wall time from its start (sessions, fidelity, warm-up, rounds,
    profile); 0 means no limit. The worker shortens warm-up, rounds (down to ``MIN_ROUNDS_FLOOR``)
    and the profile (or skips it) to stay within it.
    max_samples: the rounds end once each model has this many timed runs (``MAX_SAMPLES_PER_SESSION``).
    """

    models: tuple[str, ...]
    threads: int
    optimization_level: str = "all"
    inputs: tuple[ResolvedInput, ...] = ()
    samples: str | None = None
    seed: int = 0
    order_seed: int = 0
    rotate: int = 0
    warmup_runs: int = 5
    min_rounds: int = 5
    max_rounds: int = 1_000_000
    max_seconds: float = 1.0
    limit_seconds: float = 0.0
    max_samples: int = MAX_SAMPLES_PER_SESSION
    rewarm_runs: int = 1
    block_ms: float = 10.0
    fidelity: bool = False
    fidelity_samples: int = 8
    profile_models: tuple[int, ...] = ()
    profile_runs: int = 10
    outputs_dir: str | None = None

    @staticmethod
    def from_json(text: str) -> WorkerRequest:
        """Parse a request written by ``to_json``."""
        raw = json.loads(text)
        raw["models"] = tuple(raw["models"])
        raw["inputs"] = _inputs(raw.get("inputs", ()))
        raw["profile_models"] = tuple(raw.get("profile_models", ()))
        return WorkerRequest(**raw)


@dataclass(frozen=True)
class WorkerResult(_JsonLine):
    """What a worker did. Latencies are ns from ``time.perf_counter_ns`` (CLOCK_MONOTONIC).

    latencies_ns: per model (in request order), the timed runs; ``latencies_ns[k][i]`` and
    ``latencies_ns[j][i]`` ran in the same round (samples = rounds · block per model).
    first_counts: per model, the rounds in which it ran first.
    overhead_ns: median wall time of a call minus ORT's profiled ``model_run`` time (0: not measured).
    involuntary_switches: kernel preemptions of the worker while it ran the rounds.
    other_cpu_seconds: CPU time the rest of the machine used while the rounds ran (``/proc/stat``
    busy time, steal included, minus this process's own); ``None`` where ``/proc/stat`` is absent.
    outputs, samples, source: the fidelity step's output names (the reference's), how many feeds it
    ran, and where they came from; compared: each output's agreement of ``models[1]`` with
    ``models[0]`` (``measure.agreement``), in that order, folded as the feeds ran.
    profiled: the models whose profile was saved; profile_note: why a requested profile was not.
    elapsed_seconds: the worker's wall time from its start; extra_seconds: of that, the fidelity
    and profile steps (work a row's later workers do not repeat).
    """

    latencies_ns: tuple[tuple[int, ...], ...] = ()
    rounds: int = 0
    block: int = 1
    first_counts: tuple[int, ...] = ()
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
    profiled: tuple[int, ...] = ()
    profile_note: str = ""
    elapsed_seconds: float = 0.0
    extra_seconds: float = 0.0

    @staticmethod
    def from_json(text: str) -> WorkerResult:
        """Parse a result written by ``to_json``."""
        raw = json.loads(text)
        raw["latencies_ns"] = tuple(tuple(v) for v in raw.get("latencies_ns", ()))
        for key in ("first_counts", "outputs", "profiled"):
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


def _inputs(raw: Iterable[Mapping[str, Any]]) -> tuple[ResolvedInput, ...]:
    return tuple(ResolvedInput(**{**item, "shape": tuple(item["shape"])}) for item in raw)
