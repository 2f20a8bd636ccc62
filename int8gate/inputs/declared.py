"""A model file's declared inputs as fed when nothing else is said: every dynamic dimension set to 1.

For a worker request that names no inputs (an ad-hoc ``measure_pair`` call, a hand-written request):
``bench`` fills them in the parent, once per row, and the worker falls back on it only for a raw
request. The gate itself always plans its inputs (``plan``).
"""

from __future__ import annotations

from pathlib import Path

import onnx

from int8gate.inputs.resolved import ResolvedInput
from int8gate.model.graph import graph_io


def inputs_of(path: Path | str) -> tuple[ResolvedInput, ...]:
    """The model's declared inputs (``graph_io``) with every dynamic dim set to 1; raises what ``onnx.load`` raises."""
    declared, _ = graph_io(onnx.load(str(path), load_external_data=False))
    return tuple(
        ResolvedInput(i.name, tuple(d if isinstance(d, int) and d > 0 else 1 for d in i.shape or ()), i.dtype, "model")
        for i in declared
    )
