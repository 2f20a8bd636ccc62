"""Model inputs for the worker: seeded random data in a range that suits each input, or real samples.

An edge module (it reads .npy/.npz files) that never imports ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Feeds = dict[str, npt.NDArray[Any]]


class FeedError(Exception):
    """A sample file does not fit the model's inputs; the message names the file and the input."""


@dataclass(frozen=True)
class FeedSpec:
    """One model input with a concrete shape and a numpy dtype name (``"float32"``, ``"int64"``)."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def random_feed(spec: FeedSpec, rng: np.random.Generator) -> npt.NDArray[Any]:
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


def load_samples(path: Path, specs: Sequence[FeedSpec]) -> list[Feeds]:
    """Read real inputs from a .npz (by input name) or .npy (one input) into per-sample feeds."""
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.ndarray):
        if len(specs) != 1:
            raise FeedError(f"{path.name}: a .npy holds one input; the model has {len(specs)}")
        arrays = {specs[0].name: loaded}
    else:
        with loaded as data:
            missing = [s.name for s in specs if s.name not in data.files]
            if missing:
                raise FeedError(f"{path.name}: no array for input(s) {', '.join(missing)}")
            arrays = {s.name: data[s.name] for s in specs}
    per_input: dict[str, list[npt.NDArray[Any]]] = {}
    for spec in specs:
        arr = arrays[spec.name].astype(spec.dtype)
        if arr.shape == spec.shape:
            per_input[spec.name] = [arr]
        elif arr.shape[1:] == spec.shape:
            per_input[spec.name] = [np.ascontiguousarray(a) for a in arr]
        else:
            raise FeedError(f"{path.name}: {spec.name} has shape {arr.shape}, wants {spec.shape}")
    count = min(len(v) for v in per_input.values())
    return [{name: per_input[name][i] for name in per_input} for i in range(count)]


def random_feeds(specs: Sequence[FeedSpec], count: int, seed: int) -> list[Feeds]:
    """``count`` (at least one) feeds of seeded random data; the same seed gives the same feeds."""
    rng = np.random.default_rng(seed)
    return [{s.name: random_feed(s, rng) for s in specs} for _ in range(max(count, 1))]
