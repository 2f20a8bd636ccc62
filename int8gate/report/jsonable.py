"""A dataclass tree as JSON-ready data: the one serializer of every JSON int8gate writes.

Dataclass field names are the JSON names (a field may rename itself with ``metadata={"json": "name"}``),
so renaming a field is a contract change (see ``data.SCHEMA_VERSION``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any


def to_jsonable(value: Any) -> Any:
    """A dataclass tree as JSON-ready data: enums by value, tuples as lists, paths as POSIX text.

    Non-finite floats become ``None`` (JSON has no NaN); mappings keep their keys as text.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            name = field.metadata.get("json", field.name)
            out[name] = to_jsonable(getattr(value, field.name))
        return out
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        return to_jsonable(value.item())
    raise TypeError(f"cannot put {type(value).__name__} into the JSON report")
