"""ONNX Runtime sessions for the worker: options, opening and running a model, IO binding, the feeds.

Session setup (measured on a 2-CPU runner, see ``benchmarks/README.md``): both sessions use ONNX
Runtime's *global* intra-op pool (``set_global_thread_pool_sizes`` + ``use_per_session_threads =
False``) with ORT's default spinning. Two per-session pools interleaved fight each other (idle pool
threads spin and steal the CPUs: ~1.8x slower); one shared pool runs each model as fast as it runs
alone, which is what a deployment serving one model sees. Timed calls go through IO binding with
inputs and outputs bound once (the lowest per-call overhead measured: ~4 µs against ~10 µs for
``run`` on numpy feeds), and that overhead is measured against ORT's own profile and reported.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from int8gate.inputs.feeds import Feeds, iter_random_feeds
from int8gate.inputs.samples import FeedError, iter_samples
from int8gate.runtime.protocol import WorkerRequest

OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
              "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}  # fmt: skip



class ModelRunError(Exception):
    """A model failed to load or run inside the worker; the message is the one-line cause."""



OPTIMIZED_WEIGHTS = "weights.data"
"""The external-data file of an optimized graph a profiled session writes (its tensors stay out of the .onnx)."""


def session_options(
    request: WorkerRequest, *, profile_prefix: str | None = None, optimized_path: str | None = None
) -> ort.SessionOptions:
    """The options every model of a worker shares (global thread pool, the request's optimization level).

    ``profile_prefix`` turns ORT's profiler on; ``optimized_path`` has ORT write the optimized graph
    there (initializers of 1 KiB or more as external data beside it).
    """
    options = ort.SessionOptions()
    options.use_per_session_threads = False
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[request.optimization_level])
    options.log_severity_level = 3
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    if optimized_path is not None:
        options.optimized_model_filepath = optimized_path
        weights = f"{Path(optimized_path).name}.{OPTIMIZED_WEIGHTS}"
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", weights)
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    return options


def open_session(path: str, options: ort.SessionOptions) -> ort.InferenceSession:
    """A CPU session for ``path``; any failure to load becomes ``ModelRunError`` with one line."""
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises many unrelated types; each becomes the row's cause
        raise ModelRunError(f"load {Path(path).name}: {one_line(err)}") from err


_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def fit_feed(session: ort.InferenceSession, feed: Feeds) -> Feeds:
    """``feed`` with float inputs cast to the float type this session declares.

    An FP16 "FP32" model and its INT8 version with float32 inputs run on the same values: the plan
    makes them in the reference's dtype, and each model gets them in its own.
    """
    wanted = {meta.name: _FLOAT_TYPES.get(meta.type) for meta in session.get_inputs()}
    fitted = dict(feed)
    for name, array in feed.items():
        dtype = wanted.get(name)
        if dtype is not None and array.dtype != dtype and np.issubdtype(array.dtype, np.floating):
            fitted[name] = array.astype(dtype)
    return fitted


def run_session(session: ort.InferenceSession, feeds: Feeds) -> list[Any]:
    """One run on ``feeds`` (cast by ``fit_feed``); a failing kernel becomes ``ModelRunError`` with one line."""
    try:
        return list(session.run(None, fit_feed(session, feeds)))
    except Exception as err:  # idem: a failing kernel becomes the row's cause
        raise ModelRunError(f"run: {one_line(err)}") from err


_ORT_SOURCE = re.compile(r"/onnxruntime_src/\S+ (?:[\w:~<>*&,]+ )*?[\w:~<>]+\((?:[^()]|\([^()]*\))*\)(?: const)? ?")
"""ORT's source location and the C++ signature after it (``...model_load_utils.h:46 void ns::F(const T&, int)``)."""
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ")
_LOAD_FROM = re.compile(r"Load model from \S+ failed: ?")
MAX_CAUSE = 600


def ort_reason(text: str) -> str:
    """ONNX Runtime's message with its own words kept and the noise around them gone: the error-code
    prefix, the model's path (the report names the file), source locations and C++ signatures; one line,
    at most ``MAX_CAUSE`` characters ("Current official support for domain ai.onnx is till opset 28" sat
    behind a 300-character signature and was cut off)."""
    text = " ".join(text.split())
    text = _LOAD_FROM.sub("", _ORT_SOURCE.sub("", _ORT_PREFIX.sub("", text)))
    return text if len(text) <= MAX_CAUSE else text[: MAX_CAUSE - 3] + "..."


class Bound:
    """A session with its inputs and outputs bound once, so a timed call costs only the run itself.

    Outputs are preallocated from the shapes of a run on ``feed``: ``outputs`` when the caller has
    just made one (the fidelity step), otherwise a run made here. An output that is not a plain tensor
    is left for ONNX Runtime to allocate on each run. So is one whose shape contradicts the shape the
    model declares for it (a PyTorch 1.9 export declares ``[1, seqlen]`` for a ``[32, 1, 8210]``
    output): ONNX Runtime runs such a model but refuses an output buffer of another rank, its own from
    the previous run included, so those outputs are bound afresh before each run.
    """

    def __init__(self, session: ort.InferenceSession, feed: Feeds, outputs: list[Any] | None = None) -> None:
        self.session = session
        self.binding = session.io_binding()
        self.keep: list[Any] = []  # the arrays behind the bound OrtValues must outlive them
        self.outputs: list[tuple[str, Any]] = []  # (name, preallocated OrtValue or None: ORT allocates)
        self.rebind = False
        feed = fit_feed(session, feed)
        for name, array in feed.items():
            self._bind(self.binding.bind_ortvalue_input, name, np.ascontiguousarray(array))
        first = outputs if outputs is not None else run_session(session, feed)
        for meta, value in zip(session.get_outputs(), first, strict=True):
            if isinstance(value, np.ndarray) and _fits(meta.shape, value.shape):
                buffer = np.empty_like(value)
                self.keep.append(buffer)
                self.outputs.append((meta.name, ort.OrtValue.ortvalue_from_numpy(buffer)))
            else:
                self.outputs.append((meta.name, None))
                self.rebind = self.rebind or isinstance(value, np.ndarray)
        self._bind_outputs()

    def _bind(self, bind: Any, name: str, array: npt.NDArray[Any]) -> None:
        self.keep.append(array)
        bind(name, ort.OrtValue.ortvalue_from_numpy(array))

    def _bind_outputs(self) -> None:
        for name, value in self.outputs:
            if value is None:
                self.binding.bind_output(name, "cpu")
            else:
                self.binding.bind_ortvalue_output(name, value)

    def run(self) -> None:
        """One run on the bound feed."""
        if self.rebind:
            self.binding.clear_binding_outputs()
            self._bind_outputs()
        self.session.run_with_iobinding(self.binding)


def _fits(declared: Any, shape: tuple[int, ...]) -> bool:
    """Whether an output of ``shape`` agrees with the shape the model declares (a symbol matches any size)."""
    if declared is None:
        return True
    return len(declared) == len(shape) and all(
        not isinstance(d, int) or d == n for d, n in zip(declared, shape, strict=True)
    )


def one_line(err: BaseException) -> str:
    """The error on one line, without ORT's source paths and signatures (``ort_reason``).

    Running out of memory says so first, with the worker's address-space limit when it has one.
    """
    text = ort_reason(str(err)) or type(err).__name__
    oom = isinstance(err, MemoryError) or "bad_alloc" in text or "Failed to allocate" in text
    return f"out of memory{memory_limit_note()}: {text}" if oom else text


def memory_limit_note() -> str:
    """`` (the worker's limit: 4.0 GiB of address space)``, or nothing without a limit."""
    try:
        resource = importlib.import_module("resource")
    except ImportError:  # Windows: no address-space limit
        return ""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return "" if soft == resource.RLIM_INFINITY else f" (the worker's limit: {soft / 2**30:.1f} GiB of address space)"


def set_global_pool(threads: int) -> None:
    """Size ONNX Runtime's global intra-op pool, which both sessions of a worker share."""
    ort.set_global_thread_pool_sizes(threads, 1)


def feeds_for(request: WorkerRequest, count: int) -> list[Feeds]:
    """``count`` feeds (fewer if the samples hold fewer) from the samples or seeded at random."""
    return list(iter_feeds(request, count))


def iter_feeds(request: WorkerRequest, count: int) -> Iterator[Feeds]:
    """``feeds_for`` one feed at a time: a samples folder is read file by file."""
    if request.inputs:
        specs = request.inputs
    else:  # a raw request that names no inputs: only then does a worker need onnx
        from int8gate.inputs.declared import inputs_of  # noqa: PLC0415

        specs = inputs_of(request.models[0])
    if request.samples is None:
        yield from iter_random_feeds(specs, count, request.seed)
        return
    try:
        yield from iter_samples(Path(request.samples), specs, max(count, 1))
    except FeedError as err:
        raise ModelRunError(f"samples {err}") from err
