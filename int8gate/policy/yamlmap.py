"""Safe YAML loading that remembers the line of every key, so errors can say ``file:line: key``.

Only PyYAML's safe constructors are used (no Python object tags); duplicate keys are an error
because YAML would otherwise silently keep the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from int8gate.errors import PolicyError


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


class _Constructor(yaml.constructor.SafeConstructor):
    """SafeConstructor used one scalar at a time (the tree walk is ours)."""


def load_yaml(text: str, filename: str) -> LoadedYaml:
    """Parse ``text``; raise ``PolicyError`` naming the line for malformed YAML or duplicate keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
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


def _build(
    node: yaml.Node, path: str, lines: dict[str, int], constructor: _Constructor, filename: str
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        line = node.start_mark.line + 1
        raise PolicyError(filename, line, path, f"invalid value: tag {node.tag} is not allowed")
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)  # resolve `<<` merge keys the safe way
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
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
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise PolicyError(filename, node.start_mark.line + 1, path, f"invalid value: {exc.problem}") from None
