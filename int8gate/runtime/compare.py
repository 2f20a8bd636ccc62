"""What the worker computes for fidelity: both models on the same feeds, outputs compared as they stream.

``compare_outputs`` is the one function a worker calls for the fidelity check: it runs the FP32 and
the INT8 session on each feed in turn, folds every output pair into a running accumulator
(``measure.agreement``) and lets go of the arrays before the next feed, so memory holds one sample's
outputs, never all of them. The parent judges the metrics (``measure.fidelity.evaluate``).
"""

from __future__ import annotations

from collections.abc import Iterable

import onnxruntime as ort

from int8gate.inputs.feeds import Feeds
from int8gate.measure.agreement import OutputAccumulator, OutputFidelity
from int8gate.runtime.session import run_session


def compare_outputs(
    fp32: ort.InferenceSession, int8: ort.InferenceSession, feeds: Iterable[Feeds]
) -> tuple[OutputFidelity, ...]:
    """Every FP32 output against the INT8 output of the same name, over ``feeds``, one feed at a time."""
    names = [meta.name for meta in fp32.get_outputs()]
    int8_names = [meta.name for meta in int8.get_outputs()]
    accumulators = {name: OutputAccumulator(name) for name in names}
    missing = [name for name in names if name not in int8_names]
    for name in missing:
        accumulators[name].problem = "the INT8 model has no output of this name"
    shared = [name for name in names if name not in missing]
    for feed in feeds:
        reference = dict(zip(names, run_session(fp32, feed), strict=True))
        candidate = dict(zip(int8_names, run_session(int8, feed), strict=True))
        for name in shared:
            accumulators[name].add(reference[name], candidate[name])
        del reference, candidate
    return tuple(accumulators[name].result() for name in names)
