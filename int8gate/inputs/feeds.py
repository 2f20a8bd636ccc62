"""Seeded random feeds for model inputs, in a range that suits each input (real samples: ``samples``).

Pure: numpy only. The same seed gives the same feeds in every worker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from int8gate.inputs.resolved import ResolvedInput

Feeds = dict[str, npt.NDArray[Any]]
"""One run's inputs by name."""


def random_feed(spec: ResolvedInput, rng: np.random.Generator) -> npt.NDArray[Any]:
    """Seeded data in a range that suits the input: normal floats, masks of ones, small ids."""
    dtype = np.dtype(spec.dtype)
    lowered = spec.name.lower()
    if dtype == np.bool_:
        return rng.random(spec.shape) < 0.5
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(spec.shape).astype(dtype)
    if "mask" in lowered:
        return np.ones(spec.shape, dtype=dtype)
    if "type" in lowered or "segment" in lowered:
        return np.zeros(spec.shape, dtype=dtype)
    info = np.iinfo(dtype)
    high = info.max + 1 if info.bits <= 8 else 100
    return rng.integers(max(info.min, 0), high, size=spec.shape).astype(dtype)


def iter_random_feeds(specs: Sequence[ResolvedInput], count: int, seed: int) -> Iterator[Feeds]:
    """``count`` (at least one) feeds of seeded random data, one at a time; the same seed gives the same feeds."""
    rng = np.random.default_rng(seed)
    for _ in range(max(count, 1)):
        yield {s.name: random_feed(s, rng) for s in specs}


def random_feeds(specs: Sequence[ResolvedInput], count: int, seed: int) -> list[Feeds]:
    """``iter_random_feeds`` as a list."""
    return list(iter_random_feeds(specs, count, seed))
