"""A model's values as plain data: a graph input or output (``TensorSpec``), a dynamic dim given a value.

No ``onnx`` import here, so the input plan, the report and the worker protocol can carry these types
without loading ONNX (``graph.graph_io`` reads them from a model).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, dtype, and dims (a number, a symbol, or ``None`` when unnamed)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True)
class AssumedDim:
    """A dynamic input dimension given a value: by the census to count MACs (1), by the input plan to run."""

    input: str
    axis: int
    symbol: str
    value: int
