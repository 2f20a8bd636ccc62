"""A dataclass tree as JSON-ready data and back: the one serializer of every JSON int8gate writes, and its reader.

Dataclass field names are the JSON names (a field may rename itself with ``metadata={"json": "name"}``),
so renaming a field is a contract change (see ``data.SCHEMA_VERSION``). ``from_jsonable`` reads such
JSON back into the same types, checking every value, for JSON that comes from elsewhere (a fork's
run, another runner's report).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any, Union

from int8gate.errors import UsageError


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


class ReportFormatError(UsageError):
    """JSON that is not what int8gate writes: the message names the key and what was expected."""


_MISSING = object()


def from_jsonable(kind: Any, data: Any, where: str = "$") -> Any:
    """Read JSON data back as ``kind`` (a dataclass tree, as ``to_jsonable`` wrote it), checking every value.

    The types steer the walk, never the data, so depth is bounded by the classes. Unknown keys are
    ignored (a newer writer may add fields); a missing field takes its default or is an error; a
    ``null`` float is NaN again (``to_jsonable`` wrote NaN and inf as ``null``), but a number too large
    for a float (``1e400``, ``10**400``) is refused: no writer produced it. Raises ``ReportFormatError``.
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass(kind, data, where)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        errors = []
        for option in options:
            try:
                return from_jsonable(option, data, where)
            except ReportFormatError as exc:
                errors.append(str(exc))
        raise ReportFormatError(errors[0] if len(errors) == 1 else f"{where}: none of {kind} fits")
    if origin is tuple:
        if not isinstance(data, list):
            raise ReportFormatError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
        if len(args) != len(data):
            raise ReportFormatError(f"{where}: expected {len(args)} items")
        pairs = enumerate(zip(args, data, strict=True))
        return tuple(from_jsonable(arg, item, f"{where}[{i}]") for i, (arg, item) in pairs)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(data)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            raise ReportFormatError(f"{where}: {str(data)[:40]!r} is not one of {allowed}") from None
    return _scalar(kind, data, where)


def _dataclass(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ReportFormatError(f"{where}: expected an object")
    hints = typing.get_type_hints(kind)
    values = {}
    for field in dataclasses.fields(kind):
        if not field.init:
            continue
        name = field.metadata.get("json", field.name)
        raw = data.get(name, _MISSING)
        if raw is _MISSING:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ReportFormatError(f"{where}.{name}: missing")
            continue
        values[field.name] = from_jsonable(hints[field.name], raw, f"{where}.{name}")
    return kind(**values)


def _scalar(kind: Any, data: Any, where: str) -> Any:
    if kind is float:
        return _float(data, where)
    if kind is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise ReportFormatError(f"{where}: expected a whole number")
    if kind in (str, bool):
        if isinstance(data, kind):
            return data
        raise ReportFormatError(f"{where}: expected {'text' if kind is str else 'true or false'}")
    if kind is type(None):
        if data is None:
            return None
        raise ReportFormatError(f"{where}: expected null")
    if isinstance(kind, type) and issubclass(kind, PurePath):
        if isinstance(data, str):
            return kind(data)
        raise ReportFormatError(f"{where}: expected a path")
    raise TypeError(f"cannot read {kind} back from JSON")


def _float(data: Any, where: str) -> float:
    if data is None:
        return math.nan
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        try:
            value = float(data)
        except OverflowError:  # an integer past float's range: 10**400
            value = math.inf
        if not math.isfinite(value):  # 1e400 parses as inf; the writer never writes one (NaN/inf: null)
            raise ReportFormatError(f"{where}: {_shown(data)} is out of range for a number")
        return value
    raise ReportFormatError(f"{where}: expected a number")


def _shown(number: int | float) -> str:
    """A number as a short one-line text: a 400-digit integer shown by its length, not in full."""
    if isinstance(number, int) and abs(number) >= 10**20:
        return f"an integer of {len(str(abs(number)))} digits"
    return repr(number)
