"""The model worker process: one FP32/INT8 session pair, timed in paired rounds or run for fidelity.

Run as ``python -m int8gate.runtime.worker``: it reads one JSON ``WorkerRequest`` on stdin and writes one
JSON line on stdout, a ``WorkerResult`` (exit 0) or ``{"error": "..."}`` (exit 3). ``bench``
starts it with an allow-listed environment and a time limit; a crash or hang kills only this process.

Session setup (measured on a 2-CPU runner, see ``benchmarks/README.md``): both sessions use ONNX
Runtime's *global* intra-op pool (``set_global_thread_pool_sizes`` + ``use_per_session_threads =
False``) with ORT's default spinning. Two per-session pools interleaved fight each other (idle pool
threads spin and steal the CPUs: ~1.8x slower); one shared pool runs each model as fast as it runs
alone, which is what a deployment serving one model sees. Timed calls go through IO binding with
inputs and outputs bound once (the lowest per-call overhead measured: ~4 µs against ~10 µs for
``run`` on numpy feeds), and that overhead is measured against ORT's own profile and reported.

ONNX Runtime is imported inside the functions that run models, so ``bench`` can import the request
and result types without loading it.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from int8gate.inputs.feeds import Feeds, random_feeds
from int8gate.inputs.plan import ResolvedInput
from int8gate.inputs.samples import FeedError, load_samples
from int8gate.model.graph import graph_io

EXIT_MODEL_ERROR = 3
MAX_BLOCK = 32
OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
              "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}  # fmt: skip


@dataclass(frozen=True)
class WorkerRequest:
    """What one worker should do: ``mode`` is ``"measure"`` or ``"fidelity"``.

    inputs: the feeds to build; empty means "read them from the FP32 model, free dims = 1".
    samples: a .npy/.npz file of real inputs (an .npz by input name; an array may carry a leading
    sample axis); ``None`` means seeded random data in a range that suits each dtype.
    seed: seeds the random inputs (the same in every worker); order_seed: the order of the rounds.
    fp32_first: create and warm the FP32 session first (``bench`` alternates it between workers).
    rewarm_runs, block_ms: in each round a model first runs ``rewarm_runs`` times untimed (the other
    model has just evicted its weights from cache), then enough timed runs to fill ``block_ms``.
    outputs_dir: fidelity mode writes ``fp32.npz`` and ``int8.npz`` there.
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
    rewarm_runs: int = 1
    block_ms: float = 10.0
    overhead_runs: int = 5
    fidelity_samples: int = 8
    outputs_dir: str | None = None

    def to_json(self) -> str:
        """The request as one JSON line."""
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> WorkerRequest:
        """Parse a request written by ``to_json``."""
        raw = json.loads(text)
        raw["inputs"] = tuple(ResolvedInput(**{**i, "shape": tuple(i["shape"])}) for i in raw.get("inputs", ()))
        return WorkerRequest(**raw)


@dataclass(frozen=True)
class WorkerResult:
    """What a worker measured. Latencies are ns from ``time.perf_counter_ns`` (CLOCK_MONOTONIC).

    overhead_ns: median wall time of a call minus ORT's profiled ``model_run`` time (0: not measured).
    involuntary_switches: kernel preemptions of the worker while it ran the rounds.
    other_cpu_seconds: CPU time the rest of the machine used while the rounds ran (``/proc/stat``
    busy time, steal included, minus this process's own); ``None`` where ``/proc/stat`` is absent.
    rounds, block: rounds run and timed runs per model per round (samples = rounds · block, paired
    in order within a round).
    outputs: fidelity mode, the output names in the order of the keys ``o0, o1, ...`` in the npz files.
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

    def to_json(self) -> str:
        """The result as one JSON line."""
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> WorkerResult:
        """Parse a result written by ``to_json``."""
        raw = json.loads(text)
        for key in ("fp32_ns", "int8_ns", "outputs"):
            raw[key] = tuple(raw.get(key, ()))
        return WorkerResult(**raw)


class ModelRunError(Exception):
    """A model failed to load or run inside the worker; the message is the one-line cause."""


def machine_busy_seconds(stat_path: str = "/proc/stat") -> float | None:
    """CPU seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open(stat_path, encoding="ascii") as stream:  # noqa: PTH123 - hot path, no Path object
            fields = stream.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def setup_description(threads: int) -> str:
    """The session setup in one line, for the report."""
    return (
        f"one worker process per session pair; FP32 and INT8 share ONNX Runtime's global intra-op "
        f"pool of {threads} thread(s), spinning on (ORT default), run one at a time in paired "
        f"rounds of random order, each model's timed runs after one untimed run that re-warms "
        f"its cache; creation order alternates between workers"
    )


def build_feeds(request: WorkerRequest, specs: Sequence[ResolvedInput], count: int) -> list[Feeds]:
    """``count`` feeds (fewer if the sample file has fewer) from the samples or seeded at random."""
    if request.samples is not None:
        try:
            return load_samples(Path(request.samples), specs)[: max(count, 1)]
        except FeedError as err:
            raise ModelRunError(f"samples {err}") from err
    return random_feeds(specs, count, request.seed)


def _ort() -> Any:
    """ONNX Runtime, imported on first use so ``bench`` can import this module's types cheaply."""
    import onnxruntime  # noqa: PLC0415 - deliberately lazy, see the function docstring

    return onnxruntime


def _session_options(request: WorkerRequest, *, profile_dir: str | None = None) -> Any:
    ort = _ort()
    options = ort.SessionOptions()
    options.use_per_session_threads = False
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[request.optimization_level])
    options.log_severity_level = 3
    if profile_dir is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(profile_dir) / "profile")
    return options


def _open(path: str, options: Any) -> Any:
    ort = _ort()
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises many unrelated types; each becomes the row's cause
        raise ModelRunError(f"load {Path(path).name}: {_one_line(err)}") from err


def _run(session: Any, feeds: Feeds) -> list[Any]:
    try:
        return list(session.run(None, feeds))
    except Exception as err:  # idem: a failing kernel becomes the row's cause
        raise ModelRunError(f"run: {_one_line(err)}") from err


_ORT_SOURCE = re.compile(r"/onnxruntime_src/\S+ [\w:~<>]+\([^)]*\) ?")


class Bound:
    """A session with its inputs and outputs bound once, so a timed call costs only the run itself.

    Outputs are preallocated from a first run's shapes; an output that is not a plain tensor is
    left for ORT to allocate on each run.
    """

    def __init__(self, session: Any, feed: Feeds) -> None:
        ort = _ort()
        self.session = session
        self.binding = session.io_binding()
        self.keep: list[Any] = []  # the arrays behind the bound OrtValues must outlive them
        for name, array in feed.items():
            self._bind(self.binding.bind_ortvalue_input, name, np.ascontiguousarray(array), ort)
        for meta, value in zip(session.get_outputs(), _run(session, feed), strict=True):
            if isinstance(value, np.ndarray):
                self._bind(self.binding.bind_ortvalue_output, meta.name, np.empty_like(value), ort)
            else:
                self.binding.bind_output(meta.name, "cpu")

    def _bind(self, bind: Any, name: str, array: npt.NDArray[Any], ort: Any) -> None:
        self.keep.append(array)
        bind(name, ort.OrtValue.ortvalue_from_numpy(array))

    def run(self) -> None:
        """One run on the bound feed."""
        self.session.run_with_iobinding(self.binding)


def _one_line(err: BaseException) -> str:
    """The error on one line, without ORT's source paths and signatures, at most 400 characters."""
    text = _ORT_SOURCE.sub("", " ".join(str(err).split()))[:400] or type(err).__name__
    oom = isinstance(err, MemoryError) or "bad_alloc" in text or "Failed to allocate" in text
    return f"out of memory: {text}" if oom else text


def inputs_of(path: str) -> tuple[ResolvedInput, ...]:
    """The model's declared inputs with every dynamic dim set to 1 (a request that names no inputs)."""
    declared, _ = graph_io(onnx.load(path, load_external_data=False))
    return tuple(
        ResolvedInput(i.name, tuple(d if isinstance(d, int) and d > 0 else 1 for d in i.shape or ()), i.dtype, "model")
        for i in declared
    )


def clock_tick_ns() -> float:
    """The smallest step of ``perf_counter_ns`` seen between back-to-back reads (at least 1 ns)."""
    steps = []
    for _ in range(200):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        while b == a:
            b = time.perf_counter_ns()
        steps.append(b - a)
    resolution_ns = time.get_clock_info("perf_counter").resolution * 1e9
    return float(max(min(steps), resolution_ns, 1.0))


def block_size(latency_ns: int, block_ms: float) -> int:
    """Timed runs per model per round: enough to fill ``block_ms``, 1 to ``MAX_BLOCK``."""
    if latency_ns <= 0:
        return 1
    return max(1, min(MAX_BLOCK, int(block_ms * 1e6 // latency_ns)))


def round_orders(rounds: int, rng: np.random.Generator) -> list[bool]:
    """Whether FP32 runs first in each round: every two rounds hold one of each, in random order."""
    orders: list[bool] = []
    while len(orders) < rounds:
        orders.extend([True, False] if rng.random() < 0.5 else [False, True])
    return orders[:rounds]


def measure(request: WorkerRequest) -> WorkerResult:
    """Create the pair (in the requested order), warm up, time paired rounds, measure overhead."""
    ort = _ort()
    ort.set_global_thread_pool_sizes(request.threads, 1)
    options = _session_options(request)
    order = [("fp32", request.fp32), ("int8", request.int8)]
    if not request.fp32_first:
        order.reverse()
    created = {label: _open(path, options) for label, path in order}  # in this order
    fp32, int8 = created["fp32"], created["int8"]
    specs = request.inputs or inputs_of(request.fp32)
    feeds = build_feeds(request, specs, 1 if request.samples is None else request.fidelity_samples)
    ordered = (fp32, int8) if request.fp32_first else (int8, fp32)
    clock = time.perf_counter_ns
    warm: dict[int, list[int]] = {id(fp32): [], id(int8): []}
    for i in range(request.warmup_runs):
        for session in ordered:
            t0 = clock()
            _run(session, feeds[i % len(feeds)])
            warm[id(session)].append(clock() - t0)
    block = block_size(min(int(np.median(v)) if v else 0 for v in warm.values()), request.block_ms)
    orders = round_orders(min(request.max_rounds, 1_000_000), np.random.default_rng(request.order_seed))
    fp32_ns: list[int] = []
    int8_ns: list[int] = []
    rounds = 0
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    busy_before, own_before = machine_busy_seconds(), _own_cpu_seconds()
    start = clock()
    deadline = start + int(request.max_seconds * 1e9)
    try:
        bound = {id(s): [Bound(s, feed) for feed in feeds] for s in ordered}
        for i, fp32_first in enumerate(orders):
            for is_fp32 in (fp32_first, not fp32_first):
                session, times = (fp32, fp32_ns) if is_fp32 else (int8, int8_ns)
                call = bound[id(session)][i % len(feeds)]
                for _ in range(request.rewarm_runs):  # untimed: bring this model's weights back into cache
                    call.run()
                for _ in range(block):
                    t0 = clock()
                    call.run()
                    times.append(clock() - t0)
            rounds = i + 1
            if rounds >= request.min_rounds and clock() >= deadline:
                break
    except Exception as err:  # a kernel failing mid-run becomes the row's cause
        raise ModelRunError(f"run: {_one_line(err)}") from err
    rounds_seconds = (clock() - start) / 1e9
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches
    busy_after, own_after = machine_busy_seconds(), _own_cpu_seconds()
    other = None
    if busy_before is not None and busy_after is not None:
        other = max(0.0, (busy_after - busy_before) - (own_after - own_before))
    try:
        overhead = _overhead_ns(request, feeds[0]) if request.overhead_runs > 0 else 0.0
    except (OSError, ValueError, KeyError) as err:  # a profile we cannot read leaves overhead unknown
        raise ModelRunError(f"overhead: could not read ORT's profile ({_one_line(err)})") from err
    return WorkerResult(
        fp32_ns=tuple(fp32_ns),
        int8_ns=tuple(int8_ns),
        rounds=rounds,
        block=block,
        fp32_first_rounds=sum(orders[:rounds]),
        rounds_seconds=rounds_seconds,
        clock_tick_ns=clock_tick_ns(),
        overhead_ns=overhead,
        involuntary_switches=switches,
        other_cpu_seconds=other,
        load_average=os.getloadavg()[0],
        usable_cpus=len(os.sched_getaffinity(0)),
        setup=setup_description(request.threads),
    )


def _overhead_ns(request: WorkerRequest, feed: Feeds) -> float:
    """Median over both models of (wall time of a call − ORT's profiled ``model_run``)."""
    gaps: list[float] = []
    with tempfile.TemporaryDirectory(prefix="int8gate-profile-") as tmp:
        for path in (request.fp32, request.int8):
            session = _open(path, _session_options(request, profile_dir=tmp))
            call = Bound(session, feed)
            walls = []
            for _ in range(request.overhead_runs):
                t0 = time.perf_counter_ns()
                call.run()
                walls.append(time.perf_counter_ns() - t0)
            events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
            runs_us = [e["dur"] for e in events if e.get("name") == "model_run"][-len(walls) :]
            gaps.extend(w - r * 1e3 for w, r in zip(walls, runs_us, strict=True))
    return float(max(np.median(gaps), 0.0))


def fidelity(request: WorkerRequest) -> WorkerResult:
    """Run both models on the same feeds and write their outputs to ``outputs_dir``."""
    ort = _ort()
    if request.outputs_dir is None:
        raise ModelRunError("fidelity needs an outputs_dir")
    ort.set_global_thread_pool_sizes(request.threads, 1)
    options = _session_options(request)
    fp32 = _open(request.fp32, options)
    int8 = _open(request.int8, options)
    specs = request.inputs or inputs_of(request.fp32)
    feeds = build_feeds(request, specs, request.fidelity_samples)
    names = tuple(o.name for o in fp32.get_outputs())
    out_dir = Path(request.outputs_dir)
    for label, session in (("fp32", fp32), ("int8", int8)):
        per_output: list[list[npt.NDArray[Any]]] = [[] for _ in names]
        for feed in feeds:
            values = dict(zip([o.name for o in session.get_outputs()], _run(session, feed), strict=True))
            for k, name in enumerate(names):
                if name in values:
                    per_output[k].append(np.asarray(values[name]))
        arrays = {f"o{k}": np.stack(v) for k, v in enumerate(per_output) if v}
        np.savez(out_dir / f"{label}.npz", **arrays)  # type: ignore[arg-type]
    return WorkerResult(
        setup=setup_description(request.threads),
        source="random" if request.samples is None else "samples",
        outputs=names,
        samples=len(feeds),
    )


def serve(request_text: str) -> tuple[int, str]:
    """Handle one request; the exit code and the JSON line to print."""
    try:
        request = WorkerRequest.from_json(request_text)
        modes = {"measure": measure, "fidelity": fidelity}
        if request.mode not in modes:
            raise ModelRunError(f"unknown mode {request.mode!r}")
        result = modes[request.mode](request)
    except ModelRunError as err:
        return EXIT_MODEL_ERROR, json.dumps({"error": str(err)})
    except MemoryError:
        return EXIT_MODEL_ERROR, json.dumps({"error": "out of memory"})
    return 0, result.to_json()


def main() -> int:
    """Entry point of ``python -m int8gate.runtime.worker``: one request on stdin, one line on stdout."""
    code, line = serve(sys.stdin.read())
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
