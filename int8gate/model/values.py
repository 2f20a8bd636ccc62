"""A model's values as plain data: a graph input or output (``TensorSpec``), a dynamic dim given a value,
the shapes one ONNX Runtime run recorded (``RecordedShapes``).

No ``onnx`` import here, so the input plan, the report and the worker protocol can carry these types
without loading ONNX (``graph.graph_io`` reads them from a model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, dtype, and dims (a number, a symbol, or ``None`` when unnamed).

    ``optional``: an input with a default in the model (an initializer of the same name), which runs
    on that default unless the policy gives it a shape.
    """

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None
    optional: bool = False


@dataclass(frozen=True)
class AssumedDim:
    """A dynamic input dimension given a value: by the census to count MACs (1), by the input plan to run."""

    input: str
    axis: int
    symbol: str
    value: int


@dataclass(frozen=True)
class RecordedShapes:
    """Value shapes one ONNX Runtime run of a model produced (``runtime.shapes``), for the census.

    ``dtypes`` holds numpy dtype names; ``error`` is why the run could not record them (then both
    mappings are empty).
    """

    shapes: Mapping[str, tuple[int, ...]]
    dtypes: Mapping[str, str]
    error: str | None = None


@dataclass(frozen=True)
class InputRange:
    """The range a float graph input was calibrated on: what its QuantizeLinear maps onto the integer type."""

    input: str
    low: float
    high: float
