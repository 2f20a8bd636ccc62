"""What a model is fed: one input's concrete shape and dtype, and where they came from.

Plain data with no heavy imports: the plan produces it, the report shows it, and every worker and
profiler child receives it in its request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SampleShapes = Mapping[str, tuple[tuple[int, ...], str]]
"""A sample file's arrays by input name (``""`` for a lone .npy array): shape and dtype."""


@dataclass(frozen=True)
class ResolvedInput:
    """One model input as fed and measured: a concrete shape, a numpy dtype name, and where it came from.

    ``source``: ``samples``, ``policy`` (or ``--input``), ``model`` (fixed dims), ``default`` (a dynamic
    dim was given a stated default), or ``given`` (built by hand, e.g. by a test).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    source: str = "given"
