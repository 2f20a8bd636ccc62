"""Have ONNX Runtime optimize a model and write the result, then load that graph back with onnx.

The session is created in a child process (``child.run_child``), so a model that crashes ONNX
Runtime while loading fails its own row instead of the gate. The optimized model goes to a private
temporary folder that is removed afterwards; its initializers are written as external data and
loaded back without it, so a large model costs one session's memory. Only a session is created
(CPU provider, one thread, no weight pre-packing); nothing runs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import onnx
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from int8gate.errors import ModelFileError
from int8gate.policy.spec import OptLevel
from int8gate.runtime.child import ChildError, module_command, run_child
from int8gate.runtime.protocol import REPORTED_EXIT, error_line
from int8gate.runtime.session import ort_reason

_LEVELS = {
    OptLevel.DISABLE: ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    OptLevel.BASIC: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    OptLevel.EXTENDED: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    OptLevel.ALL: ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_ORT_ERRORS: tuple[type[BaseException], ...] = (
    ort_state.Fail,
    ort_state.InvalidArgument,
    ort_state.InvalidGraph,
    ort_state.InvalidProtobuf,
    ort_state.NoSuchFile,
    ort_state.NoModel,
    ort_state.NotImplemented,
    ort_state.RuntimeException,
    ort_state.EPFail,
    RuntimeError,
)
_OPTIMIZED_NAME = "optimized.onnx"
_WEIGHTS_NAME = "optimized.onnx.data"


DEFAULT_TIMEOUT_SECONDS = 600.0
_REFUSED = "ONNX Runtime cannot load it: "


def optimized_model(
    path: Path,
    opt_level: OptLevel,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> onnx.ModelProto:
    """The graph ONNX Runtime runs for ``path`` at ``opt_level`` (tensors without their data).

    Raises ``ModelFileError`` when ONNX Runtime refuses the model, crashes or hangs on it, or writes
    nothing back. ``env`` is the parent environment the child's allow-listed one is built from.
    """
    with tempfile.TemporaryDirectory(prefix="int8gate-opt-") as folder:
        target = Path(folder) / _OPTIMIZED_NAME
        request = json.dumps({"model": str(path.resolve()), "level": opt_level.value, "target": str(target)})
        try:
            run_child(module_command("int8gate.runtime.optimizer"), request, env=env or {}, timeout=timeout)
        except ChildError as exc:
            if exc.hung:
                cause = f"ONNX Runtime did not finish loading it within {timeout:g} s (benchmark.timeout_seconds)"
            else:
                cause = str(exc) if exc.reported else f"ONNX Runtime {exc} while loading it"
            raise ModelFileError(str(path), cause) from None
        if not target.is_file():
            raise ModelFileError(str(path), "ONNX Runtime wrote no optimized model for it")
        return onnx.load(str(target), load_external_data=False)


def _write_optimized(model: Path, opt_level: OptLevel, target: Path) -> None:
    """In the child: create the session, which makes ONNX Runtime write the optimized graph."""
    try:
        ort.InferenceSession(str(model), sess_options=_session_options(opt_level, target),
                             providers=["CPUExecutionProvider"])  # fmt: skip
    except _ORT_ERRORS as exc:
        print(error_line(_REFUSED + (ort_reason(str(exc)) or type(exc).__name__)))
        raise SystemExit(REPORTED_EXIT) from None


def _session_options(opt_level: OptLevel, target: Path) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = _LEVELS[opt_level]
    options.optimized_model_filepath = str(target)
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the hardware-specific-optimizations warning is expected
    options.add_session_config_entry("session.disable_prepacking", "1")
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", _WEIGHTS_NAME)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    return options


if __name__ == "__main__":
    _request = json.loads(sys.stdin.read())
    _write_optimized(Path(_request["model"]), OptLevel(_request["level"]), Path(_request["target"]))
