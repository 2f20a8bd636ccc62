"""The model worker process: one FP32/INT8 session pair, timed in paired rounds or run for fidelity.

Run as ``python -m int8gate.runtime.worker``: it reads one JSON ``WorkerRequest`` on stdin and writes
one JSON line on stdout, a ``WorkerResult`` (exit 0) or ``child.error_line`` (exit
``child.REPORTED_EXIT``). ``bench`` starts it through ``child.run_child``, with an allow-listed
environment and a time limit; a crash or hang kills only this process. The request and result
types live in ``protocol``, the sessions in ``session``, the timing rounds in ``rounds``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from int8gate.runtime.protocol import REPORTED_EXIT, WorkerRequest, WorkerResult, error_line, setup_description
from int8gate.runtime.rounds import measure
from int8gate.runtime.session import (
    ModelRunError,
    feeds_for,
    memory_limit_note,
    open_session,
    run_session,
    session_options,
    set_global_pool,
)

EXIT_MODEL_ERROR = REPORTED_EXIT


def fidelity(request: WorkerRequest) -> WorkerResult:
    """Run both models on the same feeds and write their outputs to ``outputs_dir``.

    Samples stop once the FP32 outputs kept reach ``max_output_bytes`` (at least one sample runs), and the
    INT8 model runs the same ones: the parent compares what is written, so this bounds its memory (a
    200-byte model with a 256 KiB output at 1,000 samples took the gate to 3.7 GB).
    """
    if request.outputs_dir is None:
        raise ModelRunError("fidelity needs an outputs_dir")
    set_global_pool(request.threads)
    options = session_options(request)
    fp32 = open_session(request.fp32, options)
    int8 = open_session(request.int8, options)
    feeds = feeds_for(request, request.fidelity_samples)
    names = tuple(o.name for o in fp32.get_outputs())
    out_dir = Path(request.outputs_dir)
    for label, session in (("fp32", fp32), ("int8", int8)):
        per_output: list[list[npt.NDArray[Any]]] = [[] for _ in names]
        held = 0
        for index, feed in enumerate(feeds):
            values = dict(zip([o.name for o in session.get_outputs()], run_session(session, feed), strict=True))
            for k, name in enumerate(names):
                if name in values:
                    per_output[k].append(np.asarray(values[name]))
                    held += per_output[k][-1].nbytes
            if label == "fp32" and held >= request.max_output_bytes:
                feeds = feeds[: index + 1]  # the INT8 model runs the same samples
                break
        arrays = {f"o{k}": np.stack(v) for k, v in enumerate(per_output) if v}
        np.savez(out_dir / f"{label}.npz", **arrays)  # type: ignore[arg-type]
        del per_output, arrays
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
        return EXIT_MODEL_ERROR, error_line(str(err))
    except MemoryError:
        return EXIT_MODEL_ERROR, error_line(f"out of memory{memory_limit_note()}")
    return 0, result.to_json()


def main() -> int:
    """Entry point of ``python -m int8gate.runtime.worker``: one request on stdin, one line on stdout."""
    code, line = serve(sys.stdin.read())
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
