"""The one reader of sample files: real model inputs in a .npy (one input) or .npz (by input name).

``sample_shapes`` reads only what planning needs (a .npy's header; an .npz's arrays' shapes), in the
parent; ``load_samples`` turns the arrays into per-sample feeds, in the worker and the profiler.
``allow_pickle`` stays off: sample files come from pull requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from int8gate.errors import UsageError
from int8gate.inputs.feeds import Feeds
from int8gate.inputs.resolved import ResolvedInput, SampleShapes

_LONE = ""
"""The key of a .npy file's one array (it maps to a single-input model)."""


class FeedError(Exception):
    """A sample file does not fit the model's inputs; the message names the file and the input."""


def _read(path: Path, *, header_only: bool = False) -> dict[str, npt.NDArray[Any]]:
    """The file's arrays by name (``_LONE`` for a .npy); a .npy is memory-mapped when only its shape is needed."""
    loaded = np.load(path, allow_pickle=False, mmap_mode="r" if header_only else None)
    if isinstance(loaded, np.ndarray):
        return {_LONE: loaded}
    with loaded as data:
        return {name: data[name] for name in data.files}


def sample_shapes(path: Path) -> SampleShapes:
    """Shapes and dtypes of the arrays in a .npy/.npz sample file, for input planning."""
    try:
        return {name: (tuple(array.shape), str(array.dtype)) for name, array in _read(path, header_only=True).items()}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable .npy/.npz file ({exc})") from None


def load_samples(path: Path, specs: Sequence[ResolvedInput]) -> list[Feeds]:
    """Read real inputs from a .npz (by input name) or .npy (one input) into per-sample feeds."""
    found = _read(path)
    if set(found) == {_LONE}:
        if len(specs) != 1:
            raise FeedError(f"{path.name}: a .npy holds one input; the model has {len(specs)}")
        arrays = {specs[0].name: found[_LONE]}
    else:
        missing = [s.name for s in specs if s.name not in found]
        if missing:
            raise FeedError(f"{path.name}: no array for input(s) {', '.join(missing)}")
        arrays = {s.name: found[s.name] for s in specs}
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
