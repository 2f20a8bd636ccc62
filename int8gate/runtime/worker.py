"""The model worker process: one FP32/INT8 session pair, timed in paired rounds or run for fidelity.

Run as ``python -m int8gate.runtime.worker``: it reads one JSON ``WorkerRequest`` on stdin and writes
one JSON line on stdout, a ``WorkerResult`` (exit 0) or ``child.error_line`` (exit
``child.REPORTED_EXIT``). ``bench`` starts it through ``child.run_child``, with an allow-listed
environment and a time limit; a crash or hang kills only this process. The request and result
types live in ``protocol``, the sessions in ``session``, the timing rounds in ``rounds``.
"""

from __future__ import annotations

import sys

from int8gate.runtime.compare import compare_outputs
from int8gate.runtime.protocol import REPORTED_EXIT, WorkerRequest, WorkerResult, error_line, setup_description
from int8gate.runtime.rounds import measure
from int8gate.runtime.session import (
    ModelRunError,
    iter_feeds,
    memory_limit_note,
    open_session,
    session_options,
    set_global_pool,
)

EXIT_MODEL_ERROR = REPORTED_EXIT


def fidelity(request: WorkerRequest) -> WorkerResult:
    """Run both models on the same feeds and answer with their outputs' agreement (``compare_outputs``)."""
    set_global_pool(request.threads)
    options = session_options(request)
    fp32 = open_session(request.fp32, options)
    int8 = open_session(request.int8, options)
    compared = compare_outputs(fp32, int8, iter_feeds(request, request.fidelity_samples))
    return WorkerResult(
        setup=setup_description(request.threads),
        source="random" if request.samples is None else "samples",
        outputs=tuple(o.name for o in compared),
        samples=max((o.samples for o in compared), default=0),
        compared=compared,
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
