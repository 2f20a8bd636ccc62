"""Shapes where ONNX shape inference stops: one ONNX Runtime run of the model, recording what it produced.

ONNX shape inference cannot follow a shape computed from data (a ``Reshape`` whose target comes from
``Shape`` → ``Gather`` → ``Concat`` of a runtime value, a ``Slice`` of position ids, ``Pad`` with
computed pads) or through contrib ops it does not know, so a real export's MACs are often unknown
although every input shape is fixed. ONNX Runtime knows them once it has run: the child here loads
the model with the values the census asks about added as graph outputs (the file is never rewritten:
the proto goes to ONNX Runtime as bytes, its external data read from the model's own folder), runs it
once on seeded random inputs of the planned shapes with graph optimizations off, and answers with
each value's shape and dtype. Only the asked-for values are kept alive, so memory stays near one run's.

The parent calls ``record_shapes``; the child is ``python -m int8gate.runtime.shapes`` started by
``child.run_child``, so a model that crashes ONNX Runtime costs the shapes, not the gate.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from int8gate.inputs.feeds import random_feeds
from int8gate.inputs.resolved import ResolvedInput
from int8gate.model.values import RecordedShapes
from int8gate.runtime.child import ChildError, module_command, run_child
from int8gate.runtime.protocol import REPORTED_EXIT, error_line

DEFAULT_TIMEOUT_SECONDS = 300.0


def record_shapes(
    path: Path,
    inputs: Sequence[ResolvedInput],
    names: Sequence[str],
    *,
    seed: int = 0,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> RecordedShapes:
    """Run ``path`` once in a child and record the shapes of ``names`` (``error`` says why it could not)."""
    request = json.dumps({
        "model": str(path.resolve()),
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in inputs],
        "names": list(names),
        "seed": seed,
    })  # fmt: skip
    try:
        text = run_child(module_command("int8gate.runtime.shapes"), request, env=env or {}, timeout=timeout)
    except ChildError as exc:
        return RecordedShapes({}, {}, exc.cause("the shape-recording run"))
    try:
        raw = json.loads(text.strip().splitlines()[-1])
        return RecordedShapes(
            shapes={name: tuple(int(d) for d in item[0]) for name, item in raw["shapes"].items()},
            dtypes={name: str(item[1]) for name, item in raw["shapes"].items()},
        )
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        return RecordedShapes({}, {}, f"the shape-recording run wrote an unreadable answer ({exc})")


def _run(request: Mapping[str, Any]) -> dict[str, Any]:
    """In the child: the model with ``names`` as extra outputs, run once; each output's shape and dtype."""
    import onnx  # noqa: PLC0415 - only the child loads onnx and ONNX Runtime
    import onnxruntime as ort  # noqa: PLC0415

    from int8gate.runtime.session import one_line  # noqa: PLC0415

    path = Path(request["model"])
    model = onnx.load(str(path), load_external_data=False)
    present = {value.name for value in model.graph.output}
    names = [name for name in request["names"] if name not in present]
    model.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names)  # ORT types them itself
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(path.parent))
    inputs = [ResolvedInput(i["name"], tuple(i["shape"]), i["dtype"]) for i in request["inputs"]]
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        del model
        wanted = [meta.name for meta in session.get_outputs() if meta.name in set(request["names"])]
        feed = random_feeds(inputs, 1, int(request["seed"]))[0]
        declared = {meta.name for meta in session.get_inputs()}
        values = session.run(wanted, {name: array for name, array in feed.items() if name in declared})
    except Exception as err:  # ORT raises many unrelated types; each is the cause, on one line
        raise _RunError(f"ONNX Runtime could not run it on the planned inputs: {one_line(err)}") from err
    shapes = {
        name: [list(np.shape(value)), str(value.dtype)]
        for name, value in zip(wanted, values, strict=True)
        if isinstance(value, np.ndarray)
    }
    return {"shapes": shapes}


class _RunError(Exception):
    """A cause the child prints as its error line."""


def main() -> int:
    """Entry point of ``python -m int8gate.runtime.shapes``: one request on stdin, one line on stdout."""
    try:
        answer = _run(json.loads(sys.stdin.read()))
    except _RunError as exc:
        print(error_line(str(exc)))
        return REPORTED_EXIT
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
