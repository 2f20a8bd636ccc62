"""Safe YAML loading that remembers the line of every key, so errors can say ``file:line: key``.

Only PyYAML's safe constructors are used (no Python object tags); duplicate keys are an error
because YAML would otherwise silently keep the last one. A policy comes from a pull request, so the
loader is bounded before it builds anything: a first pass over the parser's events (which does not
recurse) refuses nesting deeper than ``MAX_DEPTH`` and anchors/aliases that would expand to more than
``MAX_VALUES`` values (a 1 KB "billion laughs" policy used to grow to gigabytes). Every value a
constructor cannot build, and every value that is not plain data (a date, binary, text that is not
valid Unicode), is a ``file:line: key: problem`` error, never an exception from inside PyYAML.
``1e9`` is read as the number YAML 1.2 and JSON make of it (YAML 1.1 wants a dot: ``1.0e9``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from int8gate.errors import PolicyError

MAX_DEPTH = 64
"""Collections nested deeper than this are refused (PyYAML's composer recurses once per level)."""
MAX_VALUES = 100_000
"""Values (scalars, lists, mappings) a policy may hold once its aliases are expanded."""


@dataclass(frozen=True)
class LoadedYaml:
    """The plain data and a map from dotted key path (``models[0].int8``) to 1-based line."""

    data: Any
    lines: dict[str, int]

    def line_of(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest written parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = parent_path(path)
        return self.lines.get("")


def join_path(parent: str, key: str | int) -> str:
    """``models`` + ``0`` → ``models[0]``; ``models[0]`` + ``int8`` → ``models[0].int8``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def parent_path(path: str) -> str:
    """The dotted path one level up (``models[0].int8`` → ``models[0]`` → ``models`` → ``""``)."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path[: path.rindex(".")] if "." in path else ""


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}
_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e9`` as a number, as YAML 1.2 and JSON do."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITHOUT_DOT, list("-+0123456789"))


class _Constructor(yaml.constructor.SafeConstructor):
    """SafeConstructor used one scalar at a time (the tree walk is ours)."""


def load_yaml(text: str, filename: str) -> LoadedYaml:
    """Parse ``text``; raise ``PolicyError`` naming the line for malformed, oversized or odd YAML."""
    try:
        _check_size(text, filename)
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise PolicyError(filename, line, "", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # non-marked errors (e.g. bad encoding)
        raise PolicyError(filename, None, "", f"invalid YAML: {exc}") from None
    if root is None:
        return LoadedYaml(data=None, lines={})
    lines: dict[str, int] = {}
    constructor = _Constructor()
    data = _build(root, "", lines, constructor, filename)
    return LoadedYaml(data=data, lines=lines)


def _check_size(text: str, filename: str) -> None:
    """Refuse deep nesting and alias bombs from the parser's events, before anything is built.

    Each collection's expanded size is counted as its events arrive; an anchored one remembers its
    size, and every alias to it adds that size again, so the count is what building would make.
    """
    sizes: dict[str, int] = {}
    open_counts: list[int] = [0]  # values inside each open collection (the document at the bottom)
    anchors: list[str | None] = []
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(anchors) >= MAX_DEPTH:
                raise PolicyError(filename, line, "", f"nested more than {MAX_DEPTH} levels deep")
            anchors.append(event.anchor)
            open_counts.append(1)
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            size = open_counts.pop()
            anchor = anchors.pop()
            if anchor is not None:
                sizes[anchor] = size
            added = size
        elif isinstance(event, yaml.ScalarEvent):
            added = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            added = sizes.get(event.anchor or "", 1)
        else:
            continue
        open_counts[-1] += added
        if open_counts[-1] > MAX_VALUES or sum(open_counts) > MAX_VALUES:
            raise PolicyError(
                filename, line, "",
                f"more than {MAX_VALUES:,} values once its aliases (*name) are expanded; a policy needs far fewer",
            )  # fmt: skip


def _build(
    node: yaml.Node, path: str, lines: dict[str, int], constructor: _Constructor, filename: str
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        line = node.start_mark.line + 1
        raise PolicyError(filename, line, path, f"invalid value: tag {node.tag} is not allowed")
    if isinstance(node, yaml.MappingNode):
        try:
            constructor.flatten_mapping(node)  # resolve `<<` merge keys the safe way
        except yaml.constructor.ConstructorError as exc:
            line = (exc.problem_mark or node.start_mark).line + 1
            raise PolicyError(filename, line, path, f"invalid merge key `<<`: {exc.problem}") from None
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path, constructor, filename)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise PolicyError(filename, key_node.start_mark.line + 1, path, "keys must be plain text")
            key_text = str(key)
            child = join_path(path, key_text)
            if key_text in result:
                raise PolicyError(filename, key_node.start_mark.line + 1, child, "duplicate key")
            lines[child] = key_node.start_mark.line + 1
            result[key_text] = _build(value_node, child, lines, constructor, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, join_path(path, index), lines, constructor, filename)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node, path, constructor, filename)


def _scalar(node: yaml.Node, path: str, constructor: _Constructor, filename: str) -> Any:
    """A scalar as plain data (text, number, true/false, null), or ``PolicyError`` saying why not."""
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode):
        raise PolicyError(filename, line, path, "keys must be plain text")
    try:
        value = constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise PolicyError(filename, line, path, f"invalid value: {exc.problem}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's own constructors fail this way on `!!float abc`, `!!timestamp x`, a 5,000-digit integer
        if "digits" in str(exc):
            raise PolicyError(filename, line, path, f"a number with {len(node.value):,} digits is too long") from None
        shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
        raise PolicyError(filename, line, path, f"invalid value {shown!r} for {_tag_name(node.tag)}") from None
    problem = _not_plain(value)
    if problem:
        raise PolicyError(filename, line, path, problem)
    return value


def _tag_name(tag: str) -> str:
    return f"!!{tag.rsplit(':', 1)[-1]}" if tag.startswith("tag:yaml.org,2002:") else tag


def _not_plain(value: Any) -> str | None:
    """Why a constructed scalar is not plain policy data (``None`` when it is)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{value.isoformat()} is read as a date; quote it (\"...\") if you mean text"
    if isinstance(value, bytes):
        return "binary data (!!binary) is not allowed"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text holds a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode"
        if "\x00" in value:
            return "text holds a NUL character"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    return None
